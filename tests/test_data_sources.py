"""Every way of giving cifar_nb its data, and every way of getting it wrong."""
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cifar_nb import data as D, sources as S
from cifar_nb.sources import CLASS_NAMES, DataFormatError, DataNotFoundError, load_cifar10

from conftest import N_TEST, N_TRAIN_PER_BATCH, make_image_folder


def _expected(batches):
    """Images and labels the tiny batches should decode to, computed independently of the loader."""
    def conv(b):
        return b[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), np.array(b[b"labels"], np.uint8)
    tr = [conv(batches[f"data_batch_{i}"]) for i in range(1, 6)]
    return np.concatenate([x for x, _ in tr]), np.concatenate([y for _, y in tr]), *conv(batches["test_batch"])


def _check_same(d, batches):
    x_tr, y_tr, x_te, y_te = _expected(batches)
    assert d.x_train.shape == (5 * N_TRAIN_PER_BATCH, 32, 32, 3) and d.x_train.dtype == np.uint8
    assert d.x_test.shape == (N_TEST, 32, 32, 3)
    np.testing.assert_array_equal(d.x_train, x_tr)
    np.testing.assert_array_equal(d.y_train, y_tr)
    np.testing.assert_array_equal(d.x_test, x_te)
    np.testing.assert_array_equal(d.y_test, y_te)
    assert d.class_names == CLASS_NAMES


def test_archive(archive, batches):
    d = load_cifar10(archive, verify=False)  # the tiny fixture is not the official file
    _check_same(d, batches)
    assert "archive" in d.source


def test_folder_holding_the_archive(archive, batches):
    _check_same(load_cifar10(archive.parent, verify=False), batches)


def test_archive_checksum_is_verified_by_default(archive):
    with pytest.raises(S.DataIntegrityError, match="is not the official cifar-10-python.tar.gz: its SHA-256 is"):
        load_cifar10(archive)
    with pytest.raises(S.DataIntegrityError, match="verify=False"):
        load_cifar10(archive.parent)


def test_extracted_batches_folder(batches_dir, batches):
    _check_same(load_cifar10(batches_dir), batches)
    _check_same(load_cifar10(batches_dir.parent), batches)  # the folder it was extracted into


def test_environment_variable(archive, batches, monkeypatch):
    monkeypatch.setenv("CIFAR_NB_DATA", str(archive))
    _check_same(load_cifar10(verify=False), batches)


def test_explicit_path_wins_over_environment(archive, image_folder, monkeypatch):
    monkeypatch.setenv("CIFAR_NB_DATA", str(image_folder))
    assert "archive" in load_cifar10(archive, verify=False).source


def _fake_download(archive, calls):
    """A stand-in for keras.utils.get_file that 'downloads' `archive` into the cache, as Keras would."""
    def get_file(fname, origin, file_hash=None, hash_algorithm="auto", cache_dir=None, **kw):
        calls.append((fname, origin, file_hash, hash_algorithm))
        target = Path(cache_dir) / "datasets" / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(archive.read_bytes())
        return str(target)
    return get_file


def test_keras_download_is_checked_and_read_safely(archive, batches, monkeypatch, tmp_path):
    import keras
    calls = []
    monkeypatch.setattr(S, "CIFAR10_SHA256", S.sha256_file(archive))  # pretend the fixture is the official file
    monkeypatch.setattr(keras.utils, "get_file", _fake_download(archive, calls))
    d = load_cifar10()
    _check_same(d, batches)
    assert calls == [("cifar-10-python.tar.gz", S.CIFAR10_URL, S.sha256_file(archive), "sha256")]
    assert "archive" in d.source and "keras-home" in d.source
    # nothing was extracted next to the download
    assert [p.name for p in (tmp_path / "keras-home" / "datasets").iterdir()] == ["cifar-10-python.tar.gz"]
    load_cifar10()
    assert len(calls) == 1, "a good cached copy is reused"


