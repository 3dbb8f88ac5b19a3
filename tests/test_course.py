"""Tests for the course command: notebook structure, `course sync`, student versions."""

import ast
import shutil
from pathlib import Path

import nbformat
import pytest

from instructor import assignment, course, grading
from instructor.assignment import PROBE, PUBLIC_TEST, SOLUTION

ROOT = Path(__file__).resolve().parents[1]
LESSONS = course.lesson_notebooks(ROOT)


def test_there_are_lessons():
    assert [p.name[:2] for p in LESSONS][:2] == ["01", "02"]


def test_every_subcommand_runs_its_own_function():
    """course.main parses, then hands the arguments to one function per subcommand."""
    import argparse

    parser = course.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == set(course.COMMANDS)
    assert course.build_parser().parse_args(["site", "--out", "x"]).out == Path("x")


# ------------------------------------------------------------ notebook shape
@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_lesson_opens_the_same_way(path):
    nb = nbformat.read(path, as_version=4)
    url = course.repository_url(ROOT)
    title = nb.cells[0]
    assert title.cell_type == "markdown"
    assert title.source.startswith(f"# {path.name[:2]} · ")
    assert "**What you will learn**" in title.source
    assert f"{course.colab_base(url)}notebooks/{path.name}" in title.source
    setup = nb.cells[course.first_code_cell(nb)]
    assert setup.source == course.setup_cell_source(url), "run `course sync`"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_question_has_public_and_hidden_tests(path):
    """Every question has a solution, a public and a hidden test (roles from the one reader
    of the lesson format, instructor/assignment.py)."""
    nb = nbformat.read(path, as_version=4)
    assert course.is_assignment(nb)
    counts: dict = {}
    for part in assignment.walk(nb):
        if part.question is not None and part.cell.cell_type == "code":
            counts.setdefault(part.question, {SOLUTION: 0, PUBLIC_TEST: 0, PROBE: 0})
            if part.role in (SOLUTION, PUBLIC_TEST, PROBE):
                counts[part.question][part.role] += 1
    assert counts, "no exercises"
    for name, q in counts.items():
        assert all(q.values()), (name, q)


def _names(source, ctx):
    tree = ast.parse(source)
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}


@pytest.mark.parametrize("path", LESSONS + [ROOT / "tests" / "assignment" / "grading_demo.ipynb"],
                         ids=lambda p: p.name)
def test_hidden_tests_do_not_rely_on_public_test_variables(path):
    """The grader runs each test case on its own: a name that only a public test
    cell defines does not exist when a hidden test runs (it does in the notebook)."""
    nb = nbformat.read(path, as_version=4)
    public_names, block_of = set(), None
    for part in assignment.walk(nb):
        if part.role not in (PUBLIC_TEST, PROBE):
            continue
        if part.question != block_of:            # a new question's tests
            public_names, block_of = set(), part.question
        if part.role == PROBE:
            missing = (_names(part.cell.source, ast.Load) & public_names) - _names(part.cell.source, ast.Store)
            assert not missing, f"hidden test uses {missing}, defined only in a public test"
        else:
            public_names |= _names(part.cell.source, ast.Store)


# ---------------------------------------------------------------------- sync
def test_sync_rewrites_setup_cells_and_badges(tmp_path):
    (tmp_path / "notebooks").mkdir()
    shutil.copy(LESSONS[0], tmp_path / "notebooks" / LESSONS[0].name)
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    pyproject = (ROOT / "pyproject.toml").read_text()
    old_url = course.repository_url(ROOT)
    new_url = "https://github.com/someone-else/their-fork"
    (tmp_path / "pyproject.toml").write_text(pyproject.replace(old_url, new_url))

    changed = course.sync(tmp_path)
    assert {p.name for p in changed} == {LESSONS[0].name, "README.md"}
    nb = nbformat.read(tmp_path / "notebooks" / LESSONS[0].name, as_version=4)
    assert f"git+{new_url}" in nb.cells[course.first_code_cell(nb)].source
    assert "colab.research.google.com/github/someone-else/their-fork/blob/main/" in nb.cells[0].source
    assert "someone-else/their-fork" in (tmp_path / "README.md").read_text()
    assert old_url not in (tmp_path / "README.md").read_text()
    assert course.sync(tmp_path) == []  # idempotent


