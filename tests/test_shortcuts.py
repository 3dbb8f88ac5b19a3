"""The shortcut suite, beside the attack suite: answers that pass an exercise's probes without
the idea it tests (the library call, the lesson's own cell copied), each of which the
exercise's stated rule (``forbid`` in its config, utils/rules.py) forbids.

The ruled shortcuts (``LESSON_SHORTCUTS``) are right answers (they would pass every probe), so their 0
points come from the rule alone: the reason must say which name was used. Graded through the real path
(``course grade``, sandbox included): the demo assignment with one submission per disguise,
and every lesson with a shortcut (01, 02, 03, 04, 06, 07, 09) with one submission each, the reference solution with the ruled
question's answer replaced by its shortcut, so the other questions must keep full points.
Every disguise of every lesson shortcut is also checked without running anything, on the
lesson's own cells (fast): the reference keeps every rule, and each disguise breaks it.

Other shortcuts are wrong in the exercise's own sense, and its probes reject them (no rule
needed): a convolution that builds no patch matrix (lesson 01, exercise 1), a texture cropped
from the style image instead of synthesized from seeded noise (lesson 09, exercise 2). Each
one's points are computed here in-process from the question's probes and checks (the reference
must pass every probe, the shortcut none), and graded end to end with the rest.

Time on the 2-core CPU, loaded by another notebook run: the demo and the checks on the cells
54 to 71 s in all (the demo's student version built with otter-grader included), lesson 04
277 s with the offline data in KERAS_HOME as .ci/run places it (90 s without MNIST, its cells
raising), lesson 07 172 s. The lessons' part is therefore kept out
of ``make test-grading`` (skipped unless ``COURSE_SHORTCUT_LESSONS=1``; ``make test-shortcuts``
runs the whole file).
"""

import json
import os
import re
import time

import nbformat
import pytest

from demo_assignment import SOURCE, student_notebook, with_answers
from instructor import assignment, course, grading, sandbox
from instructor.repo import find_lesson, lesson_notebooks, repo_root

TIMEOUT = 60     # a demo submission; a lesson gets the grader's default
UNCONFINED = sandbox.available() is not None and os.environ.get("CI") != "true"

# The demo's q2_mean forbids statistics, mean and fmean; every disguise gives the right mean.
DEMO_SHORTCUTS = {
    "library": ("return statistics.fmean(values)", "import statistics"),
    "alias": ("return average(values)", "from statistics import fmean as average"),
    "numpy": ("return float(np.mean(values))", "import numpy as np"),
    "getattr": ("return getattr(__import__('statistics'), 'fmean')(values)", None),
    "helper elsewhere": ("return _helper(values)",
                         "import statistics\n\ndef _helper(v):\n    return statistics.mean(v)"),
}

# Lesson 01 exercise 1's answer cell after im2col: kernel_matrix, and conv2d_matmul as given.
_Q1_REST = ("def kernel_matrix(kernels):\n"
            "    return np.asarray(kernels, dtype=float).reshape(-1, np.shape(kernels)[-1])\n\n\n"
            "def conv2d_matmul(x, kernels, stride=1):\n"
            "    kh, kw, _, n_filters = np.shape(kernels)\n"
            "    out_w = (np.shape(x)[1] - kw) // stride + 1\n"
            "    return (im2col(x, kh, kw, stride) @ kernel_matrix(kernels)).reshape(-1, out_w, n_filters)")

