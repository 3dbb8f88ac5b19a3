"""Where things are in the course's checkout: the lessons, the repository's address, Colab's.

Kept apart from the command line (:mod:`instructor.course`) so that every module may use
these without importing it: the command line imports the other modules, never the reverse.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

COLAB_PREFIX = "https://colab.research.google.com/github/"
COLAB_BADGE_RE = re.compile(re.escape(COLAB_PREFIX) + r"[^/\s)]+/[^/\s)]+/blob/[^/\s)]+/")


def repo_root() -> Path:
    """The course checkout: the folder above this package, else the working folder."""
    here = Path(__file__).resolve().parents[1]
    for candidate in (here, Path.cwd(), *Path.cwd().parents):
        if (candidate / "notebooks").is_dir() and (candidate / "pyproject.toml").exists():
            return candidate
    raise SystemExit("course: run this inside a clone of the course (no notebooks/ folder found)")


def lesson_notebooks(root: Path) -> list[Path]:
    """The numbered lesson notebooks, in order."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def find_lesson(root: Path, name: str) -> Path:
    """A lesson's source notebook from its number ("01"), stem or path."""
    path = Path(name)
    if path.suffix == ".ipynb" and path.exists():
        return path
    matches = [p for p in lesson_notebooks(root) if p.stem == name or p.name.startswith(f"{name}_")]
    if len(matches) != 1:
        known = ", ".join(p.stem for p in lesson_notebooks(root))
        raise SystemExit(f"course: no single lesson matches {name!r}; lessons: {known}")
    return matches[0]


def repository_url(root: Path) -> str:
    """The repository address, kept in one place: pyproject.toml's [project.urls]."""
    with open(root / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["urls"]["Repository"].rstrip("/")


def colab_base(url: str, branch: str = "main") -> str:
    """Colab's address prefix for files of the repository on ``branch``."""
    owner_repo = url.split("github.com/", 1)[1].removesuffix(".git")
    return f"{COLAB_PREFIX}{owner_repo}/blob/{branch}/"


def shown(path: Path) -> str:
    """A path relative to the working folder when it lies below it (for messages)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
