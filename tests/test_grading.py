"""Batch grading end to end on a small dedicated assignment and synthetic submissions.

Each kind of submission an instructor meets gets the points it earned and a reason:
correct, partly correct, raising, looping forever, empty, renamed, not a notebook.
"""

import csv
import os
import re

import nbformat
import pytest

from demo_assignment import SOURCE, file_hashes, student_notebook, with_answers
from instructor import grading, sandbox

TIMEOUT = 60  # seconds per submission; a healthy one needs about 3 here, 20 on a loaded machine
# Without bubblewrap (a developer's Mac), grade unconfined; CI always has the sandbox.
UNCONFINED = sandbox.available() is not None and os.environ.get("CI") != "true"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    student = student_notebook(tmp_path_factory.mktemp("build"))
    folder = tmp_path_factory.mktemp("submissions")
    write = lambda name, nb: nbformat.write(nb, folder / name)
    write("alice.ipynb", with_answers(student, "return x * x", "return sum(values) / len(values)"))
    # Right on the public test, wrong on the hidden ones: half the points of q2.
    write("bob.ipynb", with_answers(student, "return x ** 2", "return sum(values) / 3"))
    write("carol.ipynb", with_answers(student, "return x * x", "return 1 / 0",
                                      extra='raise RuntimeError("a cell that fails")'))
    write("dave.ipynb", with_answers(student, "return x * x", "return 1.0",
                                     extra="while True:\n    pass"))
    (folder / "erin.ipynb").write_bytes(b"")
    write("frank - final (2).ipynb", with_answers(student, "return x * x", "return sum(values) / len(values)"))
    (folder / "gina.pdf").write_bytes(b"%PDF-1.4 not a notebook")
    (folder / "hugo").mkdir()  # a folder without a notebook
    before = file_hashes(folder)
    out = tmp_path_factory.mktemp("out") / "grades.csv"
    # two at a time: the rows must be the same as one at a time, in the submissions' order
    rows = grading.grade_folder(folder, SOURCE, out, timeout=TIMEOUT, progress=False,
                                unconfined=UNCONFINED, jobs=2)
    after = file_hashes(folder)
    return {"rows": rows, "csv": out, "before": before, "after": after, "student": student}


def points(graded, student):
    return {r.question: r.points for r in graded["rows"] if r.student == student}


def reasons(graded, student):
    return {r.question: r.reason for r in graded["rows"] if r.student == student}


@pytest.mark.parametrize("student, expected", [
    ("alice", {"q1_square": 2, "q2_mean": 2}),
    ("bob", {"q1_square": 2, "q2_mean": 1}),
    ("carol", {"q1_square": 2, "q2_mean": 0}),
    ("dave", {"q1_square": 0, "q2_mean": 0}),
    ("erin", {"q1_square": 0, "q2_mean": 0}),
    ("frank - final (2)", {"q1_square": 2, "q2_mean": 2}),
    ("gina", {"q1_square": 0, "q2_mean": 0}),
    ("hugo", {"q1_square": 0, "q2_mean": 0}),
])
def test_each_submission_gets_the_points_it_earned(graded, student, expected):
    assert points(graded, student) == expected


def test_each_shortfall_has_a_reason(graded):
    assert reasons(graded, "alice") == {"q1_square": "all tests passed", "q2_mean": "all tests passed"}
    # the probe of [1, 2, 3] passes; the one of three random lengths fails on at least two of them
    assert re.fullmatch(r"result\[[012]\]: wrong value\(s\)", reasons(graded, "bob")["q2_mean"])
    assert "ZeroDivisionError" in reasons(graded, "carol")["q2_mean"]
    assert reasons(graded, "dave")["q1_square"] == f"timed out after {TIMEOUT} s"
    assert reasons(graded, "erin")["q1_square"] == "empty file"
    assert reasons(graded, "gina")["q1_square"].startswith("not a Jupyter notebook")
    assert reasons(graded, "hugo")["q1_square"] == "0 notebooks in the folder, expected 1"


def test_the_csv_holds_every_row(graded):
    with open(graded["csv"]) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == grading.RESULT_FIELDS
    assert len(rows) == 8 * 2
    bob = {r["question"]: (r["points"], r["max_points"]) for r in rows if r["student"] == "bob"}
    assert bob == {"q1_square": ("2", "2"), "q2_mean": ("1", "2")}


def test_submissions_are_never_modified(graded):
    assert graded["before"] == graded["after"]


def test_summary_lists_totals(graded):
    text = grading.summary(graded["rows"])
    assert "alice" in text and "4 / 4" in text
    assert "8 submissions, mean" in text