# Per lesson and ruled question: shortcuts that are right answers (the first is graded end
# to end, every one is checked on the lesson's cells).
LESSON_SHORTCUTS = {
    "04": {"q3_balanced_accuracy": [
        # cell 3 imports it, with the same definition
        "def balanced_accuracy(y_true, y_pred):\n    return balanced_accuracy_score(y_true, y_pred)",
        "balanced_accuracy = balanced_accuracy_score",
        "def balanced_accuracy(y_true, y_pred):\n"
        "    return recall_score(y_true, y_pred, average='macro', labels=np.unique(y_true))",
        "from sklearn import metrics as m\n\ndef balanced_accuracy(y_true, y_pred):\n"
        "    return m.balanced_accuracy_score(y_true, y_pred)",
        "import importlib\n\ndef balanced_accuracy(y_true, y_pred):\n"
        "    return getattr(importlib.import_module('sklearn.metrics'), 'balanced_accuracy_score')(y_true, y_pred)",
    ]},
    "02": {"q2_pixel_stats": [
        # gather the images, then section 3's statistics in memory
        "import tensorflow as tf\n\n\ndef streaming_pixel_stats(dataset):\n"
        "    x = np.concatenate([np.asarray(b, dtype='float64') for b in dataset])\n"
        "    return x.mean(axis=0), x.std(axis=0)",
        "import tensorflow as tf\n\n\ndef streaming_pixel_stats(dataset):\n"
        "    x = tf.concat(list(dataset), axis=0).numpy().astype('float64')\n"
        "    return x.mean(axis=0), x.std(axis=0)",
        "import tensorflow as tf\n\n\ndef streaming_pixel_stats(dataset):\n"
        "    x = next(iter(dataset.unbatch().batch(10**9))).numpy().astype('float64')\n"
        "    return x.mean(axis=0), x.std(axis=0)",
        "import tensorflow as tf\n\n\ndef streaming_pixel_stats(dataset):\n"
        "    x = np.vstack([b.numpy() for b in dataset]).astype('float64')\n"
        "    return x.mean(axis=0), x.std(axis=0)",
        "import tensorflow as tf\n\n\ndef streaming_pixel_stats(dataset):\n"
        "    images = []\n    for b in dataset:\n        images.append(np.asarray(b, dtype='float64'))\n"
        "    total = sum(b.sum(axis=0) for b in images)\n    n = sum(len(b) for b in images)\n"
        "    mean = total / n\n"
        "    return mean, np.sqrt(sum(((b - mean) ** 2).sum(axis=0) for b in images) / n)",
    ]},
    "07": {"q1_causal_conv1d": [
        # section 1's cell, with dilation_rate
        "def causal_conv1d(x, w, dilation=1):\n"
        "    x, w = np.asarray(x, dtype='float32'), np.asarray(w, dtype='float32')\n"
        "    conv = layers.Conv1D(1, len(w), padding='causal', dilation_rate=dilation, use_bias=False)\n"
        "    conv.build((1, len(x), 1))\n"
        "    conv.set_weights([w.reshape(-1, 1, 1)])\n"
        "    return keras.ops.convert_to_numpy(conv(x.reshape(1, -1, 1)))[0, :, 0]",
        "def causal_conv1d(x, w, dilation=1):\n"
        "    x = np.asarray(x, dtype='float32').reshape(1, -1, 1)\n"
        "    k = np.asarray(w, dtype='float32').reshape(-1, 1, 1)\n"
        "    pad = np.pad(x, ((0, 0), ((len(w) - 1) * dilation, 0), (0, 0)))\n"
        "    return tf.nn.conv1d(pad, k, stride=1, padding='VALID', dilations=dilation).numpy()[0, :, 0]",
        "import scipy.signal\n\ndef causal_conv1d(x, w, dilation=1):\n"
        "    k = np.zeros((len(w) - 1) * dilation + 1)\n    k[::dilation] = w\n"
        "    return scipy.signal.lfilter(k[::-1], [1.0], x)",
    ]},
    "01": {"q1_im2col": [
        # TensorFlow's im2col
        "def im2col(x, kh, kw, stride=1):\n"
        "    x = np.asarray(x, dtype=float)\n"
        "    patches = tf.image.extract_patches(x[None], [1, kh, kw, 1], [1, stride, stride, 1], [1, 1, 1, 1], 'VALID')\n"
        "    return patches.numpy().reshape(-1, kh * kw * x.shape[-1])\n\n\n" + _Q1_REST,
        "def im2col(x, kh, kw, stride=1):\n"
        "    p = keras.ops.image.extract_patches(np.asarray(x, dtype=float)[None], (kh, kw), strides=(stride, stride), padding='valid')\n"
        "    return np.asarray(p).reshape(-1, kh * kw * np.shape(x)[-1])\n\n\n" + _Q1_REST,
    ],
           "q2_conv_backward": [
        # section 10's cell (51) with strides=stride
        "def conv2d_backward(x, k, g, stride=1):\n"
        "    x_tf = tf.constant(x[None, :, :, None])\n"
        "    k_tf = tf.Variable(k[:, :, None, None])\n"
        "    with tf.GradientTape(persistent=True) as tape:\n"
        "        tape.watch(x_tf)\n"
        "        y = tf.nn.conv2d(x_tf, k_tf, strides=stride, padding='VALID')\n"
        "        loss = tf.reduce_sum(y * g[None, :, :, None])\n"
        "    return (tape.gradient(loss, x_tf).numpy()[0, :, :, 0],\n"
        "            tape.gradient(loss, k_tf).numpy()[:, :, 0, 0])",
    ]},
    "03": {
        "q1_early_stopping": [   # the lesson's own callback, fed the losses as model.fit would
            "from utils.training import EarlyStoppingAfter\n\n"
            "def early_stopping(val_losses, patience, min_epochs=0):\n"
            "    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])\n"
            "    stop = EarlyStoppingAfter(min_epochs, monitor='val_loss', patience=patience, restore_best_weights=True)\n"
            "    stop.set_model(model)\n    stop.on_train_begin()\n    model.stop_training = False\n"
            "    for epoch, loss in enumerate(val_losses):\n"
            "        stop.on_epoch_end(epoch, {'val_loss': loss})\n"
            "        if model.stop_training:\n            break\n"
            "    return epoch + 1, stop.best_epoch + 1",
        ],
        "q2_choose_model": [   # section 4's paired standard error, from the course's helpers
            "from utils.training import paired_difference\n\n"
            "def choose_model(val_correct, baseline, min_z):\n"
            "    acc = {k: float(np.mean(v)) for k, v in val_correct.items()}\n"
            "    best = max(acc, key=acc.get)\n"
            "    diff, se = paired_difference(val_correct[best], val_correct[baseline])\n"
            "    return best if diff > min_z * se else baseline",
        ],
    },
    "06": {
        "q1_box_iou": [   # the lesson imports iou from utils.localization
            "def box_iou(a, b):\n    return float(iou(np.array(a, float), np.array(b, float)))",
        ],
        "q3_average_precision": [   # and the lesson's own curve and AP
            "def average_precision_of(scores, is_true_positive, n_objects):\n"
            "    return average_precision(*precision_recall_curve(scores, is_true_positive, n_objects)[:2])",
        ],
    },
}


