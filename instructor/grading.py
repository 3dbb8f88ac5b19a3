"""Trusted batch grading: students' code runs in a sandbox, verdicts are computed outside it.

How a submission is graded (``course grade``):

1. The exercise's **probes** are the hidden test cells of the source notebook (first line
   ``# HIDDEN``). A probe is a few lines that call the student's functions or read the
   student's variables on inputs the grader chooses, through ``rng``, a NumPy generator
   seeded by the grader, and leave the answer in ``result``::

       # HIDDEN
       _lengths = rng.choice(9, size=3, replace=False) + 1   # three different lengths
       result = [mean_of(rng.normal(size=int(n)).tolist()) for n in _lengths]

   Inputs should leave a wrong answer no chance to pass: with one random length, a
   ``sum(values) / 3`` would pass whenever the length drawn is 3.

2. The submission runs in a sandbox (:mod:`instructor.sandbox`): its code cells in order,
   then the probes. Only plain data comes back (JSON: numbers, strings, lists, dicts,
   numeric arrays), from a sandbox that exited normally; anything else is 0 points with
   the reason.
3. The **reference solution** (the source notebook without its tests) runs the same way
   with the same seed. In this process, which no student code ever touches, each probe's
   ``result`` from the submission is compared with the reference's: equal within a
   tolerance (:func:`difference`). A probe cell may replace that comparison with its own check,
   written after a line ``# CHECK``; it runs here with ``got``, ``want`` and ``difference``
   and fails by raising ``AssertionError``.
4. A question's points are split evenly over its probes.
5. A question with a stated rule (``forbid:`` in its config) gets 0 points when the
   submission's answer uses a forbidden name: read here from the notebook's syntax tree
   (:func:`rule_breaks`, :mod:`utils.rules`), never in the sandbox.

Probe cells carry the cell tags ``nbval-skip`` and ``skip-execution``: they need the grader's
``rng`` and run only in the grader, so nbval (``make test``) and nbclient (``make execute``)
skip them when the lesson itself runs. JupyterLab's "Run All" does not read tags: in a
source notebook it stops at the first probe (students' versions have none).

The public tests (cells without ``# HIDDEN``) are for students: ``grader.check`` runs them
in the student's own kernel, where they help but prove nothing, so grading ignores them.
``course check`` runs them against the solution, with the probes, twice (the reference
must agree with itself).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import secrets
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np

from . import sandbox
# The lesson format is read in instructor.assignment; these names stay importable from here.
from .assignment import CHECK_MARKER, Probe, Question, questions_of, solution_notebook  # noqa: F401

RESULT_FIELDS = ["student", "question", "points", "max_points", "reason"]
RUNNER = Path(__file__).with_name("runner.py")
UTILS = Path(__file__).resolve().parents[1] / "utils"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
MAX_ANSWERS_BYTES = 64 * 2**20


# ------------------------------------------------------------ rows
@dataclass
class Row:
    student: str
    question: str
    points: float
    max_points: float
    reason: str


# ------------------------------------------------------- running in the sandbox
@dataclass
class Run:
    answers: dict | None          # probe id -> {"result": ...} or {"error": ...}
    reason: str                   # why there are no answers ("" when there are)
    cell_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _decode(value, depth=0):
    """Plain data from the sandbox, strictly: JSON types and tagged numeric arrays only."""
    if depth > 25:
        raise ValueError("nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, depth + 1) for v in value]
    if isinstance(value, dict):
        if "__ndarray__" in value:
            dtype = value.get("dtype")
            if dtype not in ("bool", "int64", "float64"):
                raise ValueError(f"array dtype {dtype!r} not allowed")
            shape = [int(s) for s in value["shape"]]
            flat = value["__ndarray__"]
            if not isinstance(flat, list) or any(isinstance(v, (list, dict, str)) for v in flat):
                raise ValueError("array data is not a flat list of numbers")
            return np.array(flat, dtype=dtype).reshape(shape)
        return {str(k): _decode(v, depth + 1) for k, v in value.items()}
    raise ValueError(f"not plain data: {type(value).__name__}")


def _link_tree(source: Path, dest: Path, mounted_at: str) -> None:
    """Mirror ``source``'s folders in ``dest`` and link each file to its read-only copy
    mounted at ``mounted_at`` in the sandbox. Keras needs a writable cache (it falls back to
    an empty one otherwise): this one is, while the cached files themselves stay read-only."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_dir() and not path.is_symlink():
            (dest / rel).mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).symlink_to(f"{mounted_at}/{rel.as_posix()}")


