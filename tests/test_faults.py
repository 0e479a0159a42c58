"""Faults: `cifar_nb train` killed, interrupted or diverging in real subprocesses; damaged and malicious model files;
writes that fail half-way. Each test fails if the protection it checks is taken away."""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cifar_nb import cli, data as D, sources as S, training as T, runs as R
from cifar_nb.runs import RunFolderError, load_trained

from cifar_nb.testing import Interrupt, Poison, make_image_folder, nan_hiding_cnn, random_cifar10

EPOCHS = 20  # enough epochs that a signal sent after the first backup lands before the run ends
TRAIN = ["--subset", "48", "--batch-size", "16", "--epochs", str(EPOCHS)]  # 3 steps per epoch: well under a second each
OUTPUTS = {"model.keras", "best.keras", "history.csv", "run.json", "metrics.json", "history.png"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 10-class image folder with 6 training images per class, and the environment the command runs in."""
    base = tmp_path_factory.mktemp("faults")
    folder = make_image_folder(base / "data", n_train=6, n_test=1)
    env = {**os.environ, "CIFAR_NB_DATA": str(folder), "KERAS_HOME": str(base / "keras-home"),
           "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    return base, env


def _default_sigint():
    """In the child: Ctrl-C's default action. A job started in the background by a shell inherits SIGINT ignored,
    and Python then installs no KeyboardInterrupt handler, so the test would not see what a user at a terminal sees."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args, env) -> subprocess.Popen:
    """Start the installed `cifar_nb` console script, as from a terminal (Ctrl-C not ignored)."""
    return subprocess.Popen(["cifar_nb", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, preexec_fn=_default_sigint)


def run(args, env, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(["cifar_nb", *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)


def wait_for(path: Path, proc: subprocess.Popen, timeout=180):
    """Poll until `path` exists; fail if the process ends first."""
    t0 = time.monotonic()
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"cifar_nb ended (status {proc.returncode}) before {path.name} appeared:\n{out}\n{err}")
        assert time.monotonic() - t0 < timeout, f"{path} did not appear in {timeout} s"
        time.sleep(0.02)


def history_epochs(run_dir: Path) -> list[int]:
    return pd.read_csv(run_dir / "history.csv")["epoch"].tolist()


def assert_finite(model):
    assert all(np.isfinite(w).all() for w in model.get_weights())


# -------------------------------------------------------------------------------- kill -9 and resume

def test_killed_run_resumes_from_last_completed_epoch(tiny):
    base, env = tiny
    out = base / "killed"
    p = start(["train", *TRAIN, "--out", out], env)
    wait_for(out / "backup" / "state.json", p)
    p.send_signal(signal.SIGKILL)  # no handler, no clean-up: as the out-of-memory killer or a pre-empted machine would
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    done = json.loads((out / "backup" / "state.json").read_text())["epoch"]
    assert 1 <= done < EPOCHS, "the kill must land mid-run for this test to mean anything"
    assert not (out / "model.keras").exists()
    # what a kill in the middle of saving best.keras or state.json leaves (here for certain, not by chance)
    (out / ".best-k2j4x9a1.keras").write_bytes(b"half a model")
    (out / "backup" / ".state-0q8wz3rt.json").write_text('{"epoch": ')

    again = run(["train", *TRAIN, "--out", out], env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"resuming from epoch {done + 1} of {EPOCHS}: {done} completed" in again.stdout
    # no epoch trained twice
    assert f"Epoch {done + 1}/{EPOCHS}" in again.stdout and f"Epoch {done}/{EPOCHS}" not in again.stdout
    assert history_epochs(out) == list(range(EPOCHS))  # every epoch logged exactly once
    assert OUTPUTS <= {f.name for f in out.iterdir()}
    assert not (out / "backup").exists()
    assert not [f.name for f in out.iterdir() if f.name.startswith(".")], "half-written temporary files are deleted"
    model, names = load_trained(out)
    assert len(names) == 10
    assert_finite(model)
    assert json.loads((out / "run.json").read_text())["epochs"] == EPOCHS


# -------------------------------------------------------------------------------- Ctrl-C

def test_ctrl_c_stops_cleanly_and_keeps_the_best_model(tiny):
    base, env = tiny
    out = base / "ctrl-c"
    p = start(["train", *TRAIN, "--out", out], env)
    wait_for(out / "backup" / "state.json", p)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    messages = [line for line in stderr.splitlines() if line.startswith("cifar_nb train:")]
    assert messages == [f"cifar_nb train: interrupted; files already written were kept. Run the same command again "
                        f"(with --out {out}) to continue from the last completed epoch."]
    assert not (out / "model.keras").exists()
    model, names = load_trained(out, "best")  # loadable by cifar_nb itself: run.json is there
    assert len(names) == 10
    assert_finite(model)
    assert R.read_backup(out)["epoch"] >= 1


# -------------------------------------------------------------------------------- divergence
# Each fault below behaves the same on every processor. Whether a NaN reaches the loss can depend on the CPU (oneDNN's
# ReLU maps NaN to 0 on some), so where the loss may or may not see it, the tests accept either way of noticing.

DIVERGED = (r"training diverged: (the loss became (nan|inf) in epoch {e}, batch \d+"
            r"|the weights became NaN or infinite in epoch {e} \()")


def assert_kept_epoch(run_dir: Path, message: str, epoch: int):
    """What a run that diverged after `epoch` good epochs must leave: all of it finite,
    none of it from the bad epoch."""
    assert f"the backup of epoch {epoch}" in message and "no model.keras was written" in message, message
    assert R.read_backup(run_dir)["epoch"] == epoch
    assert history_epochs(run_dir) == list(range(epoch))
    assert np.isfinite(pd.read_csv(run_dir / "history.csv").drop(columns="epoch").to_numpy()).all()
    assert not (run_dir / "model.keras").exists()
    assert R.nonfinite_weights(load_trained(run_dir, "best")[0]) == []
    state = R.read_backup(run_dir)
    import h5py
    with h5py.File(run_dir / "backup" / state["weights"]) as f:  # the backup as stored, without rebuilding a model
        arrays = []
        f.visititems(lambda name, obj: arrays.append(obj[()]) if isinstance(obj, h5py.Dataset) else None)
    assert arrays and all(np.isfinite(a).all() for a in arrays if np.asarray(a).dtype.kind == "f")


def test_nan_loss_stops_the_command_with_a_clear_message(tiny):
    base, env = tiny
    out = base / "nan"
    # the first Adam step throws the weights to 1e8
    p = run(["train", *TRAIN, "--learning-rate", "1e8", "--out", out], env)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    assert re.search("cifar_nb train: error: " + DIVERGED.format(e=1), p.stderr), p.stderr
    assert "Try a lower learning rate" in p.stderr
    assert not (out / "model.keras").exists() and not (out / "metrics.json").exists()
    assert not (out / "history.csv").exists() or "nan" not in (out / "history.csv").read_text().lower()


def test_learning_rate_that_explodes_keeps_the_last_good_checkpoint(tmp_path):
    """A learning-rate schedule that goes wrong in epoch 3 (Keras's own LearningRateScheduler): training stops in
    epoch 3; best.keras, the backup of epoch 2 and the log of epochs 1-2 stay, all finite.
    Adam steps of 1e9 make the activations grow about 1e9-fold a layer: still finite after every ReLU, they
    overflow in the logits, so the loss becomes NaN whatever the processor's ReLU does with NaN."""
    from cifar_nb.models import get_model
    explode = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 1e9 if epoch == 2 else lr)
    run_dir = tmp_path / "run"
    with pytest.raises(R.TrainingDivergedError, match=DIVERGED.format(e=3)) as e:
        T.train(get_model("baseline", seed=0), random_cifar10(64), epochs=5, batch_size=16, run_dir=run_dir, verbose=0,
                callbacks=[explode])
    assert "best.keras" in str(e.value)
    assert_kept_epoch(run_dir, str(e.value), 2)


def test_nan_in_the_last_bias_stops_the_run(tmp_path):
    """NaN logits: no activation stands between the bias and the loss, so the loss itself becomes NaN."""
    from cifar_nb.models import get_model
    run_dir = tmp_path / "run"
    with pytest.raises(R.TrainingDivergedError, match=DIVERGED.format(e=2)) as e:
        T.train(get_model("baseline", seed=0), random_cifar10(), epochs=4, batch_size=8, run_dir=run_dir, verbose=0,
                callbacks=[Poison(at=1)])
    assert_kept_epoch(run_dir, str(e.value), 1)


def test_nan_weights_hidden_behind_a_relu_are_caught(tmp_path):
    """A NaN first-layer kernel behind a ReLU that maps NaN to 0: the loss stays finite on every processor, so only
    the check of the weights at the end of the epoch can stop the run. Without it, model.keras would hold NaN."""
    run_dir = tmp_path / "run"
    with pytest.raises(R.TrainingDivergedError, match=r"the weights became NaN or infinite in epoch 2 \(\S+/kernel\) "
                                                      r"while the loss stayed finite") as e:
        T.train(nan_hiding_cnn(), random_cifar10(), epochs=4, batch_size=8, run_dir=run_dir, verbose=0,
                callbacks=[Poison(at=1, layer=0, name="kernel")])
    assert_kept_epoch(run_dir, str(e.value), 1)


def test_the_loss_of_the_nan_hiding_model_stays_finite():
    """The premise of the test above: with its NaN kernel, the model's loss is finite and its gradients are too."""
    model = nan_hiding_cnn()
    model.layers[0].kernel.assign(model.layers[0].kernel * np.nan)
    x, y = D.scale_images(random_cifar10().x_train[:8]), D.one_hot(random_cifar10().y_train[:8])
    model.compile(loss="categorical_crossentropy")
    assert np.isfinite(model.evaluate(x, y, verbose=0))
    assert R.nonfinite_weights(model) == [model.layers[0].kernel.path]


def test_nan_images_are_refused_before_anything_is_written(tmp_path):
    from cifar_nb.models import get_model
    data = random_cifar10()
    data = data._replace(x_train=np.where(np.arange(40)[:, None, None, None] == 3, np.nan,
                                          data.x_train.astype(np.float32)))
    with pytest.raises(ValueError, match="expected uint8 pixel values"):
        T.train(get_model("baseline", seed=0), data, epochs=1, run_dir=tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()
    model = get_model("baseline", seed=0)
    with pytest.raises(ValueError, match="expected uint8 pixel values"):
        from cifar_nb.evaluation import evaluate_model
        evaluate_model(model, data.x_train, data.y_train)


def test_a_model_with_nan_weights_is_never_saved_and_never_used(tmp_path):
    """save_trained refuses it; a file holding one (written by other code) is refused by load_trained, evaluate
    and predict."""
    model = _tiny_model()
    model.layers[-1].bias.assign(model.layers[-1].bias * np.nan)
    with pytest.raises(ValueError, match=r"refusing to save a model whose weights hold NaN or infinity \(\S+/bias\)"):
        R.save_trained(model, tmp_path / "run", S.CLASS_NAMES)
    assert not (tmp_path / "run" / "model.keras").exists()
    R.save_trained(_tiny_model(), tmp_path / "run", S.CLASS_NAMES)  # writes run.json and a good model ...
    model.save(tmp_path / "run" / "model.keras")  # ... which other code then replaces with a broken one
    with pytest.raises(RunFolderError, match=r"model.keras holds NaN or infinite weights \(\S+/bias\)"):
        load_trained(tmp_path / "run")
    Image.new("RGB", (32, 32), (200, 10, 10)).save(tmp_path / "photo.png")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    for args in (["evaluate", tmp_path / "run"], ["predict", tmp_path / "run", tmp_path / "photo.png"]):
        p = run(args, env)
        assert p.returncode == 1, p.stdout + p.stderr
        assert f"cifar_nb {args[0]}: error: " in p.stderr and "holds NaN or infinite weights" in p.stderr, p.stderr
        assert "Traceback" not in p.stderr and p.stdout.strip() == ""


# -------------------------------------------------------------------------------- reproducibility

def test_same_seed_gives_bit_identical_weights_in_two_processes(tiny):
    base, env = tiny
    args = ["train", "--subset", "48", "--batch-size", "16", "--epochs", "2", "--recipe", "augment", "--seed", "7",
            "--deterministic"]
    procs = [start([*args, "--out", base / f"seed7-{i}"], env) for i in range(2)]  # side by side: they share nothing
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stdout + stderr
    first, second = (keras.saving.load_model(base / f"seed7-{i}" / "model.keras").get_weights() for i in range(2))
    assert all(a.tobytes() == b.tobytes() for a, b in zip(first, second))
    from cifar_nb.models import get_model
    untrained = get_model("baseline", seed=7).get_weights()
    assert not all(np.array_equal(a, b) for a, b in zip(first, untrained)), "training changed the weights"


# -------------------------------------------------------------------------------- damaged and malicious model files

@pytest.fixture
def run_folder(tmp_path):
    """A run folder holding a small, valid model.keras and run.json."""
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    R.save_trained(model, tmp_path / "run", S.CLASS_NAMES)
    return tmp_path / "run"


def truncate(path: Path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def random_bytes(path: Path):
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())


@pytest.mark.parametrize("damage", [truncate, random_bytes, lambda p: p.write_bytes(b"")],
                         ids=["truncated", "random-bytes", "empty"])
def test_damaged_model_file_is_a_clear_error(run_folder, damage):
    assert load_trained(run_folder)[1] == S.CLASS_NAMES
    damage(run_folder / "model.keras")
    with pytest.raises(RunFolderError, match=r"model.keras is not a readable Keras model: "
                                             r"it is not a complete .keras \(zip\) file .*retrain it"):
        load_trained(run_folder)


@pytest.mark.parametrize("content", ["{not json", '{"model": "x"}', '{"class_names": 3}'])
def test_damaged_run_json_is_a_clear_error(run_folder, content):
    (run_folder / "run.json").write_text(content)
    with pytest.raises(RunFolderError, match="run.json is damaged"):
        load_trained(run_folder)


def test_model_file_that_would_run_code_is_refused(run_folder, tmp_path):
    """A .keras file with a Lambda layer carries Python bytecode; loading it without safe_mode would create a file."""
    marker = tmp_path / "pwned"
    func = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")
    evil = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Lambda(func), keras.layers.Flatten(),
                             keras.layers.Dense(10)])
    marker.unlink()  # building the model called the function once
    evil.save(run_folder / "model.keras")
    with pytest.raises(RunFolderError, match="(?s)not a readable Keras model.*safe_mode"):
        load_trained(run_folder)
    assert not marker.exists()
    keras.saving.load_model(run_folder / "model.keras", safe_mode=False)  # the test can tell: unsafe loading runs it
    assert marker.exists()


def test_damaged_model_via_the_command_line(tmp_path, run_folder):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    truncate(run_folder / "model.keras")
    other = tmp_path / "other"
    other.mkdir()
    (other / "run.json").write_text((run_folder / "run.json").read_text())
    random_bytes(other / "model.keras")
    for args in (["evaluate", run_folder], ["predict", other, "anything.png"]):
        p = run(args, env)
        assert p.returncode == 1, p.stdout + p.stderr
        assert f"cifar_nb {args[0]}: error: {args[1] / 'model.keras'} is not a readable Keras model" in p.stderr
        assert "Traceback" not in p.stderr


# -------------------------------------------------------------------------------- other classes, bad files, predict

def test_other_classes_and_bad_files_through_the_command_line(tmp_path):
    pets = make_image_folder(tmp_path / "pets", classes=["dog", "cat", "bird"], n_train=6, n_test=2)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_HOME": str(tmp_path / "keras-home"), "MPLBACKEND": "Agg"}
    out = tmp_path / "run"
    p = run(["train", "--data", pets, "--epochs", "1", "--batch-size", "8", "--out", out], env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads((out / "run.json").read_text())["class_names"] == ["bird", "cat", "dog"]

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("L", (50, 40), 90).save(photos / "gray.png")
    Image.new("RGBA", (33, 33), (0, 0, 0, 0)).save(photos / "clear.png")
    Image.new("P", (20, 20), 5).save(photos / "palette.gif")
    Image.fromarray(np.full((10, 12), 60000, np.uint16)).save(photos / "deep.png")
    Image.new("RGB", (64, 64), (9, 9, 9)).save(photos / "whole.jpg")
    (photos / "cut.jpg").write_bytes((photos / "whole.jpg").read_bytes()[:200])
    (photos / "fake.png").write_text("not a picture")
    (photos / "notes.txt").write_text("hello")
    Image.new("1", (9000, 9000)).save(photos / "bomb.png")  # 81 megapixels in a few kB
    (photos / ".DS_Store").write_bytes(b"\0\1")  # hidden: ignored, not counted
    p = run(["predict", out, photos], env)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.strip().splitlines()
    assert (sorted(Path(line.split(": ", 1)[0]).name for line in lines)
            == ["clear.png", "deep.png", "gray.png", "palette.gif", "whole.jpg"])
    assert all({part.rsplit(" ", 1)[0] for part in line.split(": ", 1)[1].split(", ")} <= {"bird", "cat", "dog"}
               for line in lines)
    warnings = [line for line in p.stderr.splitlines() if line.startswith("cifar_nb predict: warning:")]
    assert len(warnings) == 1 and "skipped 4 of 9 files" in warnings[0] and "and 1 more" in warnings[0], p.stderr
    # the first three, named
    assert sum(name in warnings[0] for name in ("bomb.png", "cut.jpg", "fake.png", "notes.txt")) == 3
    assert "SkippedFilesWarning" not in p.stderr and "Traceback" not in p.stderr

    p = run(["predict", out, photos / "bomb.png"], env)  # named explicitly: an error, not a skip
    assert p.returncode == 1 and "decompression bomb" in p.stderr and "Traceback" not in p.stderr


# -------------------------------------------------------------------------------- atomic writes

def _fail_half_way(write_bytes):
    """A stand-in for a writer that puts some bytes in its file, then fails, as a full disk would."""
    def fail(path, *args, **kwargs):
        write_bytes(Path(path))
        raise OSError(28, "No space left on device")
    return fail


def _tiny_model():
    return keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                             keras.layers.Dense(10, activation="softmax")])


def _partial(path):
    path.write_bytes(b"PARTIAL")


def _failing_write_text(self, text, *args, **kwargs):
    """Path.write_text that writes part of the text, then fails as a full disk would."""
    _partial(self)
    raise OSError(28, "No space left on device")


def write_model(run_dir, monkeypatch):
    model = _tiny_model()
    monkeypatch.setattr(model, "save", _fail_half_way(_partial))
    R.save_trained(model, run_dir, S.CLASS_NAMES)


def write_run_json(run_dir, monkeypatch):
    monkeypatch.setattr(Path, "write_text", _failing_write_text)
    R.write_run_info(_tiny_model(), run_dir, S.CLASS_NAMES)


def write_best(run_dir, monkeypatch):
    cb = R.BestCheckpoint(run_dir / "best.keras")
    cb.set_model(_tiny_model())
    monkeypatch.setattr(cb.model, "save", _fail_half_way(_partial))
    cb.on_epoch_end(0, {"val_accuracy": 0.5})


def write_metrics(run_dir, monkeypatch):
    monkeypatch.setattr(Path, "write_text", _failing_write_text)
    cli._write_json(run_dir / "metrics.json", {"accuracy": 1.0})


def write_state(run_dir, monkeypatch):
    cb = R.RunBackup(run_dir, {"model": "x"})
    cb.set_model(_tiny_model())
    monkeypatch.setattr(Path, "write_text", _failing_write_text)
    cb.on_epoch_end(0, {"loss": 1.0})


@pytest.mark.parametrize("write, target", [(write_model, "model.keras"), (write_run_json, "run.json"),
                                           (write_best, "best.keras"), (write_metrics, "metrics.json"),
                                           (write_state, "backup/state.json")],
                         ids=["model.keras", "run.json", "best.keras", "metrics.json", "state.json"])
def test_a_write_that_fails_half_way_leaves_the_previous_file_whole(tmp_path, monkeypatch, write, target):
    run_dir = tmp_path / "run"
    (run_dir / "backup").mkdir(parents=True)
    (run_dir / target).write_bytes(b"PREVIOUS")
    with pytest.raises(OSError):
        write(run_dir, monkeypatch)
    monkeypatch.undo()
    assert (run_dir / target).read_bytes() == b"PREVIOUS"
    left = [f.name for f in (run_dir / target).parent.iterdir() if f.name != Path(target).name and f.is_file()]
    assert left == [] or all(f.endswith(".weights.h5") for f in left), left  # no half-written temporary file stays


def test_image_cache_write_that_fails_half_way_leaves_no_cache(tmp_path, monkeypatch, capsys):
    folder = make_image_folder(tmp_path / "imgs", classes=["a", "b"], n_train=2, n_test=1)
    real_savez = np.savez
    def savez(file, **arrays):  # writes the real thing, truncated, then fails
        real_savez(file, **arrays)
        Path(file).write_bytes(Path(file).read_bytes()[:100])
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "savez", savez)
    S.load_cifar10_folder(folder, cache_dir=tmp_path / "cache")
    assert "could not cache" in capsys.readouterr().err
    monkeypatch.undo()
    assert list((tmp_path / "cache").iterdir()) == [], "neither a truncated cache nor a temporary file is left"
    d = S.load_cifar10_folder(folder, cache_dir=tmp_path / "cache")  # and the next load works and caches
    assert len(d.x_train) == 4 and len(list((tmp_path / "cache").glob("*.npz"))) == 1


# -------------------------------------------------------------------------------- resuming with other data

def test_resuming_with_other_images_is_refused(tmp_path):
    from cifar_nb.models import get_model
    data = random_cifar10(40, 8)
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        T.train(get_model("baseline", seed=0), data, epochs=3, batch_size=16, run_dir=run_dir, verbose=0,
                callbacks=[Interrupt(at=1, batch=0)])
    assert R.read_backup(run_dir)["epoch"] == 1
    x = data.x_train.copy()
    x[5] = 255 - x[5]  # one image changed, same labels, same count
    with pytest.raises(RunFolderError, match=r"different settings \(data\)"):
        T.train(get_model("baseline", seed=0), data._replace(x_train=x), epochs=3, batch_size=16, run_dir=run_dir,
                verbose=0)
    # the same data resumes
    history = T.train(get_model("baseline", seed=0), data, epochs=3, batch_size=16, run_dir=run_dir, verbose=0)
    assert len(history.history["loss"]) == 3 and history_epochs(run_dir) == [0, 1, 2]