def test_archive_keras_itself_downloaded_is_reused(archive, batches, monkeypatch, tmp_path):
    import keras
    monkeypatch.setattr(S, "CIFAR10_SHA256", S.sha256_file(archive))
    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: pytest.fail("should not download"))
    cached = tmp_path / "keras-home" / "datasets" / "cifar-10-batches-py-target_archive"  # Keras 3's name for it
    cached.parent.mkdir(parents=True)
    cached.write_bytes(archive.read_bytes())
    _check_same(load_cifar10(), batches)


def test_tampered_keras_cache_is_not_used(archive, monkeypatch, tmp_path):
    import keras
    cached = tmp_path / "keras-home" / "datasets" / "cifar-10-batches-py-target_archive"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(archive.read_bytes())  # a valid archive, but not the official bytes
    def offline(*a, **k):
        raise Exception("URL fetch failure on https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz: "
                        "None -- [Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(DataNotFoundError, match="failed the SHA-256 check"):
        load_cifar10()


def test_download_with_wrong_checksum(monkeypatch):
    import keras
    def corrupted(*a, **k):
        raise ValueError("Incomplete or corrupted file detected. "
                         "The sha256 file hash does not match the provided value of 6d95.")
    monkeypatch.setattr(keras.utils, "get_file", corrupted)
    with pytest.raises(S.DataIntegrityError, match="failed the SHA-256 check"):
        load_cifar10()


def test_offline_with_nothing_local_names_the_three_ways(monkeypatch):
    import keras
    def offline(*a, **k):
        raise Exception("URL fetch failure on https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz: "
                        "None -- [Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(DataNotFoundError) as e:
        load_cifar10()
    msg = str(e.value)
    assert "pass a path" in msg and "CIFAR_NB_DATA" in msg and "Keras downloads it" in msg


def test_image_folder_is_shuffled_with_correct_labels(image_folder):
    d = load_cifar10(image_folder)
    assert d.x_train.shape == (60, 32, 32, 3) and d.x_test.shape == (20, 32, 32, 3)
    assert d.class_names == CLASS_NAMES
    # each fixture image is filled with label*20, so pixels tell us the true label
    np.testing.assert_array_equal(d.x_train[:, 5, 5, 0] // 20, d.y_train)
    np.testing.assert_array_equal(d.x_test[:, 5, 5, 0] // 20, d.y_test)
    assert np.bincount(d.y_train).tolist() == [6] * 10
    assert not np.all(np.diff(d.y_train.astype(int)) >= 0), "image-folder data must not stay sorted by class"
    assert len(set(d.y_train[-12:])) > 3, "the last 20% (Keras's validation_split) should mix classes"
    d2 = load_cifar10(image_folder, cache=False)
    np.testing.assert_array_equal(d.y_train, d2.y_train)  # the order is fixed, not random per call


def test_image_folder_cache_is_written_reused_and_invalidated(image_folder, tmp_path):
    cache = tmp_path / "keras-home" / "datasets" / "cifar_nb"
    d1 = load_cifar10(image_folder)
    files = list(cache.glob("imagefolder-*.npz"))
    assert len(files) == 1
    assert "cached" in load_cifar10(image_folder).source
    # changing one image makes a new cache entry rather than serving stale arrays
    Image.fromarray(np.full((32, 32, 3), 255, np.uint8)).save(image_folder / "train" / "cat" / "0000.png")
    d3 = load_cifar10(image_folder)
    assert "cached" not in d3.source
    assert len(list(cache.glob("imagefolder-*.npz"))) == 2
    assert not np.array_equal(d1.x_train, d3.x_train)


def test_image_folder_with_other_classes_sorts_them(tmp_path):
    root = make_image_folder(tmp_path / "pets", classes=["dog", "cat", "bird"], n_train=3, n_test=1)
    d = load_cifar10(root)
    assert d.class_names == ["bird", "cat", "dog"]
    assert len(d.x_train) == 9


def test_image_folder_converts_modes_and_sizes(tmp_path):
    root = make_image_folder(tmp_path / "mixed", classes=["a", "b"], n_train=2, n_test=1)
    Image.new("L", (50, 40), 77).save(root / "train" / "a" / "gray.png")
    Image.new("RGBA", (64, 64), (10, 20, 30, 255)).save(root / "train" / "b" / "rgba.png")
    Image.new("RGB", (100, 80), (1, 2, 3)).save(root / "train" / "b" / "big.jpg", quality=100)
    d = load_cifar10(root)
    assert d.x_train.shape == (7, 32, 32, 3)
    rows = {tuple(x[16, 16]) for x in d.x_train}
    assert (77, 77, 77) in rows and (10, 20, 30) in rows


def test_missing_path_says_how_to_provide_data(tmp_path):
    with pytest.raises(DataNotFoundError, match="(?s)does not exist.*Provide CIFAR-10 in one of three ways"):
        load_cifar10(tmp_path / "nothing-here")


def test_folder_without_cifar_data(tmp_path):
    (tmp_path / "random").mkdir()
    (tmp_path / "random" / "notes.txt").write_text("hello")
    with pytest.raises(DataNotFoundError, match="holds no CIFAR-10 data"):
        load_cifar10(tmp_path / "random")


def test_image_folder_missing_test_split(tmp_path):
    root = make_image_folder(tmp_path / "half")
    import shutil
    shutil.rmtree(root / "test")
    with pytest.raises(DataNotFoundError, match="needs train/<class>/ and test/<class>/"):
        load_cifar10(root)


def test_image_folder_mismatched_classes(tmp_path):
    root = make_image_folder(tmp_path / "odd", classes=["a", "b"], n_train=1, n_test=1)
    (root / "test" / "b").rename(root / "test" / "c")
    with pytest.raises(DataFormatError, match="different classes"):
        load_cifar10(root)


def test_empty_class_folder(tmp_path):
    root = make_image_folder(tmp_path / "empty", classes=["a", "b"], n_train=1, n_test=1)
    for f in (root / "train" / "b").iterdir():
        f.unlink()
    with pytest.raises(DataNotFoundError, match="has no image files"):
        load_cifar10(root)


def test_corrupt_image_is_skipped_with_a_warning_naming_it(tmp_path):
    root = make_image_folder(tmp_path / "bad", classes=["a", "b"], n_train=1, n_test=1)
    (root / "train" / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.warns(S.SkippedFilesWarning, match="skipped 1 of 5 files.*broken.png"):
        d = load_cifar10(root)
    assert len(d.x_train) == 2


def test_archive_that_is_not_cifar(tmp_path):
    bad = tmp_path / "cifar-10-python.tar.gz"
    bad.write_bytes(b"this is not a tar file")
    with pytest.raises(DataFormatError, match="not a readable cifar-10-python.tar.gz"):
        load_cifar10(bad, verify=False)
    with pytest.raises(S.DataIntegrityError, match="SHA-256"):
        load_cifar10(bad)


def test_batches_unpickler_runs_no_code(tmp_path, batches_dir):
    """A batch file whose pickle would create a file if executed is refused and nothing runs."""
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for f in batches_dir.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}, protocol=2))
    with pytest.raises(DataFormatError, match="refusing to load"):
        load_cifar10(folder)
    assert not marker.exists()
    # the same payload through plain pickle would have run: the test can tell the difference
    pickle.loads((folder / "data_batch_3").read_bytes())
    assert marker.exists()


def test_load_images_for_prediction(tmp_path):
    Image.new("P", (40, 40)).save(tmp_path / "palette.gif")
    Image.new("RGB", (300, 200), (200, 0, 0)).save(tmp_path / "photo.jpg")
    (tmp_path / "readme.md").write_text("#")
    with pytest.warns(S.SkippedFilesWarning, match="skipped 1 of 3 files.*readme.md"):
        x, files = S.load_images([tmp_path])
    assert x.shape == (2, 32, 32, 3) and x.dtype == np.uint8
    assert [f.name for f in files] == ["palette.gif", "photo.jpg"]
    with pytest.raises(S.ImageReadError, match="cannot read image"):
        S.load_images(tmp_path / "readme.md")


# ---------------------------------------------------------------- untrusted archives and pickles

class _CreatesFile:
    """Unpickling this object calls Path.touch: the stand-in for any code a malicious pickle could run."""
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _tar_gz(path, members):
    """A tar.gz with `members`: (TarInfo, bytes or None) pairs."""
    import io
    import tarfile
    with tarfile.open(path, "w:gz") as tar:
        for info, raw in members:
            if raw is not None:
                info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw) if raw is not None else None)
    return path


