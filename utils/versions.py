"""The course's declared minimum versions, read from one place (introduced in lesson 01).

``pyproject.toml`` declares what the course needs (``requires-python`` and
``dependencies``). The setup cell of every lesson checks the installed versions against
those same numbers, so the two cannot disagree: in a clone the numbers come from
``pyproject.toml`` beside this package, and where the package was installed from a wheel
or from git (Colab) they come from the installed package's metadata, which pip wrote from
that same file.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

DIST_NAME = "cnn-keras-course"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")
_LOWER_BOUND = re.compile(r">=\s*([0-9][0-9A-Za-z.]*)")


def normalize(name: str) -> str:
    """A distribution name in PEP 503 form: ``Scikit_Learn`` -> ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def version_tuple(version: str) -> tuple[int, ...]:
    """The numeric release part of a version: '2.16.1' -> (2, 16, 1), '3.0.0rc1' -> (3, 0, 0)."""
    parts = []
    for piece in version.split("+", 1)[0].split("."):
        digits = re.match(r"\d*", piece).group()
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) < len(piece):  # '0rc1': the release part ends here
            break
    return tuple(parts)


def parse_requirement(text: str) -> tuple[str, tuple[int, ...] | None] | None:
    """``'keras>=3.5'`` -> ``('keras', (3, 5))``; a requirement with no lower bound gives
    ``(name, None)``; one that applies only to an extra (``; extra == "x"``) gives None."""
    requirement, _, marker = text.partition(";")
    if "extra" in marker:
        return None
    match = _REQUIREMENT.match(requirement)
    if not match:
        raise ValueError(f"cannot read the requirement {text!r}")
    name, spec = match.groups()
    bound = _LOWER_BOUND.search(spec)
    return normalize(name), version_tuple(bound.group(1)) if bound else None


def _declared_from_pyproject(path: Path) -> tuple[list[str], str]:
    project = tomllib.loads(path.read_text())["project"]
    return list(project.get("dependencies", [])), project.get("requires-python", "")


def _declared_from_metadata() -> tuple[list[str], str]:
    dist = metadata.distribution(DIST_NAME)
    return list(dist.requires or []), dist.metadata.get("Requires-Python", "")


def declared_requirements() -> tuple[list[str], str]:
    """The course's dependency strings and its ``requires-python``, from ``pyproject.toml``
    when this package sits in a clone of the course, else from the installed metadata."""
    if PYPROJECT.is_file():
        return _declared_from_pyproject(PYPROJECT)
    return _declared_from_metadata()


def declared_minimums() -> dict[str, tuple[int, ...]]:
    """Each declared dependency's lower bound, by normalized name, with ``"python"`` for
    ``requires-python``: e.g. ``{"python": (3, 11, 4), "keras": (3, 5), ...}``."""
    requirements, requires_python = declared_requirements()
    minimums = {}
    bound = _LOWER_BOUND.search(requires_python)
    if bound:
        minimums["python"] = version_tuple(bound.group(1))
    for text in requirements:
        parsed = parse_requirement(text)
        if parsed and parsed[1] is not None:
            minimums[parsed[0]] = parsed[1]
    return minimums


def too_old(installed: dict[str, str], minimums: dict[str, tuple[int, ...]] | None = None) -> list[str]:
    """Messages for each package in ``installed`` (name -> version string) that is older
    than its declared minimum; empty when all are new enough."""
    minimums = declared_minimums() if minimums is None else minimums
    problems = []
    for name, version in installed.items():
        need = minimums.get(normalize(name))
        if need is not None and version_tuple(version) < need:
            problems.append(f"{name} {version} is older than the course's minimum "
                            f"{'.'.join(map(str, need))}")
    return problems