# Per lesson and question: shortcuts that skip the exercise's idea and that its probes reject,
# with what the answer cell needs from the lesson to run in-process (imports, lesson functions).
PROBE_SHORTCUTS = {
    "01": {"q1_im2col": {
        "needs": ("import numpy as np", []),
        "shortcuts": [
            # a loop over output positions, as section 1's correlate2d, for every filter and
            # channel: right feature maps, no patch matrix
            "def im2col(x, kh, kw, stride=1):\n    ...\n\n\n"
            "def kernel_matrix(kernels):\n"
            "    return np.asarray(kernels, dtype=float).reshape(-1, np.shape(kernels)[-1])\n\n\n"
            "def conv2d_matmul(x, kernels, stride=1):\n"
            "    kh, kw, c, n = kernels.shape\n"
            "    out = np.zeros(((x.shape[0] - kh) // stride + 1, (x.shape[1] - kw) // stride + 1, n))\n"
            "    for i in range(out.shape[0]):\n"
            "        for j in range(out.shape[1]):\n"
            "            window = x[i * stride:i * stride + kh, j * stride:j * stride + kw]\n"
            "            out[i, j] = np.tensordot(window, kernels, axes=3)\n"
            "    return out",
        ]}},
    "03": {
        "q1_early_stopping": {
            "needs": ("import numpy as np", []),
            "shortcuts": [
                # the epoch of lowest loss over the whole curve, as if training never stopped
                "def early_stopping(val_losses, patience, min_epochs=0):\n"
                "    return len(val_losses), int(np.argmin(val_losses)) + 1",
                # patience without the minimum: Keras's plain EarlyStopping
                "def early_stopping(val_losses, patience, min_epochs=0):\n"
                "    best, kept = float('inf'), 0\n"
                "    for epoch, loss in enumerate(val_losses, start=1):\n"
                "        if loss < best:\n            best, kept = loss, epoch\n"
                "        elif epoch - kept >= patience:\n            return epoch, kept\n"
                "    return len(val_losses), kept",
            ]},
        "q2_choose_model": {
            "needs": ("import numpy as np", []),
            "shortcuts": [
                # the highest validation accuracy, without the noise
                "def choose_model(val_correct, baseline, min_z):\n"
                "    acc = {k: float(np.mean(v)) for k, v in val_correct.items()}\n"
                "    return max(acc, key=acc.get)",
                # the noise of two independent accuracies instead of the paired difference
                "def choose_model(val_correct, baseline, min_z):\n"
                "    acc = {k: float(np.mean(v)) for k, v in val_correct.items()}\n"
                "    best = max(acc, key=acc.get)\n"
                "    n = len(val_correct[best])\n"
                "    se = np.sqrt(acc[best] * (1 - acc[best]) / n + acc[baseline] * (1 - acc[baseline]) / n)\n"
                "    return best if acc[best] - acc[baseline] > min_z * se else baseline",
            ]},
    },
    "09": {"q2_texture_synthesis": {
        "needs": ("import numpy as np\nimport tensorflow as tf\nfrom scipy.optimize import fmin_l_bfgs_b",
                  ["gram_matrix", "style_layer_loss"]),
        "shortcuts": [
            # a crop of the style image (repeated to the shape asked for), no optimization: it
            # passed the style-loss check alone in 325 of 500 grader draws (327 in the issue's
            # draws), the new check in none; the reference passed it in all of 36 draws, its
            # largest correlation with a window of the style 0.09 to 0.23 (the limit is 0.8),
            # another seed's texture 0.34 to 0.46 away on average, the same seed's identical
            "def synthesize_texture(extract, style, shape, steps=200, seed=0):\n"
            "    return np.tile(style, (2, 2, 1))[:shape[0], :shape[1]].astype(np.float32)",
            # the crop at a window chosen by the seed: a different texture for each seed
            # (style-loss check alone: 181 of 500 draws; the new check: 0)
            "def synthesize_texture(extract, style, shape, steps=200, seed=0):\n"
            "    dy, dx = np.random.default_rng(seed).integers(0, style.shape[:2])\n"
            "    tiled = np.tile(style, (shape[0] // style.shape[0] + 2, shape[1] // style.shape[1] + 2, 1))\n"
            "    return tiled[dy:dy + shape[0], dx:dx + shape[1]].astype(np.float32)",
            # that crop flipped and blended with the seed's noise (correlation 0.96 to 0.97)
            "def synthesize_texture(extract, style, shape, steps=200, seed=0):\n"
            "    r = np.random.default_rng(seed)\n"
            "    dy, dx = r.integers(0, style.shape[:2])\n"
            "    tiled = np.tile(style, (shape[0] // style.shape[0] + 2, shape[1] // style.shape[1] + 2, 1))\n"
            "    crop = tiled[dy:dy + shape[0], dx:dx + shape[1]][::-1]\n"
            "    return (0.7 * crop + 0.3 * r.uniform(0, 1, shape)).astype(np.float32)",
        ]}},
}


