"""utils/check.py: the ``grader.check`` of students' notebooks, without otter-grader."""

import pytest

from utils.check import CheckResult, Notebook

TESTS = {
    "q1_square": ["assert square(3) == 9", "assert square(-2) == 4\nassert square(0) == 0"],
    "q2_mean": ["m = mean_of([1, 2, 3])\nassert m == 2, f'mean_of([1, 2, 3]) gave {m}'"],
}


def test_passing_tests_run_in_the_given_namespace():
    env = {"square": lambda x: x * x, "mean_of": lambda v: sum(v) / len(v)}
    result = Notebook(TESTS).check("q1_square", env)
    assert result.passed and [o.passed for o in result.outcomes] == [True, True]
    assert str(result) == "q1_square: passed (2 public tests; the grader runs hidden tests too)."
    assert Notebook(TESTS).check("q2_mean", env).passed
    assert env["m"] == 2  # names a test assigns stay, as when the source notebook runs it


def test_a_failure_names_the_test_its_line_and_the_message():
    env = {"square": lambda x: x ** 2 if x > 0 else -1, "mean_of": lambda v: sum(v) / 3 + 1}
    result = Notebook(TESTS).check("q1_square", env)
    assert not result.passed and [o.passed for o in result.outcomes] == [True, False]
    text = str(result)
    assert text.startswith("q1_square: 1 of 2 public tests passed.")
    assert "test 2 failed: assert square(-2) == 4\n    AssertionError" in text
    mean = str(Notebook(TESTS).check("q2_mean", env))
    assert "assert m == 2" in mean and "AssertionError: mean_of([1, 2, 3]) gave 3.0" in mean
    assert repr(result) == text  # what Jupyter shows below a check cell


def test_an_undefined_answer_and_an_answer_that_raises():
    result = Notebook(TESTS).check("q1_square", {})
    assert not result.passed
    assert "NameError: name 'square' is not defined (run the cells above" in str(result)
    result = Notebook(TESTS).check("q1_square", {"square": lambda x: None + 1})
    assert "TypeError" in str(result) and "0 of 2" in str(result)


def test_check_defaults_to_the_callers_namespace():
    """In a notebook, ``grader.check(...)`` sees the notebook's globals: here, this module's."""
    global square
    grader = Notebook({"q": ["assert square(4) == 16"]})
    square = lambda x: x * x  # noqa: E731
    try:
        assert grader.check("q").passed
        assert [r.passed for r in grader.check_all()] == [True]
        square = lambda x: x  # noqa: E731
        assert not grader.check("q").passed
    finally:
        del square


def test_unknown_question_and_malformed_tests_are_refused_with_a_reason():
    with pytest.raises(KeyError, match="no public tests named 'q3'.*q1_square, q2_mean"):
        Notebook(TESTS).check("q3", {})
    with pytest.raises(ValueError, match="non-empty list"):
        Notebook({"q": "assert True"})
    with pytest.raises(ValueError, match="non-empty list"):
        Notebook({"q": []})
    with pytest.raises(SyntaxError):
        Notebook({"q": ["assert ("]})


def test_questions_and_result_type():
    grader = Notebook(TESTS)
    assert grader.questions == ["q1_square", "q2_mean"]
    assert isinstance(grader.check("q1_square", {"square": abs}), CheckResult)


def test_check_tells_a_student_the_rule_their_answer_breaks():
    """A question's stated rule (utils/rules.py) is checked on the cells the kernel ran (its
    history ``In``), as the grader checks it on the notebook: the public tests pass, the
    check does not, and says why; replacing the answer fixes it."""
    rules = {"q2_mean": {"answer": ["mean_of"], "forbid": ["statistics", "mean", "fmean"]}}
    grader = Notebook(TESTS, rules)
    env = {"In": ["", "import statistics", "def mean_of(values):\n    return statistics.fmean(values)"]}
    for source in env["In"]:
        exec(source, env)
    result = grader.check("q2_mean", env)
    assert [o.passed for o in result.outcomes] == [True] and not result.passed
    assert ("your answer uses fmean (In [2], line 2), which q2_mean forbids (its stated "
            "rule: no statistics, mean, fmean)") in str(result)
    assert "the grader gives 0 points" in str(result)
    env["In"].append("def mean_of(values):\n    return sum(values) / len(values)")
    exec(env["In"][-1], env)
    assert grader.check("q2_mean", env).passed
    assert Notebook(TESTS, rules).check("q2_mean", {"mean_of": lambda v: 2}).passed   # no history
