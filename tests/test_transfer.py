"""Tests for lesson 04's data plumbing."""

from pathlib import Path

import numpy as np
import pytest

from utils.transfer import (cached_arrays, fit_steps, image_folder_split, imagenet_classifier,
                            sample_per_class, write_image_folder)


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


def _class_of(path):
    return Path(path).parent.name


def test_image_folder_split_is_disjoint_and_holds_every_class(tmp_path):
    """The bug this guards against: a test subset cut from the unshuffled, class-ordered
    file list holds only the last classes and overlaps the shuffled training subset."""
    rng = np.random.default_rng(0)
    names = ["a", "b", "c", "d", "e"]
    labels = np.repeat(np.arange(5), 12)
    images = rng.integers(0, 256, size=(len(labels), 8, 8), dtype=np.uint8)
    folder = write_image_folder(tmp_path / "data", images, labels, names)
    train, test = image_folder_split(folder, image_size=8, validation_split=0.25, seed=42, batch_size=7)
    assert train.class_names == test.class_names == names
    train_files, test_files = set(train.file_paths), set(test.file_paths)
    assert not train_files & test_files
    assert len(train_files | test_files) == len(labels) and len(test_files) == 15
    assert {_class_of(p) for p in test_files} == set(names)       # every class in the test set
    assert {_class_of(p) for p in train_files} == set(names)
    # the labels the datasets yield are those of the files, and the test order is fixed
    y_test = np.concatenate([y.numpy() for _, y in test])
    assert y_test.tolist() == [names.index(_class_of(p)) for p in test.file_paths]
    assert np.array_equal(y_test, np.concatenate([y.numpy() for _, y in test]))
    again = image_folder_split(folder, image_size=8, seed=42)[1]
    assert again.file_paths == test.file_paths                        # the seed fixes the split
    with pytest.raises(ValueError, match="between 0 and 1"):
        image_folder_split(folder, image_size=8, validation_split=1.0)


def test_fit_steps_takes_exactly_that_many_steps():
    import keras

    for n in (5, 100):                                   # fewer and more examples than a batch
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        x = np.random.default_rng(0).normal(size=(n, 3)).astype("float32")
        fit_steps(model, x, np.arange(n) % 2, steps=7, batch_size=32)
        assert int(model.optimizer.iterations.numpy()) == 7
    with pytest.raises(ValueError, match="at least 1"):
        fit_steps(model, x, np.arange(n) % 2, steps=0)


def test_imagenet_classifier_gives_1000_scores_for_rgb_in_0_1():
    model = imagenet_classifier("MobileNet", image_size=128, weights=None)
    scores = model.predict(np.random.default_rng(0).random((2, 128, 128, 3), dtype=np.float32), verbose=0)
    assert scores.shape == (2, 1000)
    assert not np.allclose(scores.sum(axis=1), 1.0)      # logits, not probabilities
    with pytest.raises(ValueError, match="unknown network"):
        imagenet_classifier("AlexNet", 224)
