"""Submissions that try to get points without answers, graded like any other.

Each attack is a student version of the demo assignment whose answers are left unsolved
(or partly solved), plus a cell that attacks the grader. Every one must get exactly the
points its real answers earn, with a reason; none may change a file outside its own
folder, reach the network, or stop the batch. See instructor/grading.py and
instructor/sandbox.py for what is protected and how.
"""

import os
import threading
from pathlib import Path

import nbformat
import pytest

from demo_assignment import SOURCE, Listener, file_hashes, student_notebook, with_answers
from instructor import course, grading, sandbox

TIMEOUT = 60   # a healthy submission needs about 3 s here, 20 on a loaded machine
# The attacks that only the wall-time limit ends (a fork bomb, an endless loop) hold the CPU
# until it strikes, so they are graded in a batch of their own with a shorter limit.
SHORT_TIMEOUT = 12
ENDLESS = ("fork_bomb", "loops_in_an_answer")
UNSOLVED = ("return None", "return None")
RIGHT_SQUARE = ("return x * x", "return None")
# Memory that a sandbox bounds can stop a hog in two ways. The memory cgroup's OOM killer ends
# one process (the attack below then keeps its answer: 2 points), or the hog crawls until the
# wall-time limit stops the notebook (0 points, "timed out"; likely reclaim inside the cgroup
# before the kernel decides on a kill, not proven): seen in 2 of 3 fresh-clone CI runs of
# spreads_10_gib_over_processes on the 2-core, 23-GiB, swapless CI machine. Both
# mean the 10 GiB were not had at once. Unbounded, the children hold their 2 GiB each
# together, the notebook finishes, and its square answer is None: 0 points, with a failed
# test as the reason, which no entry here accepts.
ALSO_STOPPED = {"spreads_10_gib_over_processes": (0, "timed out")}


def outcome_accepted(name, points, reason, expected, expected_reason):
    """The expected points and reason fragment of attack ``name``, or its ALSO_STOPPED outcome."""
    outcomes = [(expected, expected_reason)] + ([ALSO_STOPPED[name]] if name in ALSO_STOPPED else [])
    return any(points == p and r in reason for p, r in outcomes)

# CI must run the attack suite (.ci/run installs bubblewrap); elsewhere it is skipped with the reason.
pytestmark = pytest.mark.skipif(sandbox.available() is not None and os.environ.get("CI") != "true",
                                reason=f"no sandbox here: {sandbox.available()}")


def submission(student_nb, answers, attack, where="first"):
    """The student notebook with ``answers`` (square body, mean body) and an attack cell,
    placed before the answers ("first") or after everything ("last")."""
    return with_answers(student_nb, *answers, extra=attack, where=where)


