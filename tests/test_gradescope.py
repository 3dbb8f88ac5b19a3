"""`course gradescope`: the autograder.zip for the demo assignment, run as Gradescope would.

The zip is unpacked into a temporary folder standing in for /autograder (source/,
submission/, results/; GRADESCOPE_ROOT points there) and its run_autograder runs as a
subprocess against each submission. setup.sh is not run: it installs into the container
(apt, a virtual environment in /opt, the network), and this venv already holds everything;
GRADESCOPE_PYTHON makes run_autograder use it. What only Gradescope itself can show is
listed in the README ("Grading on Gradescope").
"""

import importlib
import json
import os
import stat
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from demo_assignment import SOURCE, Listener, file_hashes, student_notebook, with_answers
from instructor import course, gradescope, grading, sandbox

# The attack code lives in tests/test_attacks.py; imported by name at run time, since deptry
# (make test) would take a static `from test_attacks import ...` for an undeclared package.
_attack_suite = importlib.import_module("test_attacks")
attacks, submission = _attack_suite.attacks, _attack_suite.submission
outcome_accepted = _attack_suite.outcome_accepted

TIMEOUT = 60   # seconds per run; a healthy one needs about 3 s here, 20 on a loaded machine
ATTACKS = tuple(attacks(Path("/nonexistent"), 9))   # every attack of the suite, by name
VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}
# Without bubblewrap (a developer's Mac) run_autograder grades unconfined and says so; the
# attacks need the sandbox (CI always has it).
CONFINED = sandbox.available() is None


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    out = tmp_path_factory.mktemp("gradescope")
    return gradescope.build(SOURCE, out, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    return student_notebook(tmp_path_factory.mktemp("build"))


def run_autograder(zip_path: Path, root: Path, files: dict, env: dict | None = None) -> dict:
    """Unpack the zip as Gradescope does, put ``files`` (name: bytes or notebook) in the
    submission folder, run run_autograder; return results.json and the results folder."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():          # extractall drops the permission bits
            mode = info.external_attr >> 16
            if mode:
                os.chmod(root / "source" / info.filename, stat.S_IMODE(mode))
    (root / "submission").mkdir()
    (root / "results").mkdir()
    for name, content in files.items():
        if isinstance(content, bytes):
            (root / "submission" / name).write_bytes(content)
        else:
            nbformat.write(content, root / "submission" / name)
    env = {**os.environ, "GRADESCOPE_ROOT": str(root), "GRADESCOPE_PYTHON": sys.executable,
           **(env or {})}
    done = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=4 * TIMEOUT + 60)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    return {"results": results, "stdout": done.stdout + done.stderr,
            "files": sorted(p.name for p in (root / "results").iterdir())}


@pytest.fixture(scope="module")
def listener():
    """A listening port for the attacks that try the network, open for the whole module."""
    with Listener() as listening:
        yield listening


@pytest.fixture(scope="module")
def graded(autograder, student, listener, tmp_path_factory):
    """Every submission graded by its own run_autograder, two at a time (two containers)."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "canary.txt").write_text("untouched")
    cases = attacks(outside / "canary.txt", listener.port)
    right = ("return x * x", "return sum(values) / len(values)")
    subs = {
        "honest": {"grading_demo.ipynb": with_answers(student, *right)},
        "bob": {"grading_demo.ipynb": with_answers(student, "return x ** 2", "return sum(values) / 3")},
        "carol": {"grading_demo.ipynb": with_answers(student, "return x * x", "return 1 / 0",
                                                     extra='raise RuntimeError("a cell that fails")')},
        "empty": {"grading_demo.ipynb": b""},
        "nothing": {"notes.txt": b"I forgot the notebook"},
    }
    for name in ATTACKS:
        answers, attack, where, _, _ = cases[name]
        subs[name] = {"grading_demo.ipynb": submission(student, answers, attack, where)}
    # A container where bwrap cannot create namespaces (Docker's defaults): a bwrap that
    # fails as it does there comes first on PATH.
    fake = tmp_path_factory.mktemp("fakebin")
    (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    (fake / "bwrap").chmod(0o755)
    subs["no_namespaces"] = {"grading_demo.ipynb": with_answers(student, *right)}
    # right answers, but q2_mean's through what its stated rule forbids (utils/rules.py)
    subs["shortcut"] = {"grading_demo.ipynb": with_answers(student, "return x * x",
                                                           "return statistics.fmean(values)",
                                                           extra="import statistics")}
    envs = {"no_namespaces": {"PATH": f"{fake}:{os.environ['PATH']}"}}
    top = tmp_path_factory.mktemp("autograders")
    roots = (outside, SOURCE.parent, Path(course.__file__).parent,
             Path(sandbox.__file__).parents[1] / "utils")
    before = file_hashes(*roots)
    with ThreadPoolExecutor(2) as pool:      # two containers at once
        futures = {name: pool.submit(run_autograder, autograder, top / name, files, envs.get(name))
                   for name, files in subs.items()}
    done = {name: f.result() for name, f in futures.items()}
    after = file_hashes(*roots)
    changed = sorted(str(p) for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    return done | {"_cases": cases, "_changed": changed, "_connections": listener.connections}


def test_the_zip_follows_gradescopes_layout(autograder):
    with zipfile.ZipFile(autograder) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        config = json.loads(zf.read("gradescope.json"))
        setup = zf.read("setup.sh").decode()
        requirements = zf.read("grader-requirements.txt").decode()
    assert {"setup.sh", "run_autograder", "gradescope.json", "requirements.txt", "constraints.txt",
            "pyproject.toml", "instructor/grading.py", "instructor/sandbox.py",
            "instructor/runner.py", "instructor/gradescope.py", "utils/__init__.py",
            "lesson/grading_demo.ipynb"} <= names
    assert not any("__pycache__" in n or n.startswith("/") or ".." in n for n in names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert config["lesson"] == "lesson/grading_demo.ipynb" and config["timeout"] == TIMEOUT
    assert "bubblewrap" in setup and "-c constraints.txt" in setup
    with zipfile.ZipFile(autograder) as zf:
        for script in ("setup.sh", "run_autograder"):       # both parse as bash
            subprocess.run(["bash", "-n"], input=zf.read(script), check=True)
    assert "tensorflow==" in requirements and "ipython==" in requirements
    assert "jupyterlab" not in requirements and "otter" not in requirements
    # the lesson inside is the source, with its solution and probes
    with zipfile.ZipFile(autograder) as zf:
        assert "# HIDDEN" in zf.read("lesson/grading_demo.ipynb").decode()


def check_format(results: dict) -> None:
    """results.json as Gradescope's specification describes it."""
    assert isinstance(results["score"], (int, float)) and not isinstance(results["score"], bool)
    assert isinstance(results["output"], str) and results["output"]
    assert results.get("visibility", "visible") in VISIBILITIES
    assert results.get("stdout_visibility", "hidden") in VISIBILITIES
    assert isinstance(results.get("execution_time", 0), (int, float))
    assert isinstance(results["tests"], list) and results["tests"]
    for test in results["tests"]:
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert 0 <= test["score"] <= test["max_score"]
        assert isinstance(test["output"], str) and test["output"]
        assert test.get("visibility", "visible") in VISIBILITIES
        assert test.get("status", "passed") in ("passed", "failed")
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))


def points(graded, name):
    return {t["name"]: t["score"] for t in graded[name]["results"]["tests"]}


def outputs(graded, name):
    return {t["name"]: t["output"] for t in graded[name]["results"]["tests"]}


EXPECTED = {
    "honest": {"q1_square": 2, "q2_mean": 2},
    "bob": {"q1_square": 2, "q2_mean": 1},
    "carol": {"q1_square": 2, "q2_mean": 0},
    "empty": {"q1_square": 0, "q2_mean": 0},
    "nothing": {"q1_square": 0, "q2_mean": 0},
    "no_namespaces": {"q1_square": 2, "q2_mean": 2},
    "shortcut": {"q1_square": 2, "q2_mean": 0},
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_submission_gets_the_points_it_earned(graded, name):
    check_format(graded[name]["results"])
    assert points(graded, name) == EXPECTED[name], graded[name]["stdout"]
    assert graded[name]["files"] == ["results.json"]


def test_each_shortfall_has_a_reason_a_student_can_act_on(graded):
    assert outputs(graded, "honest") == {"q1_square": "all tests passed", "q2_mean": "all tests passed"}
    assert outputs(graded, "bob")["q2_mean"].endswith("wrong value(s)")
    assert "ZeroDivisionError" in outputs(graded, "carol")["q2_mean"]
    assert outputs(graded, "shortcut")["q2_mean"].startswith("uses fmean (cell ")
    assert outputs(graded, "shortcut")["q2_mean"].endswith("which q2_mean forbids (its stated "
                                                           "rule: no statistics, mean, fmean)")
    assert outputs(graded, "empty")["q1_square"] == "empty file"
    assert outputs(graded, "nothing")["q1_square"].startswith("no notebook in your submission")
    for name in EXPECTED:
        text = json.dumps(graded[name]["results"])
        # neither the probes nor the solution reach the student
        assert "rng." not in text and "fsum" not in text, text
    honest = graded["honest"]["results"]
    assert honest["score"] == 4 and "4 / 4 points" in honest["output"]
    assert honest["stdout_visibility"] == "hidden"
    assert ("sandbox" in honest["output"]) if CONFINED else ("unconfined" in honest["output"])


def test_without_namespaces_the_notebook_runs_unconfined_and_results_say_so(graded):
    results = graded["no_namespaces"]["results"]
    assert "cannot run the grading sandbox" in results["output"]
    assert "cannot create namespaces" in results["output"] and "ran unconfined" in results["output"]
    assert results["extra_data"]["confined"] is False and results["score"] == 4


@pytest.mark.skipif(not CONFINED, reason=f"the attacks need the sandbox: {sandbox.available()}")
@pytest.mark.parametrize("name", ATTACKS)
def test_attacks_get_only_what_their_answers_earn(graded, name):
    _, _, _, expected, reason = graded["_cases"][name]
    results = graded[name]["results"]
    check_format(results)
    assert outcome_accepted(name, results["score"], outputs(graded, name)["q1_square"], expected, reason), \
        graded[name]["stdout"]
    # the forged results.json and answers files never reached the results folder
    assert graded[name]["files"] == ["results.json"]


@pytest.mark.skipif(not CONFINED, reason=f"the attacks need the sandbox: {sandbox.available()}")
def test_no_attack_changed_a_file_outside_or_reached_the_network(graded):
    assert graded["_changed"] == []
    assert graded["_connections"] == []


def test_the_submitted_notebook_is_found(tmp_path):
    find = gradescope.find_submission
    assert find(tmp_path / "missing", "l.ipynb") == (None, "no notebook in your submission: "
                                                     "upload your .ipynb file (l.ipynb)")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "mine.ipynb").write_text("{}")
    assert find(tmp_path / "a", "l.ipynb") == (tmp_path / "a" / "mine.ipynb", "")
    (tmp_path / "a" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "a" / ".ipynb_checkpoints" / "l.ipynb").write_text("{}")
    assert find(tmp_path / "a", "l.ipynb")[0] == tmp_path / "a" / "mine.ipynb"
    (tmp_path / "a" / "scratch.ipynb").write_text("{}")
    path, why = find(tmp_path / "a", "l.ipynb")
    assert path is None and why.startswith("2 notebooks in your submission: upload only one")
    (tmp_path / "a" / "l.ipynb").write_text("{}")      # the one named like the lesson wins
    assert find(tmp_path / "a", "l.ipynb") == (tmp_path / "a" / "l.ipynb", "")


def test_a_broken_autograder_still_writes_results(tmp_path):
    """No Python that can import the grader: run_autograder's own results.json, 0 points."""
    zip_path = gradescope.build(SOURCE, tmp_path / "out", timeout=TIMEOUT)
    root = tmp_path / "ag"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
    (root / "source" / "instructor" / "gradescope.py").write_text("raise SystemExit(3)\n")
    (root / "submission").mkdir()
    env = {**os.environ, "GRADESCOPE_ROOT": str(root), "GRADESCOPE_PYTHON": sys.executable}
    subprocess.run(["bash", str(root / "source" / "run_autograder")], cwd=root, env=env,
                   check=True, timeout=120)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and "could not start" in results["output"]


def test_a_failure_inside_grading_is_zero_points_with_a_reason(tmp_path, monkeypatch):
    zip_path = gradescope.build(SOURCE, tmp_path / "out", timeout=TIMEOUT)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tmp_path / "source")
    (tmp_path / "submission").mkdir()
    nbformat.write(nbformat.read(SOURCE, as_version=4), tmp_path / "submission" / "x.ipynb")

    def explode(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(grading, "run_notebook", explode)
    results = gradescope.grade(tmp_path)
    check_format(results)
    assert results["score"] == 0
    assert all("MemoryError" in t["output"] for t in results["tests"])
    assert json.loads((tmp_path / "results" / "results.json").read_text()) == results


def test_the_course_command_builds_the_zip_for_a_lesson(tmp_path, capsys):
    assert course.main(["gradescope", "01", "--out", str(tmp_path)]) == 0
    with zipfile.ZipFile(tmp_path / "autograder.zip") as zf:
        names = zf.namelist()
        config = json.loads(zf.read("gradescope.json"))
    assert config["lesson"] in names and config["lesson"].startswith("lesson/01_")
    assert config["questions"] and all(q["points"] > 0 for q in config["questions"])
    assert "autograder.zip" in capsys.readouterr().out
