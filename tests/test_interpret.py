"""Tests for lesson 05's interpretability helpers, on a model that can only look at
one region of the image: every method must put its mass there."""

import numpy as np
import pytest

from utils.interpret import conv_layer_names, fgsm, grad_cam, occlusion_map, saliency_map

REGION = (slice(2, 7), slice(8, 14))        # rows 2-6, columns 8-13 of a 16 x 16 image


@pytest.fixture(scope="module")
def region_model():
    """Input -> zero everything outside REGION -> conv (no bias) -> pooling -> softmax."""
    import keras

    keras.utils.set_random_seed(0)
    mask = np.zeros((1, 16, 16, 1), dtype="float32")
    mask[(0,) + REGION] = 1.0
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Lambda(lambda t: t * mask, name="mask")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", use_bias=False, name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="region_model")


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(1).random((16, 16, 1)).astype("float32")


def outside(mask_margin=0):
    out = np.ones((16, 16), dtype=bool)
    rows, cols = REGION
    out[max(rows.start - mask_margin, 0):rows.stop + mask_margin,
        max(cols.start - mask_margin, 0):cols.stop + mask_margin] = False
    return out


def test_saliency_is_zero_outside_the_region_and_not_inside(region_model, image):
    sal = saliency_map(region_model, image)
    assert sal.shape == (16, 16)
    assert np.all(sal[outside()] == 0)
    assert sal[REGION].max() > 0


def test_occlusion_outside_the_region_changes_nothing(region_model, image):
    occ = occlusion_map(region_model, image, patch=3, stride=1, fill=0.0)
    assert occ.shape == (16, 16)
    # a pixel further than patch - 1 from the region was only ever covered by patches
    # that miss the region entirely
    assert np.allclose(occ[outside(mask_margin=2)], 0, atol=1e-7)
    assert np.abs(occ[REGION]).max() > 1e-4


def test_grad_cam_mass_lies_in_the_region(region_model, image):
    probs = np.asarray(region_model(image[None]))[0]
    for c in range(3):
        cam = grad_cam(region_model, image, "conv", class_index=c)
        assert cam.shape == (16, 16) and cam.min() >= 0 and cam.max() <= 1
        if cam.max() > 0:
            # the 3x3 convolution spreads the region by one pixel; bilinear resizing adds none here
            assert cam[outside(mask_margin=1)].sum() <= 1e-6 * cam.sum()
    assert any(grad_cam(region_model, image, "conv", c).max() > 0 for c in range(3)), probs


def test_fgsm_raises_the_loss_and_respects_epsilon(region_model):
    import keras

    rng = np.random.default_rng(2)
    x = rng.random((32, 16, 16, 1)).astype("float32") * 0.8 + 0.1
    y = rng.integers(0, 3, size=32)
    loss = lambda imgs: float(np.mean(keras.losses.sparse_categorical_crossentropy(y, region_model(imgs))))
    adv = fgsm(region_model, x, y, epsilon=0.05)
    assert adv.shape == x.shape
    assert np.abs(adv - x).max() <= 0.05 + 1e-6
    assert loss(adv) > loss(x)
    assert np.array_equal(fgsm(region_model, x, y, epsilon=0.0), x)


def test_clear_errors(region_model, image):
    with pytest.raises(ValueError, match="no layer 'conv9'.*'conv'"):
        grad_cam(region_model, image, "conv9")
    with pytest.raises(ValueError, match=r"shape \(1, 16, 16, 1\).*not a batch"):
        saliency_map(region_model, image[None])
    with pytest.raises(ValueError, match=r"shape \(28, 28, 1\)"):
        occlusion_map(region_model, np.zeros((28, 28, 1)))
    with pytest.raises(ValueError, match="class_index 5"):
        saliency_map(region_model, image, class_index=5)
    with pytest.raises(ValueError, match="patch"):
        occlusion_map(region_model, image, patch=20)
    with pytest.raises(ValueError, match="batch"):
        fgsm(region_model, image, [0], 0.1)
    assert conv_layer_names(region_model) == ["mask", "conv"]