def run_notebook(nb, probes: list[Probe], seed: int, *, size: str = "fast", timeout: float = 600,
                 confined: bool = True, limits: sandbox.Limits | None = None) -> Run:
    """Run a notebook and then the probes, in the sandbox; return the plain answers.

    Answers are trusted only from a run that exited normally and wrote them after
    reading the probes (it must echo the nonce sent with them).
    """
    from utils.data import CIFAR10_ENV_VAR, keras_cache_dir

    limits = limits or sandbox.Limits(wall_seconds=timeout)
    nonce = secrets.token_hex(16)
    request = json.dumps({"seed": seed, "nonce": nonce,
                          "probes": [{"id": p.id, "index": i, "code": p.code}
                                     for i, p in enumerate(probes)]}).encode()
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        work = Path(tmp) / "work"
        (work / "home").mkdir(parents=True)
        nbformat.write(nb, work / "submission.ipynb")
        env = {"COURSE_SIZE": size, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
               "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}
        keras_home = keras_cache_dir()
        if confined:
            binds = [(RUNNER, "/opt/course/runner.py"), (UTILS, "/opt/course/utils"),
                     (PYPROJECT, "/opt/course/pyproject.toml")]
            if keras_home.is_dir():
                binds.append((keras_home, "/opt/keras"))
                _link_tree(keras_home, work / "keras", "/opt/keras")
            env.update(PYTHONPATH="/opt/course", KERAS_HOME=f"{sandbox.WORK}/keras")
            cifar = os.environ.get(CIFAR10_ENV_VAR)
            if cifar and Path(cifar).is_dir():   # lesson 03's data where it cannot be downloaded
                binds.append((Path(cifar).resolve(), "/opt/cifar10"))
                env[CIFAR10_ENV_VAR] = "/opt/cifar10"
            outcome = sandbox.run([sys.executable, "/opt/course/runner.py", "submission.ipynb",
                                   "answers.json"], work, ro_binds=binds, env=env, stdin=request,
                                  limits=limits, keep=("answers.json",))
        else:
            env.update(PYTHONPATH=str(UTILS.parent), KERAS_HOME=str(keras_home))
            if os.environ.get(CIFAR10_ENV_VAR):
                env[CIFAR10_ENV_VAR] = os.environ[CIFAR10_ENV_VAR]
            outcome = sandbox.run_unconfined([sys.executable, str(RUNNER), "submission.ipynb",
                                              "answers.json"], work, env=env, stdin=request,
                                             limits=limits)
        if outcome.timed_out:
            return Run(None, f"timed out after {limits.wall_seconds:g} s", seconds=outcome.seconds)
        if outcome.returncode != 0:
            code = outcome.returncode
            signal_number = -code if code < 0 else (code - 128 if code > 128 else None)
            # the last line of output says why (OpenBLAS, out of threads, raises SIGINT)
            hint = " ".join(outcome.log_tail.strip().splitlines()[-1:])[:160]
            hint = f": {hint}" if hint else ""
            if signal_number:   # bwrap reports its child's death by signal N as 128 + N
                reason = f"the notebook stopped the grader (killed by signal {signal_number}){hint}"
            else:
                reason = f"the notebook stopped the grader (exit code {code}){hint}"
            return Run(None, reason, seconds=outcome.seconds)
        answers_file = work / "answers.json"
        if not answers_file.is_file() or answers_file.is_symlink():
            return Run(None, "the grader ended before the probes ran (did the notebook exit early?)",
                       seconds=outcome.seconds)
        if answers_file.stat().st_size > MAX_ANSWERS_BYTES:
            return Run(None, "the answers are too large", seconds=outcome.seconds)
        try:
            data = json.loads(answers_file.read_text())
            if not isinstance(data, dict) or data.get("nonce") != nonce:
                raise ValueError("not written by this grading run")
            answers = {str(k): _decode(v) for k, v in dict(data["answers"]).items()}
            cell_errors = [str(e)[:300] for e in list(data.get("cell_errors", []))[:20]]
        except Exception as err:   # any shape a submission can give its answers file:
            # not UTF-8, not JSON, nested past the recursion limit, wrong types, no nonce ...
            detail = str(err)[:120] or type(err).__name__
            return Run(None, f"the answers could not be read ({type(err).__name__}: {detail})"[:200],
                       seconds=outcome.seconds)
    return Run(answers, "", cell_errors, outcome.seconds)


# ------------------------------------------------------------- the comparison
def difference(got, want, rtol: float = 1e-6, atol: float = 1e-9, where: str = "result") -> str | None:
    """How ``got`` differs from ``want`` (where and how), or None when they are equal (numbers
    and arrays within the tolerance): a probe's check reads
    ``assert difference(got, want) is None``. Raises nothing, whatever ``got`` is."""
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            return f"{where}: expected a dict with keys {sorted(want)}"
        for k in want:
            problem = difference(got[k], want[k], rtol, atol, f"{where}[{k!r}]")
            if problem:
                return problem
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return f"{where}: expected a list of length {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            problem = difference(g, w, rtol, atol, f"{where}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(want, (str, bool)) or want is None:
        return None if type(got) is type(want) and got == want else f"{where}: expected {want!r}"
    if isinstance(want, (int, float, np.ndarray)):
        if isinstance(got, (str, dict, list, bool)) or got is None:
            return f"{where}: expected a number or array"
        got_a, want_a = np.asarray(got), np.asarray(want)
        if got_a.shape != want_a.shape:
            return f"{where}: expected shape {want_a.shape}, got {got_a.shape}"
        if want_a.dtype == bool:
            return None if np.array_equal(got_a, want_a) else f"{where}: wrong values"
        if not np.allclose(got_a.astype(float), want_a.astype(float), rtol=rtol, atol=atol, equal_nan=True):
            return f"{where}: wrong value(s)"
        return None
    return f"{where}: cannot compare a {type(want).__name__}"


same = difference   # the earlier name, for checks written before the rename


def judge(probe: Probe, got: dict | None, want: dict | None) -> str | None:
    """None when the student's answer to ``probe`` passes, else the reason."""
    if want is None or "result" not in want:
        return f"the reference solution failed this probe ({(want or {}).get('error', 'no answer')})"
    if got is None:
        return "no answer"
    if "error" in got:
        return str(got["error"])[:200]
    if probe.check is None:
        return difference(got.get("result"), want["result"])
    scope = {"np": np, "math": math, "difference": difference, "same": difference,   # its old name
             "got": got.get("result"), "want": want["result"]}
    try:
        exec(compile(probe.check, f"<check {probe.id}>", "exec"), scope)
    except AssertionError as err:
        return f"AssertionError: {err}"[:200] if str(err) else "AssertionError"
    except Exception as err:  # the answer had an unexpected form
        return f"{type(err).__name__}: {err}"[:200]
    return None


def rule_breaks(questions: list[Question], nb) -> dict[str, str]:
    """The questions whose stated rule (``forbid`` in the question's config) the notebook's
    answers break, each with the reason: read here, in the grader's process, from the
    syntax tree of the notebook's code cells (:mod:`utils.rules`), never in the sandbox."""
    from utils.rules import broken, reason

    cells = [(i, c.source) for i, c in enumerate(nb.cells)
             if c.get("cell_type") == "code" and isinstance(c.get("source"), str)]
    found = {}
    for q in questions:
        if q.rule is not None:
            why = broken(q.rule, cells)
            if why:
                found[q.name] = reason(q.rule, why)
    return found


def score(student: str, questions: list[Question], run: Run, reference: Run,
          broken: dict[str, str] | None = None) -> list[Row]:
    """One row per question: the share of its probes the run passed; 0 for a question in
    ``broken`` (its stated rule broken: :func:`rule_breaks`), with that reason."""
    broken = broken or {}
    if run.answers is None:
        return [Row(student, q.name, 0.0, q.points, broken.get(q.name, run.reason)) for q in questions]
    rows = []
    for q in questions:
        if q.name in broken:
            rows.append(Row(student, q.name, 0.0, q.points, broken[q.name]))
            continue
        problems = [judge(p, run.answers.get(p.id), reference.answers.get(p.id)) for p in q.probes]
        passed = sum(p is None for p in problems)
        failed = [p for p in problems if p is not None]
        rows.append(Row(student, q.name, q.points * passed / len(q.probes), q.points,
                        "all tests passed" if not failed else failed[0]))
    return rows


def zero_rows(student: str, questions: list[Question], reason: str) -> list[Row]:
    """No points on every question, for one reason (a submission that could not run)."""
    return [Row(student, q.name, 0.0, q.points, reason) for q in questions]


# ------------------------------------------------------------------ batches
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
            notebooks = [n for n in sorted(entry.rglob("*.ipynb")) if ".ipynb_checkpoints" not in n.parts]
            if len(notebooks) == 1:
                entries.append((entry.name, notebooks[0], ""))
            else:
                entries.append((entry.name, None, f"{len(notebooks)} notebooks in the folder, expected 1"))
    return entries


def require_sandbox(unconfined: bool) -> bool:
    """True when grading runs confined; exits with the reason when the sandbox is missing
    and unconfined grading was not asked for explicitly."""
    problem = sandbox.available()
    if problem is None:
        return True
    if unconfined:
        print(f"course: WARNING: grading without a sandbox ({problem}). Verdicts are still "
              "computed outside the students' processes, but their code can read and write "
              "whatever your user can, and use the network.", file=sys.stderr)
        return False
    raise SystemExit(f"course: cannot sandbox students' code here: {problem}.\n"
                     "Install bubblewrap, or pass --unconfined to grade without confinement "
                     "(only on a machine and account you can afford to lose).")


def default_jobs(limits: sandbox.Limits | None = None) -> int:
    """How many submissions to grade at once here: one per core, and no more than the
    machine's memory holds at the sandbox's memory limit each."""
    limits = limits or sandbox.Limits()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1
    return max(1, min(cores, memory // limits.memory_bytes))


def grade_folder(folder: Path, source: Path, csv_path: Path, timeout: float = 600,
                 size: str = "fast", progress: bool = True, unconfined: bool = False,
                 seed: int | None = None, resume: bool = False, jobs: int = 1) -> list[Row]:
    """Grade every submission in ``folder`` against the source notebook ``source``.

    Writes ``csv_path`` (student, question, points, max_points, reason) as it goes: each
    student's rows are appended and flushed as soon as they are graded, so a crash or a
    Ctrl+C loses nothing graded before it. Beside it, ``<csv>.batch.json`` records the
    batch's seed and the source's hash; ``resume=True`` continues such a batch with the
    same seed (so the same probe inputs and reference answers), grading only the students
    without a complete set of rows. Any failure while grading one submission becomes that
    student's rows (0 points and the reason); the batch always finishes. ``jobs``
    submissions are graded at once (each in its own sandbox; :func:`default_jobs` fits the
    machine). Returns all rows, in the submissions' order.
    """
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from tqdm.auto import tqdm

    folder, source, csv_path = Path(folder), Path(source), Path(csv_path)
    if not folder.is_dir():
        raise FileNotFoundError(f"no submissions folder at {folder}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    confined = require_sandbox(unconfined)
    source_nb = nbformat.read(source, as_version=4)
    questions = questions_of(source_nb)
    probes = [p for q in questions for p in q.probes]
    earlier, seed = _start_batch(csv_path, source, questions, size, seed, resume)
    done = {r.student for r in earlier}
    entries = submissions_in(folder)
    todo = []
    for student, path, problem in entries:
        if student in done:
            continue
        try:
            problem = problem or _not_a_notebook(path)
        except Exception as err:       # unreadable file, permissions ...
            problem = f"the file could not be read ({type(err).__name__})"
        todo.append((student, path, problem))
    if resume:
        print(f"course grade: resuming {csv_path.name}: {len(done)} student(s) already graded, "
              f"{len(todo)} to go (seed {seed})", file=sys.stderr)
    reference = None
    if any(not problem for _, _, problem in todo):
        reference = _run_reference(source, source_nb, probes, seed, size, timeout, confined)

    def grade_one(student: str, path: Path | None, problem: str) -> list[Row]:
        if problem:
            return zero_rows(student, questions, problem)
        try:   # each sandbox claims a user of its own (instructor.sandbox)
            nb = nbformat.read(path, as_version=4)
            run = run_notebook(nb, probes, seed, size=size, timeout=timeout, confined=confined)
            return score(student, questions, run, reference, rule_breaks(questions, nb))
        except Exception as err:   # a failure the grader did not foresee: this student only
            return zero_rows(student, questions, "the grader could not grade this "
                             f"submission ({type(err).__name__}); ask your instructor")

    new: dict[str, list[Row]] = {}
    bar = tqdm(total=len(todo), desc="grading", unit="submission", disable=not progress)
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = {pool.submit(grade_one, *entry): entry[0] for entry in todo}
    try:
        for future in as_completed(futures):    # rows are written here, in one thread
            student_rows = future.result()
            _append_csv(student_rows, csv_path)
            new[futures[future]] = student_rows
            bar.update()
    except BaseException:   # Ctrl+C: what is graded is on disk; start nothing, stop what runs
        pool.shutdown(wait=False, cancel_futures=True)
        sandbox.stop_all()
        raise
    finally:
        bar.close()
    pool.shutdown()
    by_student = _by_student(earlier)
    by_student.update(new)
    return [r for student, _, _ in entries for r in by_student.get(student, [])]


class _ReferenceFailed(RuntimeError):
    """The reference solution did not run: no student can be graded (the batch stops)."""


REFERENCE_MIN_SECONDS = 600   # the trusted reference is not held to a short student limit


def _run_reference(source, source_nb, probes, seed, size, timeout, confined) -> Run:
    """The reference solution's answers. It gets at least REFERENCE_MIN_SECONDS, whatever
    the students' limit: a loaded machine must not fail a whole batch."""
    reference_nb, _ = solution_notebook(source_nb)
    reference = run_notebook(reference_nb, probes, seed, size=size, confined=confined,
                             timeout=max(timeout, REFERENCE_MIN_SECONDS))
    if reference.answers is None:
        raise _ReferenceFailed(f"the reference solution of {source.name} did not run: {reference.reason}")
    if reference.cell_errors:   # e.g. its data is not where the sandbox can read it
        print(f"course grade: WARNING: {len(reference.cell_errors)} cell(s) of the reference "
              f"solution of {source.name} raised, so the students' notebooks will too; the first: "
              f"{reference.cell_errors[0]}", file=sys.stderr)
    return reference


def _batch_file(csv_path: Path) -> Path:
    return csv_path.with_name(csv_path.name + ".batch.json")


def _start_batch(csv_path: Path, source: Path, questions: list[Question], size: str,
                 seed: int | None, resume: bool) -> tuple[list[Row], int]:
    """The rows already graded and the seed: a new batch (an empty CSV and a new batch
    file) or, with ``resume``, the recorded one (complete students' rows kept, others
    dropped to be graded again)."""
    import hashlib

    digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    batch = _batch_file(csv_path)
    if resume:
        if not (batch.is_file() and csv_path.is_file()):
            raise SystemExit(f"course grade --resume: no batch to resume at {csv_path} "
                             f"(expected it and {batch.name} from an earlier run)")
        recorded = json.loads(batch.read_text())
        if recorded.get("source_sha256") != digest or recorded.get("size") != size:
            raise SystemExit(f"course grade --resume: {csv_path} was graded against another "
                             f"version of {source.name} or another size; grade afresh instead")
        if seed is not None and seed != recorded["seed"]:
            raise SystemExit("course grade --resume: the batch's seed is recorded; do not pass another")
        seed = int(recorded["seed"])
        by_student: dict[str, list[Row]] = {}
        with open(csv_path, newline="") as f:
            for record in csv.DictReader(f):
                by_student.setdefault(record["student"], []).append(
                    Row(record["student"], record["question"], float(record["points"]),
                        float(record["max_points"]), record["reason"]))
        names = {q.name for q in questions}
        rows = [r for rs in by_student.values() if {r.question for r in rs} == names for r in rs]
    else:
        seed = secrets.randbelow(2**31) if seed is None else seed
        rows = []
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(rows, csv_path)
    batch.write_text(json.dumps({"seed": seed, "source": Path(source).name,
                                 "source_sha256": digest, "size": size}, indent=1) + "\n")
    return rows, seed


def _csv_row(r: Row) -> list[str]:
    return [r.student, r.question, f"{round(r.points, 2):g}", f"{r.max_points:g}", r.reason]


def _append_csv(rows: list[Row], csv_path: Path) -> None:
    """Append one student's rows in one write, flushed to disk."""
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows(_csv_row(r) for r in rows)
    with open(csv_path, "a", newline="") as f:
        f.write(buffer.getvalue())
        f.flush()
        os.fsync(f.fileno())


def write_csv(rows: list[Row], csv_path: Path) -> None:
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(RESULT_FIELDS)
        for r in rows:
            writer.writerow(_csv_row(r))


def check_solutions(sources: list[Path], timeout: float, unconfined: bool = False,
                    twice: bool = True) -> bool:
    """``course check``: each source's solution passes its public tests and earns full
    points on its probes against a second, independent run of itself (``twice=False``:
    against the same run, which checks that every probe answers and every ``# CHECK``
    accepts the reference, in half the time, but not that the probes are deterministic)."""
    confined = require_sandbox(unconfined)
    ok = True
    for source in sources:
        source_nb = nbformat.read(source, as_version=4)
        questions = questions_of(source_nb)
        probes = [p for q in questions for p in q.probes]
        seed = secrets.randbelow(2**31)
        with_tests, where = solution_notebook(source_nb, public_tests=True)
        first = run_notebook(with_tests, probes, seed, timeout=timeout, confined=confined)
        second = (run_notebook(solution_notebook(source_nb)[0], probes, seed, timeout=timeout,
                               confined=confined) if twice else first)
        if first.answers is None or second.answers is None:
            print(f"FAIL {source.stem}: {first.reason or second.reason}")
            ok = False
            continue
        broken = rule_breaks(questions, with_tests)   # the reference must keep its own rules
        failed_public = {}
        for error in first.cell_errors:
            index = int(error.split(":")[0].split()[1])
            failed_public.setdefault(where.get(index, ""), error)
        for row in score(source.stem, questions, second, first):
            public = failed_public.get(row.question)
            good = row.points >= row.max_points and public is None and row.question not in broken
            reason = (row.question in broken and f"the reference solution {broken[row.question]}"
                      or public and f"public test failed: {public}" or row.reason)
            print(f"{'ok  ' if good else 'FAIL'} {source.stem} {row.question}: "
                  f"{row.points:g} / {row.max_points:g}" + ("" if good else f"  ({reason})"))
            ok &= good
        if "" in failed_public:
            print(f"FAIL {source.stem}: a lesson cell raised: {failed_public['']}")
            ok = False
    return ok


check = check_solutions   # its former name (not utils.check, the students' checks)


def _by_student(rows: list[Row]) -> dict[str, list[Row]]:
    students: dict[str, list[Row]] = {}
    for r in rows:
        students.setdefault(r.student, []).append(r)
    return students


def _safe_file_name(student: str) -> str:
    name = re.sub(r"[^\w.\-() ]", "_", student).strip(" .") or "student"
    return name[:120]


def write_reports(rows: list[Row], csv_path: Path, lesson: str = "") -> dict[str, Path]:
    """What an instructor hands on after a batch, beside ``csv_path``:

    - ``<stem>-gradebook.csv``: one row per student (total, maximum, one column per
      question), for a learning-management system's import;
    - ``<stem>-feedback/<student>.md``: each question's points and, for each shortfall,
      the reason in words a student can act on (never a probe's inputs);
    - ``<stem>-report.md``: per question, how the points are distributed and the most
      common reasons for lost points (a question that everyone fails is a badly posed
      question or a broken probe).

    Returns the paths written, by kind.
    """
    from collections import Counter

    csv_path = Path(csv_path)
    stem = csv_path.with_suffix("")
    students = _by_student(rows)
    questions: list[str] = []
    max_points: dict[str, float] = {}
    for r in rows:
        if r.question not in max_points:
            questions.append(r.question)
            max_points[r.question] = r.max_points
    title = f" for {lesson}" if lesson else ""

    gradebook = Path(f"{stem}-gradebook.csv")
    with open(gradebook, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "total", "max_total"] + questions)
        for student, rs in students.items():
            points = {r.question: r.points for r in rs}
            writer.writerow([student, f"{round(sum(points.values()), 2):g}",
                             f"{sum(max_points.values()):g}"]
                            + [f"{round(points.get(q, 0.0), 2):g}" for q in questions])

    feedback = Path(f"{stem}-feedback")
    feedback.mkdir(parents=True, exist_ok=True)
    for student, rs in students.items():
        got, total = sum(r.points for r in rs), sum(r.max_points for r in rs)
        lines = [f"# Grading feedback{title}: {student}", "",
                 f"**{round(got, 2):g} of {total:g} points.**", "",
                 "Your answers were run on inputs that are not the public tests of the notebook "
                 "(new random ones each batch) and compared with the reference solution's "
                 "answers. Passing the notebook's `grader.check` shows that the public tests pass; "
                 "the points come from these other inputs.", "",
                 "| question | points | what happened |", "| --- | --- | --- |"]
        for r in rs:
            what = "all tests passed" if r.points >= r.max_points else r.reason
            what = what.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {r.question} | {round(r.points, 2):g} / {r.max_points:g} | {what} |")
        (feedback / f"{_safe_file_name(student)}.md").write_text("\n".join(lines) + "\n")

    report = Path(f"{stem}-report.md")
    lines = [f"# Class report{title}", "", f"{len(students)} submissions.", ""]
    totals = [sum(r.points for r in rs) for rs in students.values()]
    if totals:
        lines += [f"Total points: mean {sum(totals) / len(totals):.2f} of "
                  f"{sum(max_points.values()):g}, lowest {min(totals):g}, highest {max(totals):g}.", ""]
    for q in questions:
        qrows = [r for r in rows if r.question == q]
        counts = Counter(round(r.points, 2) for r in qrows)
        full = sum(r.points >= r.max_points for r in qrows)
        lines += [f"## {q} ({max_points[q]:g} points)", "",
                  f"Full points: {full} of {len(qrows)}."
                  + ("  **Nobody earned full points: check the question and its probes.**"
                     if qrows and full == 0 else ""), "",
                  "| points | students |", "| --- | --- |"]
        lines += [f"| {p:g} | {n} |" for p, n in sorted(counts.items())]
        reasons = Counter(r.reason for r in qrows if r.points < r.max_points)
        if reasons:
            lines += ["", "Most common reasons for lost points:", ""]
            lines += [f"- {n} × {reason}" for reason, n in reasons.most_common(5)]
        lines.append("")
    report.write_text("\n".join(lines))
    return {"gradebook": gradebook, "feedback": feedback, "report": report}


def summary(rows: list[Row]) -> str:
    """A printable table: one line per student with total points and the first problem."""
    students = _by_student(rows)
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
