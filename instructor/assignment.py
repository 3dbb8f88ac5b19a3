"""Reading a lesson: the one place that knows the lesson format (otter-grader's "assign" cells).

Every consumer asks this module what a cell is: the grader (:mod:`instructor.grading`:
questions, probes, the reference solution), the student version and its leak scan
(:mod:`instructor.course`), the website (:mod:`instructor.site`) and the slides
(:mod:`instructor.slides`). None of them reads a marker itself.

The format
----------
A lesson is an otter-grader source notebook. An exercise is a block of cells between raw
cells ``# BEGIN QUESTION`` (with a YAML ``name:``, ``points:`` and, the course's own key,
``forbid:``, a stated rule: names the answer must not use, :mod:`utils.rules`) and
``# END QUESTION``;
inside it, blocks between raw ``# BEGIN/END PROMPT``, ``# BEGIN/END SOLUTION`` and
``# BEGIN/END TESTS`` cells. Markers are read as otter-grader 7 reads them
(``otter/assign/blocks.py``): the first line of a raw cell, in any case, ``#`` and the
words separated by white space. :func:`walk` yields every cell with its role
(:data:`ROLES`) and the question it belongs to:

``setup``        the first code cell, when it is the course's setup cell (:data:`SETUP_MARKER`)
``config``       the raw ``# ASSIGNMENT CONFIG`` cell
``marker``       a raw ``# BEGIN/END ...`` cell
``prompt``       a cell of a question outside its blocks: the exercise's text
``answer``       a cell of a ``# BEGIN PROMPT`` block: what students get in place of the
                 solution (otter's "answer" cells)
``solution``     a cell of a ``# BEGIN SOLUTION`` block: the reference solution. Within its
                 code, lines between ``# BEGIN SOLUTION`` / ``# END SOLUTION`` comments and
                 lines ending in ``# SOLUTION`` are the solution proper; the rest (a ``def``
                 line) is what students get (:func:`strip_solution_code`)
``public test``  a test cell that students run (``grader.check``)
``probe``        a hidden test cell, for the grader only (:mod:`instructor.grading`). Its
                 first line is the hidden marker; the rest is the probe's code, then
                 optionally a line ``# CHECK`` (:data:`CHECK_MARKER`) and the probe's own check
``content``      everything else: the lesson

There is no "check" cell in a source notebook: otter writes the students' ``grader.check``
cells into the student version.

Which test cells are hidden
---------------------------
Otter-grader's rule (``otter/assign/tests_manager.py``, ``read_test``), adopted here as is,
because otter builds the student version and its autograder from the same notebook: a test
cell is hidden when its **very first line** is a comment (``#`` after optional spaces) that
contains the word ``hidden`` in any case. So ``# HIDDEN``, ``#HIDDEN``, ``# Hidden`` and
``# hidden: edge cases`` are probes; ``# HIDDEN_CASES`` (no word ``hidden``) and an
uncommented first line are public tests. A test cell that starts with a blank line and
then ``# HIDDEN`` is refused (:class:`FormatError`): otter reads only the very first line,
so it would call that cell public and show it to students. A marker cell is refused
likewise when a blank line or spaces come before its marker (otter would not see it). Otter's test
configuration blocks (a docstring ``# BEGIN TEST CONFIG``) are refused too: the course does not
use them and they could make a cell hidden another way, and so are otter's fenced Markdown
config cells (```` ```otter ````), which otter reads as raw marker cells. A cell outside a tests block is
never a probe, whatever its first line (otter shows it to students).

The walk also refuses what otter-grader refuses (a block outside a question, a question
inside another, a non-code cell in a tests block, an unclosed block, a question without
``name``), so that nothing is read one way here and another way by ``otter assign``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Iterator

import nbformat

# ------------------------------------------------------------------ markers
SETUP_MARKER = "# Setup, the same in every lesson"   # the first line of every setup cell
OTTER_INIT_MARKER = "# Initialize Otter"   # the init cell that `otter assign` writes
CHECK_INIT_MARKER = "# Exercise checks"     # the course's own, which replaces it
CHECK_MARKER = re.compile(r"^# CHECK\s*$", flags=re.M)   # splits a probe from its own check

BLOCKS = ("QUESTION", "PROMPT", "SOLUTION", "TESTS")
_BOUNDARY = re.compile(r"#\s+(BEGIN|END)\s+(QUESTION|PROMPT|SOLUTION|TESTS)", re.I)
_CONFIG = re.compile(r"#\s+ASSIGNMENT\s+CONFIG", re.I)
_HIDDEN = re.compile(r"\bHIDDEN\b", re.I)
_TEST_CONFIG = re.compile(r'(?:.\s*=\s*)?""?"?\s*#\s*BEGIN\s*TEST\s*CONFIG', re.I)

# ------------------------------------------------------------------ roles
SETUP, CONFIG, MARKER, PROMPT, ANSWER = "setup", "config", "marker", "prompt", "answer"
SOLUTION, PUBLIC_TEST, PROBE, CONTENT = "solution", "public test", "probe", "content"
ROLES = (SETUP, CONFIG, MARKER, PROMPT, ANSWER, SOLUTION, PUBLIC_TEST, PROBE, CONTENT)
_BLOCK_ROLES = {"QUESTION": PROMPT, "PROMPT": ANSWER, "SOLUTION": SOLUTION}


class FormatError(ValueError):
    """A lesson that otter-grader would read differently from the course, or not at all."""


def first_line(cell) -> str:
    """A cell's first line, stripped and upper-cased: where otter's markers (``# BEGIN
    QUESTION``, ``# HIDDEN``, ...) sit, in any case. Leading blank lines are skipped here;
    :func:`walk` refuses a marker or test cell that has them (otter would not see it)."""
    return cell.source.strip().split("\n", 1)[0].strip().upper()


# A probe's first line where no probe belongs (a question's prompt or solution): refused
# loudly rather than shown. Only "# HIDDEN" alone or "# hidden: ...", so that a comment such
# as "# hidden layer sizes" in a solution stays code.
_MISPLACED_PROBE = re.compile(r"^\s*#\s*hidden\s*(:.*)?$", flags=re.I)


def _otters_line(cell) -> str:
    """The line where otter-grader looks for markers: the very first one, blank or not."""
    return cell.source.split("\n", 1)[0]


def _is_marker_line(line: str) -> bool:
    return bool(_BOUNDARY.match(line) or _CONFIG.match(line))


def _is_hidden_line(line: str) -> bool:
    return line.lstrip().startswith("#") and bool(_HIDDEN.search(line))


def boundary(cell) -> tuple[str, str] | None:
    """``("BEGIN" or "END", block)`` for otter's raw block cells, else None."""
    if cell.cell_type != "raw":
        return None
    match = _BOUNDARY.match(first_line(cell))
    return (match.group(1).upper(), match.group(2).upper()) if match else None


def is_config(cell) -> bool:
    """Whether ``cell`` is the raw ``# ASSIGNMENT CONFIG`` cell."""
    return cell.cell_type == "raw" and bool(_CONFIG.match(first_line(cell)))


def is_assignment(nb) -> bool:
    """Whether the notebook is an otter-grader source (it has an assignment config cell)."""
    return any(is_config(c) for c in nb.cells)


def is_hidden_test(cell) -> bool:
    """Otter-grader's rule for a test cell: hidden when its first line is a comment holding
    the word ``hidden`` in any case (see the module docstring)."""
    return _is_hidden_line(first_line(cell))


def first_code_cell(nb) -> int:
    """The index of the notebook's first code cell."""
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")


def question_config(cell) -> dict:
    """``name``, ``points`` (default 1.0) and ``forbid`` (default none) of a ``# BEGIN
    QUESTION`` cell (its top-level YAML keys). ``forbid`` is the course's own key (a stated
    rule: :mod:`utils.rules`), a YAML list of names, ``forbid: [sklearn, GradientTape]`` or
    one ``- name`` per line; otter-grader never sees it (:func:`otter_source`)."""
    name = re.search(r"^name:\s*(\S+)", cell.source, flags=re.M)
    points = re.search(r"^points:\s*([\d.]+)", cell.source, flags=re.M)
    if not name:
        raise FormatError(f"a BEGIN QUESTION cell has no name: {cell.source!r}")
    return {"name": name.group(1), "points": float(points.group(1)) if points else 1.0,
            "forbid": _forbidden_names(cell.source, name.group(1))}


_FORBID = re.compile(r"^forbid:[ \t]*(.*)\n?((?:[ \t]+-.*\n?)*)", flags=re.M)
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")


def _forbidden_names(source: str, question: str) -> tuple[str, ...]:
    match = _FORBID.search(source)
    if not match:
        return ()
    flow, block = match.group(1).strip(), match.group(2)
    if flow.startswith("[") and flow.endswith("]"):
        items = flow[1:-1].split(",")
    elif not flow and block.strip():
        items = [line.strip()[1:] for line in block.splitlines() if line.strip()]
    else:
        raise FormatError(f"question {question}: `forbid` must be a list of names, "
                          f"as in `forbid: [sklearn, GradientTape]`, not {flow!r}")
    names = tuple(item.strip().strip("'\"") for item in items if item.strip())
    bad = [n for n in names if not _IDENTIFIER.match(n)]
    if bad or not names:
        raise FormatError(f"question {question}: `forbid` lists Python names (a module's "
                          f"path one part at a time: sklearn, not sklearn.metrics); got {bad or names}")
    return names


def otter_source(source_nb):
    """A copy of the source notebook as otter-grader may read it: the course's own question
    key ``forbid`` removed (otter refuses keys it does not know)."""
    nb = nbformat.from_dict(source_nb)
    for cell in nb.cells:
        if boundary(cell) == ("BEGIN", "QUESTION"):
            cell.source = _FORBID.sub("", cell.source).rstrip("\n")
    return nb


# ------------------------------------------------------------------ the walk
@dataclass(frozen=True)
class Part:
    """One cell of a lesson, with its place in the format."""
    index: int
    cell: object
    role: str                  # one of ROLES
    question: str | None       # the name of the question it belongs to (None outside)


def walk(nb) -> Iterator[Part]:
    """Every cell of the notebook, in order, with its role and question (module docstring).

    Raises :class:`FormatError` where otter-grader would fail or read the cell otherwise.
    """
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)
    blocks: list[str] = []
    question = None
    for index, cell in enumerate(nb.cells):
        def fail(why: str) -> FormatError:
            return FormatError(f"cell {index} ({cell.source[:60]!r}): {why}")

        bound = boundary(cell)
        if cell.cell_type == "raw" and _is_marker_line(first_line(cell)) \
                and not _is_marker_line(_otters_line(cell)):
            raise fail("otter-grader reads a marker only at the very start of a cell: remove "
                       "the blank line or spaces before it")
        if bound and bound[0] == "BEGIN":
            kind = bound[1]
            if kind == "QUESTION":
                if blocks:
                    raise fail("a question begins inside another question")
                question = question_config(cell)["name"]
            elif not blocks:
                raise fail(f"a {kind} block begins outside a question")
            elif len(blocks) > 1:
                raise fail(f"a {kind} block begins inside a {blocks[-1]} block")
            blocks.append(kind)
            yield Part(index, cell, MARKER, question)
            continue
        if bound:
            kind = bound[1]
            if blocks and blocks[-1] != kind and kind in blocks:
                raise fail(f"END {kind} inside an unended {blocks[-1]} block")
            if not blocks or blocks[-1] != kind:
                raise fail(f"END {kind} without its BEGIN {kind}")
            blocks.pop()
            yield Part(index, cell, MARKER, question)
            if kind == "QUESTION":
                question = None
            continue
        if is_config(cell):
            yield Part(index, cell, CONFIG, question)
            continue
        if cell.cell_type == "markdown" and any(line.strip() == "```otter"
                                                for line in cell.source.split("\n")):
            raise fail("otter's fenced Markdown config cells are not used in this course: "
                       "write the marker in a raw cell")
        block = blocks[-1] if blocks else None
        if block == "TESTS":
            if cell.cell_type != "code":
                raise fail("a tests block holds a cell that is not code")
            if is_hidden_test(cell) != _is_hidden_line(_otters_line(cell)):
                raise fail("a test cell starts with a blank line before `# HIDDEN`; otter-grader "
                           "reads only the very first line, and would show it to students: "
                           "remove the blank line")
            if _TEST_CONFIG.match(cell.source.split("\n", 1)[0]):
                raise fail("otter's test configuration blocks are not used in this course: "
                           "mark a hidden test with a first line `# HIDDEN`")
            role = PROBE if is_hidden_test(cell) else PUBLIC_TEST
        elif question is not None and cell.cell_type == "code" and \
                _MISPLACED_PROBE.match(first_line(cell)):
            raise fail("a `# HIDDEN` cell outside the question's tests block: otter-grader would "
                       "show it to students; put it between BEGIN TESTS and END TESTS")
        elif block is not None:
            role = _BLOCK_ROLES[block]
        elif index == first_code and cell.source.startswith(SETUP_MARKER):
            role = SETUP
        else:
            role = CONTENT
        yield Part(index, cell, role, question)
    if blocks:
        raise FormatError(f"the notebook ends inside a {blocks[-1]} block (no END {blocks[-1]})")


