"""A Gradescope autograder for one lesson: ``course gradescope NN`` writes ``autograder.zip``.

Gradescope builds one container image from the zip (Ubuntu, root, with network: it runs
``setup.sh`` once), then grades each submission in a fresh container from that image: the
student's files are in ``/autograder/submission/``, the zip's contents in
``/autograder/source/``, and ``run_autograder`` must leave ``/autograder/results/results.json``.
So a class of any size is graded in parallel, one container per student.

What the zip holds, at its root::

    setup.sh               bubblewrap (apt), a Python 3.11-3.13 virtual environment in
                           /opt/course-venv with the course's packages (requirements.txt
                           pins, constraints.txt), then one unconfined run of the reference
                           solution so that every dataset it downloads lands in the Keras
                           cache (/opt/keras) that the sandbox later sees read-only
    run_autograder         for each submission: ``python -m instructor.gradescope run``
    gradescope.json        the lesson's notebook, time limit, run size, visibility
    grader-requirements.txt  what the grader needs: the course's dependencies and IPython
    requirements.txt, constraints.txt, pyproject.toml
    instructor/, utils/    the course's packages (Python files only)
    lesson/NN_....ipynb    the source notebook, WITH the solutions and the probes

Inside the container the course's separation holds as in ``course grade``: the student's
notebook runs only through :func:`instructor.grading.run_notebook`, in the bubblewrap
sandbox (user nobody, no network, no view of ``/autograder``), and the answers are compared
with the reference's in this process, on plain data (:func:`instructor.grading.score`).
Where bubblewrap cannot create namespaces (a container without the privilege), the
notebook runs unconfined (``run_notebook(confined=False)``, same comparison and limits) and
results.json's ``output`` says so.

The reference answers are computed **in the container, once per submission, with a fresh
seed** (after the student's notebook, and only when it gave answers): Gradescope keeps no state between submissions, and a fresh seed means fresh probe
inputs for every submission, so nothing a student learns from one run's feedback (an
error message that echoes an input, say) helps the next; the reference also runs with the
very library versions the student's notebook runs with. It costs one more run of the
lesson per submission (the time limit in gradescope.json applies to each run), the price of
needing no shared state and no precomputed answers that would fix every student's inputs.

Any failure becomes 0 points with a reason in results.json: a provisional results.json
(0 points, "did not finish") is written before anything runs, and ``run_autograder``
writes one itself if Python cannot even start.

``GRADESCOPE_ROOT`` (default ``/autograder``) moves the whole layout, for tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import stat
import sys
import time
import zipfile
from pathlib import Path

ROOT_ENV = "GRADESCOPE_ROOT"
DEFAULT_ROOT = "/autograder"
CONFIG = "gradescope.json"
VENV = "/opt/course-venv"
KERAS_CACHE = "/opt/keras"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
# Packages the grader needs beside the course's dependencies (the runner uses IPython).
GRADER_EXTRAS = ("ipython",)

SETUP_SH = f"""#!/usr/bin/env bash
# Gradescope runs this once, as root and with network, when it builds the autograder's image.
set -euo pipefail
SOURCE="${{GRADESCOPE_ROOT:-{DEFAULT_ROOT}}}/source"
cd "$SOURCE"
export DEBIAN_FRONTEND=noninteractive

# The sandbox for students' notebooks (without it, grading runs unconfined and says so).
apt-get update -q || true
apt-get install -y -q --no-install-recommends bubblewrap util-linux \\
    || echo "setup.sh: WARNING: bubblewrap could not be installed; submissions will run unconfined"

# A Python that TensorFlow and the course support: 3.11.4 to 3.13.
supported() {{ "$1" -c 'import sys; sys.exit(not ((3, 11, 4) <= sys.version_info[:3] < (3, 14)))' 2>/dev/null; }}
find_python() {{
    for p in python3.12 python3.13 python3.11 python3; do
        if command -v "$p" >/dev/null && supported "$(command -v "$p")"; then command -v "$p"; return 0; fi
    done
    return 1
}}
PY="$(find_python || true)"
if [ -z "$PY" ]; then
    apt-get install -y -q python3.12 python3.12-venv || apt-get install -y -q python3.11 python3.11-venv || true
    PY="$(find_python || true)"
