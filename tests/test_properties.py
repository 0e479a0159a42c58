"""Property-based tests: random shapes, dtypes and values fed to cifar_nb's preprocessing and loading functions.

Each call must either return a correct result (checked against an independent NumPy computation) or raise one of the
documented, clearly worded errors: `ValueError` (which `ImageReadError` is) or `DataNotFoundError`. Anything else —
a TypeError, an IndexError, a TensorFlow error while iterating a dataset — is a bug.
"""
import io
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from cifar_nb import data as D, sources as S
from cifar_nb.sources import DataFormatError, DataNotFoundError, ImageReadError

CLEAR_ERRORS = (ValueError, DataNotFoundError)  # ImageReadError and DataFormatError are ValueErrors

# modest and deadline-free: TensorFlow's first calls are slow, and the suite must stay quick on two cores
FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

DTYPES = [np.uint8, np.int8, np.uint16, np.int32, np.int64, np.uint64, np.float16, np.float32, np.float64, np.bool_,
          np.complex64]


def any_array(max_dims=5, max_side=5):
    """Arrays of any of DTYPES, of any shape up to `max_dims` dimensions (0-d included),
    with any values (NaN, inf, extremes)."""
    return st.sampled_from(DTYPES).flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side)))


def image_batches(dtypes=(np.uint8,), channels=st.just(3)):
    """Mostly well-formed batches (N, H, W, C) whose pixel values are anything their dtype holds."""
    shape = st.tuples(st.integers(0, 4), st.integers(0, 7), st.integers(0, 7), channels)
    return st.tuples(st.sampled_from(dtypes), shape).flatmap(lambda a: hnp.arrays(a[0], a[1]))


def raised_clearly(call):
    """Run `call`; return (result, None), or (None, error) for a documented error.
    Any other exception fails the test."""
    try:
        return call(), None
    except CLEAR_ERRORS as e:
        assert str(e).strip(), "an error must say what was wrong"
        return None, e


# ---------------------------------------------------------------- scale_images

@FAST
@given(st.one_of(any_array(), image_batches(), image_batches(DTYPES, st.integers(1, 4))))
def test_scale_images(x):
    out, err = raised_clearly(lambda: D.scale_images(x))
    valid = x.ndim == 4 and x.shape[-1] == 3 and x.dtype == np.uint8
    assert (err is None) == valid, err
    if valid:
        assert out.dtype == np.float32 and out.shape == x.shape
        assert out.size == 0 or (0.0 <= out.min() and out.max() <= 1.0)
        np.testing.assert_array_equal(np.round(out * 255).astype(np.uint8), x)


# ------------------------------------------------------- check_labels, one_hot

def _labels_are_valid(y, num_classes):
    """An independent statement of what check_labels accepts."""
    try:
        flat = np.asarray(y).ravel()
    except ValueError:  # ragged lists
        return False
    if num_classes < 1 or flat.dtype.kind not in "biuf":
        return False
    if flat.dtype.kind == "f" and not (np.isfinite(flat).all() and (flat == np.floor(flat)).all()):
        return False
    return flat.size == 0 or (flat.min() >= 0 and flat.max() < num_classes)


label_values = st.one_of(
    any_array(max_dims=3, max_side=6),
    hnp.arrays(st.sampled_from([np.int64, np.float32, np.uint8]), hnp.array_shapes(min_dims=1, max_dims=2, max_side=8),
               elements=st.integers(0, 12)),
    st.lists(st.one_of(st.integers(-3, 12), st.floats(-1, 12), st.text(max_size=2), st.none()), max_size=6),
)


@FAST
@given(label_values, st.integers(-1, 15))
def test_check_labels_and_one_hot(y, num_classes):
    valid = _labels_are_valid(y, num_classes)
    out, err = raised_clearly(lambda: D.check_labels(y, num_classes))
    assert (err is None) == valid, (y, num_classes, err)
    hot, err2 = raised_clearly(lambda: D.one_hot(y, num_classes))
    assert (err2 is None) == valid
    if valid:
        flat = np.asarray(y).ravel()
        assert out.dtype == np.int64 and out.shape == flat.shape
        np.testing.assert_array_equal(out, flat.astype(np.int64))
        assert hot.dtype == np.float32 and hot.shape == (flat.size, num_classes)
        np.testing.assert_array_equal(hot.sum(axis=1), np.ones(flat.size))
        np.testing.assert_array_equal(hot.argmax(axis=1) if flat.size else out, out)


