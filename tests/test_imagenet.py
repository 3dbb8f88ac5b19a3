"""Tests for the backbone, feature-extractor, photo and loss helpers of lessons 08 and 09."""

from pathlib import Path

import numpy as np
import pytest

from utils.data import keras_cache_dir
from utils.imagenet import (backbone, feature_extractor, load_photo, resize_longer_side,
                            resize_to_multiple, save_image, stained_glass, swirls, total_variation,
                            with_average_pooling)

MOBILENET_WEIGHTS = "mobilenet_2_5_224_tf_no_top.h5"


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backbone 'ResNet9'.*MobileNet"):
        backbone("ResNet9")


def test_load_photo_by_name_resizes_the_longer_side():
    cat = load_photo("chelsea", max_side=120)
    assert cat.dtype == np.float32 and cat.shape == (80, 120, 3)
    assert 0 <= cat.min() and cat.max() <= 1 and cat.std() > 0.05
    assert load_photo("china").shape == (427, 640, 3)


def test_load_photo_from_a_file_and_save_image_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.random((10, 14, 3)).astype(np.float32)
    path = save_image(img, tmp_path / "sub" / "x.png")
    back = load_photo(str(path))
    assert back.shape == (10, 14, 3)
    assert np.abs(back - img).max() <= 0.5 / 255 + 1e-6


