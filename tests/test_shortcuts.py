"""The shortcut suite, beside the attack suite: answers that pass an exercise's probes without
the idea it tests (the library call, the lesson's own cell copied), each of which the
exercise's stated rule (``forbid`` in its config, utils/rules.py) forbids.

The shortcuts graded end to end are right answers (they would pass every probe), so their 0
points come from the rule alone: the reason must say which name was used. Graded through the real path
(``course grade``, sandbox included): the demo assignment with one submission per disguise,
and lessons 04 and 07 with one submission each, the reference solution with the ruled
question's answer replaced by its shortcut, so the other questions must keep full points.
Every disguise of every lesson shortcut is also checked without running anything, on the
lesson's own cells (fast): the reference keeps every rule, and each disguise breaks it.

Time on the 2-core CPU, loaded by another notebook run: the demo and the checks on the cells
54 to 71 s in all (the demo's student version built with otter-grader included), lesson 04
277 s with the offline data in KERAS_HOME as .ci/run places it (90 s without MNIST, its cells
raising), lesson 07 172 s. The lessons' part is therefore kept out
of ``make test-grading`` (skipped unless ``COURSE_SHORTCUT_LESSONS=1``; ``make test-shortcuts``
runs the whole file).
"""

import os
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
    "01": {"q2_conv_backward": [
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


def with_answer(reference_nb, question, answer):
    """The reference solution with ``question``'s solution cell replaced by ``answer``."""
    nb = nbformat.from_dict(reference_nb)
    qs = {q.name: q for q in assignment.questions_of(nbformat.read(find_lesson(repo_root(), lesson_of[question]),
                                                                   as_version=4))}
    names = qs[question].answer
    hits = [c for c in nb.cells if c.cell_type == "code"
            and any(c.source.startswith(f"def {n}(") for n in names)]
    assert len(hits) == 1, (question, names)
    hits[0].source = answer
    return nb


lesson_of = {q: lesson for lesson, shortcuts in LESSON_SHORTCUTS.items() for q in shortcuts}


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
@pytest.mark.parametrize("lesson", list(LESSON_SHORTCUTS))
def test_lesson_shortcuts_earn_nothing_through_course_grade(lesson, tmp_path, capsys):
    """One submission per lesson: the reference's answers, with every ruled question's first
    shortcut; graded by ``course grade``, in fast size."""
    source = find_lesson(repo_root(), lesson)
    nb = assignment.solution_notebook(nbformat.read(source, as_version=4))[0]
    for question, shortcuts in LESSON_SHORTCUTS[lesson].items():
        nb = with_answer(nb, question, shortcuts[0])
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
        if question in LESSON_SHORTCUTS[lesson]:
            assert row["points"] == "0" and row["reason"].startswith("uses "), row
            assert f"which {question} forbids" in row["reason"], row
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