# ---------------------------------------------------------------- split_train_val

@FAST
@given(any_array(max_dims=3, max_side=9), st.integers(-1, 11),
       st.floats(allow_nan=True, allow_infinity=True) | st.floats(0.01, 0.99), st.integers(0, 2**32 - 1))
@example(np.uint8(0), 0, 0.5, 0)
@example(np.zeros((5, 2)), -1, 0.5, 0)
@example(np.zeros((5, 2)), 5, 0.0, 0)  # no validation: everything trains
def test_split_train_val(x, n_labels, val_fraction, seed):
    # labels are the indices 0..n-1, so every returned image can be traced back to where it came from
    y = np.arange(n_labels) if n_labels >= 0 else np.int64(3)  # -1: a 0-d "label array"
    res, err = raised_clearly(lambda: D.split_train_val(x, y, val_fraction, seed))
    valid = x.ndim >= 1 and y.ndim == 1 and len(x) == len(y) and 0 <= val_fraction < 1
    assert (err is None) == valid, err
    if valid:
        (x_tr, y_tr), (x_val, y_val) = res
        assert (len(y_val) == int(len(x) * val_fraction) == D.validation_size(len(x), val_fraction)
                and len(y_tr) + len(y_val) == len(x))
        np.testing.assert_array_equal(np.sort(np.concatenate([y_tr, y_val])), np.arange(len(x)))  # a partition
        np.testing.assert_array_equal(x_tr, x[y_tr])
        np.testing.assert_array_equal(x_val, x[y_val])
        (x_tr2, _), _ = D.split_train_val(x, y, val_fraction, seed)
        np.testing.assert_array_equal(x_tr2, x_tr)  # seeded: the same split again


# ---------------------------------------------------------------- random_flip_shift

def _candidates(img, k):
    """All shifts of `img` and of its mirror image by up to k pixels, by NumPy slicing of a reflect-padded copy."""
    h, w = img.shape[:2]
    out = []
    for im in (img, img[:, ::-1]):
        p = np.pad(im, ((k, k), (k, k), (0, 0)), mode="reflect") if k else im
        out += [p[i:i + h, j:j + w] for i in range(2 * k + 1) for j in range(2 * k + 1)]
    return out


@FAST
@given(st.one_of(any_array(max_dims=5, max_side=4), image_batches(DTYPES[:-1], st.integers(1, 3))), st.integers(-1, 4),
       st.none() | st.integers(0, 2**31 - 1) | st.tuples(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1)))
@example(np.zeros((0, 0, 0, 1), np.uint8), 1, None)  # edge cases found earlier, kept so that they are always tried
@example(np.zeros((0, 1, 1, 0), np.uint8), 0, None)
@example(np.zeros((2, 3, 3, 0), np.float32), 1, 5)
@example(np.zeros((0, 4, 4, 3), np.uint8), 2, (1, 2))
def test_random_flip_shift(images, max_shift, seed):
    out, err = raised_clearly(lambda: D.random_flip_shift(images, max_shift,
                                                          seed if not isinstance(seed, tuple) else list(seed)))
    valid = (images.ndim == 4 and images.dtype != np.complex64 and min(images.shape[1:]) >= 1
             and 0 <= max_shift < min(images.shape[1:3]))
    assert (err is None) == valid, (images.shape, images.dtype, max_shift, err)
    if valid:
        out = out.numpy()
        assert out.shape == images.shape and out.dtype == images.dtype
        for a, img in zip(out, images):
            assert any(np.array_equal(a, c, equal_nan=a.dtype.kind == "f") for c in _candidates(img, max_shift))


# ---------------------------------------------------------------- make_dataset

@FAST
@given(st.one_of(image_batches(), image_batches(DTYPES, st.integers(1, 4)), any_array(max_dims=4, max_side=3)),
       st.one_of(st.integers(-1, 5), label_values), st.integers(-1, 5), st.booleans(), st.booleans(),
       st.none() | st.integers(0, 1000), st.integers(-1, 3), st.booleans())
