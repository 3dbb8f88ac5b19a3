"""Boxes, IoU, non-maximum suppression, detection scoring and synthetic scenes (lesson 06).

Boxes follow TensorFlow's convention (``tf.image.non_max_suppression``,
``tf.image.draw_bounding_boxes``): one box is ``(ymin, xmin, ymax, xmax)``, here in
pixels, with ``ymin <= ymax`` and ``xmin <= xmax``. A set of boxes is an array of
shape (N, 4).

Scenes are built from real handwritten digits (MNIST): each digit's 20x20 normalized
frame (MNIST centres every digit in a 20x20 box inside its 28x28 image) is scaled and
pasted onto a larger canvas with noise and clutter (small fragments of other digits),
as in the "cluttered MNIST" of Mnih et al. (2014). The ground-truth box of an object is
the square frame it was pasted into.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# MNIST scales every digit to fit a 20x20 box and centres it in the 28x28 image.
FRAME = slice(4, 24)


# --------------------------------------------------------------------- boxes
def as_boxes(boxes, name: str = "boxes") -> np.ndarray:
    """Check and return ``boxes`` as a float array of shape (N, 4).

    A single box of shape (4,) becomes (1, 4); an empty input (``[]`` or shape (0, 4))
    becomes an array of shape (0, 4). Raises ``ValueError`` naming the
    problem for a wrong shape, a non-finite value, or a box with ``ymin > ymax`` or
    ``xmin > xmax``.
    """
    arr = np.asarray(boxes, dtype=float)
    if arr.size == 0 and arr.shape[-1:] in ((0,), (4,)):
        return arr.reshape(0, 4)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4) as (ymin, xmin, ymax, xmax); "
                         f"got shape {np.shape(boxes)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contain NaN or infinite coordinates")
    bad = np.flatnonzero((arr[:, 0] > arr[:, 2]) | (arr[:, 1] > arr[:, 3]))
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}] = {arr[bad[0]].tolist()} has ymin > ymax or xmin > xmax; "
                         "boxes are (ymin, xmin, ymax, xmax)")
    return arr


def box_area(boxes) -> np.ndarray:
    """Areas of boxes (N, 4), as an array (N,)."""
    b = as_boxes(boxes)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def iou(boxes_a, boxes_b):
    """Intersection over union.

    With two single boxes of shape (4,) returns a float. Otherwise returns the matrix
    of shape (N, M) of every box in ``boxes_a`` (N, 4) against every box in
    ``boxes_b`` (M, 4). Two boxes of zero area have IoU 0.
    """
    single = np.ndim(boxes_a) == 1 and np.ndim(boxes_b) == 1
    a, b = as_boxes(boxes_a, "boxes_a"), as_boxes(boxes_b, "boxes_b")
    top = np.maximum(a[:, None, 0], b[None, :, 0])
    left = np.maximum(a[:, None, 1], b[None, :, 1])
    bottom = np.minimum(a[:, None, 2], b[None, :, 2])
    right = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(bottom - top, 0, None) * np.clip(right - left, 0, None)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    out = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return float(out[0, 0]) if single else out


def nms(boxes, scores, iou_threshold: float = 0.5, max_output_size: int | None = None,
        score_threshold: float = -np.inf) -> np.ndarray:
    """Greedy non-maximum suppression; returns the indices of the kept boxes, best first.

    Repeatedly keeps the highest-scoring remaining box and drops every remaining box
    whose IoU with it is above ``iou_threshold``. Boxes scoring at or below
    ``score_threshold`` are dropped first. Same rule as
    ``tf.image.non_max_suppression``.
    """
    b = as_boxes(boxes)
    s = np.asarray(scores, dtype=float).reshape(-1)
    if len(s) != len(b):
        raise ValueError(f"got {len(b)} boxes but {len(s)} scores")
    if not 0 <= iou_threshold <= 1:
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
    order = [i for i in np.argsort(-s, kind="stable") if s[i] > score_threshold]
    limit = len(order) if max_output_size is None else max_output_size
    keep: list[int] = []
    while order and len(keep) < limit:
        best = order.pop(0)
        keep.append(best)
        if order:
            overlaps = iou(b[best:best + 1], b[order])[0]
            order = [i for i, o in zip(order, overlaps) if o <= iou_threshold]
    return np.array(keep, dtype=int)


def window_boxes(heatmap_shape: tuple[int, int], window: int, stride: int,
                 box_size: int | None = None) -> np.ndarray:
    """The box of every sliding-window position, row by row, as an array (H*W, 4).

    Cell (i, j) of a heatmap of shape (H, W) is the window whose top-left corner is
    ``(i * stride, j * stride)``. With ``box_size`` the box is a square of that size
    centred in the window instead of the whole window.
    """
    rows, cols = heatmap_shape
    size = window if box_size is None else box_size
    inset = (window - size) / 2
    i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    y0 = i.ravel() * stride + inset
    x0 = j.ravel() * stride + inset
    return np.stack([y0, x0, y0 + size, x0 + size], axis=1).astype(float)


# ------------------------------------------------------ fully convolutional
def to_fully_convolutional(model, name: str = "fully_convolutional"):
    """A fully convolutional *copy* of a tile classifier (lesson 06, section 3).

    ``model`` is a Keras ``Sequential`` classifier: convolution and pooling layers (any
    layers without a flat input), one ``Flatten``, then ``Dense`` layers. The result
    has new layers holding copies of the weights: the layers before ``Flatten`` are
    rebuilt from their configs, the first dense layer becomes a convolution whose
    kernel covers its whole input feature map (the same weights, reshaped), and every
    later dense layer a 1x1 convolution. Training ``model`` afterwards leaves the copy
    as it was; call this again to convert the retrained weights.

    The copy accepts images of any size of at least the tile's. On a tile it gives the
    classifier's output; on a larger image, with ``"valid"`` convolutions, it gives the
    classifier's output for every window, at a stride equal to the product of the
    pooling strides.
    """
    import keras
    from keras import layers

    flat = [i for i, layer in enumerate(model.layers) if isinstance(layer, layers.Flatten)]
    if len(flat) != 1:
        raise ValueError(f"expected a Sequential classifier with exactly one Flatten layer, found {len(flat)}")
    body, head = model.layers[:flat[0]], model.layers[flat[0] + 1:]
    if not head or not all(isinstance(layer, layers.Dense) for layer in head):
        raise ValueError("every layer after Flatten must be Dense, and there must be at least one")
    feature_shape = tuple(model.layers[flat[0]].input.shape[1:])          # e.g. (5, 5, 32)
    if len(feature_shape) != 3:
        raise ValueError(f"Flatten must receive a feature map (height, width, channels), got {feature_shape}")
    copies = [type(layer).from_config(layer.get_config()) for layer in body]
    as_convs = [layers.Conv2D(d.units, feature_shape[:2] if k == 0 else 1, activation=d.activation,
                              use_bias=d.use_bias, name=f"{d.name}_as_conv")
                for k, d in enumerate(head)]
    channels = model.inputs[0].shape[-1]
    fcn = keras.Sequential([keras.Input((None, None, channels))] + copies + as_convs, name=name)
    for source, copy in zip(body, copies):
        copy.set_weights([np.array(w, copy=True) for w in source.get_weights()])
    for k, (d, conv) in enumerate(zip(head, as_convs)):
        kernel, *bias = d.get_weights()
        shape = (*feature_shape, d.units) if k == 0 else (1, 1, *kernel.shape)
        conv.set_weights([kernel.reshape(shape).copy(), *[b.copy() for b in bias]])
    return fcn


# ---------------------------------------------------------------- evaluation
def match_detections(boxes, scores, gt_boxes, iou_threshold: float = 0.5) -> np.ndarray:
    """Mark each detection as a true positive (True) or a false positive (False).

    Detections are taken best score first; each one is matched to the *still
    unmatched* ground-truth box it overlaps most, if that IoU is at least
    ``iou_threshold``. A ground-truth box is matched at most once, so a second
    detection of the same object is a false positive. When the object a detection
    overlaps most is already taken, the detection may still match another, unmatched
    object it overlaps enough: this is the rule of the COCO evaluation
    (``pycocotools``). The PASCAL VOC devkit differs there: it looks only at the
    ground-truth box of highest IoU and counts the detection as a false positive when
    that box is taken. The two agree when ``iou_threshold >= 0.5`` and no two
    ground-truth boxes overlap or touch (as in this course's scenes), since a
    detection cannot then reach that IoU with two objects. Returns a boolean array in the order of ``boxes``.
    """
    b, g = as_boxes(boxes), as_boxes(gt_boxes, "gt_boxes")
    s = np.asarray(scores, dtype=float).reshape(-1)
    if len(s) != len(b):
        raise ValueError(f"got {len(b)} boxes but {len(s)} scores")
    tp = np.zeros(len(b), dtype=bool)
    if len(b) == 0 or len(g) == 0:
        return tp
    overlaps = iou(b, g)
    taken = np.zeros(len(g), dtype=bool)
    for d in np.argsort(-s, kind="stable"):
        candidates = np.where(taken, -1.0, overlaps[d])
        best = int(np.argmax(candidates))
        if candidates[best] >= iou_threshold:
            taken[best] = True
            tp[d] = True
    return tp


def precision_recall_curve(scores, true_positive, n_ground_truth: int):
    """Precision and recall of detections pooled over many images, at every score cut-off.

    ``scores`` and ``true_positive`` (from :func:`match_detections`) cover all
    detections of all images; ``n_ground_truth`` counts all objects. Returns
    ``(precision, recall, thresholds)``, sorted by decreasing threshold: entry k is
    what you get keeping the detections scoring at least ``thresholds[k]``.
    """
    s = np.asarray(scores, dtype=float).reshape(-1)
    tp = np.asarray(true_positive, dtype=bool).reshape(-1)
    if len(s) != len(tp):
        raise ValueError(f"got {len(s)} scores but {len(tp)} true_positive flags")
    if n_ground_truth <= 0:
        raise ValueError("n_ground_truth must be positive")
    order = np.argsort(-s, kind="stable")
    cum_tp = np.cumsum(tp[order])
    precision = cum_tp / np.arange(1, len(s) + 1)
    recall = cum_tp / n_ground_truth
    return precision, recall, s[order]


def average_precision(precision, recall) -> float:
    """Area under the precision-recall curve, with precision made non-increasing
    (the all-point interpolation of PASCAL VOC 2010 and later)."""
    p = np.concatenate([[0.0], np.asarray(precision, dtype=float), [0.0]])
    r = np.concatenate([[0.0], np.asarray(recall, dtype=float), [recall[-1] if len(recall) else 0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    return float(np.sum((r[1:] - r[:-1]) * p[1:]))


def precision_recall_at(precision, recall, thresholds, threshold: float = 0.5):
    """Precision and recall when keeping the detections that score at least ``threshold``.

    Reads the output of :func:`precision_recall_curve`. With no detection scoring
    ``threshold`` or more, nothing is kept: recall is 0 and precision is undefined,
    returned as ``(nan, 0.0)``.
    """
    t = np.asarray(thresholds, dtype=float).reshape(-1)
    if len(t) != len(precision) or len(t) != len(recall):
        raise ValueError("precision, recall and thresholds must have the same length")
    n_kept = int(np.sum(t >= threshold))          # thresholds are sorted, decreasing
    if n_kept == 0:
        return float("nan"), 0.0
    return float(precision[n_kept - 1]), float(recall[n_kept - 1])


# -------------------------------------------------------------------- scenes
@dataclass
class Scene:
    """One synthetic scene: a float32 image (H, W) in [0, 1], its objects' boxes (N, 4),
    their digit labels (N,), and how many layouts :func:`make_scene` drew."""

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    layouts: int = 1          # how many object layouts make_scene drew before one fitted


def _resized(digit: np.ndarray, size: int) -> np.ndarray:
    from skimage.transform import resize

    frame = digit[FRAME, FRAME].astype(np.float32) / 255.0
    return resize(frame, (size, size), order=1, anti_aliasing=size < 20).astype(np.float32)


def _background(shape, rng, digits, noise: float, clutter: float, fragment: int) -> np.ndarray:
    """Gaussian noise plus ``clutter`` fragments of random digits per 1,000 pixels."""
    canvas = np.zeros(shape, dtype=np.float32)
    n_fragments = rng.poisson(clutter * shape[0] * shape[1] / 1000)
    for _ in range(n_fragments):
        d = digits[rng.integers(len(digits))].astype(np.float32) / 255.0
        fy, fx = rng.integers(4, 24 - fragment, size=2)
        piece = d[fy:fy + fragment, fx:fx + fragment]
        y = rng.integers(-fragment // 2, shape[0] - fragment // 2)
        x = rng.integers(-fragment // 2, shape[1] - fragment // 2)
        ys, xs = slice(max(y, 0), min(y + fragment, shape[0])), slice(max(x, 0), min(x + fragment, shape[1]))
        canvas[ys, xs] = np.maximum(canvas[ys, xs], piece[ys.start - y:ys.stop - y, xs.start - x:xs.stop - x])
    if noise:
        canvas += rng.normal(0, noise, size=shape).astype(np.float32)
    return canvas


def _check_digits(digits, labels=None):
    digits = np.asarray(digits)
    if digits.ndim != 3 or digits.shape[1:] != (28, 28):
        raise ValueError(f"digits must have shape (N, 28, 28) like MNIST; got {digits.shape}")
    if labels is not None and len(labels) != len(digits):
        raise ValueError(f"got {len(digits)} digits but {len(labels)} labels")
    return digits


def make_scene(digits, labels, size: int | tuple[int, int] = 128, n_objects: tuple[int, int] = (1, 4),
               object_size: tuple[int, int] = (16, 24), noise: float = 0.1, clutter: float = 1.5,
               fragment: int = 8, min_gap: int = 2, max_layouts: int = 20, rng=None) -> Scene:
    """A canvas with a random number of digits (``n_objects``, both ends included) at
    random positions and sizes (``object_size`` in pixels, both ends included),
    not overlapping (at least ``min_gap`` pixels apart), on noise and clutter.

    ``digits`` are 28x28 uint8 images (MNIST), ``labels`` their classes. Objects are
    placed one after another, each at a random free position (up to 200 tries). When
    one finds no room (large objects in a small scene: four digits of 32-48 pixels in a
    128-pixel scene fail on about 3% of first layouts), the whole layout is drawn again,
    with the same number of objects but new digits, sizes and positions, up to
    ``max_layouts`` times in all; ``Scene.layouts`` reports how many were drawn (1 when
    the first fitted, which leaves the random stream as it was without this retry).
    Raises ``ValueError`` when no layout fits.
    """
    digits = _check_digits(digits, labels)
    rng = np.random.default_rng(rng)
    h, w = (size, size) if np.isscalar(size) else size
    lo, hi = object_size
    if not 1 <= lo <= hi or hi > min(h, w):
        raise ValueError(f"object_size {object_size} does not fit a {h}x{w} scene")
    canvas = _background((h, w), rng, digits, noise, clutter, fragment)
    n = int(rng.integers(n_objects[0], n_objects[1] + 1))
    for layout in range(1, max_layouts + 1):
        placed = _layout(n, len(digits), h, w, lo, hi, min_gap, rng)
        if placed is not None:
            break
    else:
        raise ValueError(f"could not place {n} objects of {lo}-{hi} pixels without overlap in a "
                         f"{h}x{w} scene in {max_layouts} layouts; use fewer or smaller objects")
    boxes, classes = [], []
    for k, s, y, x in placed:
        canvas[y:y + s, x:x + s] = np.maximum(canvas[y:y + s, x:x + s], _resized(digits[k], s))
        boxes.append([y, x, y + s, x + s])
        classes.append(int(labels[k]))
    return Scene(np.clip(canvas, 0, 1), np.array(boxes, dtype=float).reshape(-1, 4),
                 np.array(classes, dtype=int), layouts=layout)


def _layout(n, n_digits, h, w, lo, hi, min_gap, rng, tries=200):
    """One attempt at placing ``n`` objects: a list of (digit index, size, top, left),
    or None when an object finds no free position in ``tries`` draws."""
    placed, boxes = [], []
    for _ in range(n):
        k = int(rng.integers(n_digits))
        s = int(rng.integers(lo, hi + 1))
        for _attempt in range(tries):
            y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
            grown = np.array([y - min_gap, x - min_gap, y + s + min_gap, x + s + min_gap], dtype=float)
            if not boxes or iou(grown[None], np.array(boxes)).max() == 0:
                break
        else:
            return None
        placed.append((k, s, y, x))
        boxes.append([y, x, y + s, x + s])
    return placed


def make_scenes(n: int, digits, labels, rng=None, **kwargs) -> list[Scene]:
    """``n`` scenes from :func:`make_scene`, reproducible from ``rng`` (a seed or Generator)."""
    rng = np.random.default_rng(rng)
    return [make_scene(digits, labels, rng=rng, **kwargs) for _ in range(n)]


def make_tiles(n: int, digits, tile: int = 28, object_size: tuple[int, int] = (16, 24),
               jitter: int = 2, noise: float = 0.1, clutter: float = 1.5, fragment: int = 8,
               positive_fraction: float = 0.5, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Training tiles for an object-vs-background classifier, with the scenes' statistics.

    A ``positive_fraction`` of them are positives (label 1): a digit whose frame is
    centred in the tile, give or take ``jitter`` pixels. The rest are negatives
    (label 0): clutter alone, or, for half of them, a digit whose centre is at least a
    third of a tile away from the tile's centre (a hard negative: an object, but not
    centred, so a detector trained on it fires once per object rather than at every
    nearby position).

    Returns ``(x, y)``: float32 tiles (n, tile, tile, 1) in [0, 1] and int labels (n,).
    """
    digits = _check_digits(digits)
    if not 0 <= positive_fraction <= 1:
        raise ValueError(f"positive_fraction must be in [0, 1], got {positive_fraction}")
    rng = np.random.default_rng(rng)
    x = np.zeros((n, tile, tile, 1), dtype=np.float32)
    y = (np.arange(n) < round(positive_fraction * n)).astype(int)
    rng.shuffle(y)
    big = 2 * tile
    for i in range(n):
        canvas = _background((big, big), rng, digits, noise, clutter, fragment)
        positive = y[i] == 1
        if positive or rng.random() < 0.5:
            s = int(rng.integers(object_size[0], object_size[1] + 1))
            if positive:
                dy, dx = rng.integers(-jitter, jitter + 1, size=2)
            else:
                angle = rng.uniform(0, 2 * np.pi)
                r = rng.uniform(tile / 3, tile * 0.8)
                dy, dx = int(round(r * np.sin(angle))), int(round(r * np.cos(angle)))
            top = big // 2 - s // 2 + dy
            left = big // 2 - s // 2 + dx
            top, left = int(np.clip(top, 0, big - s)), int(np.clip(left, 0, big - s))
            d = _resized(digits[rng.integers(len(digits))], s)
            canvas[top:top + s, left:left + s] = np.maximum(canvas[top:top + s, left:left + s], d)
        c = big // 2 - tile // 2
        x[i, :, :, 0] = np.clip(canvas[c:c + tile, c:c + tile], 0, 1)
    return x, y


def make_single_object_scenes(n: int, digits, labels, size: int = 64,
                              object_size: tuple[int, int] = (16, 40), noise: float = 0.1,
                              clutter: float = 1.5, rng=None):
    """Scenes with exactly one digit each, for bounding-box regression.

    Returns ``(images, labels, boxes)``: float32 images (n, size, size, 1), int labels
    (n,) and boxes (n, 4) in pixels.
    """
    rng = np.random.default_rng(rng)
    scenes = make_scenes(n, digits, labels, rng=rng, size=size, n_objects=(1, 1),
                         object_size=object_size, noise=noise, clutter=clutter)
    images = np.stack([s.image for s in scenes])[..., None]
    return images, np.array([s.labels[0] for s in scenes]), np.stack([s.boxes[0] for s in scenes])


# ------------------------------------------------------------------- drawing
def draw_boxes(ax, boxes, labels=None, scores=None, color: str = "lime", linewidth: float = 1.5,
               linestyle: str = "-", fontsize: int = 8):
    """Draw boxes (N, 4) on a matplotlib axis showing an image, with optional text
    labels and scores.

    A box's text sits just above it, or just below it when the box is so close to the
    top of the image that the text would be cut off.
    """
    from matplotlib.patches import Rectangle

    b = as_boxes(boxes)
    top = min(ax.get_ylim())                           # imshow: the image's top edge, -0.5
    bbox = ax.get_window_extent()
    units_per_point = abs(ax.get_ylim()[1] - ax.get_ylim()[0]) / max(bbox.height, 1) * ax.figure.dpi / 72
    text_height = 1.3 * fontsize * units_per_point     # in data units (pixels of the image)
    for k, (y0, x0, y1, x1) in enumerate(b):
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                               edgecolor=color, linewidth=linewidth, linestyle=linestyle))
        text = []
        if labels is not None:
            text.append(str(labels[k]))
        if scores is not None:
            text.append(f"{float(scores[k]):.2f}")
        if text:
            if y0 - 1.5 - text_height >= top:
                ax.text(x0 - 0.5, y0 - 1.5, " ".join(text), color=color, fontsize=fontsize,
                        va="bottom", ha="left", clip_on=True)
            else:
                ax.text(x0 - 0.5, y1 + 0.5, " ".join(text), color=color, fontsize=fontsize,
                        va="top", ha="left", clip_on=True)
    return ax
