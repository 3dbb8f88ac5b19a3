"""Exercise checks inside students' notebooks, locally and on Colab (all lessons).

A student's version of a lesson (``course student``) carries its public tests in its
second code cell, as plain ``assert`` code, and makes a checker from them::

    from utils.check import Notebook

    PUBLIC_TESTS = {
        "q1_im2col": ['''assert im2col(X, 3, 3).shape == (16, 9)'''],
    }
    grader = Notebook(PUBLIC_TESTS)

Below each exercise, ``grader.check("q1_im2col")`` runs that question's public tests in
the notebook's own namespace, as the lesson's source notebook runs them, and shows which
passed. Nothing is written to disk and nothing beyond the standard library is needed, so
the check works from the notebook file alone, wherever it was opened.

Public tests help a student; they prove nothing, since the student's code could change
them. Grading (``course grade``) ignores them and runs hidden probes in a sandbox instead.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class TestOutcome:
    """One public test (one test cell of the source notebook): passed, or why not."""

    number: int          # 1-based, in the order of the source notebook
    passed: bool
    message: str = ""    # for a failure: the failing line and the error


@dataclass
class CheckResult:
    """The outcome of ``grader.check(question)``; Jupyter shows it as a short report."""

    question: str
    outcomes: list[TestOutcome] = field(default_factory=list)
    rule_broken: str | None = None   # why the answer breaks the exercise's stated rule

    @property
    def passed(self) -> bool:
        """True when every public test of the question passed and its rule is kept."""
        return all(o.passed for o in self.outcomes) and self.rule_broken is None

    def __str__(self) -> str:
        total = len(self.outcomes)
        tests = "public test" if total == 1 else "public tests"
        if self.passed:
            return f"{self.question}: passed ({total} {tests}; the grader runs hidden tests too)."
        failed = [o for o in self.outcomes if not o.passed]
        lines = [f"{self.question}: {total - len(failed)} of {total} {tests} passed."]
        for outcome in failed:
            lines.append(f"  test {outcome.number} failed: " + outcome.message.replace("\n", "\n    "))
        if self.rule_broken:
            lines.append(f"  the exercise's rule is broken: your answer {self.rule_broken}; "
                         "the grader gives 0 points for this question then")
        return "\n".join(lines)

    __repr__ = __str__


def _failure_message(error: BaseException, filename: str, source: str) -> str:
    """The line of the test that raised ``error`` and the error itself, e.g.
    ``assert f(2) == 4`` and ``AssertionError``; a hint for a name not defined yet."""
    lines = source.splitlines()
    where = ""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename == filename and frame.lineno and 0 < frame.lineno <= len(lines):
            where = lines[frame.lineno - 1].strip()
            break
    kind = type(error).__name__
    text = f"{kind}: {error}" if str(error) else kind
    if isinstance(error, NameError):
        text += " (run the cells above this one first, or define it in your answer)"
    return f"{where}\n{text}" if where else text


class Notebook:
    """The ``grader`` of a student's notebook: ``grader.check(name)`` runs one question's
    public tests (plain Python code, usually ``assert`` lines) in the caller's namespace.

    ``tests`` maps each question's name to its public tests, one string of code per test
    cell of the source notebook. The code is compiled here, so a broken test shows when
    the notebook's init cell runs, not at the first check.
    """

    def __init__(self, tests: Mapping[str, Sequence[str]], rules: Mapping[str, Mapping] | None = None):
        from utils.rules import Rule

        # {question: {"answer": [...], "forbid": [...]}}: the stated rules (utils.rules)
        self._rules = {q: Rule(q, tuple(r["answer"]), tuple(r["forbid"])) for q, r in (rules or {}).items()}
        self._tests: dict[str, list[tuple[str, object, str]]] = {}
        for question, sources in tests.items():
            if isinstance(sources, str) or not sources:
                raise ValueError(f"public tests of {question!r}: expected a non-empty list of "
                                 f"code strings, got {sources!r}")
            compiled = []
            for number, source in enumerate(sources, start=1):
                filename = f"<public test {number} of {question}>"
                compiled.append((filename, compile(source, filename, "exec"), source))
            self._tests[question] = compiled

    @property
    def questions(self) -> list[str]:
        """The names of the questions that have public tests, in order."""
        return list(self._tests)

    def check(self, question: str, global_env: dict | None = None) -> CheckResult:
        """Run the public tests of ``question`` in ``global_env`` (default: the namespace
        of the code that calls ``check``, i.e. the notebook's) and return the outcome.

        A test passes when its code runs without an exception. Names it assigns stay in
        the namespace, as when the source notebook runs its test cells.
        """
        if question not in self._tests:
            known = ", ".join(self._tests) or "none"
            raise KeyError(f"no public tests named {question!r} in this notebook; "
                           f"its questions are: {known}")
        if global_env is None:
            global_env = sys._getframe(1).f_globals
        result = CheckResult(question)
        for number, (filename, code, source) in enumerate(self._tests[question], start=1):
            try:
                exec(code, global_env)
            except Exception as error:  # noqa: BLE001 - any error fails the test, with its reason
                result.outcomes.append(TestOutcome(number, False,
                                                   _failure_message(error, filename, source)))
            else:
                result.outcomes.append(TestOutcome(number, True))
        if question in self._rules:
            result.rule_broken = self._rule_broken(self._rules[question], global_env)
        return result

    @staticmethod
    def _rule_broken(rule, global_env: dict) -> str | None:
        """How the cells run so far (IPython's history ``In``) break ``rule``, as the grader
        reads the notebook's cells (:mod:`utils.rules`); None without a history."""
        from utils.rules import broken, reason

        history = global_env.get("In")
        if not isinstance(history, list):
            return None
        why = broken(rule, [(i, s) for i, s in enumerate(history) if isinstance(s, str)],
                     cell_label="In [{}]")
        return reason(rule, why) if why else None

    def check_all(self, global_env: dict | None = None) -> list[CheckResult]:
        """``check`` every question in order, in the caller's namespace by default."""
        if global_env is None:
            global_env = sys._getframe(1).f_globals
        return [self.check(question, global_env) for question in self._tests]