def _lesson_functions(source_nb, names):
    """The source of the lesson's top-level functions ``names``, from its code cells."""
    return "\n\n".join(assignment.function_sources(source_nb, names).values())


_REFERENCE_ANSWERS = {}


def probe_points(lesson, question, answer, seeds):
    """Points (of 1) that ``answer`` (the question's answer cell) earns from the question's
    probes and checks in this process, over grader seeds ``seeds``, next to the reference
    solution's; each probe run as the grader's runner does (its rng, plain data)."""
    import numpy as np

    from instructor.runner import to_plain

    source_nb = nbformat.read(find_lesson(repo_root(), lesson), as_version=4)
    q = {q.name: q for q in assignment.questions_of(source_nb)}[question]
    imports, functions = PROBE_SHORTCUTS[lesson][question]["needs"]
    context = imports + "\n\n" + (_lesson_functions(source_nb, functions) if functions else "")
    reference_cell = with_answer(assignment.solution_notebook(source_nb)[0], question, None, find_only=True)

    def answers(cell, seed):
        namespace = {}
        exec(compile(context + "\n\n" + cell, f"<{question}>", "exec"), namespace)
        out = {}
        for index, probe in enumerate(q.probes):
            namespace["rng"] = np.random.default_rng([seed, index])
            namespace.pop("result", None)
            try:
                exec(compile(probe.code, f"<probe {probe.id}>", "exec"), namespace)
                out[probe.id] = {"result": to_plain(namespace["result"])}
            except Exception as err:
                out[probe.id] = {"error": f"{type(err).__name__}: {err}"}
        return json.loads(json.dumps(out))     # as the grader reads them back

    passed = {"reference": [], "answer": []}
    for seed in seeds:
        key = (lesson, question, seed)
        if key not in _REFERENCE_ANSWERS:          # the reference runs once per seed (09: seconds)
            _REFERENCE_ANSWERS[key] = grading._decode(answers(reference_cell, seed))
        want = _REFERENCE_ANSWERS[key]
        got = grading._decode(answers(answer, seed))
        for p in q.probes:
            passed["reference"].append(grading.judge(p, want[p.id], want[p.id]))
            passed["answer"].append(grading.judge(p, got[p.id], want[p.id]))
    return {k: sum(v is None for v in vs) / len(vs) for k, vs in passed.items()}, passed["answer"]


