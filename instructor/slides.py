"""Lecture slides from the lesson notebooks: one reveal.js deck per lesson (``course slides``).

A deck is built from a lesson's source notebook and its stored outputs, at build time, so
its slides follow the notebook as it is now: no slide metadata is kept in the notebooks.

Structure (:func:`slide_notebook` makes a transformed copy; the source is never changed):

- the title cell and what precedes the first ``##`` heading make the first slide; every
  ``#``/``##`` heading starts a new slide (a Markdown cell holding a heading in its middle
  is split there);
- within a section, cells are packed into vertical sub-slides by an estimate of their
  height on a 1280x720 slide (:func:`estimated_height`): a cell that would not fit starts a
  new sub-slide, and a code cell's input and each of its outputs are separate pieces, so a
  tall figure moves to the next sub-slide rather than overflowing;
- left out: the setup cell, otter's raw ``# BEGIN/END ...`` cells, the exercises' test
  cells (public tests and ``# HIDDEN`` probes), and the reference solutions: a solution cell
  appears as the student sees it (the ``def`` line, ``...`` for the body), without outputs,
  unless ``solutions=True``;
- shortened: code longer than :data:`MAX_CODE_LINES` lines; text outputs longer than
  :data:`MAX_OUTPUT_LINES` lines keep their head and tail around a "... N lines ..."
  marker; progress bars (carriage returns) keep only their final state; Keras's coloured
  model summaries are shown as plain text; ``# extra code`` cells (figures only) show their
  output without their code; nbval markers are dropped from the code.

The HTML comes from nbconvert's ``SlidesExporter`` with a template (:data:`TEMPLATE`) that
loads reveal.js and KaTeX from ``_static/`` beside the decks instead of CDNs, and no
jQuery, RequireJS or Mermaid. Both are npm packages pinned by version and sha512
(:data:`instructor.npm.VENDORED`), fetched once with ``npm pack`` into a cache
(:mod:`instructor.npm`) and unpacked into the output folder, so the decks work offline.
Figures are the notebooks' embedded PNGs, so each deck is one HTML file plus ``_static/``.

PDF handouts (:func:`write_pdfs`, ``python -m instructor.slides pdf dist/slides``, which
``make slides`` runs after ``course slides``): each deck printed by headless Chromium in
reveal.js's print layout (``?print-pdf``), one page per slide and sub-slide, beside the
deck (``01_convolution_basics.pdf``), linked from ``index.html``. Without Chromium the
decks are still written and the PDFs are skipped with a warning (exit status 1 with
``--require`` or under CI=true).
"""

from __future__ import annotations

import argparse
import base64
import copy
import html
import json
import os
import re
import select
import shutil
import string
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import assignment, figures
from .assignment import SETUP_MARKER, strip_solution_code  # noqa: F401  (used by tests and callers)
from .npm import VENDORED, NpmPackage, fetch_tarball, install_vendored, vendor_cache  # noqa: F401

# ------------------------------------------------------------ layout constants
WIDTH, HEIGHT = 1280, 720          # reveal.js's slide size (16:9), scaled to the screen
CONTENT_WIDTH = 1240               # the slide less its side padding (see CSS)
HEIGHT_BUDGET = 640                # estimated pixels a sub-slide may fill (the rest is slack)
MAX_IMAGE_HEIGHT = 560             # CSS max-height of a figure, also used in the estimate
MAX_CODE_LINES = 16                # longer code cells are cut, with a marker line
MAX_OUTPUT_LINES = 14              # longer text outputs keep head and tail
OUTPUT_HEAD, OUTPUT_TAIL = 6, 6
PROSE_LINE, PROSE_CHARS = 30, 95   # 22 px text: pixels per line, characters per line
CODE_LINE, CODE_CHARS = 20, 125    # 15 px monospace
OUT_LINE, OUT_CHARS = 18, 135      # 14 px monospace
HEADING_HEIGHT = {1: 70, 2: 62, 3: 46, 4: 38}
DISPLAY_MATH_HEIGHT, INLINE_MATH_EXTRA = 95, 3   # KaTeX: a $$ formula, each $...$

