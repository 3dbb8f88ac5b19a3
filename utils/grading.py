"""Batch grading of student notebooks with otter-grader, safely (instructors; issue "exercises
that grade themselves").

Every submission is copied into a fresh temporary folder and graded there by
``otter run`` in its own process, with a wall-clock limit; the submission itself is
only read. A submission that raises, hangs, is empty, is renamed or is not a notebook
gets the points it earned (or 0) and a reason, and never stops the batch.

Otter's ``otter grade`` needs Docker, which the course does not assume; ``otter run``
grades in the current environment. It is not a sandbox: untrusted code runs as the
grading user, confined only to a temporary working folder, a temporary ``HOME`` and
a time limit. Grade on a machine or account you can afford to lose.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .course import first_line, make_student_version
from .data import keras_cache_dir

RESULT_FIELDS = ["student", "question", "points", "max_points", "reason"]


@dataclass
class Question:
    name: str
    points: float


@dataclass
class Row:
    student: str
    question: str
    points: float
    max_points: float
    reason: str


def zero_rows(student: str, questions: list[Question], reason: str) -> list[Row]:
    """No points on every question, for one reason (a submission that could not run)."""
    return [Row(student, q.name, 0.0, q.points, reason) for q in questions]


def questions_of(source_nb) -> list[Question]:
    """The questions of an otter source notebook, in order, with their points."""
    questions = []
    for cell in source_nb.cells:
        if cell.cell_type == "raw" and first_line(cell).startswith("# BEGIN QUESTION"):
            name = re.search(r"^\s*name:\s*(\S+)", cell.source, flags=re.M)
            points = re.search(r"^\s*points:\s*([\d.]+)", cell.source, flags=re.M)
            if not name:
                raise ValueError(f"a BEGIN QUESTION cell has no name: {cell.source!r}")
            questions.append(Question(name.group(1), float(points.group(1)) if points else 1.0))
    return questions


def build_autograder(source: Path, out: Path) -> Path:
    """Run ``otter assign`` (the source's config must say ``generate: true``); return the zip."""
    make_student_version(source, out)
    zips = sorted((out / source.stem / "autograder").glob("*.zip"))
    if not zips:
        raise RuntimeError(f"otter assign made no autograder zip for {source.name}")
    return zips[-1]


def _kill_tree(proc: subprocess.Popen) -> None:
    """Kill a process and all its descendants (Jupyter starts kernels in their own session)."""
    import psutil

    try:
        parent = psutil.Process(proc.pid)
        family = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for p in family:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)


def _not_a_notebook(path: Path) -> str | None:
    """Why ``path`` cannot be graded as a notebook, or None when it can."""
    if path.stat().st_size == 0:
        return "empty file"
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # not JSON, not nbformat, binary ...
        return f"not a Jupyter notebook ({type(err).__name__})"
    if not any(c.cell_type == "code" and c.source.strip() for c in nb.cells):
        return "notebook has no code"
    return None


def _failure_reason(output: str) -> str:
    """A one-line reason from otter's test output."""
    lines = [l.strip() for l in output.splitlines() if l.strip()]
    errors = [l for l in lines if re.match(r"^\w*(Error|Exception)\b", l)]
    detail = errors[-1] if errors else (lines[-1] if lines else "tests failed")
    return detail[:200]