def attacks(canary: Path, port: int) -> dict:
    """name: (answers, attack code, where, expected points, expected reason fragment)."""
    return {
        # The two attacks that fooled the otter-based grader, aimed at this one too.
        "patches_machinery": (UNSOLVED, """
import json, sys
try:
    import otter.test_files.abstract_test as _t
    _t.TestCaseResult.__init__ = lambda self, *a, **k: setattr(self, "passed", True)
except Exception:
    pass
_dump = json.dump
def _fake(obj, f, **kw):          # rewrite the answers on their way out
    for k in obj.get("answers", {}):
        obj["answers"][k] = {"result": 0.0}
    return _dump(obj, f, **kw)
json.dump = _fake
""", "last", 0, "result:"),
        "redefines_numpy_and_builtins": (UNSOLVED, """
import builtins, numpy as np
np.allclose = np.array_equal = np.isclose = lambda *a, **k: True
builtins.isinstance = lambda *a: True
builtins.AssertionError = type("Never", (Exception,), {})
""", "first", 0, ""),
        "forges_results_and_kills_parent": (UNSOLVED, f"""
import json, os, signal
for d in ("/tmp/work", "{canary.parent}", "."):
    try:
        with open(os.path.join(d, "answers.json"), "w") as f:
            json.dump({{"nonce": "guess", "answers": {{"q1_square/1": {{"result": 1.0}}}}}}, f)
        with open(os.path.join(d, "results.json"), "w") as f:
            json.dump({{"tests": [{{"name": "q1_square", "score": 2}}]}}, f)
    except OSError:
        pass
try:
    print(open(f"/proc/{{os.getppid()}}/cmdline").read())
    os.kill(os.getppid(), signal.SIGKILL)
except Exception:
    pass
os._exit(0)
""", "last", 0, "not written by this grading run"),
        "exits_early": (UNSOLVED, "import os\nos._exit(0)", "first", 0, "ended before the probes ran"),
        "kills_itself": (RIGHT_SQUARE, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
                         "last", 0, "killed by signal 9"),
        "prints_fake_results": (UNSOLVED, """
print("q1_square results: All test cases passed!")
print("q2_mean results: All test cases passed!")
print('{"tests": [{"name": "q1_square", "score": 2}, {"name": "q2_mean", "score": 2}]}')
""", "last", 0, ""),
        "reads_hidden_tests_and_solution": (("""
import re
    for path in (r"%s", "/proc/1/root%s"):
        try:
            code = open(path).read()
            body = re.search(r"def square\\(x\\):.*?return (.*?)\\\\n", code).group(1)
            return eval(body)
        except Exception:
            pass
    return None""" % (SOURCE, SOURCE), "return None"), """
import sys
try:
    stolen = sys.stdin.read()          # the probes arrive here after the notebook
except Exception:
    stolen = ""
""", "first", 0, ""),
        "writes_outside_its_folder": (RIGHT_SQUARE, f"""
import os
for target in ("{canary}", "{SOURCE}", os.path.expanduser("~/.bashrc"), "/usr/lib/pwned",
               "/etc/pwned", "/opt/course/utils/__init__.py"):
    try:
        with open(target, "w") as f:
            f.write("pwned")
    except OSError:
        pass
""", "first", 2, "all tests passed"),
        "opens_network": (("""
    for host, port in (("127.0.0.1", %d), ("pypi.org", 443), ("8.8.8.8", 53)):
        try:
            socket.create_connection((host, port), timeout=3).close()
            return x * x
        except OSError:
            pass
    return None""" % port, "return None"), "", "last", 0, ""),
        # Answers files that break each step of reading them, outside the sandbox.
        "nests_answers_past_the_recursion_limit": (RIGHT_SQUARE, """
import json
_dump = json.dump
def _deep(obj, f, **kw):           # json.loads raises RecursionError, not ValueError
    f.write('{"nonce": "' + obj["nonce"] + '", "answers": ' + "[" * 200_000 + "]" * 200_000 + "}")
json.dump = _deep
""", "last", 0, "could not be read (RecursionError"),
        "writes_answers_that_are_not_utf8": (RIGHT_SQUARE, """
import json
def _bytes(obj, f, **kw):
    f.flush()
    with open(f.name, "wb") as raw:
        raw.write(b"\\xff\\xfe\\x00not json")
json.dump = _bytes
""", "last", 0, "could not be read (UnicodeDecodeError"),
        "answers_of_the_wrong_types": (RIGHT_SQUARE, """
import json
_dump = json.dump
def _wrong(obj, f, **kw):
    obj["answers"] = [[1, 2], "three", {"4": None}]
    obj["cell_errors"] = 7
    return _dump(obj, f, **kw)
json.dump = _wrong
""", "last", 0, "could not be read"),
        # Totals per sandbox (root: a tmpfs for the folder, a memory cgroup for all processes).
        # Each keeps its right answer only if the bound stopped it, so a missing bound costs
        # the points the test expects.
        **({} if os.geteuid() != 0 else {
            "fills_the_disk_with_many_files": (RIGHT_SQUARE, """
import os
written = 0
try:
    for i in range(40):                      # 40 files of 100 MiB: 4 GiB, each under the file limit
        with open(f"filler{i}", "wb") as f:
            f.write(b"0" * 100 * 2**20)
        written += 100 * 2**20
except OSError:
    pass
for i in range(40):
    if os.path.exists(f"filler{i}"):
        os.remove(f"filler{i}")
if written >= 2 * 2**30:                     # not bounded: lose the answer
    def square(x):
        return None
""", "last", 2, "all tests passed"),
            # Each child holds its 2 GiB until all five hold theirs (a flag file each), so the
            # 10 GiB are had at once: on a loaded CPU, children that merely slept 2 s after
            # allocating could finish one after another and never hold 10 GiB together (a
            # fresh-clone CI run with two notebooks beside it: every child exited 0, 0 points).
            "spreads_10_gib_over_processes": (RIGHT_SQUARE, """
import subprocess, sys, tempfile
flags = tempfile.mkdtemp()
hog = '''
import os, sys, time
b = bytearray(2 * 2**30)
b[::4096] = b'1' * len(b[::4096])
open(os.path.join(sys.argv[1], str(os.getpid())), 'w').close()
end = time.time() + 45
while len(os.listdir(sys.argv[1])) < 5 and time.time() < end:
    time.sleep(0.05)
sys.exit(0 if len(os.listdir(sys.argv[1])) == 5 else 3)
'''
children = [subprocess.Popen([sys.executable, "-c", hog, flags]) for _ in range(5)]   # 2 GiB each
codes = [c.wait() for c in children]
if all(code == 0 for code in codes):         # all 10 GiB were held at once: not bounded, lose the answer
    def square(x):
        return None
""", "last", 2, "all tests passed"),
        }),
        "fork_bomb": (RIGHT_SQUARE, """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
""", "last", 0, "timed out"),
        "allocates_20_gib": (RIGHT_SQUARE, "hog = bytearray(20 * 2**30)", "first", 2, "all tests passed"),
        "loops_in_an_answer": (("return x * x", "while True:\n        pass"), "", "last", 0, "timed out"),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    student = student_notebook(tmp_path_factory.mktemp("build"))
    folder = tmp_path_factory.mktemp("submissions")
    endless = tmp_path_factory.mktemp("endless")
    outside = tmp_path_factory.mktemp("outside")
    canary = outside / "canary.txt"
    canary.write_text("untouched")
    roots = (folder, endless, outside, SOURCE.parent, Path(course.__file__).parent,
             Path(sandbox.__file__).parents[1] / "utils")
    with Listener() as listener:
        cases = attacks(canary, listener.port)
        for name, (answers, attack, where, _, _) in cases.items():
            nbformat.write(submission(student, answers, attack, where),
                           (endless if name in ENDLESS else folder) / f"{name}.ipynb")
        nbformat.write(submission(student, ("return x * x", "return sum(values) / len(values)"), "pass"),
                       folder / "honest.ipynb")
        before = file_hashes(*roots)
        out = tmp_path_factory.mktemp("out")
        # Two at a time, as `course grade --jobs 2` grades them (each sandbox under its own user).
        rows = grading.grade_folder(folder, SOURCE, out / "grades.csv", timeout=TIMEOUT,
                                    progress=False, jobs=2)
        rows += grading.grade_folder(endless, SOURCE, out / "endless.csv", timeout=SHORT_TIMEOUT,
                                     progress=False, jobs=2)
    return {"rows": rows, "cases": cases, "before": before, "after": file_hashes(*roots),
            "connections": listener.connections}


def test_the_honest_submission_gets_full_points(graded):
    assert {r.question: r.points for r in graded["rows"] if r.student == "honest"} == \
        {"q1_square": 2, "q2_mean": 2}


@pytest.mark.parametrize("name", list(attacks(Path("/x"), 1)))
def test_each_attack_gets_only_what_its_answers_earn(graded, name):
    _, _, _, expected, reason = graded["cases"][name]
    rows = [r for r in graded["rows"] if r.student == name]
    assert len(rows) == 2
    assert all(r.reason for r in rows)
    q1 = next(r for r in rows if r.question == "q1_square")
    assert outcome_accepted(name, sum(r.points for r in rows), q1.reason, expected, reason), rows


def test_no_attack_changed_a_file_outside_its_folder(graded):
    assert graded["before"] == graded["after"]


def test_no_attack_reached_the_network(graded):
    assert graded["connections"] == []


@pytest.mark.skipif(os.geteuid() != 0, reason="separate users per sandbox need root")
def test_sandboxes_running_at_once_run_as_different_unprivileged_users(tmp_path):
    """The process limit is per user: a fork bomb in one sandbox must not use up another's,
    so sandboxes running at once never share a uid, even from different processes (two
    `course grade` commands, or two test workers, each of which once started at nobody).
    CI once failed on this: a sandbox of another worker, as the same nobody, used up the
    process limit, and OpenBLAS, unable to start a thread, raised SIGINT."""
    import subprocess
    import sys
    import threading

    # another process (another grader) holds a user (nobody) for the whole test
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from instructor import sandbox\n"
         "with sandbox._claim_user() as uid:\n    print(uid, flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True, cwd=Path(sandbox.__file__).parents[1])
    try:
        held = int(holder.stdout.readline())
        assert held == sandbox.NOBODY or held > sandbox.SANDBOX_UID_BASE
        seen = [None] * 3

        def one(k):
            work = tmp_path / f"job{k}"
            work.mkdir()
            outcome = sandbox.run(["/bin/sh", "-c", "id -u; sleep 3"], work,
                                  limits=sandbox.Limits(wall_seconds=60))
            assert outcome.exited_normally, outcome
            seen[k] = int(outcome.log_tail.strip())

        threads = [threading.Thread(target=one, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        holder.kill()
        holder.wait()
    assert None not in seen, "a sandbox did not run"
    assert len(set(seen + [held])) == 4 and 0 not in seen, (held, seen)


def test_the_sandbox_has_no_network_no_home_and_no_privilege(tmp_path):
    import json
    import sys

    work = tmp_path / "work"
    (work / "home").mkdir(parents=True)
    home = Path.home()
    probe = ("import json, os, socket\n"
             "try:\n    socket.create_connection(('127.0.0.1', 9), timeout=1); net = True\n"
             "except OSError:\n    net = False\n"
             f"home = {str(home)!r}\n"
             "print(json.dumps({'net': net, 'home': sorted(os.listdir(home)) if os.path.isdir(home) else [],"
             f" 'source': os.path.exists({str(SOURCE)!r}), 'uid': os.getuid()}}))\n")
    outcome = sandbox.run([sys.executable, "-c", probe], work, limits=sandbox.Limits(wall_seconds=60))
    assert outcome.exited_normally, outcome.log_tail
    seen = json.loads(outcome.log_tail.strip().splitlines()[-1])
    assert seen["net"] is False
    assert seen["source"] is False
    # Of the home folder, only the parents of the Python installation may show (e.g. ~/.pyenv).
    allowed = {d.relative_to(home).parts[0] for d in sandbox.python_dirs() if home in d.parents}
    assert set(seen["home"]) <= allowed, seen["home"]
    if os.geteuid() == 0:   # nobody, or an unnamed uid when nobody runs another sandbox now
        assert seen["uid"] == sandbox.NOBODY or seen["uid"] > sandbox.SANDBOX_UID_BASE, seen["uid"]