fi
if [ -n "$PY" ] && ! "$PY" -m venv {VENV}; then
    # Ubuntu ships venv's ensurepip separately (python3.X-venv).
    rm -rf {VENV}
    apt-get install -y -q "python$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv" || true
    "$PY" -m venv {VENV} || PY=""
fi
if [ -z "$PY" ]; then
    # No suitable system Python (an older Ubuntu image): a standalone one through uv, kept
    # outside /root so that the sandbox's user can run it.
    rm -rf {VENV}
    apt-get install -y -q python3-pip || true
    python3 -m pip install -q uv || python3 -m pip install -q --break-system-packages uv
    UV_PYTHON_INSTALL_DIR=/opt/uv-python python3 -m uv venv --python 3.12 --seed {VENV}
    chmod -R a+rX /opt/uv-python
fi
{VENV}/bin/python -m pip install -q --upgrade pip
{VENV}/bin/python -m pip install -q -r grader-requirements.txt -c constraints.txt

# Run the reference solution once, unconfined and with network, so that every dataset and
# weight file the lesson downloads is in the Keras cache the sandbox sees (read-only).
mkdir -p {KERAS_CACHE}
KERAS_HOME={KERAS_CACHE} PYTHONPATH="$SOURCE" {VENV}/bin/python -m instructor.gradescope warm
chmod -R a+rX {KERAS_CACHE} {VENV}
"""

RUN_AUTOGRADER = f"""#!/usr/bin/env bash
# Gradescope runs this for every submission, as root, in a fresh container.
ROOT="${{GRADESCOPE_ROOT:-{DEFAULT_ROOT}}}"
PY="${{GRADESCOPE_PYTHON:-{VENV}/bin/python}}"
[ -x "$PY" ] || PY="$(command -v python3)"
if [ -z "${{KERAS_HOME:-}}" ] && [ -d {KERAS_CACHE} ]; then export KERAS_HOME={KERAS_CACHE}; fi
mkdir -p "$ROOT/results"
cd "$ROOT/source" && PYTHONPATH="$ROOT/source" "$PY" -m instructor.gradescope run
code=$?
if [ ! -s "$ROOT/results/results.json" ]; then
    # Python itself could not start or crashed before writing anything.
    printf '{{"score": 0, "output": "The autograder could not start (exit code %s); ask your instructor.", "stdout_visibility": "hidden", "tests": []}}\\n' "$code" > "$ROOT/results/results.json"
