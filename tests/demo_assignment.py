"""The small demo assignment that the grading tests use, submissions made from it, and
what the grading, attack and Gradescope suites share (a listening port, file hashes)."""

import hashlib
import socket
import threading
from pathlib import Path

import nbformat
import pytest

SOURCE = Path(__file__).parent / "assignment" / "grading_demo.ipynb"


def with_answers(student_nb, square_body, mean_body, extra=None, where="first"):
    """A copy of the student notebook with the two answer cells filled in.

    ``extra``, when given, is the source of one more code cell, placed before the answers
    (``where="first"``) or after every other cell (``where="last"``).
    """
    nb = nbformat.from_dict(student_nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("def square"):
            cell.source = f"def square(x):\n    {square_body}"
        elif cell.cell_type == "code" and cell.source.startswith("def mean_of"):
            cell.source = f"def mean_of(values):\n    {mean_body}"
    if extra is not None:
        cell = nbformat.v4.new_code_cell(extra)
        if where == "first":
            nb.cells.insert(2, cell)
        elif where == "last":
            nb.cells.append(cell)
        else:
            raise ValueError(f"where must be 'first' or 'last', not {where!r}")
    return nb


def student_notebook(build: Path):
    """The demo's student version, made by ``course student`` (otter-grader) in ``build``;
    the test is skipped where otter-grader is not installed."""
    pytest.importorskip("otter", reason="student versions are made with otter-grader "
                                        "(the instructor extra), not installed here")
    from instructor import course

    return nbformat.read(course.make_student_version(SOURCE, build), as_version=4)


def file_hashes(*roots: Path) -> dict:
    """sha256 of every file under ``roots`` (bytecode caches left out)."""
    return {p: hashlib.sha256(p.read_bytes()).hexdigest()
            for root in roots for p in Path(root).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


class Listener:
    """A port on 127.0.0.1 that accepts and records every connection while in a ``with``:
    an attack that reaches it has reached the network."""

    def __enter__(self):
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen()
        self._socket.settimeout(0.5)
        self.port = self._socket.getsockname()[1]
        self.connections: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def _accept(self):
        while not self._stop.is_set():
            try:
                self.connections.append(self._socket.accept())
            except OSError:
                pass

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._socket.close()