def roles(nb) -> list[str]:
    """The role of every cell (:func:`walk`)."""
    return [part.role for part in walk(nb)]


# ------------------------------------------------------------------ questions
@dataclass
class Probe:
    id: str
    question: str
    code: str
    check: str | None = None


@dataclass
class Question:
    name: str
    points: float
    probes: list[Probe] = field(default_factory=list)
    public_cells: list[int] = field(default_factory=list)
    forbid: tuple[str, ...] = ()      # its stated rule: names its answer must not use
    answer: list[str] = field(default_factory=list)   # the top-level names its solution defines

    @property
    def rule(self):
        """The question's rule (:class:`utils.rules.Rule`), or None when it has none."""
        from utils.rules import Rule

        return Rule(self.name, tuple(self.answer), self.forbid) if self.forbid else None


def probe_parts(cell) -> tuple[str, str | None]:
    """A probe cell's code (after its hidden marker line) and its own check (after a line
    ``# CHECK``), or None when it has none."""
    body = cell.source.split("\n", 1)[1] if "\n" in cell.source else ""
    parts = CHECK_MARKER.split(body, maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else None


def questions_of(source_nb) -> list[Question]:
    """The questions of a source notebook, in order, with their points and probes."""
    questions: list[Question] = []
    for part in walk(source_nb):
        if part.role == MARKER and boundary(part.cell) == ("BEGIN", "QUESTION"):
            config = question_config(part.cell)
            questions.append(Question(config["name"], config["points"], forbid=config["forbid"]))
        elif part.role == SOLUTION and part.cell.cell_type == "code":
            from utils.rules import defined_names

            question = questions[-1]
            question.answer += [n for n in defined_names(part.cell.source) if n not in question.answer]
        elif part.role == PROBE:
            question = questions[-1]
            code, check = probe_parts(part.cell)
            question.probes.append(Probe(f"{question.name}/{len(question.probes) + 1}",
                                         question.name, code, check))
        elif part.role == PUBLIC_TEST:
            questions[-1].public_cells.append(part.index)
    for q in questions:
        if not q.probes:
            raise ValueError(f"question {q.name} has no hidden test cell (probe) to grade it by")
        if q.forbid and not q.answer:
            raise FormatError(f"question {q.name} forbids names but its solution defines none "
                              "to check them in")
    return questions


def solution_notebook(source_nb, public_tests: bool = False):
    """The source notebook as the reference solution runs it: no raw cells, no hidden
    tests, and the public tests only when ``public_tests``. Returns (notebook, a map from
    the new cell index to the question of each kept public test cell)."""
    questions_of(source_nb)   # refuses a question without probes, as grading does
    nb = nbformat.v4.new_notebook(metadata=source_nb.metadata)
    where = {}
    for part in walk(source_nb):
        if part.cell.cell_type == "raw" or part.role == PROBE or (
                part.role == PUBLIC_TEST and not public_tests):
            continue
        if part.role == PUBLIC_TEST:
            where[len(nb.cells)] = part.question
        nb.cells.append(nbformat.from_dict(dict(part.cell)))
    return nb, where


def public_tests(source_nb) -> dict[str, list[str]]:
    """Each question's public tests (the test cells that are not probes), in order:
    ``{"q1_im2col": ["assert im2col(X, 3, 3).shape == (16, 9)", ...], ...}``."""
    return {q.name: [source_nb.cells[i].source for i in q.public_cells]
            for q in questions_of(source_nb)}


# ------------------------------------------------------------------ solution code
_ASSIGNMENT = re.compile(r"(\s*(?:[\w.]+(?=[^\w.])(?:\[['\"]?.*['\"]?\])*(?:,\s*)?)+\s*=).* ?# ?SOLUTION")
_SOLUTION_LINE = re.compile(r"(\s*).* ?# ?SOLUTION")
_BEGIN_SOLUTION = re.compile(r"(\s*)# BEGIN SOLUTION( NO PROMPT)?")
_SKIPPED_SUFFIXES = ("# SOLUTION NO PROMPT", "# BEGIN PROMPT", "# END PROMPT", "# SEED")


def function_sources(nb, names) -> dict[str, str]:
    """The source of each top-level function in ``names`` that the notebook's code cells
    define (the last definition wins), for tools that run a lesson's own code (benchmarks, the
    shortcut suite). Raises ``LookupError`` naming the ones it does not define."""
    found = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                found[node.name] = ast.get_source_segment(cell.source, node)
    missing = [n for n in names if n not in found]
    if missing:
        raise LookupError(f"the notebook defines no {missing}")
    return {n: found[n] for n in names}


def strip_solution_code(source: str) -> str:
    """A solution cell's code as the student version shows it (otter-grader's rules).

    Lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` become one ``...`` at the
    marker's indentation (nothing with ``NO PROMPT``); ``x = f(y)  # SOLUTION`` becomes
    ``x = ...`` and any other line ending in ``# SOLUTION`` becomes ``...``.
    """
    out, inside = [], False
    for line in source.split("\n"):
        stripped = line.rstrip()
        if stripped.endswith(_SKIPPED_SUFFIXES):
            continue
        if stripped.endswith("# END SOLUTION"):
            if not inside:
                raise ValueError(f"END SOLUTION without BEGIN SOLUTION in:\n{source}")
            inside = False
            continue
        if inside:
            continue
        begin = _BEGIN_SOLUTION.match(line)
        if begin:
            inside = True
            if not begin.group(2):
                out.append(begin.group(1) + "...")
            continue
        match = _ASSIGNMENT.match(line)
        if match:
            line = match.group(1) + " ..."
        elif (match := _SOLUTION_LINE.match(line)):
            line = match.group(1) + "..."
        out.append(line)
    if inside:
        raise ValueError(f"BEGIN SOLUTION without END SOLUTION in:\n{source}")
    return "\n".join(out)


# ------------------------------------------------------------------ the leak scan
def secret_lines(nb) -> set[str]:
    """Lines that only solutions and hidden tests hold: none may reach a student.

    Secret are: code lines between in-cell ``# BEGIN SOLUTION`` / ``# END SOLUTION``
    markers or ending in ``# SOLUTION`` (otter keeps the rest of a solution cell,
    such as the ``def`` line), whole Markdown cells inside a solution block (otter
    replaces them), and probes (but for their marker line). Lines that also occur
    outside these places (``return x``) are not counted.
    """
    secret, public = set(), set()
    for part in walk(nb):
        cell = part.cell
        if cell.cell_type == "raw":
            continue
        whole_cell = (cell.cell_type == "markdown" and part.role == SOLUTION) or part.role == PROBE
        lines = cell.source.split("\n")
        if part.role == PROBE:
            lines = lines[1:]          # the marker line (`# HIDDEN`) is no secret
        inside = False
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("# BEGIN SOLUTION"):
                inside = True
            elif stripped.startswith("# END SOLUTION"):
                inside = False
            elif stripped:
                is_secret = whole_cell or inside or stripped.endswith("# SOLUTION")
                (secret if is_secret else public).add(stripped)
    return {line for line in secret - public if len(line) > 3}


def _strings(value):
    """Every string inside nested dicts and lists (notebook metadata)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _string_constants(source: str, depth: int = 0):
    """Every string literal in Python source, and those inside strings that are Python
    source themselves (the public test files embedded in a student's init cell)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value
            if depth < 2:
                yield from _string_constants(node.value, depth + 1)


def text_lines(text: str) -> set[str]:
    """Stripped lines of a text, with doctest prompts (``>>>``, ``...``) removed.

    When the text is Python, the lines of its string literals count too, so code
    hidden in an escaped string (``'assert f(2) == 84\\n'``) is still seen.
    """
    lines = set()
    for chunk in (text, *_string_constants(text)):
        for line in chunk.split("\n"):
            line = line.strip()
            for prompt in (">>> ", "... "):
                if line.startswith(prompt):
                    line = line[len(prompt):].strip()
            lines.add(line)
    return lines


def find_leaks(source_nb, student_nb) -> list[str]:
    """Secret lines of ``source_nb`` that occur as a line of ``student_nb``: in a cell,
    an output, or the metadata (where otter stores public tests)."""
    found = set()
    for cell in student_nb.cells:
        found |= text_lines(cell.source)
        for output in cell.get("outputs", []):
            for text in _strings(dict(output)):
                found |= text_lines(text)
    for text in _strings(dict(student_nb.metadata)):
        found |= text_lines(text)
    return sorted(secret_lines(source_nb) & found)
