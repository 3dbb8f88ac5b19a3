"""The course website: ``course site`` (``make site``) builds ``dist/site/`` with Sphinx.

    course site [--out dist/site]

The site is what a student reads: a home page made from README.md (what the course is,
how to start, the lesson table) and one page per lesson with the outputs and figures
stored in the notebook (nothing is executed). Built with Sphinx, MyST-NB and
sphinx-book-theme, which give the sidebar, previous/next links between lessons, search
and a Colab launch button; every file the pages load is served from the site itself, so
it builds and displays offline (MathJax comes from sphinx-mathjax-offline).

Lessons appear as students get them: solution bodies are replaced by ``...`` with the
rules otter-grader applies to the student version (``# BEGIN SOLUTION`` / ``# END
SOLUTION`` blocks, lines ending in ``# SOLUTION``), Markdown cells inside a solution
block are dropped, hidden probes are dropped, and the cells of an exercise keep no
output (their stored outputs came from the reference solution). The public tests stay
visible, without output. The build stops if any line of a solution or hidden test
reaches a page (the same scan as ``course student``). The instructors' notebooks in
``notebooks/`` are read, never changed.

Each lesson's Colab badge (and the theme's launch button) opens the lesson where the
notebooks' own badges point: ``notebooks/<lesson>.ipynb`` on the repository's ``main``
branch (``[project.urls] Repository`` in pyproject.toml, see ``course sync``).
That notebook holds the solutions, as from every badge: the site leaves them out so a
reader meets each exercise before its answer, not to keep them secret.

Sources are staged in ``build/site-src/`` (a fresh copy each time); the site lands in
``dist/site/``.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from . import assignment, figures
from .assignment import strip_solution_code
from .repo import lesson_notebooks, repository_url

SITE_TITLE = "Convolutional neural networks in Keras"
# README sections that are for instructors and maintainers: the home page leaves them out
# and links to the README on GitHub instead (matched at the start of a "## " heading).
INSTRUCTOR_SECTIONS = ("Exercises and grading", "Tests and CI", "Repository layout",
                       "The course website", "Accessibility")
COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_FILE = "images/colab-badge.svg"
FAVICON_FILE = "images/favicon.svg"
DATA = Path(__file__).with_name("data") / "site"   # package data: the files below
# A 3x3 filter over a feature map: the site's icon (without one, browsers ask for a
# /favicon.ico that is not there).
FAVICON_SVG = (DATA / "favicon.svg").read_text()
# Our own drawing of the usual "Open in Colab" badge, so that pages load nothing from
# elsewhere (the site must display offline, and a reader's visit tells no third party).
BADGE_SVG = (DATA / "colab-badge.svg").read_text()
# Sphinx's conf.py, written for each build (str.format: title, repo, favicon).
CONF_PY = (DATA / "conf.py.template").read_text()


# ------------------------------------------------------------ lesson pages
def student_page(nb, badge_src: str = f"../{BADGE_FILE}"):
    """A copy of a source lesson as the website shows it: stored outputs, no solutions.

    Outside the exercises every cell and output is kept. Otter's raw marker cells go;
    in a solution block, Markdown cells go and code keeps only what the student version
    keeps (:func:`strip_solution_code`), without outputs; public tests stay, without
    outputs, after a line naming the check; hidden probes (``# HIDDEN``) go. The Colab
    badge's image becomes the site's own copy (``badge_src``); its link is unchanged.
    """
    page = copy.deepcopy(nb)
    cells = []
    for part in assignment.walk(page):
        cell, role = part.cell, part.role
        if role == assignment.MARKER:
            if assignment.boundary(cell) == ("BEGIN", "TESTS"):
                cells.append(nbformat.v4.new_markdown_cell(
                    f"*Public tests of this exercise* (in the student notebook: "
                    f"`grader.check(\"{part.question}\")`):"))
            continue
        if role in (assignment.CONFIG, assignment.PROBE):
            continue
        if role == assignment.SOLUTION:
            if cell.cell_type == "markdown":   # otter drops a solution's Markdown, keeps raw cells
                continue
            cell.source = strip_solution_code(cell.source)
        if role in (assignment.SOLUTION, assignment.ANSWER, assignment.PUBLIC_TEST) \
                and cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(COLAB_BADGE_IMAGE, badge_src)
        cells.append(cell)
    page.cells = cells
    return page


# --------------------------------------------------------------- home page
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _sections(markdown: str) -> list[list[str]]:
    """The text split before each ``## `` heading that lies outside code fences."""
    sections, fence = [[]], False
    for line in markdown.split("\n"):
        if line.lstrip().startswith("```"):
            fence = not fence
        if line.startswith("## ") and not fence:
            sections.append([])
        sections[-1].append(line)
    return sections


def home_page(readme: str, repo_url: str, lessons: list[str]) -> str:
    """The site's home page (MyST Markdown) from README.md.

    Keeps the README up to the instructors' sections (:data:`INSTRUCTOR_SECTIONS` are
    left out), points links to ``notebooks/*.ipynb`` at the lesson pages (staged at the
    same paths), other relative links at the file on GitHub, the Colab badge's image at
    the site's copy, and ends with a note on what the site shows and the hidden table
    of contents that orders the lessons (``lessons``: their file stems).
    """
    kept = [s for s in _sections(readme)
            if not (s[0].startswith("## ") and s[0][3:].startswith(INSTRUCTOR_SECTIONS))]
    text = "\n".join(line for s in kept for line in s).rstrip() + "\n"

    def link(match: re.Match) -> str:
        target = match.group(1)
        if re.match(r"^[a-z]+:|^#", target) or re.match(r"^notebooks/[^/]+\.ipynb$", target):
            return match.group(0)
        return f"]({repo_url}/blob/main/{target})"

    text = _LINK.sub(link, text).replace(COLAB_BADGE_IMAGE, BADGE_FILE)
    toctree = "\n".join(f"notebooks/{stem}" for stem in lessons)
    return (text + "\n## This website\n\n"
            "Every lesson page shows the outputs and figures of the notebook's stored run; "
            "exercises appear as in the student version, without their solutions. "
            "The Colab badge on a lesson opens its notebook from the repository, ready to run. "
            f"Instructors: grading, the student versions and CI are described in the "
            f"[README]({repo_url}#readme).\n\n"
            f"```{{toctree}}\n:hidden:\n:caption: Lessons\n\n{toctree}\n```\n")


# ------------------------------------------------------------------ build
def stage(root: Path, src: Path) -> list[Path]:
    """Write the site's sources into ``src`` (emptied first); return the lesson pages.

    Raises SystemExit if a page would hold a line of a solution or hidden test.
    """
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    (src / "images").mkdir()
    (src / BADGE_FILE).write_text(BADGE_SVG)
    (src / FAVICON_FILE).write_text(FAVICON_SVG)
    repo = repository_url(root)
    (src / "conf.py").write_text(CONF_PY.format(title=SITE_TITLE, repo=repo, favicon=FAVICON_FILE))
    shutil.copy(DATA / "alt_text.py", src / "alt_text.py")
    # Accessibility fixes found by the axe audit (tests/web/test_site.py): contrast of
    # Keras's coloured summaries, and the search button's accessible name.
    (src / "_static").mkdir()
    shutil.copy(DATA / "course.css", src / "_static" / "course.css")
    (src / "_templates").mkdir()   # found before the theme's components/ of the same name
    shutil.copy(DATA / "search-button-field.html", src / "_templates")
    lessons = lesson_notebooks(root)
    if not lessons:
        raise SystemExit(f"course site: no lessons in {root / 'notebooks'}")
    pages = []
    for path in lessons:
        source = nbformat.read(path, as_version=4)
        page = student_page(source)
        leaks = assignment.find_leaks(source, page)
        if leaks:
            raise SystemExit(f"course site: the page of {path.name} would show solution "
                             f"lines: {leaks[:5]}")
        figures.carry_alt(page)   # each figure's description into its output's metadata
        pages.append(src / "notebooks" / path.name)
        nbformat.write(page, pages[-1])
    readme = (root / "README.md").read_text()
    (src / "index.md").write_text(home_page(readme, repo, [p.stem for p in lessons]))
    return pages


def build(root: Path, out: Path, work: Path | None = None) -> float:
    """Stage the sources and run Sphinx into ``out`` (emptied first); return seconds taken.

    Warnings fail the build (a broken cross-reference, a missing image). ``work`` holds
    the staged sources and Sphinx's cache (default: ``build/`` in the checkout).
    """
    start = time.perf_counter()
    work = work or root / "build"
    src, doctrees = work / "site-src", work / "site-doctrees"
    stage(root, src)
    for folder in (out, doctrees):
        if folder.exists():
            shutil.rmtree(folder)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
           "-d", str(doctrees), str(src), str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        hint = ("\n(the site's tools are missing: pip install -r requirements.txt -c constraints.txt)"
                if "No module named" in result.stderr else "")
        raise SystemExit(f"course site: sphinx-build failed ({result.returncode}):\n"
                         f"{result.stdout}\n{result.stderr}{hint}")
    return time.perf_counter() - start