def _canonical_members(batches, replace=None):
    """The canonical members as (TarInfo, bytes) pairs, with `replace` = {name: raw bytes} swapped in."""
    import tarfile
    replace = replace or {}
    return [(tarfile.TarInfo(f"cifar-10-batches-py/{name}"), replace.get(name, pickle.dumps(content, protocol=2)))
            for name, content in batches.items()]


def test_archive_member_with_malicious_pickle_runs_no_code(tmp_path, batches):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({b"data": _CreatesFile(marker), b"labels": []}, protocol=2)
    path = _tar_gz(tmp_path / "cifar-10-python.tar.gz", _canonical_members(batches, {"data_batch_2": evil}))
    with pytest.raises(DataFormatError, match=r"data_batch_2 is not a readable CIFAR-10 batch \(refusing to load "
                                              r".*not part of the CIFAR-10 batch format"):
        load_cifar10(path, verify=False)
    assert not marker.exists()
    # checked against the official checksum, it is refused before reading
    with pytest.raises(S.DataIntegrityError, match="SHA-256"):
        load_cifar10(path)
    assert not marker.exists()
    pickle.loads(evil)  # plain pickle would have run it: the test can tell the difference
    assert marker.exists()


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink", "fifo"])
def test_archive_with_unsafe_member_is_refused(tmp_path, batches, kind):
    import tarfile
    info = tarfile.TarInfo({"dotdot": "cifar-10-batches-py/../../escaped",
                            "absolute": str(tmp_path / "escaped")}.get(kind, "cifar-10-batches-py/data_batch_1x"))
    raw = b"x"
    if kind in ("symlink", "hardlink"):
        info.type, info.linkname, raw = (tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE), "/etc/passwd", None
    elif kind == "fifo":
        info.type, raw = tarfile.FIFOTYPE, None
    path = _tar_gz(tmp_path / "cifar-10-python.tar.gz", _canonical_members(batches) + [(info, raw)])
    with pytest.raises(S.DataIntegrityError,
                       match="refusing .*is a link or would be written outside the archive's folder"):
        load_cifar10(path, verify=False)
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()