def grade_submission(path: Path, autograder: Path, questions: list[Question], student: str,
                     timeout: float = 600, size: str = "fast") -> list[Row]:
    """Grade one submission; always returns one row per question, never raises for
    anything the submission did."""
    problem = _not_a_notebook(path)
    if problem:
        return zero_rows(student, questions, problem)

    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        tmp = Path(tmp)
        work = tmp / "work"
        work.mkdir()
        submission = work / "submission.ipynb"   # a fixed name: renamed files grade the same
        shutil.copyfile(path, submission)        # contents only; the original is never touched
        results_dir = tmp / "results"
        results_dir.mkdir()
        env = {**os.environ, "HOME": str(tmp), "COURSE_SIZE": size,
               "KERAS_HOME": str(keras_cache_dir()), "MPLBACKEND": "Agg",
               "PYTHONDONTWRITEBYTECODE": "1"}
        cmd = [sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(autograder),
               "-o", str(results_dir), str(submission)]
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            log, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)
            proc.communicate()
            return zero_rows(student, questions, f"timed out after {timeout:g} s")
        results_file = results_dir / "results.json"
        if not results_file.exists():
            tail = " ".join((log or "").strip().splitlines()[-2:])[:200]
            return zero_rows(student, questions, f"grader could not run the notebook: {tail or 'no output'}")
        tests = json.loads(results_file.read_text()).get("tests", [])

    by_name = {t.get("name"): t for t in tests}
    rows = []
    for q in questions:
        test = by_name.get(q.name)
        if test is None:
            rows.append(Row(student, q.name, 0.0, q.points, "question not found by the grader"))
            continue
        score = float(test.get("score") or 0.0)
        reason = "all tests passed" if score >= q.points else _failure_reason(test.get("output", ""))
        rows.append(Row(student, q.name, score, q.points, reason))
    return rows


def submissions_in(folder: Path) -> list[tuple[str, Path | None, str]]:
    """(student, notebook, problem) for each entry of a submissions folder.

    A file is one student's submission (student = file name without extension); a
    sub-folder is one student's folder and must hold exactly one ``.ipynb``.
    """
    entries = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            entries.append((entry.stem, entry, ""))
        elif entry.is_dir():
            notebooks = sorted(entry.rglob("*.ipynb"))
            notebooks = [n for n in notebooks if ".ipynb_checkpoints" not in n.parts]
            if len(notebooks) == 1:
                entries.append((entry.name, notebooks[0], ""))
            else:
                entries.append((entry.name, None, f"{len(notebooks)} notebooks in the folder, expected 1"))
    return entries


def grade_folder(folder: Path, source: Path, csv_path: Path, timeout: float = 600,
                 size: str = "fast", progress: bool = True) -> list[Row]:
    """Grade every submission in ``folder`` against the source notebook ``source``.

    Writes ``csv_path`` (student, question, points, max_points, reason) and returns
    the rows. The autograder is built afresh from ``source`` in a temporary folder.
    """
    from tqdm.auto import tqdm

    folder, source = Path(folder), Path(source)
    if not folder.is_dir():
        raise FileNotFoundError(f"no submissions folder at {folder}")
    questions = questions_of(nbformat.read(source, as_version=4))
    if not questions:
        raise ValueError(f"{source.name} has no questions to grade")
    entries = submissions_in(folder)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="course-autograder-") as build:
        autograder = build_autograder(source, Path(build))
        for student, path, problem in tqdm(entries, desc="grading", unit="submission",
                                           disable=not progress):
            if path is None:
                rows += zero_rows(student, questions, problem)
            else:
                rows += grade_submission(path, autograder, questions, student, timeout, size)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(RESULT_FIELDS)
        for r in rows:
            writer.writerow([r.student, r.question, f"{round(r.points, 2):g}", f"{r.max_points:g}", r.reason])
    return rows


def summary(rows: list[Row]) -> str:
    """A printable table: one line per student with total points and the first problem."""
    students: dict[str, list[Row]] = {}
    for r in rows:
        students.setdefault(r.student, []).append(r)
    if not students:
        return "no submissions"
    width = max(len(s) for s in students) + 2
    lines = [f"{'student':<{width}}{'points':>12}  note"]
    for student, rs in students.items():
        got, total = sum(r.points for r in rs), sum(r.max_points for r in rs)
        note = next((f"{r.question}: {r.reason}" for r in rs if r.points < r.max_points), "")
        lines.append(f"{student:<{width}}{round(got, 2):>6g} / {total:<3g}  {note}")
    totals = [sum(r.points for r in rs) for rs in students.values()]
    lines.append(f"{len(students)} submissions, mean {sum(totals) / len(totals):.2f} points")
    return "\n".join(lines)
