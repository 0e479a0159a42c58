"""Exports round-trip: a SavedModel folder and an ONNX file predict what the Keras model does, on real test images
when $CIFAR_NB_DATA points at a copy of CIFAR-10, else on random ones."""
import os
import sys

import numpy as np
import pytest

from cifar_nb.data import take_subset
from cifar_nb.export import EXPORT_TOLERANCE, check_export, export_model, export_onnx, load_export
from cifar_nb.models import get_model
from cifar_nb.sources import load_cifar10
from cifar_nb.testing import random_cifar10
from cifar_nb.training import train

DATA = os.environ.get("CIFAR_NB_DATA")  # read now: conftest removes it from each test's environment


def has_onnx() -> bool:
    try: import onnxruntime, tf2onnx  # noqa: E401, F401
    except ImportError: return False
    return True


needs_onnx = pytest.mark.skipif(not has_onnx(), reason='the ONNX converter is not installed: '
                                                       'pip install "cifar_nb[onnx]"')


@pytest.fixture(scope="module")
def trained():
    """A baseline CNN after one epoch on 300 images, and 200 test images to compare on."""
    data = take_subset(load_cifar10(DATA), 300, 200) if DATA else random_cifar10(300, 200)
    model = get_model("baseline", seed=0)
    train(model, data, epochs=1, batch_size=50, verbose=0)
    return model, data.x_test


@pytest.mark.parametrize("fmt", ["savedmodel", pytest.param("onnx", marks=needs_onnx)])
def test_export_predicts_what_keras_predicts(trained, fmt, tmp_path):
    model, images = trained
    path = export_model(model, tmp_path / fmt, fmt)
    assert check_export(model, path, fmt, images) <= EXPORT_TOLERANCE
    probs = load_export(path, fmt)(images)
    assert probs.shape == (len(images), 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)


@needs_onnx
def test_onnx_of_the_fast_network_has_one_input(tmp_path):
    """The fast network's Normalization constants and exact GELU (TensorFlow's Erfc) both convert."""
    import onnxruntime as ort
    model = get_model("fast_tiny", seed=0)
    path = export_onnx(model, tmp_path / "fast.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    assert check_export(model, path, "onnx", random_cifar10(0, 64).x_test) <= EXPORT_TOLERANCE


@pytest.mark.parametrize("fmt", ["savedmodel", pytest.param("onnx", marks=needs_onnx)])
def test_overwrite_replaces_only_an_earlier_export(trained, fmt, tmp_path):
    model, _ = trained
    path = export_model(model, tmp_path / "out" / fmt, fmt)
    with pytest.raises(FileExistsError, match="already exists"):
        export_model(model, path, fmt)
    export_model(model, path, fmt, overwrite=True)
    assert sorted(p.name for p in path.parent.iterdir()) == [fmt]  # no temporary files left behind
    folder = tmp_path / "mine"
    (folder / "keep.txt").parent.mkdir()
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="never replaced, not even with overwrite=True"):
        export_model(model, folder, fmt, overwrite=True)
    assert (folder / "keep.txt").read_text() == "mine"
    notes = tmp_path / ("notes.onnx" if fmt == "onnx" else "notes")
    notes.write_text("not a model")
    with pytest.raises(FileExistsError, match="never replaced"):
        export_model(model, notes, fmt, overwrite=True)
    assert notes.read_text() == "not a model"


def test_bad_format_and_missing_export(tmp_path):
    with pytest.raises(ValueError, match="unknown export format 'web'; known formats: savedmodel, onnx"):
        export_model(get_model("baseline"), tmp_path / "x", "web")
    with pytest.raises(FileNotFoundError, match="no export at"):
        load_export(tmp_path / "nothing", "savedmodel")


def test_onnx_without_the_converter_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # import fails, as when it is not installed
    with pytest.raises(ModuleNotFoundError, match=r'pip install "cifar_nb\[onnx\]"'):
        export_onnx(get_model("baseline"), tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


@needs_onnx
def test_onnx_refuses_a_bfloat16_model(tmp_path):
    with pytest.raises(ValueError, match="needs a model that computes in float32, and this one uses mixed_bfloat16"):
        export_onnx(get_model("baseline", precision="mixed_bfloat16"), tmp_path / "m.onnx")
