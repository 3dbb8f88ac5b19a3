"""What a trained CNN looks at: saliency, Grad-CAM, occlusion, Integrated Gradients,
LIME without its progress bar, deletion and insertion curves that measure how faithful
a map is, and adversarial examples by the fast gradient sign method (lesson 05).

Every function takes a Keras classifier that maps a batch of images (N, H, W, C) to
class probabilities (N, K), and one image (H, W, C) or a batch, as NumPy arrays.
Heatmaps come back as float arrays (H, W) at the image's resolution.

Saliency, Grad-CAM and Integrated Gradients differentiate the class *score*, the logit
before the softmax, as their papers do, and occlusion and the deletion and insertion
curves measure it (``target="logit"``, the default): ``class_scores`` finds it whether
the model ends in a separate softmax layer or in a Dense layer with a softmax
activation (as ``keras.applications`` models do). The probability's gradient is
dP_c/dz_k = P_c (delta_ck - P_k) times the logits' gradient, which vanishes as P_c -> 1:
a confident prediction's probability hardly moves whatever the pixels do.
"""

from __future__ import annotations

import contextlib
import functools
import inspect

import numpy as np

TARGETS = ("logit", "probability")


def _as_image(model, image) -> np.ndarray:
    """Check one image against the model's input shape; return it as float32 (H, W, C)."""
    img = np.asarray(image, dtype=np.float32)
    expected = tuple(model.input_shape[1:])
    if img.ndim != len(expected) or any(e is not None and e != s for e, s in zip(expected, img.shape)):
        raise ValueError(f"image has shape {img.shape}, but the model takes images of shape "
                         f"{tuple('any' if e is None else e for e in expected)}; pass one image, not a batch")
    return img


def _class_of(model, img, class_index):
    if class_index is None:
        return int(np.argmax(model(img[None], training=False)[0]))
    n_classes = model.output_shape[-1]
    if not 0 <= int(class_index) < n_classes:
        raise ValueError(f"class_index {class_index} is out of range for {n_classes} classes")
    return int(class_index)


def _activation_name(layer) -> str | None:
    """'softmax', 'linear', ... for a layer with an activation; None for one without."""
    if type(layer).__name__ == "Softmax":
        return "softmax"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    return getattr(activation, "__name__", type(activation).__name__)


