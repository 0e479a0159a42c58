"""The `cifar_nb` command end to end, in real subprocesses, on a tiny image folder."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import make_image_folder


def run(*args, env=None, check=True):
    """Run the installed `cifar_nb` console script and return the CompletedProcess."""
    p = subprocess.run(["cifar_nb", *map(str, args)], capture_output=True, text=True, env={**os.environ, **(env or {})},
                       timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"cifar_nb {' '.join(map(str, args))} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny trained run folder, made by `cifar_nb train` itself."""
    base = tmp_path_factory.mktemp("cli")
    data = make_image_folder(base / "data", n_train=12, n_test=4)
    env = {"KERAS_HOME": str(base / "keras-home"), "CIFAR_NB_DATA": str(data)}
    p = run("train", "--epochs", 2, "--subset", 100, "--batch-size", 16, "--out", base / "run", env=env)
    return base, data, env, p


def test_train_writes_a_complete_run_folder(trained):
    base, data, env, p = trained
    run_dir = base / "run"
    assert {f.name for f in run_dir.iterdir()} >= {"model.keras", "best.keras", "history.csv", "history.png",
                                                   "run.json", "metrics.json"}
    assert "test accuracy:" in p.stdout and "on 80 images (20 more held out for validation)" in p.stdout
    assert len((run_dir / "history.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs
    meta = json.loads((run_dir / "run.json").read_text())
    assert len(meta["class_names"]) == 10 and meta["epochs"] == 2
    acc = json.loads((run_dir / "metrics.json").read_text())["accuracy"]
    assert 0.0 <= acc <= 1.0


def test_evaluate_prints_table_and_writes_confusion_matrix(trained):
    base, data, env, _ = trained
    p = run("evaluate", base / "run", "--data", data, env={"KERAS_HOME": env["KERAS_HOME"]})
    assert "test accuracy:" in p.stdout and "precision" in p.stdout
    for name in ("airplane", "truck"):
        assert name in p.stdout
    png = base / "run" / "confusion_matrix.png"
    assert png.stat().st_size > 5000
    with Image.open(png) as im:
        assert im.size[0] > 300
    metrics = json.loads((base / "run" / "metrics.json").read_text())
    assert np.array(metrics["confusion_matrix"]).sum() == 40


def test_predict_prints_top3_per_image(trained, tmp_path):
    base, *_ = trained
    Image.new("RGB", (120, 80), (250, 10, 10)).save(tmp_path / "red.jpg")
    Image.new("LA", (20, 20)).save(tmp_path / "gray_alpha.png")
    p = run("predict", base / "run", tmp_path / "red.jpg", tmp_path / "gray_alpha.png")
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        probs = [float(part.rsplit(" ", 1)[1]) for part in line.split(": ", 1)[1].split(", ")]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001


@pytest.mark.parametrize("args, status, message", [
    (["train", "--epochs", "zero"], 2, "expected a whole number"),
    (["train", "--bogus"], 2, "unrecognized arguments: --bogus"),
    (["train", "--model", "nope", "--data", "."], 1, "unknown model 'nope'; known models: baseline"),
    (["train", "--data", "/no/such/folder", "--subset", "10"], 1, "does not exist"),
    (["evaluate", "/no/such/run"], 1, "run folder /no/such/run does not exist"),
    (["export", "/no/such/run"], 1, "run folder /no/such/run does not exist"),
    (["export", ".", "--format", "pickle"], 2, "invalid choice: 'pickle'"),
    (["frobnicate"], 2, "invalid choice"),
])
def test_bad_input_gives_clear_error_without_traceback(args, status, message, tmp_path):
    p = run(*args, check=False)
    assert p.returncode == status, p.stderr
    assert message in p.stderr
    assert "Traceback" not in p.stderr


def test_predict_unreadable_image(trained, tmp_path):
    base, *_ = trained
    (tmp_path / "fake.jpg").write_text("not really a jpeg")
    p = run("predict", base / "run", tmp_path / "fake.jpg", check=False)
    assert p.returncode == 1 and "cannot read image" in p.stderr and "fake.jpg" in p.stderr
    assert "Traceback" not in p.stderr


def test_train_refuses_to_overwrite_a_trained_run(trained):
    base, data, env, _ = trained
    before = (base / "run" / "model.keras").stat().st_mtime_ns
    p = run("train", "--epochs", 1, "--out", base / "run", env=env, check=False)
    assert p.returncode == 1 and "already holds a trained model" in p.stderr
    assert (base / "run" / "model.keras").stat().st_mtime_ns == before


def test_help_for_every_command():
    for cmd in ([], ["train"], ["evaluate"], ["predict"], ["export"]):
        p = run(*cmd, "--help")
        assert p.stdout.startswith("usage: cifar_nb")


def has_onnx() -> bool:
    try: import onnxruntime, tf2onnx  # noqa: E401, F401
    except ImportError: return False
    return True


@pytest.mark.parametrize("fmt, name", [("savedmodel", "savedmodel"),
                                       pytest.param("onnx", "model.onnx", marks=pytest.mark.skipif(
                                           not has_onnx(), reason='needs pip install "cifar_nb[onnx]"'))])
def test_export_writes_and_checks_against_keras(trained, fmt, name):
    base, data, env, _ = trained
    p = run("export", base / "run", "--format", fmt, env={"KERAS_HOME": env["KERAS_HOME"]})
    out = base / "run" / "export" / name
    assert out.exists() and f"wrote {out} ({fmt}," in p.stdout
    # no --data and no $CIFAR_NB_DATA: the run's own copy, as run.json records it
    assert "data: image folder data: 120 training and 40 test images" in p.stdout
    diff = float(p.stdout.split("largest difference from Keras in probability ")[1].split()[0])
    assert "checked on the first 40 test images" in p.stdout and diff <= 1e-5
    again = run("export", base / "run", "--format", fmt, check=False)
    assert again.returncode == 1 and "already exists" in again.stderr and "--force" in again.stderr
    forced = run("export", base / "run", "--format", fmt, "--force", env={"KERAS_HOME": env["KERAS_HOME"]})
    assert forced.returncode == 0 and out.exists()


def test_export_never_replaces_a_folder_that_is_not_an_export(trained, tmp_path):
    base, *_ = trained
    (tmp_path / "notes.txt").write_text("keep me")
    p = run("export", base / "run", "--out", tmp_path, "--force", check=False)
    assert p.returncode == 1 and "is not a SavedModel folder" in p.stderr and "Traceback" not in p.stderr
    assert (tmp_path / "notes.txt").read_text() == "keep me"


@pytest.fixture
def moved_data_run(trained, tmp_path):
    """A copy of the trained run whose run.json names a copy of CIFAR-10 that no longer exists."""
    base, *_ = trained
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("model.keras", "run.json"):
        (run_dir / name).write_bytes((base / "run" / name).read_bytes())
    meta = json.loads((run_dir / "run.json").read_text())
    meta["source"] = f"image folder {tmp_path / 'moved-away'}"
    (run_dir / "run.json").write_text(json.dumps(meta))
    return run_dir


def test_evaluate_says_when_the_recorded_data_is_gone(moved_data_run, tmp_path):
    p = run("evaluate", moved_data_run, env={"KERAS_HOME": str(tmp_path / "empty-keras-home")}, check=False)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert f"was trained on {tmp_path / 'moved-away'}, which no longer exists; pass --data PATH" in p.stderr


def test_export_checks_on_random_images_without_data(moved_data_run):
    p = run("export", moved_data_run, "--images", 16)
    assert "checking on random images instead" in p.stdout and "checked on 16 random images" in p.stdout


def test_train_tensorboard_writes_event_files(trained):
    base, data, env, _ = trained
    p = run("train", "--epochs", 1, "--subset", 50, "--batch-size", 10, "--tensorboard", "--out", base / "tb", env=env)
    assert "on 40 images (10 more held out for validation)" in p.stdout
    assert f"tensorboard --logdir {base / 'tb' / 'tensorboard'}" in p.stdout
    events = sorted((base / "tb" / "tensorboard").rglob("events.out.tfevents.*"))
    assert [e.parent.name for e in events] == ["train", "validation"] and all(e.stat().st_size > 0 for e in events)


def test_tensorboard_needs_a_run_folder_and_the_package(monkeypatch, tmp_path):
    import importlib.util
    from cifar_nb.runs import tensorboard_callback
    with pytest.raises(ValueError, match="pass a run_dir"):
        tensorboard_callback(None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ModuleNotFoundError, match=r'pip install "cifar_nb\[tensorboard\]"'):
        tensorboard_callback(tmp_path)