def test_check_passes_the_solution_and_fails_a_broken_one(tmp_path, capsys):
    assert grading.check([SOURCE], timeout=TIMEOUT, unconfined=UNCONFINED)
    broken = nbformat.read(SOURCE, as_version=4)
    for cell in broken.cells:
        if cell.cell_type == "code" and cell.source.startswith("def mean_of"):
            cell.source = cell.source.replace("math.fsum(values) / len(values)", "0")
    path = tmp_path / SOURCE.name
    nbformat.write(broken, path)
    assert not grading.check([path], timeout=TIMEOUT, unconfined=UNCONFINED)
    out = capsys.readouterr().out
    assert "FAIL grading_demo q2_mean" in out and "public test failed" in out, out


@pytest.mark.skipif(UNCONFINED, reason="needs bubblewrap")
def test_grading_works_with_the_virtual_environment_under_tmp(tmp_path):
    """The course installed under /tmp (CI that clones there, an instructor's scratch copy):
    the sandboxed user must reach the venv through a parent folder that mkdtemp made 0700.
    A venv without pip under a fresh /tmp folder, seeing this venv's packages through a
    .pth file, runs `course check` on the demo."""
    import subprocess
    import sys
    import sysconfig
    import tempfile
    from pathlib import Path

    root = Path(grading.__file__).resolve().parents[1]   # where this process imports the course from
    outer = Path(tempfile.mkdtemp(dir="/tmp"))       # 0700, as a CI clone's folder is
    try:
        venv = outer / "course" / ".venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        site = next(venv.glob("lib/python*/site-packages"))
        # the course first (as in this process: an installed copy may lack pyproject.toml),
        # then this environment's packages
        (site / "course_under_test.pth").write_text(
            f"{root}\n{sysconfig.get_paths()['purelib']}\n")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-c",
             "import sys; from pathlib import Path; from instructor import grading; "
             "print(sys.prefix); "
             f"sys.exit(0 if grading.check([Path({str(SOURCE)!r})], timeout={TIMEOUT}) else 1)"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert done.stdout.splitlines()[0] == str(venv)
    finally:
        import shutil
        shutil.rmtree(outer, ignore_errors=True)


def test_an_interrupted_batch_keeps_its_rows_and_resumes_without_regrading(graded, tmp_path, monkeypatch):
    """Rows are written as each student is graded; Ctrl+C (KeyboardInterrupt) at the second
    submission keeps the first; --resume grades the rest with the same seed, nobody twice."""
    folder = tmp_path / "subs"
    folder.mkdir()
    for name, mean in (("ann", "return sum(values) / len(values)"), ("ben", "return sum(values) / 3"),
                       ("cat", "return 0.0")):
        nbformat.write(with_answers(graded["student"], "return x * x", mean), folder / f"{name}.ipynb")
    out = tmp_path / "grades.csv"
    real_run, graded_names, interrupt = grading.run_notebook, [], [True]

    def run_once(nb, *args, **kwargs):
        if any("return 0.0" in c.source for c in nb.cells) and interrupt[0]:
            raise KeyboardInterrupt              # the instructor's Ctrl+C during cat
        graded_names.append(nb)
        return real_run(nb, *args, **kwargs)

    monkeypatch.setattr(grading, "run_notebook", run_once)
    with pytest.raises(KeyboardInterrupt):
        grading.grade_folder(folder, SOURCE, out, timeout=TIMEOUT, progress=False,
                             unconfined=UNCONFINED)
    with open(out, newline="") as f:
        first = list(csv.DictReader(f))
    assert {r["student"] for r in first} == {"ann", "ben"}
    seed = __import__("json").loads(out.with_name("grades.csv.batch.json").read_text())["seed"]
    interrupt[0] = False                      # cat runs normally from now on
    calls_before = len(graded_names)
    rows = grading.grade_folder(folder, SOURCE, out, timeout=TIMEOUT, progress=False,
                                unconfined=UNCONFINED, resume=True)
    # only the reference and cat ran again
    assert len(graded_names) - calls_before == 2
    assert {(r.student, r.question): r.points for r in rows} == {
        ("ann", "q1_square"): 2, ("ann", "q2_mean"): 2, ("ben", "q1_square"): 2,
        ("ben", "q2_mean"): 1, ("cat", "q1_square"): 2, ("cat", "q2_mean"): 0}
    with open(out, newline="") as f:
        assert len(list(csv.DictReader(f))) == 6
    assert __import__("json").loads(out.with_name("grades.csv.batch.json").read_text())["seed"] == seed
    with pytest.raises(SystemExit, match="seed is recorded"):
        grading.grade_folder(folder, SOURCE, out, seed=seed + 1, progress=False,
                             unconfined=UNCONFINED, resume=True)


