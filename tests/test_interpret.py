"""Tests for lesson 05's interpretability helpers: on a model that can only look at
one region of the image every method must put its mass there; saliency and Grad-CAM
differentiate the logit, not the saturating probability; occlusion hides with the
background and measures the logit; Integrated Gradients is complete; on a linear model,
whose answer is known, deletion and insertion curves rank the true contributions above
a random order; LIME runs without a progress bar."""

import numpy as np
import pytest

from utils.interpret import (class_scores, conv_layer_names, deletion_insertion, fgsm, grad_cam,
                             integrated_gradients, lime_explanation, occlusion_map, saliency_map,
                             superpixel_weights)

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


@pytest.fixture(scope="module")
def confident_models():
    """The same confident classifier three ways: Dense(3) + Softmax layer, Dense(3,
    softmax) in one layer (as keras.applications builds them), and logits only.
    A large bias makes class 0 get P close to 1: there the probability's gradient is
    much smaller than the logit's and points elsewhere."""
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")
    dense = keras.layers.Dense(3, name="logits")
    logits = dense(keras.layers.Flatten()(conv(inputs)))
    separate = keras.Model(inputs, keras.layers.Softmax()(logits), name="separate")
    logit_model = keras.Model(inputs, logits, name="logit_model")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel, bias + np.array([8.0, 0.0, 0.0], dtype="float32")])

    fused_in = keras.Input((8, 8, 1))
    fused_conv = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")
    fused_dense = keras.layers.Dense(3, activation="softmax")
    fused = keras.Model(fused_in, fused_dense(keras.layers.Flatten()(fused_conv(fused_in))), name="fused")
    fused_conv.set_weights(conv.get_weights())
    fused_dense.set_weights(dense.get_weights())
    return separate, fused, logit_model


@pytest.fixture(scope="module")
def centred_image():
    """A bright 3 x 3 object on a black (zero) 8 x 8 background."""
    img = np.zeros((8, 8, 1), dtype="float32")
    img[3:6, 3:6, 0] = np.random.default_rng(4).uniform(0.5, 1.0, size=(3, 3))
    return img


