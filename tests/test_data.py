"""Tests for utils.data: the IDX parser, cached downloads and their errors, local CIFAR-10."""

import gzip
import pickle
import struct

import numpy as np
import pytest

from utils import data

# A port on this machine that nothing listens on: downloads fail at once, as offline.
UNREACHABLE = "http://127.0.0.1:9/"


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(
        struct.pack(">I", n) for n in array.shape
    )
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return tmp_path


# ------------------------------------------------------------------------ IDX
def test_parse_idx_images_raw_and_gzip(tmp_path):
    images = np.arange(12, dtype=np.uint8).reshape(3, 2, 2)
    raw = idx_bytes(images)
    np.testing.assert_array_equal(data.parse_idx(raw), images)
    path = tmp_path / "tiny-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(raw))
    parsed = data.read_idx(path)
    assert parsed.dtype == np.uint8 and parsed.shape == (3, 2, 2)
    np.testing.assert_array_equal(parsed, images)


def test_parse_idx_labels_and_big_endian_ints():
    labels = np.array([7, 0, 3], dtype=np.uint8)
    np.testing.assert_array_equal(data.parse_idx(idx_bytes(labels)), labels)
    ints = np.array([[1, -2], [300000, 4]], dtype=np.int32)
    parsed = data.parse_idx(idx_bytes(ints, type_code=0x0C))
    np.testing.assert_array_equal(parsed, ints)
    assert parsed.dtype.isnative


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "two zero bytes"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unknown IDX element type"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x02", "truncated"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05", "needs 3"),
    ],
)
def test_parse_idx_rejects_malformed_files(payload, message):
    with pytest.raises(data.DataIntegrityError, match=message):
        data.parse_idx(payload)


# ------------------------------------------------------------------ fetching
def test_fetch_returns_a_cached_file_with_the_right_hash(keras_home):
    folder = keras_home / "datasets" / "demo"
    folder.mkdir(parents=True)
    (folder / "demo.bin").write_bytes(b"course data")
    path = data.fetch("demo.bin", UNREACHABLE + "demo.bin",
                      data.sha256_of(folder / "demo.bin"), "datasets/demo")
    assert path == folder / "demo.bin"


def test_hash_mismatch_is_a_clear_error_and_keeps_the_file(keras_home):
    folder = keras_home / data.MNIST_CACHE_SUBDIR
    folder.mkdir(parents=True)
    bad = folder / "train-images-idx3-ubyte.gz"
    bad.write_bytes(b"not mnist")
    with pytest.raises(data.DataIntegrityError) as err:
        data.load_mnist()
    message = str(err.value)
    assert str(bad) in message
    assert data.MNIST_FILES["train-images-idx3-ubyte.gz"] in message
    assert bad.read_bytes() == b"not mnist"  # never deleted


def test_offline_and_missing_names_file_origin_and_destination(keras_home, monkeypatch):
    monkeypatch.setattr(data, "MNIST_ORIGIN", UNREACHABLE)
    with pytest.raises(data.DataUnavailableError) as err:
        data.load_mnist()
    message = str(err.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert UNREACHABLE + "train-images-idx3-ubyte.gz" in message
    assert str(keras_home / data.MNIST_CACHE_SUBDIR / "train-images-idx3-ubyte.gz") in message


def test_keras_cache_dir_follows_keras_home(keras_home):
    assert data.keras_cache_dir() == keras_home


def test_load_mnist_from_a_cache_of_tiny_files(keras_home, monkeypatch):
    """load_mnist wires the four files together in the keras.datasets layout."""
    folder = keras_home / data.MNIST_CACHE_SUBDIR
    folder.mkdir(parents=True)
    arrays = {
        "train-images-idx3-ubyte.gz": np.full((5, 28, 28), 1, np.uint8),
        "train-labels-idx1-ubyte.gz": np.arange(5, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": np.full((2, 28, 28), 2, np.uint8),
        "t10k-labels-idx1-ubyte.gz": np.array([9, 8], np.uint8),
    }
    hashes = {}
    for name, array in arrays.items():
        (folder / name).write_bytes(gzip.compress(idx_bytes(array)))
        hashes[name] = data.sha256_of(folder / name)
    monkeypatch.setattr(data, "MNIST_FILES", hashes)
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert x_train.shape == (5, 28, 28) and x_test.shape == (2, 28, 28)
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(y_test, [9, 8])
    assert x_test.max() == 2


# ------------------------------------------------------------------ CIFAR-10
def write_cifar_folder(root, n_per_batch=4):
    folder = root / data.CIFAR10_FOLDER
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)

    def batch(name, offset):
        rows = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        # Image 0: pixel (0, 0) is red 1, green 2, blue 3; pixel (0, 1) is red 4.
        rows[0, [0, 1024, 2048, 1]] = [1, 2, 3, 4]
        labels = [(offset + i) % 10 for i in range(n_per_batch)]
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": rows, b"labels": labels, b"batch_label": name.encode()}, f)

    for i in range(1, 6):
        batch(f"data_batch_{i}", i)
    batch("test_batch", 0)
    names = [n.encode() for n in data.CIFAR10_CLASSES]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": names, b"num_vis": 3072}, f)
    return folder


@pytest.mark.parametrize("point_at_parent", [True, False])
def test_load_cifar10_from_a_local_folder(tmp_path, monkeypatch, point_at_parent):
    folder = write_cifar_folder(tmp_path)
    monkeypatch.setenv(data.CIFAR10_ENV_VAR, str(tmp_path if point_at_parent else folder))
    (x_train, y_train), (x_test, y_test) = data.load_cifar10()
    assert x_train.shape == (20, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (20, 1) and x_test.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(x_test[0, 0, 0], [1, 2, 3])
    assert x_test[0, 0, 1, 0] == 4
    assert y_train[:4, 0].tolist() == [1, 2, 3, 4]
    assert data.cifar10_class_names() == data.CIFAR10_CLASSES


def test_cifar10_dir_without_batches_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(data.CIFAR10_ENV_VAR, str(tmp_path))
    with pytest.raises(data.DataUnavailableError, match="test_batch"):
        data.load_cifar10()


def test_cifar10_batch_with_wrong_row_length_is_rejected(tmp_path, monkeypatch):
    folder = write_cifar_folder(tmp_path)
    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
    monkeypatch.setenv(data.CIFAR10_ENV_VAR, str(folder))
    with pytest.raises(data.DataIntegrityError, match="3072"):
        data.load_cifar10()


# --------------------------------------------------------- the real datasets
def _cached(subdir, names):
    folder = data.keras_cache_dir() / subdir
    return all((folder / n).exists() for n in names)


@pytest.mark.skipif(not _cached(data.MNIST_CACHE_SUBDIR, data.MNIST_FILES),
                    reason="MNIST is not in the Keras cache (CI places it there)")
def test_real_mnist_shapes_and_labels():
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert sorted(np.unique(y_test)) == list(range(10))
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]  # MNIST's well-known first labels