fi
exit 0
"""


# ------------------------------------------------------------------ building the zip
def _requirement_name(line: str) -> str:
    return re.split(r"[\s<>=!~\[;@]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")


def grader_requirements(root: Path) -> str:
    """requirements.txt's pins of the course's dependencies and the grader's extras: what a
    container needs to run lessons and grade them (no JupyterLab, Sphinx, otter, selenium)."""
    import tomllib

    with open(root / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    needed = {_requirement_name(d) for d in project["dependencies"]} | set(GRADER_EXTRAS)
    pins = {}
    for line in (root / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pins[_requirement_name(line)] = line.strip()
    lines = [pins.get(name, name) for name in sorted(needed)]
    return ("# What the Gradescope container installs (instructor/gradescope.py): the course's\n"
            "# dependencies and IPython, at requirements.txt's versions; constraints.txt pins the rest.\n"
            + "\n".join(lines) + "\n")


def _add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
    zf.writestr(info, data)


def build(source: Path, out: Path, *, timeout: float = 600, size: str = "fast",
          visibility: str = "visible", root: Path | None = None) -> Path:
    """Write ``out/autograder.zip`` for the source notebook ``source``; return its path.

    Checks first that the notebook is gradable (its questions and probes parse).
    """
    import nbformat

    from . import grading

    source, out = Path(source), Path(out)
    root = Path(root) if root else Path(__file__).resolve().parents[1]
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {VISIBILITIES}, not {visibility!r}")
    questions = grading.questions_of(nbformat.read(source, as_version=4))
    config = {"lesson": f"lesson/{source.name}", "timeout": timeout, "size": size,
              "visibility": visibility,
              "questions": [{"name": q.name, "points": q.points} for q in questions]}
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / "autograder.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        _add(zf, "setup.sh", SETUP_SH.encode(), executable=True)
        _add(zf, "run_autograder", RUN_AUTOGRADER.encode(), executable=True)
        _add(zf, CONFIG, (json.dumps(config, indent=1) + "\n").encode())
        _add(zf, "grader-requirements.txt", grader_requirements(root).encode())
        for name in ("requirements.txt", "constraints.txt", "pyproject.toml"):
            _add(zf, name, (root / name).read_bytes())
        for package in ("instructor", "utils"):
            for path in sorted((root / package).rglob("*.py")):
                if "__pycache__" not in path.parts:
                    _add(zf, path.relative_to(root).as_posix(), path.read_bytes())
        _add(zf, config["lesson"], source.read_bytes())
    return zip_path


# ------------------------------------------------------------- inside the container
def autograder_root() -> Path:
    return Path(os.environ.get(ROOT_ENV, DEFAULT_ROOT))


def _write_results(results: dict, root: Path) -> None:
    """results.json, replaced in one step (never half written)."""
    folder = root / "results"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".results.{os.getpid()}.json"
    tmp.write_text(json.dumps(results, indent=1, allow_nan=False) + "\n")
    os.replace(tmp, folder / "results.json")


def results_json(questions, rows, output: str, visibility: str = "visible",
                 seconds: float = 0.0, extra: dict | None = None) -> dict:
    """Gradescope's results format: one test per question (its points and the reason)."""
    by_question = {r.question: r for r in rows}
    tests = []
    for q in questions:
        row = by_question.get(q.name)
        points = round(float(row.points), 4) if row else 0.0
        tests.append({"name": q.name, "score": points, "max_score": float(q.points),
                      "status": "passed" if points >= q.points else "failed",
                      "output": row.reason if row else "not graded", "visibility": visibility})
    return {"score": round(sum(t["score"] for t in tests), 4), "execution_time": round(seconds),
            "output": output, "visibility": visibility, "stdout_visibility": "hidden",
            "extra_data": extra or {}, "tests": tests}


def find_submission(folder: Path, lesson_name: str) -> tuple[Path | None, str]:
    """The submitted notebook, or None and why: exactly one .ipynb, or the one named like the
    lesson among several."""
    notebooks = [p for p in sorted(folder.rglob("*.ipynb"))
                 if ".ipynb_checkpoints" not in p.parts and p.is_file()] if folder.is_dir() else []
    if len(notebooks) == 1:
        return notebooks[0], ""
    named = [p for p in notebooks if p.name == lesson_name]
    if len(named) == 1:
        return named[0], ""
    if not notebooks:
        return None, f"no notebook in your submission: upload your .ipynb file ({lesson_name})"
    return None, (f"{len(notebooks)} notebooks in your submission: upload only one "
                  f"({lesson_name})")