def test_archive_that_differs_from_the_official_one_by_one_byte(tmp_path, archive, batches, monkeypatch):
    monkeypatch.setattr(S, "CIFAR10_SHA256", S.sha256_file(archive))  # pretend the fixture is the official file
    _check_same(load_cifar10(archive), batches)  # the genuine bytes pass
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 2] ^= 1
    tampered = tmp_path / "cifar-10-python.tar.gz"
    tampered.write_bytes(bytes(raw))
    with pytest.raises(S.DataIntegrityError,
                       match="is not the official cifar-10-python.tar.gz: its SHA-256 is [0-9a-f]{64}, expected"):
        load_cifar10(tampered)
    with pytest.raises(S.DataIntegrityError, match="SHA-256"):
        load_cifar10(tmp_path)  # also when given the folder that holds it


def test_batch_with_wrong_layout_is_a_clear_error(tmp_path, batches_dir):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for f in batches_dir.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((3, 100), np.uint8), b"labels": [1, 2, 3]},
                                                     protocol=2))
    with pytest.raises(DataFormatError, match=r"unexpected batch layout: data \(3, 100\)"):
        load_cifar10(folder)
    (folder / "test_batch").write_bytes(b"\x80\x02garbage")
    with pytest.raises(DataFormatError, match="test_batch is not a readable CIFAR-10 batch"):
        load_cifar10(folder)


# ---------------------------------------------------------------- bad images in an image folder

