"""Data-parallel training: MirroredStrategy on two logical CPU devices, and two MultiWorkerMirroredStrategy workers
on 127.0.0.1."""
import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import make_image_folder

# One worker of a two-worker run: trains a few steps, then saves its weights where the test can compare them.
WORKER = textwrap.dedent("""
    import sys
    import numpy as np
    from cifar_nb.distribute import get_strategy, worker_run_dir, is_chief, scale_recipe
    strategy = get_strategy("multiworker")  # before anything else touches TensorFlow
    from cifar_nb.sources import load_cifar10
    from cifar_nb.data import take_subset
    from cifar_nb.models import get_model
    from cifar_nb.training import train
    data = take_subset(load_cifar10(), 64)
    with strategy.scope(): model = get_model("baseline", seed=0)
    recipe = scale_recipe("tutorial", strategy.num_replicas_in_sync)
    history = train(model, data, epochs=2, batch_size=16, validation_split=0.0,
                    run_dir=worker_run_dir(sys.argv[2], strategy), seed=0, recipe=recipe, verbose=0)
    np.savez(sys.argv[1], *model.get_weights())
    print("chief" if is_chief(strategy) else "worker", strategy.num_replicas_in_sync, history.history["loss"][-1])
""")


def free_ports(n):
    """`n` TCP ports on 127.0.0.1 that are free right now."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks: s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks: s.close()
    return ports


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    data = make_image_folder(tmp_path / "data", n_train=8, n_test=2)
    monkeypatch.setenv("CIFAR_NB_DATA", str(data))
    return data


def test_mirrored_on_two_logical_cpus(tmp_path, tiny_data):
    out = tmp_path / "run"
    p = subprocess.run(["cifar_nb", "train", "--strategy", "mirrored", "--logical-cpus", "2", "--epochs", "2",
                        "--batch-size", "8", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 replicas, global batch 16, learning rate 0.002" in p.stdout
    meta = json.loads((out / "run.json").read_text())
    assert meta["batch_size"] == 16 and meta["recipe"]["learning_rate"] == pytest.approx(0.002)
    assert {"model.keras", "best.keras", "history.csv", "metrics.json"} <= {f.name for f in out.iterdir()}


def test_logical_cpus_needs_mirrored(tmp_path, tiny_data):
    p = subprocess.run(["cifar_nb", "train", "--logical-cpus", "2", "--out", str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and "--logical-cpus only applies to --strategy mirrored" in p.stderr
    assert "Traceback" not in p.stderr


def test_multiworker_without_tf_config_is_a_clear_error(tmp_path, tiny_data, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    p = subprocess.run(["cifar_nb", "train", "--strategy", "multiworker", "--out", str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and "needs the TF_CONFIG environment variable" in p.stderr
    assert "Traceback" not in p.stderr


def test_two_workers_end_with_identical_weights(tmp_path, tiny_data):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    run_dir = tmp_path / "run"
    procs = []
    for i in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})}
        procs.append(subprocess.Popen([sys.executable, str(script), str(tmp_path / f"w{i}.npz"), str(run_dir)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try: outputs = [p.communicate(timeout=600) for p in procs]
    finally:
        for p in procs: p.kill()
    for p, (out, err) in zip(procs, outputs): assert p.returncode == 0, out + err[-3000:]
    assert outputs[0][0].split()[:2] == ["chief", "2"] and outputs[1][0].split()[:2] == ["worker", "2"]
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert len(w0.files) == len(w1.files) == 8
    for k in w0.files: np.testing.assert_array_equal(w0[k], w1[k])
    # training changed the weights (identical because they were trained together, not because nothing happened)
    from cifar_nb.models import get_model
    fresh = get_model("baseline", seed=0).get_weights()
    assert any(not np.array_equal(a, w0[f"arr_{i}"]) for i, a in enumerate(fresh))
    assert (run_dir / "model.keras").is_file()  # only the chief writes the run folder


def test_cli_multiworker_chief_writes_the_run_folder(tmp_path, tiny_data):
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    run_dir = tmp_path / "run"
    procs = [subprocess.Popen(["cifar_nb", "train", "--strategy", "multiworker", "--epochs", "1", "--batch-size", "8",
                               "--out", str(run_dir)],
                              env={**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster,
                                                                          "task": {"type": "worker", "index": i}})},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    try: outputs = [p.communicate(timeout=600) for p in procs]
    finally:
        for p in procs: p.kill()
    for p, (out, err) in zip(procs, outputs): assert p.returncode == 0, out + err[-3000:]
    assert "multiworker strategy: 2 replicas, global batch 16" in outputs[0][0]
    # the chief reports, the other worker does not
    assert "test accuracy:" in outputs[0][0] and "test accuracy:" not in outputs[1][0]
    assert ({"model.keras", "best.keras", "history.csv", "metrics.json", "run.json"}
            <= {f.name for f in run_dir.iterdir()})