@example(np.uint8(1), 0, 1, False, False, None, 0, False)
@example(np.zeros((0, 0, 0, 3), np.uint8), 0, 1, False, True, None, 0, False)
# (N, 1) labels, as Keras gives them
@example(np.zeros((3, 4, 4, 3), np.uint8), np.zeros((3, 1), int), 2, True, True, 1, 1, False)
@example(np.zeros((3, 4, 4, 3), np.uint8), np.zeros((3, 2), int), 2, False, False, None, 0, False)
def test_make_dataset(x, y, batch_size, shuffle, augment, seed, max_shift, drop_remainder):
    if isinstance(y, int):  # a matching number of random valid labels, so that valid calls are common
        y = np.random.default_rng(abs(y)).integers(0, 10, len(x) if x.ndim else 1)
    ds, err = raised_clearly(lambda: D.make_dataset(x, y, batch_size, shuffle, augment, seed=seed, max_shift=max_shift,
                                                    drop_remainder=drop_remainder))
    labels_ok = _labels_are_valid(y, 10) and np.asarray(y).size == (len(x) if x.ndim else -1)
    valid = (x.ndim == 4 and x.shape[-1] == 3 and x.dtype == np.uint8 and labels_ok and batch_size >= 1
             and (not augment or (min(x.shape[1:3]) >= 1 and 0 <= max_shift < min(x.shape[1:3]))))
    assert (err is None) == valid, (x.shape, x.dtype, np.asarray(y).shape, batch_size, augment, max_shift, err)
    if not valid:
        return
    labels = np.asarray(y).ravel().astype(np.int64)
    got_x, got_y = [], []
    for xb, yb in ds:  # iterating must not fail either: no error in the middle of an epoch
        xb, yb = xb.numpy(), yb.numpy()
        assert xb.dtype == np.float32 and xb.shape[1:] == x.shape[1:] and 1 <= len(xb) <= batch_size
        assert xb.size == 0 or (0.0 <= xb.min() and xb.max() <= 1.0)
        assert yb.shape == (len(xb), 10)
        np.testing.assert_array_equal(yb.sum(axis=1), np.ones(len(xb)))
        got_x.append(xb); got_y.append(yb.argmax(axis=1))
    n = len(x) - len(x) % batch_size if drop_remainder else len(x)
    assert sum(map(len, got_y)) == n
    if n and not shuffle:
        np.testing.assert_array_equal(np.concatenate(got_y), labels[:n])
        if not augment:
            np.testing.assert_allclose(np.concatenate(got_x), x[:n] / 255.0, atol=1e-6)
    elif n and not drop_remainder:
        np.testing.assert_array_equal(np.sort(np.concatenate(got_y)), np.sort(labels))


# ---------------------------------------------------------------- read_image

