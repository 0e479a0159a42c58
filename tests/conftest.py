"""Fixtures that build small CIFAR-10 copies in every supported format, so tests need no download
(built with `cifar_nb.testing`, which the notebooks use too)."""
import pytest

from cifar_nb.testing import canonical_batches, make_image_folder, write_archive, write_batches_folder

N_TRAIN_PER_BATCH, N_TEST = 20, 30


@pytest.fixture(scope="session")
def batches():
    """The contents of a tiny cifar-10-batches-py: five training batches, a test batch and the meta file."""
    return canonical_batches(N_TRAIN_PER_BATCH, N_TEST, seed=1)


@pytest.fixture(scope="session")
def batches_dir(tmp_path_factory, batches):
    """An extracted cifar-10-batches-py/ folder inside a parent folder."""
    return write_batches_folder(tmp_path_factory.mktemp("extracted") / "cifar-10-batches-py", batches)


@pytest.fixture(scope="session")
def archive(tmp_path_factory, batches):
    """A cifar-10-python.tar.gz with the same members and paths as the canonical archive."""
    return write_archive(tmp_path_factory.mktemp("archive") / "cifar-10-python.tar.gz", batches)


@pytest.fixture
def image_folder(tmp_path):
    return make_image_folder(tmp_path / "cifar10-png")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Each test gets its own Keras cache folder and no CIFAR_NB_DATA from the caller's shell."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.delenv("CIFAR_NB_DATA", raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
