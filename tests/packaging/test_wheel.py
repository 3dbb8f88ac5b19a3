"""The package as a user gets it: a wheel installed without extras into a fresh virtual
environment imports every module of `utils` and runs `course --help` (issue 20).

Slow (a fresh environment with TensorFlow): not part of `make test`; `make test-packaging`
runs it, and so does .ci/run. The pinned versions of constraints.txt keep the install to
what pip has already cached from `make setup`.
"""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*cmd, cwd=None):
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_wheel_without_extras_in_a_fresh_venv(tmp_path):
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", tmp_path / "dist", ROOT)
    [wheel] = (tmp_path / "dist").glob("cnn_keras_course-*.whl")
    modules = sorted(name[:-3].replace("/", ".") for name in zipfile.ZipFile(wheel).namelist()
                     if name.startswith(("utils/", "instructor/")) and name.endswith(".py")
                     and not name.endswith("__init__.py"))
    assert {"utils.data", "utils.notebook", "utils.versions", "instructor.course",
            "instructor.grading", "instructor.sandbox", "instructor.runner"} <= set(modules), modules

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "-c", ROOT / "constraints.txt", wheel)

    # Outside the repository, so that `utils` can only come from the installed wheel.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    imports = "; ".join(f"import {m}" for m in modules)
    out = run(python, "-c", f"import utils; {imports}; import utils.versions as v; "
                            "print(v.PYPROJECT.is_file()); print(sorted(v.declared_minimums().items()))",
              cwd=elsewhere)
    from_wheel, minimums = out.strip().splitlines()
    assert from_wheel == "False"  # read from the installed metadata, not from a clone

    sys.path.insert(0, str(ROOT))
    try:
        from utils.versions import declared_minimums
    finally:
        sys.path.remove(str(ROOT))
    assert minimums == str(sorted(declared_minimums().items()))  # the same numbers as pyproject.toml

    help_text = run(venv / "bin" / "course", "--help", cwd=elsewhere)
    assert "student" in help_text and "grade" in help_text
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    installed = run(python, "-m", "pip", "list", "--format=freeze").lower()
    for extra_only in ("otter-grader", "pytest"):  # no extra was asked for
        assert any(extra_only in " ".join(reqs) for reqs in extras.values())
        assert f"{extra_only}==" not in installed