HEADING_RE = re.compile(r"^(#{1,4})\s+\S")
NBVAL_MARKER_RE = re.compile(r"^\s*#\s*NBVAL_\w+\s*$")
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BADGE_RE = re.compile(r"\[!\[([^\]]*)\]\([^)]*\)\]\(([^)]*)\)")   # [![alt](img)](link)


# --------------------------------------------------------------- cell roles
# The deck's view of assignment.walk's roles: what it leaves out ("setup", "raw", "test"),
# what it shows as the student sees it ("solution") and the rest ("content").
_SLIDE_ROLE = {assignment.SETUP: "setup", assignment.PUBLIC_TEST: "test", assignment.PROBE: "test",
               assignment.SOLUTION: "solution"}


def cell_roles(nb) -> list[str]:
    """The role of every cell on a slide, from :func:`instructor.assignment.walk`.

    One of ``"setup"`` (the course's setup cell), ``"raw"`` (any raw cell: otter's
    ``# BEGIN/END ...`` and config cells), ``"test"`` (a public test or a hidden probe),
    ``"solution"`` (a cell of a solution block) or ``"content"`` (the rest, an
    exercise's text included).
    """
    return ["raw" if part.cell.cell_type == "raw" else _SLIDE_ROLE.get(part.role, "content")
            for part in assignment.walk(nb)]


# ------------------------------------------------------------ text shortening
def terminal_text(text: str) -> str:
    """What a terminal would show for ``text``: each carriage return overwrites its
    line (a progress bar keeps its last state), backspaces erase, ANSI codes go."""
    lines = []
    for line in ANSI_RE.sub("", text).split("\n"):
        line = line.rstrip("\r").rsplit("\r", 1)[-1]
        shown = []
        for char in line:
            if char == "\b":
                if shown:
                    shown.pop()
            else:
                shown.append(char)
        lines.append("".join(shown))
    return "\n".join(lines)


def shorten_lines(text: str, limit: int = MAX_OUTPUT_LINES, head: int = OUTPUT_HEAD,
                  tail: int = OUTPUT_TAIL) -> str:
    """``text`` unchanged when it has at most ``limit`` lines, else its first ``head``
    and last ``tail`` lines around a line ``... N lines ...`` (N: the lines left out)."""
    trailing_newline = text.endswith("\n")
    lines = text[:-1].split("\n") if trailing_newline else text.split("\n")
    if len(lines) <= limit:
        return text
    left_out = len(lines) - head - tail
    kept = lines[:head] + [f"… {left_out} lines …"] + lines[-tail:]
    return "\n".join(kept) + ("\n" if trailing_newline else "")


def shorten_code(source: str, limit: int = MAX_CODE_LINES) -> str:
    """Code cut to its first ``limit - 1`` lines and a comment saying how many follow."""
    lines = source.rstrip("\n").split("\n")
    if len(lines) <= limit:
        return source
    return "\n".join(lines[: limit - 1] + [f"# … {len(lines) - limit + 1} more lines in the notebook"])


def clean_code(source: str, shorten: bool = True) -> str:
    """The code as shown on a slide: nbval's marker lines dropped, then shortened."""
    code = "\n".join(line for line in source.split("\n") if not NBVAL_MARKER_RE.match(line))
    return shorten_code(code.strip("\n")) if shorten else code.strip("\n")


