"""An exercise's stated rule (``forbid`` in its config, utils/rules.py) on toy cells: the
shortcuts and their disguises are caught, the student's own names and prose are not."""

import pytest

from utils.rules import Rule, broken, defined_names

LESSON = "import numpy as np\nfrom sklearn.metrics import balanced_accuracy_score, recall_score"
RULE = Rule("q3_balanced_accuracy", ("balanced_accuracy",), ("sklearn", "balanced_accuracy_score"))
HONEST = ("def balanced_accuracy(y_true, y_pred):\n"
          '    """Like balanced_accuracy_score in scikit-learn, by hand."""\n'
          "    # not balanced_accuracy_score: the mean of the recalls\n"
          "    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)\n"
          "    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]))")


def cells(*answer, lesson=LESSON):
    return list(enumerate([lesson, *answer]))


def test_the_honest_answer_keeps_the_rule_comments_and_prose_do_not_count():
    assert broken(RULE, cells(HONEST)) is None
    assert broken(RULE, cells(HONEST, "print('balanced_accuracy_score is not used above')")) is None


@pytest.mark.parametrize("answer", [
    "def balanced_accuracy(y_true, y_pred):\n    return balanced_accuracy_score(y_true, y_pred)",
    "balanced_accuracy = balanced_accuracy_score",                         # through the lesson's import
    "from sklearn.metrics import balanced_accuracy_score as ok\nbalanced_accuracy = ok",
    "import sklearn.metrics as m\ndef balanced_accuracy(t, p):\n    return m.balanced_accuracy_score(t, p)",
    "def balanced_accuracy(t, p):\n    import sklearn\n    return 0.0",
    "def balanced_accuracy(t, p):\n    return recall_score(t, p, average='macro')",   # sklearn all the same
    "import importlib\ndef balanced_accuracy(t, p):\n"
    "    return getattr(importlib.import_module('sklearn.metrics'), 'balanced_accuracy_score')(t, p)",
    "def balanced_accuracy(t, p):\n    return globals()['balanced_accuracy_score'](t, p)",
    "def balanced_accuracy(t, p):\n    return eval('balanced_accuracy_score(t, p)')",
    "def balanced_accuracy(t, p):\n    return __import__('sklearn.metrics').metrics.recall_score(t, p)",
])
def test_shortcuts_and_their_aliases_are_caught(answer):
    why = broken(RULE, cells(answer))
    assert why is not None and why.startswith("uses "), answer


def test_a_helper_elsewhere_is_followed_and_the_reason_says_where():
    helper = "def _helper(t, p):\n    x = 1\n    return balanced_accuracy_score(t, p)"
    answer = "def balanced_accuracy(t, p):\n    return _helper(t, p)"
    assert broken(RULE, cells(helper, "x = 2", answer)) == "uses balanced_accuracy_score (cell 1, line 3)"
    via = "def _helper(t, p):\n    return recall_score(t, p)"
    assert broken(RULE, cells(via, answer)) == "uses sklearn (through _helper, cell 2, line 2)"


def test_only_the_last_definition_counts():
    """A shortcut tried and then replaced (in the notebook's order) is gone."""
    first = "def balanced_accuracy(t, p):\n    return balanced_accuracy_score(t, p)"
    assert broken(RULE, cells(first, HONEST)) is None
    assert broken(RULE, cells(HONEST, first)) is not None
    # a later change to the answer counts too
    assert broken(RULE, cells(HONEST, "balanced_accuracy.__wrapped__ = balanced_accuracy_score")) \
        is not None


def test_the_students_own_names_are_theirs():
    rule = Rule("q2_backward", ("conv_backward",), ("GradientTape", "gradient", "grad"))
    own = ("def gradient(a):\n    return a * 2\n\n"
           "def conv_backward(x, g):\n    grad = gradient(g)\n    return grad")
    assert broken(rule, cells(own, lesson="import tensorflow as tf")) is None
    tape = ("def conv_backward(x, g):\n    with tf.GradientTape() as tape:\n        y = x\n"
            "    return tape.gradient(y, x)")
    assert broken(rule, cells(tape, lesson="import tensorflow as tf")).startswith("uses GradientTape")
    star = "from tensorflow import *\ndef conv_backward(x, g):\n    return GradientTape"
    assert broken(rule, cells(star, lesson="")).startswith("uses GradientTape")


def test_magics_and_broken_cells_do_not_stop_the_check():
    answer = "%time x = 1\n!echo hi\n" + "def balanced_accuracy(t, p):\n    return balanced_accuracy_score(t, p)"
    assert broken(RULE, cells("def (", answer)) is not None
    assert broken(RULE, cells("def (", HONEST)) is None


def test_answer_names_are_what_the_solution_defines():
    assert defined_names("def f(x):\n    return x\nA, B = 1, 2\nimport numpy as np") == ["f", "A", "B", "np"]