def _reference_gradients(logit_model, image, c):
    """d logit_c / d image and Grad-CAM's ingredients, straight from the logit model."""
    import keras
    import tensorflow as tf

    x = tf.constant(image[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        z = logit_model(x)[0, c]
    saliency = np.abs(tape.gradient(z, x)[0].numpy()).max(axis=-1)
    both = keras.Model(logit_model.inputs[0], [logit_model.get_layer("conv").output, logit_model.outputs[0]])
    with tf.GradientTape() as tape:
        fmap, z = both(x)
        z = z[0, c]
    grads = tape.gradient(z, fmap)[0].numpy()
    cam = np.maximum((fmap[0].numpy() * grads.mean(axis=(0, 1))).sum(axis=-1), 0)
    return saliency, cam


def test_saliency_and_grad_cam_differentiate_the_logit(confident_models, centred_image):
    separate, fused, logit_model = confident_models
    probs = np.asarray(separate(centred_image[None]))[0]
    c = int(probs.argmax())
    assert probs[c] > 0.99                                # saturated: the case the fix is about
    sal_ref, cam_ref = _reference_gradients(logit_model, centred_image, c)
    assert sal_ref.max() > 0 and cam_ref.max() > 0
    for model in confident_models:
        sal = saliency_map(model, centred_image, c)
        np.testing.assert_allclose(sal, sal_ref, rtol=1e-4, atol=1e-6 * sal_ref.max())
        cam = grad_cam(model, centred_image, "conv", c)
        np.testing.assert_allclose(cam, cam_ref / cam_ref.max(), atol=1e-5)   # no resize: conv keeps 8 x 8
        np.testing.assert_allclose(class_scores(model, centred_image[None])[0],
                                   np.asarray(logit_model(centred_image[None]))[0], rtol=1e-5, atol=1e-6)
    # the probability's gradient is what the old code took: much smaller, and not the same map
    sal_p = saliency_map(separate, centred_image, c, target="probability")
    assert sal_p.max() < 0.1 * sal_ref.max()
    assert np.corrcoef(sal_p.ravel(), sal_ref.ravel())[0, 1] < 0.99


def test_occlusion_hides_with_the_background_by_default(confident_models, centred_image):
    model = confident_models[2]        # drops in the logit: the probability is saturated here
    occ = occlusion_map(model, centred_image, patch=2, stride=1)
    assert np.array_equal(occ, occlusion_map(model, centred_image, patch=2, stride=1, fill=0.0))
    # patches that only cover the zero background change nothing; the image's mean would
    # paint a grey square there instead
    far = np.ones((8, 8), dtype=bool)
    far[2:7, 2:7] = False                                 # pixels some patch shares with the object
    assert np.abs(occ[far]).max() < 1e-6
    assert np.abs(occ[3:6, 3:6]).max() > 1e-3
    grey = occlusion_map(model, centred_image, patch=2, stride=1, fill=float(centred_image.mean()))
    assert np.abs(grey[far]).max() > 1e-3


def test_occlusion_measures_the_logit_unless_asked_for_the_probability(confident_models, centred_image):
    separate, fused, logit_model = confident_models
    c = int(np.asarray(separate(centred_image[None]))[0].argmax())
    reference = occlusion_map(logit_model, centred_image, c, patch=2, stride=1)
    for model in (separate, fused):
        np.testing.assert_allclose(occlusion_map(model, centred_image, c, patch=2, stride=1), reference,
                                   rtol=1e-4, atol=1e-5)
    # the saturated probability hardly moves where the logit drops
    prob = occlusion_map(separate, centred_image, c, patch=2, stride=1, target="probability")
    assert np.abs(reference).max() > 1e-2
    assert np.abs(prob).max() < 0.1 * np.abs(reference).max()


@pytest.fixture(scope="module")
def linear_model():
    """logit_0 = sum of W * x over the pixels of a 6 x 6 image (plus a bias), logit_1 = 0:
    the contribution of pixel i to the class score is exactly W_i x_i."""
    import keras

    rng = np.random.default_rng(5)
    weights = np.zeros((6, 6), dtype="float32")
    weights[1:4, 2:5] = rng.uniform(0.5, 2.0, size=(3, 3))          # the pixels that matter
    weights[4:, :2] = rng.uniform(-0.3, 0.3, size=(2, 2))            # a little noise elsewhere
    inputs = keras.Input((6, 6, 1))
    dense = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    kernel = np.zeros((36, 2), dtype="float32")
    kernel[:, 0] = weights.ravel()
    dense.set_weights([kernel, np.array([0.5, 0.0], dtype="float32")])
    images = rng.uniform(0.2, 1.0, size=(12, 6, 6, 1)).astype("float32")
    return model, weights, images


def test_integrated_gradients_of_a_linear_model_is_its_contributions(linear_model):
    model, weights, images = linear_model
    ig = integrated_gradients(model, images[0], class_index=0, steps=4)
    np.testing.assert_allclose(ig, weights * images[0, ..., 0], rtol=1e-5, atol=1e-6)
    baseline = np.full((6, 6, 1), 0.1, dtype="float32")
    np.testing.assert_allclose(integrated_gradients(model, images[0], 0, baseline=baseline),
                               weights * (images[0, ..., 0] - 0.1), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def curved_model():
    """A ReLU network whose units switch on part of the way from black to the image
    (negative biases), so its class scores are far from linear along IG's path."""
    import keras

    keras.utils.set_random_seed(7)
    inputs = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv")
    hidden = keras.layers.Dense(16, activation="relu")
    out = keras.layers.Dense(3, activation="softmax")
    model = keras.Model(inputs, out(hidden(keras.layers.Flatten()(conv(inputs)))))
    rng = np.random.default_rng(8)
    kernel, bias = conv.get_weights()
    conv.set_weights([3 * kernel, -rng.uniform(0.2, 1.0, size=bias.shape).astype("float32")])
    kernel, bias = hidden.get_weights()
    hidden.set_weights([kernel, -rng.uniform(0.0, 0.5, size=bias.shape).astype("float32")])
    kernel, bias = out.get_weights()
    out.set_weights([10 * kernel, bias])
    return model, rng.uniform(0, 1, (8, 8, 1)).astype("float32")


@pytest.mark.parametrize("steps, tolerance", [(64, 0.05), (256, 0.01)])
def test_integrated_gradients_is_complete(curved_model, steps, tolerance):
    """Sum of attributions = score(x) - score(baseline), up to the error of the rule."""
    model, img = curved_model
    gaps = class_scores(model, img[None])[0] - class_scores(model, np.zeros_like(img)[None])[0]
    for c in range(3):
        ig = integrated_gradients(model, img, c, baseline=0.0, steps=steps)
        assert ig.shape == (8, 8)
        assert abs(ig.sum() - gaps[c]) <= tolerance * abs(gaps[c]), (c, ig.sum(), gaps[c])
    c = int(np.abs(gaps).argmax())
    assert abs(gaps[c]) > 1
    # not a vacuous check: the path is curved, so one or two points are far off
    for few in (1, 2):
        assert abs(integrated_gradients(model, img, c, steps=few).sum() - gaps[c]) > 0.3 * abs(gaps[c])
    # the batch size does not change the answer
    np.testing.assert_allclose(integrated_gradients(model, img, c, steps=steps, batch_size=5),
                               integrated_gradients(model, img, c, steps=steps), rtol=1e-4, atol=1e-6)


def test_integrated_gradients_is_zero_where_the_image_equals_the_baseline(confident_models, centred_image):
    separate, fused, logit_model = confident_models
    c = int(np.asarray(separate(centred_image[None]))[0].argmax())
    for model in confident_models:
        ig = integrated_gradients(model, centred_image, c)
        assert np.all(ig[centred_image[..., 0] == 0] == 0) and np.abs(ig).max() > 0
    np.testing.assert_allclose(integrated_gradients(separate, centred_image, c),
                               integrated_gradients(logit_model, centred_image, c), rtol=1e-4, atol=1e-7)


def test_deletion_and_insertion_rank_the_true_contributions_above_a_random_order(linear_model):
    model, weights, images = linear_model
    n = len(images)
    labels = np.zeros(n, dtype=int)
    truth = weights[None] * images[..., 0]                          # W_i x_i: what the class score rests on
    random = np.random.default_rng(6).random(truth.shape)
    true_curves = deletion_insertion(model, images, truth, labels, steps=12)
    random_curves = deletion_insertion(model, images, random, labels, steps=12)
    scores = class_scores(model, images)[:, 0]
    blank = class_scores(model, np.zeros_like(images[:1]))[0, 0]      # the bias: every pixel deleted
    for curves in (true_curves, random_curves):
        np.testing.assert_allclose(curves["fractions"], np.linspace(0, 1, 13))
        assert curves["deletion"].shape == curves["insertion"].shape == (n, 13)
        np.testing.assert_allclose(curves["deletion"][:, 0], scores, rtol=1e-5)
        np.testing.assert_allclose(curves["deletion"][:, -1], blank, atol=1e-5)
        np.testing.assert_allclose(curves["insertion"][:, 0], blank, atol=1e-5)
        np.testing.assert_allclose(curves["insertion"][:, -1], scores, rtol=1e-5)
    # deleting the largest contributions first is the fastest way down, for every image
    assert np.all(true_curves["deletion_auc"] < random_curves["deletion_auc"])
    assert np.all(true_curves["insertion_auc"] > random_curves["insertion_auc"])
    assert np.all(true_curves["deletion"] <= random_curves["deletion"] + 1e-5)
    # the area is the mean of the trapezoids over the fractions
    c = true_curves["deletion"][0]
    assert true_curves["deletion_auc"][0] == pytest.approx(np.trapezoid(c, np.linspace(0, 1, 13))
                                                           if hasattr(np, "trapezoid") else np.trapz(c, np.linspace(0, 1, 13)))
    # and Integrated Gradients, which is exact here, ranks like the truth
    ig = np.stack([integrated_gradients(model, img, 0) for img in images])
    ig_curves = deletion_insertion(model, images, ig, labels, steps=12)
    np.testing.assert_allclose(ig_curves["deletion_auc"], true_curves["deletion_auc"], rtol=1e-4)


def test_a_constant_map_deletes_in_random_order_and_a_seed_repeats_it(linear_model):
    model, _, images = linear_model
    labels = np.zeros(len(images), dtype=int)
    flat = np.zeros(images.shape[:3])
    a = deletion_insertion(model, images, flat, labels, steps=6, seed=1)
    b = deletion_insertion(model, images, flat, labels, steps=6, seed=1)
    c = deletion_insertion(model, images, flat, labels, steps=6, seed=2)
    np.testing.assert_array_equal(a["deletion"], b["deletion"])
    assert not np.allclose(a["deletion"], c["deletion"])
    with pytest.raises(ValueError, match="one map"):
        deletion_insertion(model, images, flat[:3], labels)


def test_lime_runs_quietly_and_weights_map_to_superpixels(capsys, confident_models, centred_image):
    from lime import lime_image

    separate = confident_models[0]
    before = lime_image.tqdm
    quadrants = lambda img: (np.arange(8)[:, None] // 4) * 2 + np.arange(8)[None, :] // 4
    rgb = np.repeat(centred_image.astype("float64"), 3, axis=-1)
    predict = lambda imgs: np.asarray(separate(imgs[..., :1].astype("float32")))
    explanation = lime_explanation(lime_image.LimeImageExplainer(random_state=0), rgb, predict,
                                   labels=(0,), top_labels=None, hide_color=0, num_samples=40,
                                   segmentation_fn=quadrants)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert lime_image.tqdm is before
    weights = superpixel_weights(explanation, 0)
    assert weights.shape == (8, 8)
    for segment, weight in explanation.local_exp[0]:
        assert np.all(weights[quadrants(rgb) == segment] == weight)


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
    with pytest.raises(ValueError, match="target must be one of"):
        saliency_map(region_model, image, target="loss")
    assert conv_layer_names(region_model) == ["mask", "conv"]


def test_a_model_without_logits_is_refused_clearly():
    import keras

    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="sigmoid")(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match="cannot find the class scores.*sigmoid"):
        saliency_map(model, np.zeros((4, 4, 1)))
    assert saliency_map(model, np.zeros((4, 4, 1)), target="probability").shape == (4, 4)
