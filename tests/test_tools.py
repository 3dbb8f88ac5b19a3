"""tools/colab_env.py (make test-colab) and tools/lowest_constraints.py (make test-lowest)."""

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

from instructor import course
from utils.versions import parse_requirement

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


colab_env = load("colab_env")
lowest = load("lowest_constraints")


# ------------------------------------------------------------------ colab_env
def test_the_setup_cells_install_is_read_from_the_lessons():
    url = course.repository_url(ROOT)
    for path in course.lesson_notebooks(ROOT):
        args = colab_env.setup_install_args(colab_env.setup_cell(path))
        assert args == ["-q", f"cnn-keras-course @ git+{url}"], path.name
    local = colab_env.with_source(args, "git+file:///tmp/clone@abc123")
    assert local == ["-q", "cnn-keras-course @ git+file:///tmp/clone@abc123"]
    with pytest.raises(ValueError, match="no `cnn-keras-course @ git"):
        colab_env.with_source(["-q", "numpy"], "git+file:///x")
    with pytest.raises(ValueError, match="no `pip install`"):
        colab_env.setup_install_args("import os")


def test_the_setup_cell_installs_no_extra():
    """Colab gets the helper package alone: an extra (otter-grader once) would pull in
    packages that change Colab's own (wrapt 2 -> 1)."""
    source = course.setup_cell_source("https://github.com/a/b")
    [requirement] = [a for a in colab_env.setup_install_args(source) if "cnn-keras-course" in a]
    assert "[" not in requirement.split("@")[0]


def test_compare_finds_changed_removed_and_added_packages():
    before = colab_env.read_freeze("# a comment\nwrapt==2.3.0\nNumPy==2.1.3\nsix==1.17.0\n-e /x\n")
    assert before == {"wrapt": "2.3.0", "numpy": "2.1.3", "six": "1.17.0"}
    after = colab_env.read_freeze("wrapt==1.17.3\nnumpy==2.1.3\nlime==0.2.0.1\n"
                                  "cnn-keras-course @ git+file:///repo@abc\n")
    assert colab_env.compare(before, after) == {
        "changed": ["wrapt: 2.3.0 -> 1.17.3"], "removed": ["six==1.17.0"],
        "added": ["cnn-keras-course==git+file:///repo@abc", "lime==0.2.0.1"]}
    assert colab_env.compare(before, {**before, "lime": "0.2.0.1"})["changed"] == []


def test_compare_command_fails_on_a_downgrade(tmp_path, capsys):
    (tmp_path / "before.txt").write_text("wrapt==2.3.0\nnumpy==2.1.3\n")
    (tmp_path / "ok.txt").write_text("wrapt==2.3.0\nnumpy==2.1.3\nlime==0.2.0.1\n")
    (tmp_path / "bad.txt").write_text("wrapt==1.17.3\nnumpy==2.1.3\n")
    assert colab_env.main(["compare", str(tmp_path / "before.txt"), str(tmp_path / "ok.txt")]) == 0
    assert "changed none of the 2 packages" in capsys.readouterr().out
    assert colab_env.main(["compare", str(tmp_path / "before.txt"), str(tmp_path / "bad.txt")]) == 1
    assert "CHANGED  wrapt: 2.3.0 -> 1.17.3" in capsys.readouterr().out


def test_colab_constraints_pin_the_published_versions_within_the_declared_ranges():
    """Colab's pinned versions must satisfy pyproject's minima, or the setup cell would
    upgrade them (and `make test-colab` would fail)."""
    lines = [l.split("#")[0].strip() for l in (ROOT / "constraints-colab.txt").read_text().splitlines()]
    pins = {colab_env.normalize(l.split("==")[0]): l.split("==")[1] for l in lines if "==" in l}
    assert {"tensorflow", "keras", "numpy", "wrapt"} <= set(pins)
    from utils.versions import declared_minimums, version_tuple

    for name, need in declared_minimums().items():
        if name in pins:
            assert version_tuple(pins[name]) >= need, f"Colab's {name} {pins[name]} is below {need}"


# ------------------------------------------------------------ lowest_constraints
def test_lowest_pins_cover_every_declared_minimum():
    """make test-lowest installs every minimum pyproject.toml declares: dependencies,
    every extra's, and the build's (setuptools)."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = (data["project"]["dependencies"] + data["build-system"]["requires"]
                + [r for reqs in data["project"]["optional-dependencies"].values() for r in reqs])
    pins = dict(p.split("==") for p in lowest.lowest_pins(ROOT / "pyproject.toml", None, build_system=True))
    for text in declared:
        name, bound = parse_requirement(text)
        assert bound is not None, f"{text}: declare a minimum"
        assert pins[name] == ".".join(map(str, bound))
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest-lowest:")[1].split("\n\n")[0]
    assert "--all-extras --build-system" in recipe and "PIP_CONSTRAINT=" in recipe
    extras = re.search(r"^EXTRAS := (\S+)", makefile, flags=re.M).group(1).split(",")
    assert sorted(extras) == sorted(data["project"]["optional-dependencies"])


def test_check_installed_compares_release_numbers():
    pins = ["pytest==8", "numpy==1.26"]
    assert lowest.check_installed(pins, "pytest==8.0.0\nnumpy==1.26.0\nsix==1.0\n") == []
    assert lowest.check_installed(pins, "pytest==8.3.1\n") == [
        "pytest is 8.3.1, not its declared minimum 8", "numpy is not installed"]
