"""One source of truth for the course's dependencies (issue 20): pyproject.toml declares
them, the setup cell checks its minima, requirements.txt pins them, deptry checks that
every import of utils/, the tests and the notebooks is declared."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

from utils import versions
from utils.versions import normalize, parse_requirement, too_old, version_tuple

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(path):
    lines = [l.split("#")[0].strip() for l in (ROOT / path).read_text().splitlines()]
    return {normalize(l.split("==")[0]): l.split("==")[1] for l in lines if "==" in l}


@pytest.mark.parametrize("text, expected", [
    ("2.16.1", (2, 16, 1)), ("3.5", (3, 5)), ("0.2.0.1", (0, 2, 0, 1)),
    ("3.0.0rc1", (3, 0, 0)), ("2.21.0+cpu", (2, 21, 0)), ("1.26.4.dev0", (1, 26, 4)),
])
def test_version_tuple(text, expected):
    assert version_tuple(text) == expected


def test_parse_requirement():
    assert parse_requirement("keras>=3.5") == ("keras", (3, 5))
    assert parse_requirement("Scikit_Learn >= 1.4, <2") == ("scikit-learn", (1, 4))
    assert parse_requirement("umap-learn[plot]>=0.5.6") == ("umap-learn", (0, 5, 6))
    assert parse_requirement("tqdm") == ("tqdm", None)
    assert parse_requirement('otter-grader>=7.0; extra == "colab"') is None
    with pytest.raises(ValueError):
        parse_requirement(">=1.0")


def test_too_old_compares_release_numbers():
    minimums = {"keras": (3, 5), "numpy": (1, 26)}
    assert too_old({"keras": "3.5.0", "numpy": "2.0.1"}, minimums) == []
    assert too_old({"keras": "3.13.2", "Numpy": "1.26"}, minimums) == []
    [problem] = too_old({"keras": "3.4.1", "numpy": "1.26.4"}, minimums)
    assert "keras 3.4.1" in problem and "3.5" in problem
    assert too_old({"something-else": "0.1"}, minimums) == []


def test_setup_cell_reads_pyproject_minimums():
    minimums = versions.declared_minimums()
    assert minimums["python"] == version_tuple(re.search(r">=([\d.]+)", PROJECT["requires-python"]).group(1))
    for text in PROJECT["dependencies"]:
        name, bound = parse_requirement(text)
        assert bound is not None, f"{text}: every dependency declares its minimum"
        assert minimums[name] == bound
    assert {"tensorflow", "keras", "numpy"} <= set(minimums)


def test_setup_notebook_refuses_a_keras_below_the_minimum(monkeypatch):
    import keras
    from utils import notebook

    need = versions.declared_minimums()["keras"]
    older = f"{need[0]}.{need[1] - 1}.0" if need[1] else f"{need[0] - 1}.99.0"
    monkeypatch.setattr(keras, "__version__", older)
    pattern = f"keras {older} is older than the course's minimum {'.'.join(map(str, need))}"
    with pytest.raises(RuntimeError, match=re.escape(pattern)):
        notebook.setup_notebook()


def test_requirements_pin_every_declared_dependency_within_its_range():
    requirements, constraints = pins("requirements.txt"), pins("constraints.txt")
    declared = PROJECT["dependencies"] + [r for extra in ("instructor", "test", "site")
                                          for r in PROJECT["optional-dependencies"][extra]]
    for text in declared:
        name, bound = parse_requirement(text.split(";")[0])
        assert name in requirements, f"{name} is declared in pyproject.toml but not pinned in requirements.txt"
        assert version_tuple(requirements[name]) >= bound, f"{name}=={requirements[name]} is below {bound}"
        assert constraints.get(name) == requirements[name], f"{name}: constraints.txt and requirements.txt differ"
    env = (ROOT / "environment.yml").read_text()
    assert "-r requirements.txt" in env and "-c constraints.txt" in env and "-e ." in env


def test_deptry_finds_no_undeclared_import():
    result = subprocess.run([sys.executable, "-m", "deptry", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deptry_fails_on_an_undeclared_import_in_a_notebook(tmp_path):
    """The check is not vacuous: a lesson that imports a package nobody declared fails it."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copytree(ROOT / "utils", tmp_path / "utils")
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import numpy as np\nimport requests  # undeclared")]
    nbformat.write(nb, tmp_path / "notebooks" / "10_new.ipynb")
    result = subprocess.run([sys.executable, "-m", "deptry", "."], cwd=tmp_path, capture_output=True, text=True)
    report = result.stdout + result.stderr
    assert result.returncode != 0
    assert re.search(r"10_new\.ipynb.*DEP00[13].*'requests'", report), report