# -------------------------------------------------------------- leak scanning
def toy_source():
    """One question (a solution, a public test, a probe), then two cells of the lesson.
    A `# HIDDEN` cell is a probe only inside a tests block (instructor.assignment)."""
    C = nbformat.v4
    nb = C.new_notebook()
    nb.cells = [
        C.new_raw_cell("# BEGIN QUESTION\nname: q\npoints: 1"),
        C.new_raw_cell("# BEGIN SOLUTION"),
        C.new_code_cell("def f(x):\n    # BEGIN SOLUTION\n    secret_value = x * 42\n    return secret_value\n    # END SOLUTION"),
        C.new_raw_cell("# END SOLUTION"),
        C.new_raw_cell("# BEGIN TESTS"),
        C.new_code_cell("assert f(1) == 42"),
        C.new_code_cell("# HIDDEN\nassert f(2) == 84"),
        C.new_raw_cell("# END TESTS"),
        C.new_raw_cell("# END QUESTION"),
        C.new_code_cell("y = 2  # SOLUTION"),
        C.new_code_cell("return_value = None\nz = 1"),
    ]
    return nb


def test_secret_lines_are_solutions_and_hidden_tests_only():
    secret = course.secret_lines(toy_source())
    assert secret == {"secret_value = x * 42", "return secret_value", "assert f(2) == 84",
                      "y = 2  # SOLUTION"}
    assert "def f(x):" not in secret  # otter keeps the signature for the student


def test_find_leaks_catches_a_solution_in_a_student_notebook():
    source = toy_source()
    student = nbformat.v4.new_notebook()
    student.cells = [nbformat.v4.new_code_cell("def f(x):\n    ...")]
    assert course.find_leaks(source, student) == []
    student.cells.append(nbformat.v4.new_code_cell("    return secret_value"))
    assert course.find_leaks(source, student) == ["return secret_value"]
    student.cells.pop()
    student.metadata["otter"] = {"tests": {"q": ">>> assert f(2) == 84"}}  # hidden test in metadata
    assert course.find_leaks(source, student) == ["assert f(2) == 84"]
    student.metadata = {}
    # A hidden test among the public tests that the check cell carries as strings.
    embedded = course.student_init_cell({"q": ["assert f(1) == 42", "x = 1\nassert f(2) == 84"]})
    student.cells.append(nbformat.v4.new_code_cell(embedded))
    assert course.find_leaks(source, student) == ["assert f(2) == 84"]
    # ... also when written as an escaped one-line string.
    student.cells[-1].source = "TESTS = ['x = 1\\nassert f(2) == 84']"
    assert course.find_leaks(source, student) == ["assert f(2) == 84"]


# ---------------------------------------------------------- student versions
@pytest.fixture(scope="module")
def student_versions(tmp_path_factory):
    pytest.importorskip("otter", reason="student versions are made with otter-grader "
                                        "(the instructor extra), not installed here")
    out = tmp_path_factory.mktemp("dist")
    return {path: course.make_student_version(path, out) for path in LESSONS}


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_student_version_holds_no_solution_or_hidden_test(student_versions, path):
    student_path = student_versions[path]
    source = nbformat.read(path, as_version=4)
    student = nbformat.read(student_path, as_version=4)
    assert course.secret_lines(source), "the scan would find nothing to look for"
    assert course.find_leaks(source, student) == []
    text = student_path.read_text()
    assert "BEGIN SOLUTION" not in text and "# HIDDEN" not in text
    # No other file in the folder handed to students holds a secret line either.
    for other in student_path.parent.rglob("*"):
        if other.is_file() and other != student_path:
            lines = course.text_lines(other.read_text(errors="ignore"))
            assert not course.secret_lines(source) & lines, other


def check_cell_namespace(student):
    """Run a student version's check cell (the second code cell); return its namespace."""
    code = [c for c in student.cells if c.cell_type == "code"]
    assert code[1].source.startswith(course.CHECK_INIT_MARKER)
    namespace = {}
    exec(code[1].source, namespace)
    return namespace


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_student_version_keeps_the_lesson_and_public_tests(student_versions, path):
    student = nbformat.read(student_versions[path], as_version=4)
    code = [c for c in student.cells if c.cell_type == "code"]
    assert student.cells[0].source.startswith(f"# {path.name[:2]} · ")  # title still first
    assert code[0].source.startswith(course.SETUP_MARKER)                # then the setup cell
    assert code[1].source.startswith(course.CHECK_INIT_MARKER)           # then the checks
    assert all(not c.outputs for c in code), "student versions start without outputs"
    assert not any("import otter" in c.source for c in code), \
        "a student version needs no otter-grader (the setup cell does not install it on Colab)"
    # The check cell carries every public test of the source, and nothing else.
    source = nbformat.read(path, as_version=4)
    grader = check_cell_namespace(student)["grader"]
    assert grader._tests.keys() == course.public_tests(source).keys()
    for name, texts in course.public_tests(source).items():
        assert [t[2] for t in grader._tests[name]] == texts
    questions = [q.name for q in grading.questions_of(source)]
    checks = [c.source for c in code if c.source.startswith("grader.check(")]
    assert checks == [f'grader.check("{q}")' for q in questions]
    # Nothing else of otter's stays in the folder handed to students.
    assert not (student_versions[path].parent / "tests").exists()


