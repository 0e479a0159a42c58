"""Fixtures that build small CIFAR-10 copies in every supported format, so tests need no download."""
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cifar_nb.data import CLASS_NAMES

N_TRAIN_PER_BATCH, N_TEST = 20, 30


def _batch(rng, n):
    """One batch in the canonical layout: rows of 3,072 bytes (R plane, G plane, B plane) and a label list."""
    return {b"batch_label": b"testing", b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"filenames": [b"x.png"] * n}


@pytest.fixture(scope="session")
def batches():
    """The contents of a tiny cifar-10-batches-py: five training batches, a test batch and the meta file."""
    rng = np.random.default_rng(1)
    files = {f"data_batch_{i}": _batch(rng, N_TRAIN_PER_BATCH) for i in range(1, 6)}
    files["test_batch"] = _batch(rng, N_TEST)
    files["batches.meta"] = {b"label_names": [n.encode() for n in CLASS_NAMES], b"num_vis": 3072}
    return files


@pytest.fixture(scope="session")
def batches_dir(tmp_path_factory, batches):
    """An extracted cifar-10-batches-py/ folder inside a parent folder."""
    folder = tmp_path_factory.mktemp("extracted") / "cifar-10-batches-py"
    folder.mkdir()
    for name, content in batches.items():
        (folder / name).write_bytes(pickle.dumps(content, protocol=2))
    return folder


@pytest.fixture(scope="session")
def archive(tmp_path_factory, batches):
    """A cifar-10-python.tar.gz with the same members and paths as the canonical archive."""
    path = tmp_path_factory.mktemp("archive") / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, content in batches.items():
            raw = pickle.dumps(content, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def make_image_folder(root: Path, classes=CLASS_NAMES, n_train=6, n_test=2, seed=0) -> Path:
    """An image-folder tree train/<class>/*.png, test/<class>/*.png; each image is filled with its label value."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        for label, c in enumerate(classes):
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = np.full((32, 32, 3), label * 20, np.uint8)
                img[0, 0] = rng.integers(0, 256, 3)  # make files differ
                Image.fromarray(img).save(root / split / c / f"{i:04d}.png")
    return root


@pytest.fixture
def image_folder(tmp_path):
    return make_image_folder(tmp_path / "cifar10-png")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Each test gets its own Keras cache folder and no CIFAR_NB_DATA from the caller's shell."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.delenv("CIFAR_NB_DATA", raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