def with_answer(reference_nb, question, answer, find_only=False):
    """The reference solution with ``question``'s solution cell replaced by ``answer``."""
    nb = nbformat.from_dict(reference_nb)
    qs = {q.name: q for q in assignment.questions_of(nbformat.read(find_lesson(repo_root(), lesson_of[question]),
                                                                   as_version=4))}
    names = qs[question].answer
    hits = [c for c in nb.cells if c.cell_type == "code"     # the cell that defines the answer
            and any(re.search(rf"^def {n}\(", c.source, re.M) for n in names)]
    assert len(hits) == 1, (question, names)
    if find_only:
        return hits[0].source
    hits[0].source = answer
    return nb


lesson_of = {q: lesson for by_lesson in (LESSON_SHORTCUTS, PROBE_SHORTCUTS)
             for lesson, shortcuts in by_lesson.items() for q in shortcuts}


def test_every_lesson_reference_keeps_its_rules():
    """No reference solution breaks its own question's rule (course check says so too)."""
    for path in lesson_notebooks(repo_root()):
        source_nb = nbformat.read(path, as_version=4)
        if not assignment.is_assignment(source_nb):
            continue
        qs = assignment.questions_of(source_nb)
        reference, _ = assignment.solution_notebook(source_nb, public_tests=True)
        assert grading.rule_breaks(qs, reference) == {}, path.name


@pytest.mark.parametrize("lesson, question, shortcut", [
    (lesson, q, s) for lesson, by_q in LESSON_SHORTCUTS.items() for q, ss in by_q.items() for s in ss])
def test_each_lesson_shortcut_breaks_its_rule(lesson, question, shortcut):
    source_nb = nbformat.read(find_lesson(repo_root(), lesson), as_version=4)
    qs = assignment.questions_of(source_nb)
    nb = with_answer(assignment.solution_notebook(source_nb)[0], question, shortcut)
    broken = grading.rule_breaks(qs, nb)
    assert list(broken) == [question] and broken[question].startswith("uses "), broken


# 09: the reference synthesizes six textures per seed (4 s on an idle 2-core CPU, a minute loaded).
PROBE_SEEDS = {"01": range(20), "03": range(20), "09": range(1)}


@pytest.mark.parametrize("lesson, question, k", [
    (lesson, q, k) for lesson, by_q in PROBE_SHORTCUTS.items() for q, spec in by_q.items()
    for k in range(len(spec["shortcuts"]))])
def test_each_probe_shortcut_fails_every_probe(lesson, question, k):
    """The question's probes, run here: the reference passes every one, the shortcut none."""
    shortcut = PROBE_SHORTCUTS[lesson][question]["shortcuts"][k]
    points, reasons = probe_points(lesson, question, shortcut, PROBE_SEEDS[lesson])
    assert points == {"reference": 1.0, "answer": 0.0}, (points, reasons)


def test_probe_shortcuts_keep_the_rules():
    """Their 0 comes from the probes, not from a rule."""
    for lesson, by_q in PROBE_SHORTCUTS.items():
        source_nb = nbformat.read(find_lesson(repo_root(), lesson), as_version=4)
        qs = assignment.questions_of(source_nb)
        for question, spec in by_q.items():
            for shortcut in spec["shortcuts"]:
                nb = with_answer(assignment.solution_notebook(source_nb)[0], question, shortcut)
                assert grading.rule_breaks(qs, nb) == {}, (question, shortcut)