def test_every_image_mode_is_converted_to_rgb(tmp_path):
    root = make_image_folder(tmp_path / "modes", classes=["a", "b"], n_train=1, n_test=1)
    a = root / "train" / "a"
    Image.new("L", (40, 40), 77).save(a / "gray.png")
    Image.new("LA", (40, 40), (200, 255)).save(a / "gray_alpha.png")
    Image.new("RGBA", (40, 40), (10, 20, 30, 0)).save(a / "transparent.png")  # fully transparent: white
    pal = Image.new("P", (40, 40), 1)
    pal.putpalette([0, 0, 0, 250, 100, 50] + [0] * 762)
    pal.save(a / "palette.gif")
    Image.fromarray(np.full((40, 40), 65535, np.uint16)).save(a / "deep16.png")
    Image.fromarray(np.full((40, 40), 0.5, np.float32)).save(a / "float.tif")
    Image.new("1", (40, 40), 1).save(a / "bilevel.bmp")
    Image.new("CMYK", (40, 40), (0, 255, 255, 0)).save(a / "cmyk.jpg", quality=100)  # red in print colours
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is skipped
        d = load_cifar10(root, cache=False)
    centre = {tuple(int(v) for v in x[16, 16]) for x in d.x_train}
    for want in [(77, 77, 77), (200, 200, 200), (255, 255, 255), (250, 100, 50), (128, 128, 128)]:
        assert want in centre, (want, centre)
    red = [c for c in centre if c[0] > 240 and c[1] < 15 and c[2] < 15]
    assert red, "the CMYK image must come out red"
    assert len(d.x_train) == 2 + 8


def test_unreadable_files_are_skipped_with_one_warning_that_counts_them(tmp_path):
    root = make_image_folder(tmp_path / "bad", classes=["a", "b"], n_train=2, n_test=1)
    a = root / "train" / "a"
    Image.new("RGB", (64, 64), (9, 9, 9)).save(a / "whole.jpg")
    (a / "cut.jpg").write_bytes((a / "whole.jpg").read_bytes()[:300])  # truncated
    (a / "text.png").write_text("not an image")  # wrong content for its name
    (a / "empty.png").write_bytes(b"")
    Image.new("1", (9000, 9000)).save(a / "bomb.png")  # 81 megapixels in a few kB: a decompression bomb
    (a / "labels.csv").write_text("a,b")  # not an image at all
    (a / ".DS_Store").write_bytes(b"\0")  # hidden: ignored, not counted
    (a / "nested").mkdir()  # a folder inside a class folder: ignored
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = load_cifar10(root)
    skipped = [w for w in caught if issubclass(w.category, S.SkippedFilesWarning)]
    assert len(skipped) == 1, [str(w.message) for w in caught]
    assert "skipped 5 of 12 files" in str(skipped[0].message) and "and 2 more" in str(skipped[0].message)
    assert len(d.x_train) == 5 and len(d.x_test) == 2  # 2 + 2 from make_image_folder, + whole.jpg
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        assert "cached" in load_cifar10(root).source
    assert [str(w.message) for w in again if issubclass(w.category, S.SkippedFilesWarning)] == [str(skipped[0].message)]


def test_decompression_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    Image.new("RGB", (300, 200)).save(tmp_path / "big.png")
    assert S.read_image(tmp_path / "big.png").shape == (32, 32, 3)
    monkeypatch.setattr(S, "MAX_IMAGE_PIXELS", 300 * 200 - 1)
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self) or pytest.fail("decoded"))
    with pytest.raises(S.ImageReadError, match="300x200 pixels, more than the 59,999 cifar_nb accepts"):
        S.read_image(tmp_path / "big.png")
    assert not decoded


def test_class_without_a_single_readable_image(tmp_path):
    root = make_image_folder(tmp_path / "broken", classes=["a", "b"], n_train=2, n_test=1)
    for f in (root / "train" / "b").iterdir():
        f.write_bytes(b"\x89PNG\r\n\x1a\n damaged")
    with pytest.warns(S.SkippedFilesWarning, match="skipped 2 of"), \
         pytest.raises(DataNotFoundError, match="no readable image of class b"):
        load_cifar10(root)


def test_folder_with_a_subset_of_cifar_classes_keeps_its_own_order(tmp_path):
    root = make_image_folder(tmp_path / "two", classes=["truck", "airplane"], n_train=2, n_test=1)
    d = load_cifar10(root)
    assert d.class_names == ["airplane", "truck"] and set(d.y_train.tolist()) == {0, 1}
