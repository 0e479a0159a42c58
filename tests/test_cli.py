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
    for cmd in ([], ["train"], ["evaluate"], ["predict"]):
        p = run(*cmd, "--help")
        assert p.stdout.startswith("usage: cifar_nb")
