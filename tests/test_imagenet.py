"""Tests for the backbone, feature-extractor and photo helpers of lessons 08 and 09."""

from pathlib import Path

import numpy as np
import pytest

from utils.data import keras_cache_dir
from utils.imagenet import (backbone, feature_extractor, load_photo, resize_longer_side,
                            save_image)

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