def clean_outputs(outputs: list) -> list:
    """Outputs for a slide: consecutive stream outputs of one stream merged and shown as
    a terminal would (progress bars at their last state), stderr dropped (warnings and
    logs), long texts shortened, Keras's rich-text summaries as plain text, errors kept."""
    merged = []
    for out in outputs:
        out = copy.deepcopy(out)
        if out.output_type == "stream":
            if out.name == "stderr":
                continue
            if merged and merged[-1].output_type == "stream" and merged[-1].name == out.name:
                merged[-1].text += out.text
                continue
        merged.append(out)
    cleaned = []
    for out in merged:
        if out.output_type == "stream":
            out.text = shorten_lines(terminal_text(out.text))
            if not out.text.strip():
                continue
        elif out.output_type in ("display_data", "execute_result"):
            data = out.get("data", {})
            html_text = data.get("text/html", "")
            if html_text.lstrip().startswith("<pre") and "text/plain" in data:
                del data["text/html"]           # rich's <pre> blocks: plain text shortens
            if "text/plain" in data and len(data) == 1:
                data["text/plain"] = shorten_lines(terminal_text(data["text/plain"]))
        cleaned.append(out)
    return cleaned


# ------------------------------------------------------------ height estimates
def png_size(b64: str) -> tuple[int, int]:
    """Width and height of a base64-encoded PNG, read from its IHDR header."""
    head = base64.b64decode(b64[:44])
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return struct.unpack(">II", head[16:24])