@pytest.fixture(scope="module")
def demo_student(tmp_path_factory):
    pytest.importorskip("otter", reason="student versions are made with otter-grader "
                                        "(the instructor extra), not installed here")
    source = ROOT / "tests" / "assignment" / "grading_demo.ipynb"
    return nbformat.read(course.make_student_version(source, tmp_path_factory.mktemp("dist")),
                         as_version=4)


@pytest.mark.parametrize("answers, shown", [
    (("return x * x", "return sum(values) / len(values)"), ["q1_square: passed", "q2_mean: passed"]),
    (("...", "return sum(values) / len(values)"),
     ["q1_square: 0 of 1 public test passed", "q2_mean: passed"]),
    (("return x * x", "return undefined_name"), ["q1_square: passed", "NameError"]),
])
def test_student_version_checks_run_in_the_notebook_namespace(demo_student, answers, shown):
    """The student's own cells, then each ``grader.check`` cell, as a student runs them:
    the checks see the student's functions and report each question."""
    namespace = check_cell_namespace(demo_student)
    reports = []
    for cell in demo_student.cells[1:]:
        if cell.cell_type != "code" or cell.source.startswith(course.CHECK_INIT_MARKER):
            continue
        if cell.source.startswith("def square"):
            source = f"def square(x):\n    {answers[0]}"
        elif cell.source.startswith("def mean_of"):
            source = f"def mean_of(values):\n    {answers[1]}"
        elif cell.source.startswith("grader.check("):
            reports.append(str(eval(cell.source, namespace)))
            continue
        else:
            source = cell.source
        if not source.startswith(course.SETUP_MARKER):
            exec(source, namespace)
    assert len(reports) == 2
    for report, expected in zip(reports, shown):
        assert expected in report, report


@pytest.mark.parametrize("path", LESSONS + [ROOT / "tests" / "assignment" / "grading_demo.ipynb"],
                         ids=lambda p: p.name)
def test_hidden_tests_are_probes(path):
    """A hidden cell is a probe for the trusted grader: it sets `result` (plain data that
    the grader compares with the reference solution's), and nbval and nbclient skip it,
    since it needs the grader's `rng` and runs only in the grader."""
    from instructor import grading

    nb = nbformat.read(path, as_version=4)
    questions = grading.questions_of(nb)
    assert questions
    probes = [part.cell for part in assignment.walk(nb) if part.role == PROBE]
    assert probes
    for cell in probes:
        probe = grading.CHECK_MARKER.split(cell.source, maxsplit=1)[0]
        assert "result" in _names(probe, ast.Store), f"a probe must set `result`:\n{cell.source}"
        tags = cell.metadata.get("tags", [])
        assert {"nbval-skip", "skip-execution"} <= set(tags), \
            "tag hidden cells `nbval-skip` (nbval) and `skip-execution` (nbclient, make execute)"
        if len(grading.CHECK_MARKER.split(cell.source, maxsplit=1)) > 1:
            ast.parse(grading.CHECK_MARKER.split(cell.source, maxsplit=1)[1])


def test_readme_lesson_table_names_every_exercise():
    """The README's lesson table lists each lesson's exercises by name, in that lesson's row:
    a question added, renamed or removed in a lesson fails here until the table says so."""
    import re

    from instructor.repo import lesson_notebooks, repo_root

    readme = (repo_root() / "README.md").read_text()
    rows = {line.split(" | ")[0].lstrip("| "): line for line in readme.splitlines()
            if re.match(r"\| \d\d \| \[", line)}
    checked = 0
    for path in lesson_notebooks(repo_root()):
        source_nb = nbformat.read(path, as_version=4)
        if not assignment.is_assignment(source_nb):
            continue
        row = rows.get(path.name[:2])
        assert row is not None, f"no row for {path.name} in the README's lesson table"
        for q in assignment.questions_of(source_nb):
            assert f"`{q.name}`" in row.split("**Exercises:**")[-1], \
                f"{path.name}: {q.name} is not in its row of the README's lesson table"
            checked += 1
    assert checked >= 20