def test_demo_shortcuts_earn_nothing_for_their_question_only(tmp_path):
    student = student_notebook(tmp_path / "build")
    folder = tmp_path / "submissions"
    folder.mkdir()
    nbformat.write(with_answers(student, "return x * x", "return sum(values) / len(values)"),
                   folder / "honest.ipynb")
    for name, (mean_body, extra) in DEMO_SHORTCUTS.items():
        nbformat.write(with_answers(student, "return x * x", mean_body, extra=extra),
                       folder / f"{name}.ipynb")
    rows = grading.grade_folder(folder, SOURCE, tmp_path / "grades.csv", timeout=TIMEOUT,
                                progress=False, unconfined=UNCONFINED, jobs=2)
    got = {(r.student, r.question): (r.points, r.reason) for r in rows}
    assert got[("honest", "q1_square")] == got[("honest", "q2_mean")] == (2, "all tests passed")
    for name in DEMO_SHORTCUTS:
        assert got[(name, "q1_square")] == (2, "all tests passed"), name
        points, reason = got[(name, "q2_mean")]
        assert points == 0 and reason.startswith("uses ") and "which q2_mean forbids" in reason, (name, reason)


@pytest.mark.skipif(os.environ.get("COURSE_SHORTCUT_LESSONS") != "1",
                    reason="grades whole lessons (minutes): make test-shortcuts, or COURSE_SHORTCUT_LESSONS=1")
@pytest.mark.parametrize("lesson", list(dict.fromkeys([*LESSON_SHORTCUTS, *PROBE_SHORTCUTS])))
def test_lesson_shortcuts_earn_nothing_through_course_grade(lesson, tmp_path, capsys):
    """One submission per lesson: the reference's answers, with every ruled question's first
    shortcut and every other question's first probe shortcut; graded by ``course grade``, in
    fast size."""
    source = find_lesson(repo_root(), lesson)
    nb = assignment.solution_notebook(nbformat.read(source, as_version=4))[0]
    ruled = LESSON_SHORTCUTS.get(lesson, {})
    probed = PROBE_SHORTCUTS.get(lesson, {})
    for question, shortcuts in ruled.items():
        nb = with_answer(nb, question, shortcuts[0])
    probed = {q: spec for q, spec in probed.items() if q not in ruled}   # one answer cell each
    for question, spec in probed.items():
        nb = with_answer(nb, question, spec["shortcuts"][0])
    folder = tmp_path / "submissions"
    folder.mkdir()
    nbformat.write(nb, folder / "shortcuts.ipynb")
    out = tmp_path / "grades.csv"
    start = time.monotonic()
    args = ["grade", str(folder), "--lesson", lesson, "--out", str(out), "--jobs", "1"]
    assert course.main(args + (["--unconfined"] if UNCONFINED else [])) == 0
    print(f"lesson {lesson}: graded in {time.monotonic() - start:.0f} s")
    import csv
    with open(out, newline="") as f:
        rows = {r["question"]: r for r in csv.DictReader(f)}
    for question, row in rows.items():
        if question in ruled:
            assert row["points"] == "0" and row["reason"].startswith("uses "), row
            assert f"which {question} forbids" in row["reason"], row
        elif question in probed:
            assert row["points"] == "0" and not row["reason"].startswith("uses "), row
        else:
            assert row["points"] == row["max_points"], row


def test_course_check_fails_a_reference_that_breaks_its_own_rule(tmp_path, capsys):
    """A rule its own reference breaks would give every honest student 0: course check says so."""
    source_nb = nbformat.read(SOURCE, as_version=4)
    for cell in source_nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("def mean_of"):
            cell.source = cell.source.replace("math.fsum(values) / len(values)",
                                              "__import__('statistics').fmean(values)")
    path = tmp_path / SOURCE.name
    nbformat.write(source_nb, path)
    assert not grading.check([path], timeout=TIMEOUT, unconfined=UNCONFINED, twice=False)
    out = capsys.readouterr().out
    assert "FAIL grading_demo q2_mean: 2 / 2  (the reference solution uses fmean (cell 6, line 3), which q2_mean" in out, out
