"""Tests for utils.standin: the synthetic CIFAR-10 stand-in, its file format and its data."""

import pickle
from pathlib import Path

import numpy as np
import pytest

from utils import data, standin


@pytest.fixture(scope="module")
def standin_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("standin")
    standin.write_cifar10_standin(root, n_train=500, n_test=200, seed=3)
    return root


def test_folder_has_the_original_layout(standin_dir):
    folder = standin_dir / data.CIFAR10_FOLDER
    names = {p.name for p in folder.iterdir()}
    assert {f"data_batch_{i}" for i in range(1, 6)} | {"test_batch", "batches.meta"} <= names
    assert not any(n.endswith(".part") for n in names)


def test_batches_are_pickled_like_the_original(standin_dir):
    with open(standin_dir / data.CIFAR10_FOLDER / "data_batch_2", "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (100, 3072)
    assert isinstance(batch[b"labels"], list) and all(type(v) is int for v in batch[b"labels"])
    assert b"stand-in" in batch[b"batch_label"]
    with open(standin_dir / data.CIFAR10_FOLDER / "batches.meta", "rb") as f:
        meta = pickle.load(f, encoding="bytes")
    assert meta[b"label_names"] == [n.encode() for n in data.CIFAR10_CLASSES]
    assert meta[b"num_vis"] == 3072 and meta[b"num_cases_per_batch"] == 100


def test_keras_own_cifar_parser_reads_it(standin_dir):
    # Keras's parser refuses any pickle global beyond numpy's array reconstruction.
    from keras.src.datasets.cifar import load_batch

    x, y = load_batch(str(standin_dir / data.CIFAR10_FOLDER / "test_batch"))
    assert x.shape == (200, 3, 32, 32) and len(y) == 200


def test_load_cifar10_reads_it_and_knows_it_is_a_stand_in(standin_dir, monkeypatch):
    monkeypatch.setenv(data.CIFAR10_ENV_VAR, str(standin_dir))
    (x_train, y_train), (x_test, y_test) = data.load_cifar10()
    assert x_train.shape == (500, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (500, 1) and x_test.shape == (200, 32, 32, 3)
    assert np.bincount(y_train[:, 0], minlength=10).tolist() == [50] * 10
    assert np.bincount(y_test[:, 0], minlength=10).tolist() == [20] * 10
    assert data.cifar10_is_standin() and "STAND-IN" in data.cifar10_source()
    assert data.cifar10_class_names() == data.CIFAR10_CLASSES


def test_real_cifar_folder_is_not_called_a_stand_in(tmp_path, monkeypatch):
    folder = standin.write_cifar10_standin(tmp_path, n_train=10, n_test=10)
    with open(folder / "batches.meta", "rb") as f:
        meta = pickle.load(f)
    del meta[b"stand_in"]                      # what the original batches.meta holds
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f)
    monkeypatch.setenv(data.CIFAR10_ENV_VAR, str(tmp_path))
    assert not data.cifar10_is_standin()
    assert "STAND-IN" not in data.cifar10_source()
    monkeypatch.delenv(data.CIFAR10_ENV_VAR)
    assert not data.cifar10_is_standin() and "keras.datasets" in data.cifar10_source()


def test_rows_hold_red_then_green_then_blue(standin_dir, monkeypatch):
    monkeypatch.setenv(data.CIFAR10_ENV_VAR, str(standin_dir))
    (x_train, _), _ = data.load_cifar10()
    with open(standin_dir / data.CIFAR10_FOLDER / "data_batch_1", "rb") as f:
        rows = pickle.load(f, encoding="bytes")[b"data"]
    image = x_train[7]
    assert rows[7, 0] == image[0, 0, 0] and rows[7, 1024] == image[0, 0, 1]
    assert rows[7, 2048 + 33] == image[1, 1, 2]


def test_same_seed_same_bytes_other_seed_other_images(tmp_path):
    a = standin.write_cifar10_standin(tmp_path / "a", n_train=50, n_test=10, seed=1)
    b = standin.write_cifar10_standin(tmp_path / "b", n_train=50, n_test=10, seed=1)
    c = standin.write_cifar10_standin(tmp_path / "c", n_train=50, n_test=10, seed=2)
    assert (a / "test_batch").read_bytes() == (b / "test_batch").read_bytes()
    assert (a / "test_batch").read_bytes() != (c / "test_batch").read_bytes()


def test_classes_differ_in_their_shapes_not_only_in_noise():
    labels = np.repeat(np.arange(10), 300)
    images = standin.make_standin_images(labels, seed=0).astype(float)
    assert images.min() >= 0 and images.max() <= 255
    # A nearest-centroid classifier on grey images with the mean colour removed is far
    # above chance (0.1): the classes are learnable, from shape as well as colour.
    grey = images.mean(axis=-1)
    grey -= grey.mean(axis=(1, 2), keepdims=True)
    feats = np.abs(np.fft.fft2(grey))[:, :8, :8].reshape(len(grey), -1)  # shift-invariant
    train, test = np.arange(len(labels)) % 3 != 0, np.arange(len(labels)) % 3 == 0
    centroids = np.stack([feats[train & (labels == c)].mean(0) for c in range(10)])
    pred = np.argmin(((feats[test, None] - centroids) ** 2).sum(-1), axis=1)
    assert np.mean(pred == labels[test]) > 0.2   # 0.27 when written; chance 0.1 +- 0.01


def test_every_class_survives_a_horizontal_flip():
    # Each shape is mirror-symmetric, so RandomFlip("horizontal") keeps labels right:
    # the shape masks at mirrored coordinates are the same masks.
    u, v = np.meshgrid(np.linspace(-1.2, 1.2, 49), np.linspace(-1.2, 1.2, 49))
    for c in range(10):
        mask = standin._shape_masks(np.array([c]), u[None], v[None])[0]
        mirrored = standin._shape_masks(np.array([c]), -u[None], v[None])[0]
        agreement = np.mean(mask == mirrored)
        assert agreement > 0.97, (c, standin.SHAPES[c], agreement)


@pytest.mark.parametrize("kwargs", [dict(n_train=12), dict(n_train=0), dict(n_test=0)])
def test_bad_sizes_are_refused(tmp_path, kwargs):
    with pytest.raises(ValueError, match="n_train"):
        standin.write_cifar10_standin(tmp_path, **kwargs)


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="0..9"):
        standin.make_standin_images([0, 10])


