"""The ``course`` command for instructors: student versions, checks, grading, slides, upkeep.

    course student [NOTEBOOK ...] [--out dist]   student versions and autograder bundles
    course check [NOTEBOOK ...]                  every solution passes its public tests and its probes
    course grade SUBMISSIONS --lesson NN          grade a folder of submitted notebooks into a CSV
    course gradescope NN [--out DIR]             a Gradescope autograder (autograder.zip) for a lesson
    course sync                                  rewrite setup cells and Colab badges from the repo URL
    course site [--out dist/site]                the course website (see instructor/site.py)
    course slides [NOTEBOOK ...] [--out dist/slides] [--live DIR]
                                                 one reveal.js deck per lesson (instructor.slides)

Source notebooks are otter-grader "assign" notebooks: exercises sit between
``# BEGIN QUESTION`` / ``# END QUESTION`` raw cells, reference solutions between
``# BEGIN SOLUTION`` / ``# END SOLUTION`` markers, and tests between
``# BEGIN TESTS`` / ``# END TESTS``. A test cell whose first line is ``# HIDDEN`` is a
probe for the grader only (see :mod:`instructor.grading`); the others are public tests
that students run with ``grader.check``. :mod:`instructor.assignment` reads that format
for every command; this module is only the command line and the student versions, and no
other module imports it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

# The lesson format (instructor.assignment) and the checkout (instructor.repo) are read
# there; their names stay importable from here, where they used to live.
from .assignment import (CHECK_INIT_MARKER, OTTER_INIT_MARKER, SETUP_MARKER,  # noqa: F401
                         find_leaks, first_code_cell, first_line, is_assignment, public_tests,
                         secret_lines, text_lines)
from .repo import (COLAB_BADGE_RE, COLAB_PREFIX, colab_base, find_lesson,  # noqa: F401
                   lesson_notebooks, repo_root, repository_url)
from .repo import shown as _shown
from .assignment import SETUP, FormatError, otter_source, questions_of, walk


# ---------------------------------------------------------------- setup cell
def setup_cell_source(url: str) -> str:
    """The first code cell of every lesson, for the repository at ``url``.

    On Colab it installs the course's helper package, without extras, beside Colab's own
    packages: pip adds only what is missing (LIME, the package itself) and changes none
    of the versions Colab ships (``make test-colab`` checks that against Colab's pins).
    """
    return f'''{SETUP_MARKER}: on Colab, install the course's helper package;
# then print versions and hardware, seed all randomness and read the run size.
import os
import sys

if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "cnn-keras-course @ git+{url}"], check=True)
elif os.path.isdir(os.path.join("..", "utils")):
    sys.path.insert(0, os.path.abspath(".."))  # a clone used without `pip install -e .`

from utils import by_size, setup_notebook

SIZE = setup_notebook()'''


def sync(root: Path) -> list[Path]:
    """Rewrite every lesson's setup cell and all Colab badges from the repository URL."""
    url = repository_url(root)
    base = colab_base(url)
    changed = []
    for path in lesson_notebooks(root):
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        i = next((part.index for part in walk(nb) if part.role == SETUP), None)
        if i is None:
            raise SystemExit(f"course sync: the first code cell of {path.name} is not the setup cell")
        nb.cells[i].source = setup_cell_source(url)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = COLAB_BADGE_RE.sub(base, cell.source)
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
            changed.append(path)
    readme = root / "README.md"
    text = readme.read_text()
    new = COLAB_BADGE_RE.sub(base, text)
    if new != text:
        readme.write_text(new)
        changed.append(readme)
    return changed


# ----------------------------------------------------------- student version
def _python_string(text: str) -> str:
    """A readable Python literal for ``text`` (triple-quoted when that is exact)."""
    if "'''" not in text and "\\" not in text and not text.endswith("'"):
        return "'''" + text + "'''"
    return repr(text)


def student_init_cell(tests: dict[str, list[str]], rules: dict | None = None) -> str:
    """Source of the student version's check cell, with the public tests inline.

    ``grader.check(name)`` then runs a question's public tests with :mod:`utils.check`,
    which needs nothing beyond the course's helper package: no otter-grader on Colab.
    ``rules`` (``{question: {"answer": [...], "forbid": [...]}}``, only for questions with a
    ``forbid`` rule) lets it check the stated rule too, as the grader will.
    """
    entries = "".join(
        f"    {name!r}: [\n" + "".join(f"        {_python_string(text)},\n" for text in texts) + "    ],\n"
        for name, texts in tests.items())
    if not rules:
        return (
            f"{CHECK_INIT_MARKER}: grader.check(...) runs this lesson's public tests, here and on Colab.\n"
            "from utils.check import Notebook\n\n"
            f"PUBLIC_TESTS = {{\n{entries}}}\n"
            "grader = Notebook(PUBLIC_TESTS)"
        )
    rule_entries = "".join(f"    {name!r}: {rule!r},\n" for name, rule in rules.items())
    return (
        f"{CHECK_INIT_MARKER}: grader.check(...) runs this lesson's public tests, here and on Colab,\n"
        "# and checks the exercises' stated rules (names an answer must not use), as the grader does.\n"
        "from utils.check import Notebook\n\n"
        f"PUBLIC_TESTS = {{\n{entries}}}\n"
        f"RULES = {{\n{rule_entries}}}\n"
        "grader = Notebook(PUBLIC_TESTS, RULES)"
    )


def _replace_otter_init(nb, source_nb, source: Path) -> None:
    """Put the course's own check cell right after the setup cell, in place of otter's
    init cell (which otter puts first and which would need otter-grader installed).

    The new cell holds the source notebook's public tests, so ``grader.check`` works from
    the student's notebook alone, also on Colab.
    """
    init = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(OTTER_INIT_MARKER)]
    if not init:
        raise SystemExit(f"course student: otter made no init cell for {source.name}")
    tests = public_tests(source_nb)
    if not tests or not all(tests.values()):
        missing = [name for name, texts in tests.items() if not texts]
        raise SystemExit(f"course student: {source.name} has questions without public tests: {missing}")
    checks = set(re.findall(r"grader\.check\(\s*['\"]([^'\"]+)['\"]", "\n".join(
        c.source for c in nb.cells if c.cell_type == "code")))
    if checks - set(tests):
        raise SystemExit(f"course student: {source.name} calls grader.check on questions "
                         f"without public tests: {sorted(checks - set(tests))}")
    cell = init[0]
    nb.cells = [c for c in nb.cells if c is not cell]
    rules = {q.name: {"answer": list(q.answer), "forbid": list(q.forbid)}
             for q in questions_of(source_nb) if q.forbid}
    cell.source = student_init_cell(tests, rules)
    nb.cells.insert(first_code_cell(nb) + 1, cell)