def test_a_failure_the_grader_did_not_foresee_costs_only_that_student(graded, tmp_path, monkeypatch):
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in ("amy", "bo"):
        nbformat.write(with_answers(graded["student"], "return x * x",
                                    "return sum(values) / len(values)"), folder / f"{name}.ipynb")
    real_score = grading.score

    def score(student, *args):                  # e.g. a comparison that recursed too deeply
        if student == "amy":
            raise RecursionError("maximum recursion depth exceeded")
        return real_score(student, *args)

    monkeypatch.setattr(grading, "score", score)
    rows = grading.grade_folder(folder, SOURCE, tmp_path / "g.csv", timeout=TIMEOUT,
                                progress=False, unconfined=UNCONFINED)
    got = {(r.student, r.question): (r.points, r.reason) for r in rows}
    assert got[("bo", "q2_mean")] == (2, "all tests passed")
    assert got[("amy", "q1_square")] == (
        0, "the grader could not grade this submission (RecursionError); ask your instructor")


def test_rows_come_in_the_submissions_order(graded):
    students = list(dict.fromkeys(r.student for r in graded["rows"]))
    assert students == sorted(students, key=str) == ["alice", "bob", "carol", "dave", "erin",
                                                     "frank - final (2)", "gina", "hugo"]


def test_reports_for_students_the_gradebook_and_the_class(graded, tmp_path):
    paths = grading.write_reports(graded["rows"], tmp_path / "grades.csv", "grading_demo")
    with open(paths["gradebook"], newline="") as f:
        book = {r["student"]: r for r in csv.DictReader(f)}
    assert len(book) == 8
    assert (book["bob"]["total"], book["bob"]["max_total"], book["bob"]["q2_mean"]) == ("3", "4", "1")
    bob = (paths["feedback"] / "bob.md").read_text()
    assert "**3 of 4 points.**" in bob and "| q2_mean | 1 / 2 | result[" in bob
    assert "not the public tests" in bob
    assert (paths["feedback"] / "frank - final (2).md").is_file()
    report = paths["report"].read_text()
    assert "8 submissions." in report and "## q1_square (2 points)" in report
    assert "Full points: 4 of 8." in report        # alice, bob, carol, frank
    assert "× timed out after" in report and "Nobody earned" not in report


def test_default_jobs_fit_the_cores_and_the_memory(monkeypatch):
    monkeypatch.setattr(grading.os, "sched_getaffinity", lambda _: set(range(16)))
    limits = sandbox.Limits()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert grading.default_jobs(limits) == max(1, min(16, memory // limits.memory_bytes))
    monkeypatch.setattr(grading.os, "sched_getaffinity", lambda _: {0})
    assert grading.default_jobs(limits) == 1


def test_questions_of_reads_names_and_points():
    qs = grading.questions_of(nbformat.read(SOURCE, as_version=4))
    assert [(q.name, q.points) for q in qs] == [("q1_square", 2.0), ("q2_mean", 2.0)]


def test_students_see_which_public_tests_pass(graded, tmp_path):
    """The student version alone runs its public checks in a Jupyter kernel (utils/check.py,
    no otter-grader), writes no files, and shows which question passed and why one did not."""
    from nbclient import NotebookClient

    nb = with_answers(graded["student"], "return x * x", "return 0")
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("grader.check("):
            text = " ".join(str(o.get("data", {}).get("text/plain", o.get("text", ""))) for o in cell.outputs)
            outputs[cell.source.split('"')[1]] = text
    assert outputs["q1_square"].startswith("q1_square: passed (1 public test")
    assert outputs["q2_mean"].startswith("q2_mean: 0 of 1 public test passed.")
    assert "test 1 failed: assert mean_of([1, 2, 3]) == 2" in outputs["q2_mean"]
    assert list(tmp_path.iterdir()) == []


def test_without_a_sandbox_grading_stops_unless_asked(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "available", lambda: "bubblewrap is not installed")
    (tmp_path / "subs").mkdir()
    with pytest.raises(SystemExit, match="--unconfined"):
        grading.grade_folder(tmp_path / "subs", SOURCE, tmp_path / "g.csv", progress=False)
    assert grading.require_sandbox(unconfined=True) is False


def test_unconfined_grading_keeps_the_trusted_comparison(graded, tmp_path):
    """Without the sandbox's walls, verdicts still come from comparing plain answers."""
    folder = tmp_path / "subs"
    folder.mkdir()
    nbformat.write(with_answers(graded["student"], "return x * x", "return sum(values) / 3"),
                   folder / "bob.ipynb")
    nbformat.write(with_answers(graded["student"], "return None", "return None",
                                extra="import numpy as np\nnp.allclose = lambda *a, **k: True"),
                   folder / "mallory.ipynb")
    rows = grading.grade_folder(folder, SOURCE, tmp_path / "g.csv", timeout=TIMEOUT,
                                progress=False, unconfined=True)
    got = {(r.student, r.question): r.points for r in rows}
    assert got == {("bob", "q1_square"): 2, ("bob", "q2_mean"): 1,
                   ("mallory", "q1_square"): 0, ("mallory", "q2_mean"): 0}
