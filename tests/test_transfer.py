"""Tests for lesson 04's data plumbing."""

import numpy as np
import pytest

from utils.transfer import cached_arrays, sample_per_class, write_image_folder


def test_sample_per_class_takes_n_distinct_examples_of_each_class():
    labels = np.repeat(np.arange(4), 10)
    idx = sample_per_class(labels, 3, rng=0)
    assert len(idx) == 12 and len(set(idx.tolist())) == 12
    assert np.bincount(labels[idx]).tolist() == [3, 3, 3, 3]
    assert np.array_equal(idx, sample_per_class(labels, 3, rng=0))          # reproducible
    assert not np.array_equal(idx, sample_per_class(labels, 3, rng=1))
    only = sample_per_class(labels, 2, rng=0, classes=[1, 3])
    assert sorted(set(labels[only].tolist())) == [1, 3]


def test_sample_per_class_errors():
    with pytest.raises(ValueError, match="class 1 has only 2 examples"):
        sample_per_class(np.array([0, 0, 0, 1, 1]), 3)
    with pytest.raises(ValueError, match="at least 1"):
        sample_per_class(np.array([0, 1]), 0)


def test_write_image_folder_is_read_back_by_keras(tmp_path):
    import keras

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 12, 12), dtype=np.uint8)
    labels = np.array([0, 1, 0, 1, 1, 0])
    write_image_folder(tmp_path / "data", images, labels, ["cats", "dogs"], size=16)
    assert len(list((tmp_path / "data" / "dogs").glob("*.png"))) == 3
    ds = keras.utils.image_dataset_from_directory(tmp_path / "data", image_size=(16, 16),
                                                  batch_size=8, shuffle=False, verbose=False)
    assert ds.class_names == ["cats", "dogs"]
    x, y = next(iter(ds))
    assert x.shape == (6, 16, 16, 3) and sorted(np.asarray(y).tolist()) == [0, 0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match="uint8"):
        write_image_folder(tmp_path / "bad", images.astype(float), labels, ["a", "b"])


def test_cached_arrays_computes_once(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3), "y": np.ones((2, 2))}

    first = cached_arrays(tmp_path / "f.npz", compute)
    second = cached_arrays(tmp_path / "f.npz", compute)
    assert len(calls) == 1
    assert np.array_equal(first["x"], second["x"]) and second["y"].shape == (2, 2)