def make_student_version(source: Path, out: Path) -> Path:
    """Run ``otter assign`` on one source notebook; return the student notebook's path.

    Writes ``out/<stem>/student/`` and ``out/<stem>/autograder/``, and raises if
    the student version holds any line of a solution or hidden test.
    """
    dest = out / source.stem
    if dest.exists():
        shutil.rmtree(dest)
    source_nb = nbformat.read(source, as_version=4)
    with tempfile.TemporaryDirectory(prefix="course-student-") as tmp:
        readable = Path(tmp) / source.name       # without the course's own `forbid` keys
        nbformat.write(otter_source(source_nb), readable)
        cmd = [sys.executable, "-m", "otter", "assign", str(readable), str(dest),
               "--no-run-tests", "--no-pdfs"]
        result = subprocess.run(cmd, capture_output=True, text=True)
    student = dest / "student" / source.name
    if result.returncode != 0 or not student.exists():
        raise SystemExit(f"course student: otter assign failed on {source.name}:\n"
                         f"{result.stdout}\n{result.stderr}")
    # otter's public test files: the student notebook carries its tests itself.
    shutil.rmtree(dest / "student" / "tests", ignore_errors=True)
    nb = nbformat.read(student, as_version=4)
    _replace_otter_init(nb, source_nb, source)
    nbformat.write(nb, student)
    leaks = find_leaks(source_nb, nb)
    if leaks:
        raise SystemExit(f"course student: {student} leaks solution lines: {leaks[:5]}")
    return student