def test_command_line(tmp_path, capsys):
    standin.main([str(tmp_path), "--train", "10", "--test", "5"])
    assert "written to" in capsys.readouterr().out
    assert data.cifar10_is_standin(tmp_path)
    assert "Not CIFAR-10" in (tmp_path / data.CIFAR10_FOLDER / "STAND-IN.txt").read_text()


# --- The smoke size's generated downloads (python -m utils.standin --online KERAS_HOME) ---

CIFAR10_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"   # the real archive's


def _keras_get_cifar10(keras_home):
    """What keras.datasets.cifar10.load_data() asks get_file for (Keras 3), into keras_home."""
    from keras.src.utils.file_utils import get_file

    return get_file(fname=standin.KERAS_CIFAR10, origin=CIFAR10_ORIGIN, extract=True,
                    file_hash=CIFAR10_SHA256, cache_dir=str(keras_home))


@pytest.fixture
def no_download(monkeypatch):
    from keras.src.utils import file_utils

    def refuse(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(file_utils, "urlretrieve", refuse)
    monkeypatch.setattr(file_utils, "validate_file", file_utils.validate_file)   # restored afterwards
    return file_utils


def test_generated_cifar10_archive_is_found_extracted_and_parsed_by_keras(tmp_path, no_download):
    from keras.src.datasets.cifar import load_batch

    archive = standin.write_keras_cifar10_archive(tmp_path, n_train=50, n_test=10, seed=1)
    assert archive == tmp_path / "datasets" / "cifar-10-batches-py-target_archive"
    standin.accept_generated_files()
    standin.accept_generated_files()                      # idempotent
    folder = _keras_get_cifar10(tmp_path)                 # no download: no_download would raise
    x, y = load_batch(str(Path(folder) / data.CIFAR10_FOLDER / "data_batch_5"))
    assert x.shape == (10, 3, 32, 32) and len(y) == 10


def test_keras_downloads_over_a_generated_file_unless_told_to_accept_it(tmp_path, no_download):
    # Keras checks the cached archive against the real sha256 every time, and an
    # extracted folder alone does not count: without accept_generated_files it downloads.
    standin.write_keras_cifar10_archive(tmp_path, n_train=50, n_test=10)
    with pytest.raises(AssertionError, match="tried to download"):
        _keras_get_cifar10(tmp_path)


def test_a_changed_generated_file_and_other_files_are_checked_as_before(tmp_path, no_download):
    archive = standin.write_keras_cifar10_archive(tmp_path, n_train=50, n_test=10)
    other = tmp_path / "other.bin"
    other.write_bytes(b"abc")
    sha_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    standin.accept_generated_files()
    assert no_download.validate_file(str(archive), CIFAR10_SHA256)
    assert no_download.validate_file(str(other), sha_abc)
    assert not no_download.validate_file(str(other), CIFAR10_SHA256)
    with open(archive, "ab") as f:
        f.write(b"\0")
    assert not no_download.validate_file(str(archive), CIFAR10_SHA256)


def test_generated_flower_photos_are_where_load_flowers_looks(tmp_path, monkeypatch):
    from PIL import Image

    from utils import transfer

    root = standin.write_flower_photos(tmp_path, per_class=3, seed=0)
    assert root == tmp_path / "datasets" / "flower_photos"
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(transfer.FLOWERS_CLASSES)
    for name in transfer.FLOWERS_CLASSES:
        files = sorted((root / name).glob("*.jpg"))
        assert len(files) == 3
        with Image.open(files[0]) as img:
            assert img.format == "JPEG" and img.mode == "RGB" and min(img.size) >= 120
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(transfer, "fetch", lambda *a, **k: pytest.fail("load_flowers downloaded"))
    assert transfer.load_flowers() == root


def test_online_command_line(tmp_path, monkeypatch, capsys):
    import functools

    from utils import transfer

    small = functools.partial(standin.write_keras_cifar10_archive, n_train=50, n_test=10)
    monkeypatch.setattr(standin, "write_keras_cifar10_archive", small)   # 50,000 rows take a minute
    standin.main(["--online", str(tmp_path)])
    out = capsys.readouterr().out
    assert "cifar-10-batches-py-target_archive" in out and "flower_photos" in out
    assert (tmp_path / "datasets" / "cifar-10-batches-py-target_archive.course-generated").is_file()
    assert all((tmp_path / "datasets" / "flower_photos" / c).is_dir() for c in transfer.FLOWERS_CLASSES)