def test_load_photo_errors_and_grey_images(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a photo name"):
        load_photo(str(tmp_path / "missing.jpg"))
    grey = save_image(np.full((6, 6, 3), 0.5), tmp_path / "g.png")
    assert load_photo(str(grey)).shape == (6, 6, 3)
    with pytest.raises(ValueError, match="at least 8"):
        resize_longer_side(np.zeros((10, 10, 3)), 4)


def test_feature_extractor_names_the_closest_layers_on_a_typo():
    import keras

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(2, 3, name="block1_conv1")(inputs)
    x = keras.layers.Conv2D(2, 3, name="block2_conv1")(x)
    model = keras.Model(inputs, x, name="toy")
    extractor = feature_extractor(model, ["block2_conv1"])
    out = extractor(np.zeros((1, 9, 9, 3), dtype="float32"))
    assert out["block2_conv1"].shape == (1, 5, 5, 2)
    with pytest.raises(ValueError, match=r"no layer\(s\) \['block2_conv2'\].*block2_conv1"):
        feature_extractor(model, ["block2_conv2"])


@pytest.mark.skipif(not (keras_cache_dir() / "models" / MOBILENET_WEIGHTS).exists(),
                    reason="MobileNet weights not in the Keras cache (run tools/offline_cache.py)")
def test_mobilenet_backbone_preprocesses_inside_and_accepts_any_size():
    model = backbone("MobileNet")
    features = feature_extractor(model, ["conv_pw_3_relu"])
    img = load_photo("chelsea", max_side=96)[None]
    out = features(img)["conv_pw_3_relu"]
    assert out.shape[1:3] == (64 // 4, 96 // 4)      # two stride-2 layers before it
    # the same as feeding the original base with MobileNet's own preprocessing by hand
    import keras
    base = model.base
    inner = keras.Model(base.input, base.get_layer("conv_pw_3_relu").output)
    expected = inner(img * 2.0 - 1.0)
    assert np.allclose(np.asarray(out), np.asarray(expected), atol=1e-5)


def test_progress_bar_writes_its_final_state_as_text(capsys):
    from utils.notebook import progress

    for _ in progress(range(7), desc="steps", mininterval=0):
        pass
    out = capsys.readouterr().out
    assert "steps: 100%" in out and "7/7" in out


def test_total_variation_sums_mean_neighbour_differences_and_has_a_gradient():
    import tensorflow as tf

    assert float(total_variation(np.full((5, 7, 3), 0.3))) == 0.0
    stripes = np.zeros((4, 6, 3), np.float32); stripes[:, ::2] = 1.0       # vertical stripes
    assert np.isclose(float(total_variation(stripes)), 1.0)                # only horizontal jumps
    rng = np.random.default_rng(0)
    img = rng.random((9, 11, 3)).astype(np.float32)
    expected = np.abs(np.diff(img, axis=0)).mean() + np.abs(np.diff(img, axis=1)).mean()
    assert np.isclose(float(total_variation(img)), expected, rtol=1e-5)
    assert np.isclose(float(total_variation(img.transpose(1, 0, 2))), expected, rtol=1e-5)
    var = tf.Variable(img)
    with tf.GradientTape() as tape:
        tv = total_variation(var)
    grad = tape.gradient(tv, var)
    assert grad is not None and float(total_variation(var - 0.01 * grad)) < float(tv)


@pytest.mark.parametrize("shape, max_side, expected", [((300, 451, 3), 384, (256, 384)),
                                                      ((451, 300, 3), 200, (192, 128)),
                                                      ((512, 512, 3), 256, (256, 256)),
                                                      ((40, 400, 3), 384, (32, 384))])
def test_resize_to_multiple_gives_sides_that_are_multiples_of_the_stride(shape, max_side, expected):
    img = np.random.default_rng(1).random(shape).astype(np.float32)
    out = resize_to_multiple(img, max_side)
    assert out.shape == expected + (3,) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match="at least one multiple"):
        resize_to_multiple(img, 16)


def test_with_average_pooling_swaps_max_pooling_and_keeps_names_and_weights():
    import keras

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, padding="same", name="block1_conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="block1_pool")(x)
    model = keras.Model(inputs, keras.layers.Conv2D(1, 1, name="head")(x))
    new, replaced = with_average_pooling(model)
    assert replaced == 1
    assert [type(l).__name__ for l in new.layers][2] == "AveragePooling2D"
    assert [l.name for l in new.layers[1:]] == [l.name for l in model.layers[1:]]
    for a, b in zip(model.get_weights(), new.get_weights()):
        assert np.array_equal(a, b)
    img = np.random.default_rng(2).random((1, 8, 8, 1)).astype("float32")
    conv = keras.Model(model.input, model.get_layer("block1_conv1").output)(img).numpy()
    pooled = conv.reshape(1, 4, 2, 4, 2, 2).mean(axis=(2, 4))
    head_w, head_b = model.get_layer("head").get_weights()
    assert np.allclose(new(img).numpy(), pooled @ head_w[0, 0] + head_b, atol=1e-5)
    # no max pooling: the same model back
    same, none = with_average_pooling(new)
    assert same is new and none == 0


@pytest.mark.parametrize("draw", [stained_glass, swirls])
def test_drawn_style_images_are_bold_repeatable_rgb(draw):
    img = draw(48, 64, seed=3)
    assert img.shape == (48, 64, 3) and img.dtype == np.float32
    assert 0 <= img.min() and img.max() <= 1
    assert np.array_equal(img, draw(48, 64, seed=3)) and not np.array_equal(img, draw(48, 64, seed=4))
    saturation = img.max(axis=-1) - img.min(axis=-1)
    assert saturation.mean() > 0.2                                   # strong colours
    assert np.abs(np.diff(img, axis=1)).mean() > 0.02                # and edges


def test_stained_glass_has_dark_borders_between_flat_cells():
    img = stained_glass(64, 64, cells=10, border=2)
    dark = img.max(axis=-1) < 0.1
    assert 0.05 < dark.mean() < 0.5
    assert len(np.unique(img.reshape(-1, 3), axis=0)) <= 8         # 7 colours and black


def test_claim_asserts_when_strict_and_prints_otherwise(capsys):
    from utils.imagenet import claim

    claim(True, "holds", strict=True)
    with pytest.raises(AssertionError, match="the dream drifts"):
        claim(False, "the dream drifts", strict=True)
    claim(False, "the dream drifts", strict=False)
    claim(True, "the loss falls", strict=False)
    assert capsys.readouterr().out.splitlines() == ["does NOT hold in this run: the dream drifts",
                                                    "holds in this run: the loss falls"]


def test_generated_class_index_names_1000_classes_without_a_download(monkeypatch):
    import keras
    from keras.src.applications import imagenet_utils

    from utils.imagenet import use_generated_class_index

    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    assert use_generated_class_index()
    top = keras.applications.mobilenet_v2.decode_predictions(np.eye(1000)[[7]], top=1)[0][0]
    assert top[:2] == ("n00000007", "class_7")
    assert not use_generated_class_index()          # an index already loaded is kept