# ----------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    """The command line's arguments, one sub-parser per subcommand."""
    parser = argparse.ArgumentParser(prog="course", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_student = sub.add_parser("student", help="generate student versions and autograder bundles")
    p_student.add_argument("notebooks", nargs="*", type=Path,
                           help="source notebooks (default: every lesson with exercises)")
    p_student.add_argument("--out", type=Path, default=None, help="output folder (default: dist/)")
    p_check = sub.add_parser("check", help="check that every solution passes all its tests")
    p_check.add_argument("notebooks", nargs="*", type=Path,
                         help="source notebooks (default: every lesson with exercises)")
    p_check.add_argument("--timeout", type=float, default=900, help="seconds per notebook")
    p_check.add_argument("--once", action="store_true",
                         help="run each solution once, not twice (half the time; does not check "
                              "that the probes are deterministic)")
    p_check.add_argument("--unconfined", action="store_true",
                         help="run without the sandbox where bubblewrap is missing (see README)")
    p_grade = sub.add_parser("grade", help="grade a folder of submitted notebooks")
    p_grade.add_argument("submissions", type=Path,
                         help="folder with one notebook per student (or one sub-folder per student)")
    p_grade.add_argument("--lesson", required=True,
                         help='the lesson: number ("01"), name, or a source notebook path')
    p_grade.add_argument("--out", type=Path, default=Path("grades.csv"), help="CSV to write")
    p_grade.add_argument("--timeout", type=float, default=600, help="seconds per submission")
    p_grade.add_argument("--size", choices=("fast", "full"), default="fast",
                         help="run size for submissions (exercise tests do not depend on it)")
    p_grade.add_argument("--jobs", type=int, default=None,
                         help="submissions graded at once (default: what this machine's cores "
                              "and memory hold at the sandbox's memory limit)")
    p_grade.add_argument("--resume", action="store_true",
                         help="continue an interrupted batch into the same --out CSV (same seed; "
                              "students already graded are not graded again)")
    p_grade.add_argument("--unconfined", action="store_true",
                         help="grade without the sandbox where bubblewrap is missing: students' "
                              "code can then read and write what you can (see README)")
    p_gs = sub.add_parser("gradescope", help="a Gradescope autograder (autograder.zip) for one lesson")
    p_gs.add_argument("lesson", help='the lesson: number ("01"), name, or a source notebook path')
    p_gs.add_argument("--out", type=Path, default=None,
                      help="folder for autograder.zip (default: dist/gradescope/<lesson>/)")
    p_gs.add_argument("--timeout", type=float, default=600,
                      help="seconds per run in the container (the reference and the submission each)")
    p_gs.add_argument("--visibility", default="visible",
                      choices=("visible", "hidden", "after_due_date", "after_published"),
                      help="when students see each question's result on Gradescope")
    sub.add_parser("sync", help="rewrite setup cells and Colab badges from pyproject's URL")
    p_site = sub.add_parser("site", help="build the course website (lessons without solutions)")
    p_site.add_argument("--out", type=Path, default=None, help="output folder (default: dist/site)")
    p_slides = sub.add_parser("slides", help="one reveal.js deck per lesson, from its stored outputs")
    p_slides.add_argument("notebooks", nargs="*", type=Path,
                          help="source notebooks (default: every lesson)")
    p_slides.add_argument("--out", type=Path, default=None,
                          help="output folder (default: dist/slides/)")
    p_slides.add_argument("--solutions", action="store_true",
                          help="show the reference solutions (default: the student's skeleton)")
    p_slides.add_argument("--live", type=Path, default=None, metavar="DIR",
                          help="also write each lesson with computed slide metadata into DIR, "
                               "to present and run live with RISE in JupyterLab")
    return parser


def _exercise_lessons(args, root: Path) -> list[Path]:
    """The notebooks named on the command line, else every lesson with exercises."""
    return args.notebooks or [p for p in lesson_notebooks(root)
                              if is_assignment(nbformat.read(p, as_version=4))]


def run_student(args, root: Path) -> int:
    out = args.out or root / "dist"
    for source in _exercise_lessons(args, root):
        student = make_student_version(source, out)
        bundle = sorted((out / source.stem / "autograder").glob("*.zip"))
        print(f"course student: {source.name} -> {_shown(student)}"
              + (f"\n                autograder bundle: {_shown(bundle[-1])}" if bundle else ""))
    return 0


def run_check(args, root: Path) -> int:
    from . import grading

    return 0 if grading.check_solutions(_exercise_lessons(args, root), args.timeout,
                                        unconfined=args.unconfined, twice=not args.once) else 1


def run_grade(args, root: Path) -> int:
    from . import grading

    source = find_lesson(root, args.lesson)
    jobs = args.jobs or grading.default_jobs()
    rows = grading.grade_folder(args.submissions, source, args.out, args.timeout, args.size,
                                unconfined=args.unconfined, resume=args.resume, jobs=jobs)
    print(grading.summary(rows))
    print(f"course grade: {len(rows)} rows written to {args.out} ({jobs} at once)")
    for kind, path in grading.write_reports(rows, args.out, source.stem).items():
        print(f"course grade: {kind}: {path}")
    return 0


def run_gradescope(args, root: Path) -> int:
    from . import gradescope

    source = find_lesson(root, args.lesson)
    zip_path = gradescope.build(source, args.out or root / "dist" / "gradescope" / source.stem,
                                timeout=args.timeout, visibility=args.visibility)
    print(f"course gradescope: {source.name} -> {_shown(zip_path)} (upload it as the "
          "assignment's autograder; see README, 'Grading on Gradescope')")
    return 0


def run_sync(args, root: Path) -> int:
    changed = sync(root)
    print(f"course sync: {len(changed)} file(s) updated" +
          "".join(f"\n  {p.relative_to(root)}" for p in changed))
    return 0


def run_site(args, root: Path) -> int:
    from . import site

    out = args.out or root / "dist" / "site"
    seconds = site.build(root, out)
    print(f"course site: {len(lesson_notebooks(root))} lessons -> "
          f"{_shown(out / 'index.html')} in {seconds:.0f} s")
    return 0


def run_slides(args, root: Path) -> int:
    import time

    from . import slides

    start = time.perf_counter()
    out = args.out or root / "dist" / "slides"
    decks = slides.build_all(args.notebooks or lesson_notebooks(root), out,
                             solutions=args.solutions)
    for deck in decks:
        print(f"course slides: {_shown(deck)}")
    if args.live:
        for path in slides.write_live(args.notebooks or lesson_notebooks(root), args.live,
                                      solutions=args.solutions):
            print(f"course slides: {_shown(path)} (for RISE)")
    print(f"course slides: {len(decks)} deck(s) in {time.perf_counter() - start:.1f} s; "
          f"open {_shown(out / 'index.html')} (offline: reveal.js is in {_shown(out / '_static')})")
    return 0


COMMANDS = {"student": run_student, "check": run_check, "grade": run_grade,
            "gradescope": run_gradescope, "sync": run_sync, "site": run_site,
            "slides": run_slides}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args, repo_root())
    except FormatError as err:      # a lesson written outside the format
        raise SystemExit(f"course {args.command}: {err}") from None


if __name__ == "__main__":
    sys.exit(main())
