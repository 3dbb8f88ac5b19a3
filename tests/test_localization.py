"""Tests for the boxes, IoU, NMS, detection scoring and scene helpers of lesson 06."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from utils.localization import (
    Scene, as_boxes, average_precision, draw_boxes, iou, make_scene, make_scenes,
    make_single_object_scenes, make_tiles, match_detections, nms, precision_recall_at,
    precision_recall_curve, to_fully_convolutional, window_boxes,
)

coordinate = st.floats(min_value=-100, max_value=100, allow_nan=False, width=32)


@st.composite
def boxes(draw):
    y0, y1 = sorted((draw(coordinate), draw(coordinate)))
    x0, x1 = sorted((draw(coordinate), draw(coordinate)))
    return np.array([y0, x0, y1, x1])


@st.composite
def proper_boxes(draw):
    """Boxes with a positive area."""
    y0, x0 = draw(coordinate), draw(coordinate)
    h = draw(st.floats(min_value=0.5, max_value=50))
    w = draw(st.floats(min_value=0.5, max_value=50))
    return np.array([y0, x0, y0 + h, x0 + w])


def fake_digits(n=20, seed=0):
    """28x28 uint8 images with a bright blob in the 20x20 frame, like MNIST digits."""
    rng = np.random.default_rng(seed)
    digits = np.zeros((n, 28, 28), dtype=np.uint8)
    digits[:, 8:20, 10:18] = rng.integers(150, 256, size=(n, 12, 8))
    return digits, np.arange(n) % 10


# ---------------------------------------------------------------------- IoU
def test_iou_of_identical_disjoint_and_nested_boxes():
    a = np.array([0, 0, 10, 10])
    assert iou(a, a) == 1.0
    assert iou(a, np.array([20, 20, 30, 30])) == 0.0
    assert iou(a, np.array([0, 10, 10, 20])) == 0.0          # touching edges only
    assert iou(a, np.array([2, 2, 7, 7])) == pytest.approx(25 / 100)
    assert iou(a, np.array([0, 5, 10, 15])) == pytest.approx(50 / 150)


def test_iou_matrix_shape_and_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 5, 5]])
    b = np.array([[0, 0, 10, 10], [100, 100, 110, 110], [0, 0, 5, 10]])
    m = iou(a, b)
    assert m.shape == (2, 3)
    assert m[0, 0] == 1 and m[0, 1] == 0 and m[1, 2] == pytest.approx(25 / 50)


@settings(max_examples=200, deadline=None)
@given(boxes(), boxes())
def test_iou_is_symmetric_and_between_0_and_1(a, b):
    v = iou(a, b)
    assert 0.0 <= v <= 1.0
    assert v == pytest.approx(iou(b, a))


@settings(max_examples=200, deadline=None)
@given(proper_boxes(), proper_boxes())
def test_iou_is_1_only_for_the_same_box_and_shrinks_when_one_box_moves_away(a, b):
    assert iou(a, a) == pytest.approx(1.0)
    far = b + np.array([500, 500, 500, 500])
    assert iou(a, far) == 0.0


def test_empty_box_sets_are_allowed():
    assert as_boxes([]).shape == (0, 4) and as_boxes(np.zeros((0, 4))).shape == (0, 4)
    assert iou(np.zeros((0, 4)), np.array([[0, 0, 1, 1]])).shape == (0, 1)
    assert nms([], []).tolist() == []


@pytest.mark.parametrize("bad, message", [
    (np.zeros((3, 3)), "shape"),
    (np.array([0, 0, np.nan, 1]), "NaN"),
    (np.array([5, 0, 1, 1]), "ymin > ymax"),
    (np.array([[0, 0, 1, 1], [0, 5, 1, 1]]), r"boxes\[1\]"),
])
def test_malformed_boxes_are_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        as_boxes(bad)
    with pytest.raises(ValueError):
        iou(bad, np.array([0, 0, 1, 1]))


# ---------------------------------------------------------------------- NMS
def test_nms_keeps_the_best_of_overlapping_boxes_and_separate_boxes():
    boxes_ = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 1, 10, 11], [50, 50, 60, 60]])
    scores = np.array([0.6, 0.9, 0.7, 0.5])
    assert nms(boxes_, scores, iou_threshold=0.5).tolist() == [1, 3]
    assert nms(boxes_, scores, iou_threshold=0.99).tolist() == [1, 2, 0, 3]
    assert nms(boxes_, scores, iou_threshold=0.5, max_output_size=1).tolist() == [1]
    assert nms(boxes_, scores, iou_threshold=0.5, score_threshold=0.55).tolist() == [1]


@settings(max_examples=100, deadline=None)
@given(st.lists(proper_boxes(), min_size=1, max_size=15), st.floats(0.1, 0.9), st.randoms())
def test_nms_output_is_sorted_non_overlapping_and_covers_every_box(box_list, threshold, random):
    b = np.stack(box_list)
    scores = np.array([random.random() for _ in box_list])
    keep = nms(b, scores, threshold)
    assert len(set(keep.tolist())) == len(keep)
    assert np.all(np.diff(scores[keep]) <= 0)
    if len(keep) > 1:
        m = iou(b[keep], b[keep])
        assert np.all(m[~np.eye(len(keep), dtype=bool)] <= threshold)
    # every dropped box overlaps a kept box with a higher score
    for i in set(range(len(b))) - set(keep.tolist()):
        assert any(iou(b[i], b[k]) > threshold and scores[k] >= scores[i] for k in keep)


def test_nms_agrees_with_tensorflow():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for _ in range(20):
        corners = rng.uniform(0, 100, size=(40, 2))
        sizes = rng.uniform(5, 30, size=(40, 2))
        b = np.concatenate([corners, corners + sizes], axis=1)
        s = rng.random(40)
        expected = tf.image.non_max_suppression(b.astype("float32"), s.astype("float32"),
                                                max_output_size=40, iou_threshold=0.3).numpy()
        assert nms(b, s, 0.3).tolist() == expected.tolist()


def test_nms_rejects_mismatched_scores_and_bad_threshold():
    with pytest.raises(ValueError, match="2 boxes but 3 scores"):
        nms(np.zeros((2, 4)), [1, 2, 3])
    with pytest.raises(ValueError, match="iou_threshold"):
        nms(np.zeros((2, 4)), [1, 2], iou_threshold=1.5)


# ------------------------------------------------------------ window boxes
def test_window_boxes_follow_the_stride_row_by_row():
    b = window_boxes((2, 3), window=28, stride=4)
    assert b.shape == (6, 4)
    assert b[0].tolist() == [0, 0, 28, 28]
    assert b[2].tolist() == [0, 8, 28, 36]
    assert b[3].tolist() == [4, 0, 32, 28]
    centred = window_boxes((1, 1), window=28, stride=4, box_size=20)
    assert centred[0].tolist() == [4, 4, 24, 24]


# --------------------------------------------------------------- evaluation
def test_match_detections_counts_a_second_hit_on_one_object_as_false_positive():
    gt = np.array([[0, 0, 10, 10], [50, 50, 60, 60]])
    det = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [30, 30, 40, 40], [50, 51, 60, 61]])
    scores = np.array([0.9, 0.95, 0.8, 0.7])
    tp = match_detections(det, scores, gt, 0.5)
    assert tp.tolist() == [False, True, False, True]
    assert match_detections(np.zeros((0, 4)), [], gt).tolist() == []
    assert match_detections(det, scores, np.zeros((0, 4))).tolist() == [False] * 4


def test_match_detections_falls_back_to_the_next_unmatched_object_as_coco_does():
    # two overlapping objects; the second detection overlaps the taken first object most
    gt = np.array([[0, 0, 10, 10], [0, 4, 10, 14]])
    det = np.array([[0, 0, 10, 10], [0, 1, 10, 11]])       # IoU with gt: (1, 0.43) and (0.82, 0.54)
    tp = match_detections(det, [0.9, 0.8], gt, 0.5)
    assert tp.tolist() == [True, True]                      # PASCAL VOC's devkit: [True, False]
    assert match_detections(det, [0.9, 0.8], gt, 0.6).tolist() == [True, False]


def test_precision_recall_curve_and_average_precision():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    tp = np.array([True, False, True, False])
    p, r, t = precision_recall_curve(scores, tp, n_ground_truth=3)
    assert p.tolist() == pytest.approx([1, 0.5, 2 / 3, 0.5])
    assert r.tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert t.tolist() == [0.9, 0.8, 0.7, 0.6]
    # area: recall 0 -> 1/3 at precision 1, 1/3 -> 2/3 at precision 2/3
    assert average_precision(p, r) == pytest.approx(1 / 3 + 2 / 9)
    perfect_p, perfect_r, _ = precision_recall_curve([0.5, 0.4], [True, True], 2)
    assert average_precision(perfect_p, perfect_r) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="n_ground_truth"):
        precision_recall_curve(scores, tp, 0)


def test_precision_recall_at_a_score_threshold():
    p, r, t = precision_recall_curve([0.9, 0.8, 0.5, 0.3], [True, False, True, True], 4)
    assert precision_recall_at(p, r, t, 0.5) == pytest.approx((2 / 3, 2 / 4))
    assert precision_recall_at(p, r, t, 0.85) == pytest.approx((1.0, 1 / 4))
    assert precision_recall_at(p, r, t, 0.0) == pytest.approx((3 / 4, 3 / 4))
    # no detection at or above the threshold: nothing kept, not the last entry (index -1)
    precision, recall = precision_recall_at(p, r, t, 0.95)
    assert np.isnan(precision) and recall == 0.0


# ------------------------------------------------------ fully convolutional
def small_classifier(padding="valid", seed=0):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        layers.Conv2D(4, 3, padding=padding, activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(8, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def test_fully_convolutional_copy_gives_the_classifier_score_of_every_window():
    model = small_classifier()
    fcn = to_fully_convolutional(model)
    rng = np.random.default_rng(0)
    image = rng.random((20, 24)).astype("float32")
    heat = fcn(image[None, :, :, None]).numpy()[0, :, :, 0]
    assert heat.shape == ((20 - 12) // 2 + 1, (24 - 12) // 2 + 1)    # stride 2: one pooling
    windows = np.stack([image[2 * i:2 * i + 12, 2 * j:2 * j + 12]
                        for i in range(heat.shape[0]) for j in range(heat.shape[1])])
    expected = model(windows[..., None]).numpy().reshape(heat.shape)
    assert np.allclose(heat, expected, atol=1e-6)
    assert fcn.count_params() == model.count_params()


def test_retraining_the_classifier_leaves_an_earlier_fully_convolutional_copy_unchanged():
    model = small_classifier()
    fcn = to_fully_convolutional(model)
    rng = np.random.default_rng(1)
    image = rng.random((1, 16, 16, 1)).astype("float32")
    before = fcn(image).numpy()
    x, y = rng.random((64, 12, 12, 1)).astype("float32"), rng.integers(0, 2, 64)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert not np.allclose(to_fully_convolutional(model)(image).numpy(), before)   # it did learn
    assert np.array_equal(fcn(image).numpy(), before)


def test_same_padding_breaks_the_equality_at_the_windows_edges():
    model = small_classifier(padding="same")
    fcn = to_fully_convolutional(model)
    rng = np.random.default_rng(2)
    image = rng.random((16, 16)).astype("float32") + 0.5
    heat = fcn(image[None, :, :, None]).numpy()[0, :, :, 0]
    windows = np.stack([image[2 * i:2 * i + 12, 2 * j:2 * j + 12] for i in range(3) for j in range(3)])
    expected = model(windows[..., None]).numpy().reshape(3, 3)
    assert heat.shape == (3, 3) and not np.allclose(heat, expected, atol=1e-4)


def test_to_fully_convolutional_rejects_other_models():
    import keras
    from keras import layers

    no_flatten = keras.Sequential([keras.Input((8, 8, 1)), layers.GlobalAveragePooling2D(), layers.Dense(1)])
    with pytest.raises(ValueError, match="one Flatten"):
        to_fully_convolutional(no_flatten)
    conv_after = keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(), layers.Dense(4),
                                   layers.Dropout(0.1)])
    with pytest.raises(ValueError, match="Dense"):
        to_fully_convolutional(conv_after)


# ------------------------------------------------------------------- scenes
def test_make_scene_places_non_overlapping_objects_inside_the_canvas():
    digits, labels = fake_digits()
    for seed in range(20):
        scene = make_scene(digits, labels, size=96, n_objects=(2, 4), object_size=(16, 24),
                           noise=0.0, clutter=0.0, rng=seed)
        assert isinstance(scene, Scene)
        assert scene.image.shape == (96, 96) and scene.image.dtype == np.float32
        assert 2 <= len(scene.boxes) == len(scene.labels) <= 4
        assert scene.boxes.min() >= 0 and scene.boxes.max() <= 96
        m = iou(scene.boxes, scene.boxes)
        assert np.all(m[~np.eye(len(m), dtype=bool)] == 0)
        # with no noise and no clutter, every bright pixel lies inside a box
        inside = np.zeros((96, 96), dtype=bool)
        for y0, x0, y1, x1 in scene.boxes.astype(int):
            inside[y0:y1, x0:x1] = True
            assert scene.image[y0:y1, x0:x1].max() > 0.5
        assert scene.image[~inside].max() == 0


def test_scenes_are_reproducible_from_a_seed():
    digits, labels = fake_digits()
    a = make_scenes(3, digits, labels, rng=7, size=64)
    b = make_scenes(3, digits, labels, rng=7, size=64)
    for s, t in zip(a, b):
        assert np.array_equal(s.image, t.image) and np.array_equal(s.boxes, t.boxes)


def test_make_scene_errors_are_clear():
    digits, labels = fake_digits()
    with pytest.raises(ValueError, match="without overlap"):
        make_scene(digits, labels, size=40, n_objects=(5, 5), object_size=(30, 30), rng=0)
    with pytest.raises(ValueError, match="does not fit"):
        make_scene(digits, labels, size=40, object_size=(20, 50))
    with pytest.raises(ValueError, match="28, 28"):
        make_scene(np.zeros((3, 32, 32)), [0, 1, 2])


def test_large_objects_are_placed_by_drawing_the_layout_again():
    # lesson 06, exercise 4: up to four digits of 32-48 pixels in a 128-pixel scene; a
    # first layout finds no room on about 3% of scenes, which used to raise ValueError
    digits, labels = fake_digits()
    scenes = make_scenes(300, digits, labels, rng=0, size=128, object_size=(32, 48),
                         noise=0.0, clutter=0.0)
    layouts = np.array([s.layouts for s in scenes])
    assert layouts.min() == 1 and layouts.max() > 1
    for s in scenes:
        assert 1 <= len(s.boxes) <= 4 and s.boxes.min() >= 0 and s.boxes.max() <= 128
        grown = s.boxes + np.array([-2, -2, 2, 2])            # min_gap = 2
        m = iou(grown, s.boxes)
        assert np.all(m[~np.eye(len(m), dtype=bool)] == 0)


def test_tiles_are_balanced_and_positives_hold_a_centred_object():
    digits, _ = fake_digits()
    x, y = make_tiles(200, digits, tile=28, noise=0.0, clutter=0.0, rng=0)
    assert x.shape == (200, 28, 28, 1) and y.sum() == 100
    centre = x[:, 12:16, 12:16, 0].max(axis=(1, 2))
    assert np.all(centre[y == 1] > 0.5)          # a positive has ink at its centre
    assert np.all(centre[y == 0] < 0.5)          # a negative does not


def test_box_labels_stay_inside_the_image():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(np.zeros((64, 64)))
    draw_boxes(ax, np.array([[0, 0, 10, 10], [30, 30, 40, 40]]), scores=[0.5, 0.6])
    (first, second) = ax.texts
    assert first.get_position()[1] > 10 and first.get_va() == "top"     # below its box
    assert second.get_position()[1] < 30 and second.get_va() == "bottom"
    plt.close(fig)


def test_single_object_scenes_have_one_box_each():
    digits, labels = fake_digits()
    images, cls, bxs = make_single_object_scenes(10, digits, labels, size=64, rng=1)
    assert images.shape == (10, 64, 64, 1) and cls.shape == (10,) and bxs.shape == (10, 4)
    assert np.all(bxs[:, 2] - bxs[:, 0] == bxs[:, 3] - bxs[:, 1])   # square frames