def _score_head(model, target: str = "logit"):
    """(tensor to take from the model's graph, function from it to the class scores).

    For ``target="probability"`` that is the model's output itself. For ``"logit"``:
    the input of a final softmax layer; the pre-activation of a final Dense layer with a
    softmax activation, computed from its live kernel and bias; or the output of a
    final layer without activation (a model that already outputs logits).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    identity = lambda t: t
    if target == "probability":
        return model.outputs[0], identity
    last = model.layers[-1]
    name = _activation_name(last)
    if name == "softmax" and type(last).__name__ in ("Softmax", "Activation"):
        return last.input, identity
    if name == "softmax" and type(last).__name__ == "Dense":
        import tensorflow as tf

        def pre_activation(t):
            z = tf.matmul(t, last.kernel)
            return z + last.bias if last.use_bias else z
        return last.input, pre_activation
    if name == "linear":
        return model.outputs[0], identity
    raise ValueError(f"cannot find the class scores (logits) of {model.name}: its last layer "
                     f"{last.name!r} ({type(last).__name__}, activation {name!r}) is neither a softmax layer, "
                     "a Dense layer with a softmax activation, nor a layer without activation; "
                     "use target='probability' or end the model in Dense(K) + Softmax()")


def _inputs(model):
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs     # a tensor in, not a list


def _score_function(model, target: str = "logit"):
    """A differentiable function from a batch of images (a tensor) to their class scores
    (N, K), with the model in inference mode; the sub-model is built once."""
    import keras

    tensor, head = _score_head(model, target)
    body = keras.Model(_inputs(model), tensor)
    return lambda images: head(body(images, training=False))


def _scorer(model, target: str = "logit", batch_size: int = 1024):
    """A function from a batch of images to their class scores (N, K), NumPy in and out,
    in batches of ``batch_size``; the sub-model is built once, so call it many times."""
    scores_of = _score_function(model, target)

    def score(images):
        images = np.asarray(images, dtype=np.float32)
        parts = [np.asarray(scores_of(images[k:k + batch_size])) for k in range(0, len(images), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, model.output_shape[-1]), np.float32)
    return score


def class_scores(model, images, target: str = "logit") -> np.ndarray:
    """The class scores (logits, before the softmax) of a batch of images, (N, K).

    ``target="probability"`` returns the model's own output instead.
    """
    return _scorer(model, target)(images)


def saliency_map(model, image, class_index: int | None = None, target: str = "logit") -> np.ndarray:
    """Vanilla gradient saliency (Simonyan, Vedaldi and Zisserman, 2014).

    The absolute gradient of the class score (the logit before the softmax, as in the
    paper) with respect to each input pixel, the maximum over colour channels.
    ``class_index`` defaults to the predicted class; ``target="probability"``
    differentiates the softmax output instead (for comparison: it saturates).
    Returns an array (H, W); large where a small pixel change moves the score most.
    """
    import tensorflow as tf

    img = _as_image(model, image)
    c = _class_of(model, img, class_index)
    scores_of = _score_function(model, target)
    x = tf.constant(img[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = scores_of(x)[0, c]
    grad = tape.gradient(score, x)[0].numpy()
    return np.abs(grad).max(axis=-1)


def conv_layer_names(model) -> list[str]:
    """Names of the layers whose output is a 4-D feature map (N, H, W, C)."""
    import keras

    names = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):
            continue
        if len(shape) == 4:
            names.append(layer.name)
    return names


def grad_cam(model, image, layer_name: str, class_index: int | None = None,
             target: str = "logit") -> np.ndarray:
    """Grad-CAM (Selvaraju et al., 2017) for one image.

    Weights each feature map of ``layer_name`` by the spatial mean of the gradient of
    the class score (the logit before the softmax, as in the paper; or the
    probability with ``target="probability"``) with respect to it, sums, keeps the
    positive part and resizes to the image (bilinear). Returns an array (H, W) scaled
    to [0, 1] (all zeros if nothing speaks for the class).
    """
    import keras
    import tensorflow as tf

    img = _as_image(model, image)
    names = conv_layer_names(model)
    if layer_name not in names:
        raise ValueError(f"{model.name} has no layer {layer_name!r} with a 4-D feature map; "
                         f"choose one of {names}")
    c = _class_of(model, img, class_index)
    tensor, head = _score_head(model, target)
    grad_model = keras.Model(_inputs(model), [model.get_layer(layer_name).output, tensor])
    x = tf.constant(img[None])
    with tf.GradientTape() as tape:
        fmap, last = grad_model(x, training=False)
        score = head(last)[0, c]
    grads = tape.gradient(score, fmap)[0]
    weights = tf.reduce_mean(grads, axis=(0, 1))                      # one weight per channel
    cam = tf.nn.relu(tf.reduce_sum(fmap[0] * weights, axis=-1))
    cam = tf.image.resize(cam[..., None], img.shape[:2], method="bilinear")[..., 0].numpy()
    top = cam.max()
    return cam / top if top > 0 else cam


def occlusion_map(model, image, class_index: int | None = None, patch: int = 6, stride: int = 2,
                  fill: float = 0.0, batch_size: int = 256, target: str = "logit") -> np.ndarray:
    """Occlusion sensitivity (Zeiler and Fergus, 2014).

    Slides a ``patch`` x ``patch`` square of value ``fill`` over the image with the
    given ``stride`` and records how much the class score drops: the logit before the
    softmax by default, the probability with ``target="probability"`` (which hardly
    moves for a confident prediction: a logit drop of 3 from P = 0.9999 leaves P =
    0.998). Each pixel gets the mean drop over the patches that covered it. Returns an
    array (H, W): positive where hiding the pixels hurts the class.

    ``fill`` must mean "nothing here" to the model, or the patch adds an object instead
    of hiding one: the background value for objects on a plain background (0 for
    Fashion-MNIST and MNIST, the default), the dataset's mean colour for photos (0
    after ``preprocess_input`` scales them to [-1, 1]). The image's own mean paints a
    grey square on a black background.
    """
    img = _as_image(model, image)
    h, w = img.shape[:2]
    if not 1 <= patch <= min(h, w) or stride < 1:
        raise ValueError(f"patch must be between 1 and {min(h, w)} and stride at least 1; "
                         f"got patch={patch}, stride={stride}")
    c = _class_of(model, img, class_index)
    score = _scorer(model, target, batch_size)
    base = float(score(img[None])[0, c])
    corners = [(y, x) for y in range(0, h - patch + 1, stride) for x in range(0, w - patch + 1, stride)]
    batch = np.repeat(img[None], len(corners), axis=0)
    for k, (y, x) in enumerate(corners):
        batch[k, y:y + patch, x:x + patch] = fill
    drops = base - score(batch)[:, c]
    total = np.zeros((h, w))
    count = np.zeros((h, w))
    for (y, x), d in zip(corners, drops):
        total[y:y + patch, x:x + patch] += d
        count[y:y + patch, x:x + patch] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def integrated_gradients(model, image, class_index: int | None = None, baseline: float | np.ndarray = 0.0,
                         steps: int = 32, target: str = "logit", batch_size: int = 64) -> np.ndarray:
    """Integrated Gradients (Sundararajan, Taly and Yan, 2017) for one image.

    The attribution of pixel i is (x_i - x'_i) times the mean, along the straight path
    from the ``baseline`` x' to the image x, of the class score's gradient with respect
    to it; the mean is taken at the midpoints of ``steps`` equal segments (the midpoint
    rule). The baseline must mean "nothing here": black, the background value, for
    Fashion-MNIST (0, the default); a scalar or an array of the image's shape.

    Completeness (the paper's axiom): the attributions sum to score(x) - score(x'), up
    to the error of the ``steps``-point rule. Unlike the gradient at x alone
    (saliency), the path passes through points where the prediction is not yet
    saturated. Returns a signed array (H, W), the sum over colour channels: positive
    where the pixel raises the class score.
    """
    import tensorflow as tf

    img = _as_image(model, image)
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    base = np.broadcast_to(np.asarray(baseline, dtype=np.float32), img.shape)
    c = _class_of(model, img, class_index)
    scores_of = _score_function(model, target)
    alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps
    total = np.zeros(img.shape, dtype=np.float64)
    for start in range(0, steps, batch_size):
        a = alphas[start:start + batch_size, None, None, None]
        x = tf.constant(base[None] + a * (img - base)[None])
        with tf.GradientTape() as tape:
            tape.watch(x)
            scores = scores_of(x)[:, c]
        total += tape.gradient(scores, x).numpy().sum(axis=0)
    return ((img - base) * total / steps).sum(axis=-1)


def _ranking(heatmap: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flat pixel indices from the highest map value to the lowest, ties in random order."""
    flat = np.asarray(heatmap, dtype=np.float64).ravel()
    return np.lexsort((rng.random(flat.size), -flat))


def deletion_insertion(model, images, heatmaps, class_indices, steps: int = 28, fill: float = 0.0,
                       target: str = "logit", seed: int = 0, batch_size: int = 1024) -> dict:
    """Deletion and insertion curves of explanation maps (Petsiuk, Das and Saenko, 2018).

    For each image, its pixels are ranked by its map, highest first (ties in random
    order, so a constant map gives a random order). *Deletion* sets the top-ranked
    pixels to ``fill`` ("nothing here": the background), a fraction 0, 1/steps, ..., 1
    of all pixels at a time, and records the class score; *insertion* starts from an
    image of ``fill`` and reveals the pixels in the same order. A map that ranks the
    pixels the decision rests on first makes the deletion curve fall fast (small area)
    and the insertion curve rise fast (large area). The score is the logit before the
    softmax by default (``target="probability"`` for the probability).

    ``images`` (N, H, W, C), ``heatmaps`` (N, H, W), ``class_indices`` (N,). All the
    channels of a pixel are deleted or inserted together. Returns a dict with
    ``fractions`` (steps + 1,), ``deletion`` and ``insertion`` (N, steps + 1), and
    ``deletion_auc`` and ``insertion_auc`` (N,): the area under each image's curve
    over the fraction of pixels (trapezoidal rule), in score units.
    """
    images = np.asarray(images, dtype=np.float32)
    heatmaps = np.asarray(heatmaps)
    labels = np.asarray(class_indices).reshape(-1)
    n, h, w = images.shape[:3]
    if heatmaps.shape != (n, h, w) or labels.shape != (n,):
        raise ValueError(f"need one map (H, W) and one class per image: images {images.shape}, "
                         f"heatmaps {heatmaps.shape}, class_indices {labels.shape}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    rng = np.random.default_rng(seed)
    counts = np.round(np.linspace(0, h * w, steps + 1)).astype(int)
    score = _scorer(model, target, batch_size)
    orders = [_ranking(m, rng) for m in heatmaps]        # one order per image, for both curves
    curves = {}
    for kind in ("deletion", "insertion"):
        batch = np.empty((n, steps + 1) + images.shape[1:], dtype=np.float32)
        for i, order in enumerate(orders):
            done = np.zeros(h * w, dtype=bool)          # True: the pixel has been deleted / inserted
            for k, count in enumerate(counts):
                done[order[:count]] = True
                mask = done.reshape(h, w)
                if kind == "deletion":
                    batch[i, k] = np.where(mask[..., None], fill, images[i])
                else:
                    batch[i, k] = np.where(mask[..., None], images[i], fill)
        scores = score(batch.reshape((-1,) + images.shape[1:])).reshape(n, steps + 1, -1)
        curves[kind] = scores[np.arange(n), :, labels]
    fractions = counts / (h * w)
    result = {"fractions": fractions, **curves}
    for kind in ("deletion", "insertion"):
        c = curves[kind]
        result[f"{kind}_auc"] = ((c[:, 1:] + c[:, :-1]) / 2 * np.diff(fractions)).sum(axis=1)
    return result


@contextlib.contextmanager
def _lime_progress_bar_off():
    """LIME 0.2.0.1 (the release on PyPI) draws a tqdm bar over its samples and has no
    option to turn it off (later versions add ``progress_bar=False``); while this
    context is open, its module's bar is created disabled."""
    from lime import lime_image

    original = lime_image.tqdm
    lime_image.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        lime_image.tqdm = original


def lime_explanation(explainer, image, classifier_fn, **kwargs):
    """``explainer.explain_instance(image, classifier_fn, **kwargs)`` without a
    progress bar: LIME's own ``progress_bar=False`` where the installed version has it,
    otherwise with its bar disabled for the duration of the call."""
    if "progress_bar" in inspect.signature(explainer.explain_instance).parameters:
        return explainer.explain_instance(image, classifier_fn, progress_bar=False, **kwargs)
    with _lime_progress_bar_off():
        return explainer.explain_instance(image, classifier_fn, **kwargs)


def superpixel_weights(explanation, label: int) -> np.ndarray:
    """LIME's linear weight of each superpixel for ``label``, painted on its pixels (H, W)."""
    weights = dict(explanation.local_exp[label])
    segments = explanation.segments
    return np.vectorize(lambda s: weights.get(s, 0.0), otypes=[float])(segments)


def fgsm(model, images, labels, epsilon: float, clip: tuple[float, float] | None = (0.0, 1.0)) -> np.ndarray:
    """Adversarial images by the fast gradient sign method (Goodfellow et al., 2015).

    Moves every pixel by ``epsilon`` in the direction that increases the
    cross-entropy loss of the true ``labels``: x + epsilon * sign(grad_x loss), then
    clips to ``clip``. ``images`` is a batch (N, H, W, C); returns a batch.
    """
    import keras
    import tensorflow as tf

    x = tf.constant(np.asarray(images, dtype=np.float32))
    if x.shape.rank != len(model.input_shape):
        raise ValueError(f"images must be a batch of shape (N, ...) matching {model.input_shape}; "
                         f"got {tuple(x.shape)}")
    if epsilon < 0:
        raise ValueError(f"epsilon must be non-negative, got {epsilon}")
    y = tf.constant(np.asarray(labels).reshape(-1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x, training=False))
    adv = x + epsilon * tf.sign(tape.gradient(loss, x))
    if clip is not None:
        adv = tf.clip_by_value(adv, *clip)
    return adv.numpy()