def _read(raw: bytes, suffix: str, size: int):
    """Write `raw` to a file with `suffix` and read it with read_image."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"image{suffix}"
        path.write_bytes(raw)
        return raised_clearly(lambda: S.read_image(path, size))


def _encoded(a: np.ndarray, fmt: str) -> bytes | None:
    """`a` saved in image format `fmt`, or None where Pillow cannot save that array in that format."""
    try:
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format=fmt)
        return buf.getvalue()
    except Exception:
        return None


FORMATS = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}

image_arrays = st.tuples(st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.bool_]),
                         st.integers(1, 40), st.integers(1, 40), st.sampled_from([None, 3, 4])).flatmap(
    lambda a: hnp.arrays(a[0], (a[1], a[2]) if a[3] is None else (a[1], a[2], a[3])))


@FAST
@given(image_arrays, st.sampled_from(sorted(FORMATS)), st.integers(1, 40))
def test_read_image_of_random_arrays(a, fmt, size):
    raw = _encoded(a, fmt)
    assume(raw is not None)
    out, err = _read(raw, FORMATS[fmt], size)
    assert err is None, err  # Pillow wrote it, so cifar_nb must read it
    assert out.shape == (size, size, 3) and out.dtype == np.uint8
    if (a.dtype == np.uint8 and fmt in ("PNG", "BMP", "TIFF") and a.shape[:2] == (size, size)
            and a.ndim == 3 and a.shape[2] == 3):
        np.testing.assert_array_equal(out, a)  # lossless, no resize, no conversion: exactly the pixels


@FAST
@given(st.binary(max_size=3000), st.sampled_from([".png", ".jpg", ".gif", ".bmp", ".tif", ".webp", ".txt"]))
def test_read_image_of_random_bytes(raw, suffix):
    out, err = _read(raw, suffix, 32)
    assert err is None or isinstance(err, ImageReadError), err
    assert err is not None or (out.shape == (32, 32, 3) and out.dtype == np.uint8)


@FAST
@given(image_arrays, st.sampled_from(sorted(FORMATS)), st.data())
def test_read_image_of_damaged_files(a, fmt, data):
    """A real image file, truncated and with a few bytes overwritten: an image or an ImageReadError, nothing else."""
    raw = _encoded(a, fmt)
    assume(raw is not None and len(raw) > 2)
    raw = bytearray(raw[:data.draw(st.integers(1, len(raw)))])
    for _ in range(data.draw(st.integers(0, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    out, err = _read(bytes(raw), FORMATS[fmt], 32)
    assert err is None or isinstance(err, ImageReadError), err
    assert err is not None or (out.shape == (32, 32, 3) and out.dtype == np.uint8)


# ---------------------------------------------------------------- batch_to_arrays and the safe unpickler

@st.composite
def batches(draw):
    """Dicts shaped more or less like a CIFAR-10 batch: random dtype, shape, value range and label list."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(0, 3))
    cols = draw(st.sampled_from([3072, 3072, 3071, 1024, 0]))
    dt = draw(st.sampled_from([np.uint8, np.int64, np.int16, np.float64, np.bool_]))
    lo, hi = draw(st.sampled_from([(0, 256), (0, 256), (-2, 3), (250, 300)]))
    shape = draw(st.sampled_from([(n, cols), (n, cols), (n * cols,), (n, 3, 1024)]))
    data = rng.integers(lo, hi, shape).astype(dt)
    labels = draw(st.one_of(st.lists(st.integers(-1, 260), min_size=n, max_size=n),
                            st.lists(st.integers(0, 9), max_size=4),
                            hnp.arrays(np.float32, (n,), elements=st.floats(0, 9, width=32)), st.just("cat")))
    batch = {"data": data, "labels": labels}
    drop = draw(st.sampled_from([None, None, "data", "labels"]))
    if drop: del batch[drop]
    return draw(st.sampled_from([batch, batch, batch, list(batch.values()), None]))


@FAST
@given(batches())
def test_batch_to_arrays(batch):
    res, err = raised_clearly(lambda: S.batch_to_arrays(batch))
    assert err is None or isinstance(err, (DataNotFoundError, DataFormatError)), err
    if err is not None:
        return
    data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"])
    assert data.ndim == 2 and data.shape[1] == 3072 and labels.shape == (len(data),)
    assert data.dtype.kind in "biu" and labels.dtype.kind in "biu"  # floats, even whole ones, are not CIFAR-10 bytes
    x, y = res
    assert x.shape == (len(data), 32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.uint8
    np.testing.assert_array_equal(y, labels)
    # pixel (r, c) of channel ch is byte ch*1024 + r*32 + c of the row
    for i in range(len(data)):
        for r, c, ch in [(0, 0, 0), (31, 31, 2), (5, 17, 1)]:
            assert x[i, r, c, ch] == data[i, ch * 1024 + r * 32 + c]


python_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.binary(max_size=20) | st.text(max_size=10),
    lambda inner: (st.lists(inner, max_size=4)
                   | st.dictionaries(st.binary(max_size=6) | st.text(max_size=6), inner, max_size=4)),
    max_leaves=12)


@FAST
@given(st.one_of(st.binary(max_size=500), python_values.map(lambda v: pickle.dumps(v, protocol=2)),
                 st.builds(lambda v, cut: pickle.dumps(v, protocol=2)[:cut], python_values, st.integers(0, 40))))
@example(pickle.dumps({b"\x80": 1}, protocol=2))  # a key that is not UTF-8
def test_unpickle_batch_only_returns_dicts_or_refuses(raw):
    res, err = raised_clearly(lambda: S._unpickle_batch(raw, "data_batch_1"))
    assert err is None or isinstance(err, (DataNotFoundError, DataFormatError)), err
    assert err is not None or isinstance(res, dict)