def grade(root: Path | None = None) -> dict:
    """Grade ``root/submission`` against the lesson in ``root/source``; write and return
    ``root/results/results.json``. Never raises: any failure is 0 points with the reason."""
    import nbformat

    from . import grading, sandbox

    root = Path(root) if root else autograder_root()
    start = time.monotonic()
    questions, visibility = [], "visible"
    try:
        config = json.loads((root / "source" / CONFIG).read_text())
        visibility = config.get("visibility", "visible")
        source = root / "source" / config["lesson"]
        source_nb = nbformat.read(source, as_version=4)
        questions = grading.questions_of(source_nb)
    except Exception as err:
        results = {"score": 0.0, "output": "The autograder is broken "
                   f"({type(err).__name__}); ask your instructor.", "stdout_visibility": "hidden",
                   "tests": []}
        print(f"gradescope: cannot read the autograder's configuration: {err!r}")
        _write_results(results, root)
        return results

    def finish(rows, output, extra=None):
        results = results_json(questions, rows, output, visibility,
                               time.monotonic() - start, extra)
        _write_results(results, root)
        print(f"gradescope: {results['score']:g} / {sum(q.points for q in questions):g} points")
        for test in results["tests"]:
            print(f"  {test['name']}: {test['score']:g} / {test['max_score']:g}  {test['output']}")
        return results

    # Before anything runs: a result that holds if this process dies without a word.
    _write_results(results_json(
        questions, grading.zero_rows("", questions, "the autograder did not finish; ask your instructor"),
        "The autograder did not finish grading this submission; ask your instructor.", visibility), root)
    extra = {}
    try:
        path, problem = find_submission(root / "submission", source.name)
        problem = problem or grading._not_a_notebook(path)
        if problem:
            return finish(grading.zero_rows("", questions, problem),
                          f"Your submission could not be graded: {problem}.")
        why_not = sandbox.available()
        confined = why_not is None
        note = ("Your notebook ran in a sandbox (no network, no access to the grader's files)."
                if confined else
                "Note: this container cannot run the grading sandbox "
                f"({why_not}); your notebook ran unconfined, graded the same way.")
        print(f"gradescope: {note}")
        probes = [p for q in questions for p in q.probes]
        seed = secrets.randbelow(2**31)
        extra = {"seed": seed, "confined": confined, "submission": path.name}
        timeout, size = float(config.get("timeout", 600)), config.get("size", "fast")
        submitted = nbformat.read(path, as_version=4)
        run = grading.run_notebook(submitted, probes, seed, size=size,
                                   timeout=timeout, confined=confined)
        total = f"{sum(q.points for q in questions):g}"
        if run.answers is None:   # nothing to compare: the reference need not run
            return finish(grading.zero_rows("", questions, run.reason),
                          f"{note} 0 / {total} points: your notebook did not finish ({run.reason}).",
                          extra)
        reference_nb, _ = grading.solution_notebook(source_nb)
        reference = grading.run_notebook(reference_nb, probes, seed, size=size, confined=confined,
                                         timeout=max(timeout, grading.REFERENCE_MIN_SECONDS))
        if reference.answers is None:
            print(f"gradescope: the reference solution did not run: {reference.reason}")
            return finish(grading.zero_rows("", questions, "the reference solution did not run in "
                                            "the autograder; ask your instructor"),
                          "The autograder failed (not your notebook); ask your instructor.", extra)
        rows = grading.score("", questions, run, reference, grading.rule_breaks(questions, submitted))
        got = sum(r.points for r in rows)
        return finish(rows, f"{note} {got:g} / {total} points.", extra)
    except BaseException as err:   # never leave without a results.json that says why
        print(f"gradescope: grading failed: {err!r}")
        return finish(grading.zero_rows("", questions, "the grader could not grade this "
                                        f"submission ({type(err).__name__}); ask your instructor"),
                      "The autograder failed (not necessarily your notebook); ask your instructor.",
                      extra)


def warm(root: Path | None = None) -> int:
    """setup.sh's last step: run the reference solution once, unconfined and online, so that
    what it downloads is cached in ``$KERAS_HOME`` for the sandboxed runs (which have no network)."""
    import nbformat

    from . import grading

    root = Path(root) if root else autograder_root()
    config = json.loads((root / "source" / CONFIG).read_text())
    source_nb = nbformat.read(root / "source" / config["lesson"], as_version=4)
    probes = [p for q in grading.questions_of(source_nb) for p in q.probes]
    reference = grading.run_notebook(grading.solution_notebook(source_nb)[0], probes,
                                     secrets.randbelow(2**31), size=config.get("size", "fast"),
                                     timeout=float(config.get("timeout", 600)) * 3, confined=False)
    if reference.answers is None:
        print(f"gradescope warm: the reference solution did not run: {reference.reason}")
        return 1
    failed = [pid for pid, a in reference.answers.items() if "result" not in a]
    print(f"gradescope warm: the reference solution ran in {reference.seconds:.0f} s"
          + (f"; probes without an answer: {failed}" if failed else ""))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor.gradescope",
                                     description="inside the Gradescope container")
    parser.add_argument("step", choices=("run", "warm"))
    args = parser.parse_args(argv)
    if args.step == "warm":
        return warm()
    grade()
    return 0


if __name__ == "__main__":
    sys.exit(main())