def _wrapped_lines(text: str, chars: int) -> int:
    return sum(max(1, -(-len(line) // chars)) for line in text.split("\n"))


def estimated_height(cell) -> int:
    """Estimated height in slide pixels (of 720) of a prepared cell on a slide.

    Deliberately simple: prose and code are lines (wrapped at a fixed number of
    characters) times a line height, a heading its size, a figure its displayed height
    (scaled to the slide's width, at most :data:`MAX_IMAGE_HEIGHT`), a table its rows.
    The browser test measures the real heights; the constants are tuned to it.
    """
    if cell.cell_type == "markdown":
        height = 0
        for block in re.split(r"\n\s*\n", cell.source.strip()):
            match = HEADING_RE.match(block)
            if match:
                height += HEADING_HEIGHT[len(match.group(1))]
                block = block.split("\n", 1)[1] if "\n" in block else ""
            if block.strip().startswith("$$"):          # display math: a formula's height
                height += DISPLAY_MATH_HEIGHT * max(1, block.count("$$") // 2)
            elif block.strip():                          # inline math stretches its line
                height += (_wrapped_lines(block, PROSE_CHARS) * PROSE_LINE + 14
                           + INLINE_MATH_EXTRA * (block.count("$") // 2))
        return height
    height = 0
    if not cell.metadata.get("transient", {}).get("remove_source") and cell.source.strip():
        height += _wrapped_lines(cell.source, CODE_CHARS) * CODE_LINE + 24
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            height += _wrapped_lines(out.text.rstrip("\n"), OUT_CHARS) * OUT_LINE + 12
        elif out.output_type == "error":
            height += (len(out.get("traceback", [])) + 1) * OUT_LINE
        else:
            data = out.get("data", {})
            if "image/png" in data:
                w, h = png_size(data["image/png"])
                height += min(MAX_IMAGE_HEIGHT, h * min(1.0, CONTENT_WIDTH / w)) + 10
            elif "text/html" in data:
                rows = data["text/html"].count("<tr")
                height += rows * 30 + 20 if rows else _wrapped_lines(data["text/html"], OUT_CHARS) * OUT_LINE
            elif "text/plain" in data:
                height += _wrapped_lines(data["text/plain"].rstrip("\n"), OUT_CHARS) * OUT_LINE + 12
    return int(height)


# ------------------------------------------------------------ the transformed copy
def split_markdown(source: str) -> list[str]:
    """A Markdown cell's text split into blocks: at every heading line (``#`` to
    ``####``) and at blank lines between paragraphs, never inside a code fence or
    a display-math block, and never before an indented (continuation) line."""
    blocks, current, fence, math = [], [], False, False
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fence = not fence
        if not fence and line.strip() == "$$":
            math = not math
        quiet = not fence and not math
        if quiet and HEADING_RE.match(line) and any(x.strip() for x in current):
            blocks.append(current)
            current = []
        if quiet and not line.strip():
            nxt = next((x for x in lines[i + 1:] if x.strip()), "")
            if nxt and not nxt.startswith((" ", "\t")) and any(x.strip() for x in current):
                blocks.append(current)
                current = []
                continue
        current.append(line)
    if any(x.strip() for x in current):
        blocks.append(current)
    return ["\n".join(b).strip("\n") for b in blocks]


def _is_heading(cell, levels=(1, 2)) -> bool:
    match = cell.cell_type == "markdown" and HEADING_RE.match(cell.source)
    return bool(match) and len(match.group(1)) in levels


@dataclass
class Piece:
    """One cell of the slide notebook, with its estimated height."""
    cell: object
    height: int


def _pieces(nb, solutions: bool) -> list[Piece]:
    """The notebook's shown content as small cells: Markdown by block, code as its
    input and then each output on its own (so that each may start a sub-slide)."""
    pieces = []
    for cell, role in zip(nb.cells, cell_roles(nb)):
        if role in ("setup", "raw", "test"):
            continue
        if role == "solution" and not solutions and cell.cell_type != "code":
            continue
        if cell.cell_type == "markdown":
            text = BADGE_RE.sub(r"[\1](\2)", cell.source)   # no remote images offline
            for block in split_markdown(text):
                piece = nbformat.v4.new_markdown_cell(block)
                pieces.append(Piece(piece, estimated_height(piece)))
            continue
        if cell.cell_type != "code":
            continue
        source = cell.source
        outputs = clean_outputs(cell.get("outputs", []))
        if role == "solution" and not solutions:
            source, outputs = strip_solution_code(source), []
        figure_code = source.lstrip().lower().startswith("# extra code")
        shown = clean_code(source, shorten=role != "solution")   # a solution is shown whole
        code = nbformat.v4.new_code_cell(shown, execution_count=cell.get("execution_count"))
        if code.source.strip() and not (figure_code and outputs):   # a figure needs no code
            pieces.append(Piece(code, estimated_height(code)))
        for out in outputs:
            only = nbformat.v4.new_code_cell("", execution_count=cell.get("execution_count"))
            only.outputs = [out]
            only.metadata["transient"] = {"remove_source": True}
            pieces.append(Piece(only, estimated_height(only)))
    return pieces


def slide_notebook(nb, solutions: bool = False):
    """A copy of lesson notebook ``nb`` laid out as slides (see the module docstring):
    every cell carries ``metadata.slideshow.slide_type`` ``"slide"``, ``"subslide"`` or
    ``"-"`` (continue), and left-out cells are not in it at all."""
    pieces = _pieces(figures.carry_alt(copy.deepcopy(nb)), solutions)   # figures' alt text
    if not pieces:
        raise ValueError("the notebook has nothing to show on a slide")
    cells, used = [], 0
    for k, piece in enumerate(pieces):
        cell = piece.cell
        if k == 0 or _is_heading(cell):
            kind, used = "slide", 0
        elif used and used + piece.height > HEIGHT_BUDGET:
            kind, used = "subslide", 0
        elif (_is_heading(cell, levels=(3, 4)) and k + 1 < len(pieces)
              and used + piece.height + min(pieces[k + 1].height, 200) > HEIGHT_BUDGET):
            kind, used = "subslide", 0            # a heading goes with what follows it
        else:
            kind = "-"
        used += piece.height
        cell.metadata["slideshow"] = {"slide_type": kind}
        cells.append(cell)
    out = nbformat.v4.new_notebook(metadata=copy.deepcopy(nb.metadata))
    out.cells = cells
    return out


def live_notebook(nb, solutions: bool = False):
    """A copy of lesson notebook ``nb`` to present live with RISE (jupyterlab-rise) and
    run cell by cell: every cell of the lesson, unchanged and in order (Markdown cells
    split at ``#``/``##`` headings), with ``metadata.slideshow.slide_type`` computed as for
    the decks: a heading starts a slide, a cell that would not fit a sub-slide, the setup
    cell, otter's raw cells, tests and (unless ``solutions``) solutions are ``"skip"``:
    hidden in the slideshow, still run by "Run All"."""
    out = figures.carry_alt(copy.deepcopy(nb))   # figures' alt text into their outputs
    cells, roles = [], []
    for cell, role in zip(out.cells, cell_roles(nb)):
        if cell.cell_type == "markdown" and role == "content":
            blocks, current = [], []
            for block in split_markdown(cell.source):
                if HEADING_RE.match(block) and len(HEADING_RE.match(block).group(1)) <= 2 and current:
                    blocks.append("\n\n".join(current))
                    current = []
                current.append(block)
            if len(blocks) > 0:
                blocks.append("\n\n".join(current))
                for text in blocks:
                    cells.append(nbformat.v4.new_markdown_cell(text))
                    roles.append(role)
                continue
        cells.append(cell)
        roles.append(role)
    used, started = 0, False
    for cell, role in zip(cells, roles):
        hidden = role in ("setup", "raw", "test") or (role == "solution" and not solutions)
        if hidden:
            kind = "skip"
        else:
            shown = copy.deepcopy(cell)
            if shown.cell_type == "code":
                shown.source = clean_code(shown.source)
                shown.outputs = clean_outputs(shown.get("outputs", []))
            height = estimated_height(shown)
            if _is_heading(cell) or not started:
                kind, used, started = "slide", 0, True
            elif used and used + height > HEIGHT_BUDGET:
                kind, used = "subslide", 0
            else:
                kind = "-"
            used += height
        cell.metadata["slideshow"] = {"slide_type": kind}
    out.cells = cells
    out.metadata["rise"] = {"width": WIDTH, "height": HEIGHT, "scroll": True, "center": False,
                            "transition": "none"}
    return out


def write_live(sources: list[Path], out: Path, solutions: bool = False) -> list[Path]:
    """:func:`live_notebook` of each lesson into ``out`` (for RISE in ``make lab``)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for source in sources:
        path = out / source.name
        nbformat.write(live_notebook(nbformat.read(source, as_version=4), solutions), path)
        paths.append(path)
    return paths


# ------------------------------------------------------------ HTML
DATA = Path(__file__).with_name("data") / "slides"   # package data: the files below
# The decks' CSS, after nbconvert's ("html body" outranks the reveal theme, loaded later).
STYLE = string.Template((DATA / "style.css").read_text()).substitute(
    WIDTH=WIDTH, HEIGHT=HEIGHT, MAX_IMAGE_HEIGHT=MAX_IMAGE_HEIGHT)
# nbconvert's reveal template with every CDN replaced by the files in _static/.
TEMPLATE = (DATA / "reveal.html.j2").read_text()


def exporter():
    """nbconvert's SlidesExporter set up with the course's template and local reveal.js."""
    from nbconvert import SlidesExporter

    exp = SlidesExporter()
    exp.raw_template = TEMPLATE
    exp.reveal_url_prefix = "_static/reveal.js"
    exp.reveal_theme = "white"
    exp.reveal_transition = "slide"
    exp.reveal_width, exp.reveal_height = str(WIDTH), str(HEIGHT)
    exp.exclude_input_prompt = True
    exp.exclude_output_prompt = True
    return exp


def lesson_title(nb, fallback: str) -> str:
    """The lesson's title: the first Markdown heading's text."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.match(r"^#\s+(.+)$", cell.source.strip().split("\n", 1)[0])
            if match:
                return match.group(1).strip()
    return fallback


def build_deck(source: Path, out: Path, solutions: bool = False) -> Path:
    """Write ``out/<lesson>.html``, the reveal.js deck of one lesson notebook (the
    reveal.js and KaTeX files it loads must be in ``out/_static``: :func:`build_all`)."""
    nb = nbformat.read(source, as_version=4)
    slides = slide_notebook(nb, solutions=solutions)
    resources = {"metadata": {"name": lesson_title(nb, source.stem)}, "course_css": STYLE}
    body, _ = exporter().from_notebook_node(slides, resources=resources)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{source.stem}.html"
    path.write_text(body, encoding="utf-8")
    return path


def build_all(sources: list[Path], out: Path, solutions: bool = False,
              cache: Path | None = None) -> list[Path]:
    """Every lesson's deck into ``out``, with ``out/_static`` (reveal.js, KaTeX) and an
    ``index.html`` that links the decks."""
    install_vendored(out / "_static", cache)
    decks = [build_deck(source, out, solutions) for source in sources]
    items = "\n".join(
        f'<li><a href="{html.escape(d.name)}">'
        f"{html.escape(lesson_title(nbformat.read(s, as_version=4), s.stem))}</a></li>"
        for s, d in zip(sources, decks))
    (out / "index.html").write_text(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Lecture slides</title></head>\n<body><h1>Lecture slides</h1>\n"
        f"<ul>\n{items}\n</ul>\n<p>Arrow keys move between slides (down: the rest of a "
        "section), <kbd>S</kbd> opens the speaker view, <kbd>F</kbd> full screen.</p>\n"
        "</body></html>\n", encoding="utf-8")
    return decks


# ------------------------------------------------------------ PDF handouts
PDF_TIMEOUT = 300        # seconds one step of printing a deck may take
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
NO_CHROMIUM = ("no PDF handouts: headless Chromium prints them and none was found on PATH "
               f"({', '.join(CHROMIUM_NAMES)}; Debian/Ubuntu: apt install chromium); the HTML "
               "decks are written all the same")
_PAGE_RE = re.compile(rb"/Type\s*/Page\b(?!s)")


def find_chromium() -> str | None:
    """The first Chromium or Chrome on PATH, or None."""
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def pdf_page_count(path: Path) -> int:
    """The number of pages of a PDF that Chromium wrote (its page objects, which Chromium
    writes uncompressed)."""
    return len(_PAGE_RE.findall(path.read_bytes()))


# Waits until reveal.js has laid out every slide for printing (its .pdf-page elements; right
# after loading it has once answered ready with no slides yet), fonts and images included.
PRINT_READY_JS = """new Promise(resolve => { const check = () =>
  (window.Reveal && Reveal.isReady() && Reveal.getSlides().length && document.querySelector('.pdf-page'))
    ? document.fonts.ready.then(() => Promise.all(Array.from(document.images, i => i.decode().catch(() => 0))))
        .then(() => resolve(document.querySelectorAll('.pdf-page').length))
    : setTimeout(check, 100); check(); })"""


class _Chromium:
    """Headless Chromium driven through its DevTools protocol on a pipe
    (``--remote-debugging-pipe``: commands on its fd 3, answers on its fd 4, each JSON
    message ended by a NUL byte), so that a deck is printed only once reveal.js has laid
    it out (Chromium's own --print-to-pdf may print before that)."""

    def __init__(self, chromium: str, profile: str):
        import fcntl

        to_child, self._to_chrome = os.pipe()
        self._from_chrome, from_child = os.pipe()
        # Out of the way of 3 and 4, where the child wants them.
        to_child, from_child = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_child, from_child))

        def child_fds():
            os.dup2(to_child, 3)        # dup2 leaves the copies inheritable
            os.dup2(from_child, 4)

        command = [chromium, "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                   "--disable-background-networking", "--remote-debugging-pipe",
                   f"--user-data-dir={profile}", "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")     # Chromium refuses root without it (containers)
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, close_fds=False,
                                         preexec_fn=child_fds)
        for fd in (to_child, from_child):
            os.close(fd)
        self._next, self._buffer = 0, b""

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = PDF_TIMEOUT) -> dict:
        """Send one command and return its result (events on the way are ignored)."""
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self._next:
                    if "error" in answer:
                        raise RuntimeError(f"Chromium: {method}: {answer['error']}")
                    return answer["result"]
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise RuntimeError(f"Chromium: no answer to {method} in {timeout:.0f} s")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited ({self._process.poll()}) during {method}")
            self._buffer += chunk

    def print_pdf(self, deck: Path, pdf: Path) -> int:
        """Print ``deck`` in reveal.js's print layout to ``pdf``; return the slides laid out."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            self.send("Page.navigate", {"url": deck.resolve().as_uri() + "?print-pdf"}, session)
            laid_out = self.send("Runtime.evaluate", {"expression": PRINT_READY_JS, "awaitPromise": True,
                                                      "returnByValue": True}, session)["result"]["value"]
            data = self.send("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True,
                                                 "displayHeaderFooter": False,
                                                 "generateTaggedPDF": True}, session)["data"]
            pdf.write_bytes(base64.b64decode(data))
        finally:
            self.send("Target.closeTarget", {"targetId": target})
        return laid_out

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except RuntimeError:
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def write_pdfs(decks: list[Path], chromium: str | None = None) -> list[Path]:
    """One PDF handout per deck, beside it (``<deck>.pdf``): reveal.js's print layout printed
    by headless Chromium, one page per slide (sub-slides included), each page the slide's
    size; and each linked from the decks' ``index.html`` when there is one. Raises
    RuntimeError without Chromium."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError(NO_CHROMIUM)
    pdfs = []
    with tempfile.TemporaryDirectory() as profile:
        browser = _Chromium(chromium, profile)
        try:
            for deck in decks:
                pdf = deck.with_suffix(".pdf")
                pdf.unlink(missing_ok=True)
                browser.print_pdf(deck, pdf)
                pdfs.append(pdf)
        finally:
            browser.close()
    for folder in {deck.parent for deck in decks}:
        index = folder / "index.html"
        if index.exists():
            text = index.read_text(encoding="utf-8")
            for pdf in pdfs:
                link = f'<a href="{html.escape(pdf.name)}">PDF handout</a>'
                if pdf.parent == folder and link not in text:
                    text = re.sub(rf'(<li><a href="{re.escape(html.escape(pdf.stem))}\.html">.*?</a>)',
                                  lambda m: f"{m.group(1)} ({link})", text)
            index.write_text(text, encoding="utf-8")
    return pdfs


def main(argv: list[str] | None = None) -> int:
    """``python -m instructor.slides pdf [FOLDER] [--require]``: PDF handouts of the decks
    that ``course slides`` wrote into FOLDER (default dist/slides)."""
    parser = argparse.ArgumentParser(prog="python -m instructor.slides",
                                     description="PDF handouts of the decks built by course slides")
    sub = parser.add_subparsers(dest="command", required=True)
    pdf = sub.add_parser("pdf", help="print every deck of FOLDER to a PDF beside it")
    pdf.add_argument("folder", nargs="?", type=Path, default=Path("dist/slides"))
    pdf.add_argument("--require", action="store_true",
                     help="without Chromium, fail (exit status 1) instead of warning")
    args = parser.parse_args(argv)
    decks = sorted(p for p in args.folder.glob("*.html") if p.name != "index.html")
    if not decks:
        print(f"course slides: no decks in {args.folder} (run course slides first)", file=sys.stderr)
        return 1
    chromium = find_chromium()
    if chromium is None:
        required = args.require or os.environ.get("CI") == "true"
        print(f"course slides: {'error' if required else 'warning'}: {NO_CHROMIUM}", file=sys.stderr)
        return 1 if required else 0
    start = time.perf_counter()
    for path in write_pdfs(decks, chromium):
        print(f"course slides: {path} ({pdf_page_count(path)} pages)")
    print(f"course slides: {len(decks)} PDF handout(s) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
