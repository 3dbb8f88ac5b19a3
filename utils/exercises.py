"""Exercise checks inside student notebooks, locally and on Colab (all lessons).

Otter's ``grader.check("q...")`` needs the public tests as files next to the
notebook; on Colab it cannot read them from the notebook's metadata. So the student
version of a lesson carries its public tests as text in its init cell, and this
function writes them out before otter starts. Hidden tests are never in a student
version: only the grader's bundle has them.
"""

from __future__ import annotations

import os
from pathlib import Path


def install_public_tests(lesson: str, files: dict[str, str], root: str | os.PathLike = "tests") -> str:
    """Write a lesson's public test files into ``root/<lesson>/``; return that folder.

    ``files`` maps file names (``q1_conv2d.py``) to their text. Existing files of the
    same name are replaced, so re-running the cell always restores the original tests.
    """
    if not lesson or os.sep in lesson or lesson.startswith("."):
        raise ValueError(f"not a lesson name: {lesson!r}")
    folder = Path(root) / lesson
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if Path(name).name != name or not name.endswith(".py"):
            raise ValueError(f"not a test file name: {name!r}")
        (folder / name).write_text(text)
    return str(folder)
