"""Lecture slides (``course slides``, instructor/slides.py).

The helpers on small inputs; then every lesson's deck, built once into a temporary folder
and read back as HTML: one slide per ``#``/``##`` section, no empty slide, every figure of
the shown cells present, no setup cell, test or solution; then a browser check in headless
Chromium (Debian's ``chromium`` and ``chromium-driver``, through selenium) that walks every
slide of every deck at 1280x720 and requires that no slide's content is taller or wider than
the slide. Without Chromium the browser check is skipped, except under CI=true, where it fails.
Set SLIDES_SCREENSHOTS=DIR to keep the screenshots it takes.

Accessibility (README, "Accessibility"): the axe-core audit and heading checks of every
deck; the keyboard (arrow keys and Space move between slides, Tab reaches the controls
with a visible focus and never a slide not shown); every formula's MathML; every syntax
token's contrast; and the PDF handouts (one page per slide, none cut). Each of these
checks has a test showing that it fails on a deck made to fail it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from instructor import assignment, slides
from instructor.assignment import secret_lines
from instructor.repo import lesson_notebooks

ROOT = Path(__file__).resolve().parents[2]
LESSONS = lesson_notebooks(ROOT)


# ------------------------------------------------------------------ helpers
def test_terminal_text_keeps_a_progress_bar_s_last_state():
    text = "\rfit:   0%|  | 0/3\rfit:  33%|# | 1/3\rfit: 100%|##| 3/3 loss=0.1\n"
    assert slides.terminal_text(text) == "fit: 100%|##| 3/3 loss=0.1\n"
    assert slides.terminal_text("ab\bc \x1b[1mbold\x1b[0m") == "ac bold"


def test_shorten_lines_keeps_head_and_tail_and_counts_what_it_left_out():
    short = "\n".join(str(i) for i in range(slides.MAX_OUTPUT_LINES)) + "\n"
    assert slides.shorten_lines(short) == short
    long = "\n".join(str(i) for i in range(100)) + "\n"
    lines = slides.shorten_lines(long, limit=10, head=3, tail=2).split("\n")
    assert lines == ["0", "1", "2", "… 95 lines …", "98", "99", ""]


def test_shorten_code_says_how_many_lines_it_cut():
    code = "\n".join(f"x{i} = {i}" for i in range(40))
    shown = slides.shorten_code(code, limit=10).split("\n")
    assert len(shown) == 10 and shown[:9] == code.split("\n")[:9]
    assert shown[-1] == "# … 31 more lines in the notebook"
    assert slides.shorten_code("a = 1\nb = 2", limit=10) == "a = 1\nb = 2"


def test_clean_outputs_merges_streams_drops_stderr_and_plain_texts_rich_summaries():
    outs = [nbformat.v4.new_output("stream", name="stdout", text="\rbar 50%"),
            nbformat.v4.new_output("stream", name="stdout", text="\rbar 100%\n"),
            nbformat.v4.new_output("stream", name="stderr", text="WARNING: noise\n"),
            nbformat.v4.new_output("display_data", data={
                "text/html": "<pre>┏━━┓</pre>", "text/plain": "\x1b[1m┏━━┓\x1b[0m"})]
    cleaned = slides.clean_outputs(outs)
    assert [o.output_type for o in cleaned] == ["stream", "display_data"]
    assert cleaned[0].text == "bar 100%\n"
    assert cleaned[1].data == {"text/plain": "┏━━┓"}


def test_solution_bodies_are_hidden_as_otter_hides_them():
    """The decks use the website's rule (instructor.site.strip_solution_code)."""
    source = ("def f(x):\n    # BEGIN SOLUTION\n    y = x * 2\n    return y\n    # END SOLUTION\n\n"
              "answer = 42  # SOLUTION\nprint(answer)")
    assert slides.strip_solution_code(source) == "def f(x):\n    ...\n\nanswer = ...\nprint(answer)"


def test_split_markdown_at_headings_and_paragraphs_not_in_fences():
    text = "Intro.\n\n## 2. Next\n\nOne.\nStill one.\n\n```\na\n\nb\n```\n\n- item\n\n  more"
    assert slides.split_markdown(text) == [
        "Intro.", "## 2. Next", "One.\nStill one.", "```\na\n\nb\n```", "- item\n\n  more"]


def _png(width: int, height: int) -> str:
    """A base64 PNG header of the given size (enough for png_size and the estimate)."""
    head = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big")
    return base64.b64encode(head + b"\x08\x06\x00\x00\x00").decode()


def test_png_size_reads_the_header():
    assert slides.png_size(_png(1300, 400)) == (1300, 400)


def _figure_cell(source: str, width=1000, height=500):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": _png(width, height)})]
    return cell


def _assignment():
    """A small lesson: title, setup cell, two sections (the second with two tall figures),
    an exercise with solution, public test and hidden probe."""
    nb = nbformat.v4.new_notebook()
    new_md, new_code, new_raw = (nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell,
                                 nbformat.v4.new_raw_cell)
    nb.cells = [
        new_md("# 99 · A lesson\n\nWhat you learn."),
        new_code(slides.SETUP_MARKER + ": ...\nSIZE = setup_notebook()"),
        new_md("## 1. First\n\nText."),
        new_code("x = 1\n# NBVAL_CHECK_OUTPUT\nprint(x)"),
        new_md("More text.\n\n## 2. Figures"),
        _figure_cell("# extra code – a figure\nplot()"),
        _figure_cell("plot_again()"),
        new_md("## Exercises"),
        new_raw("# BEGIN QUESTION\nname: q1\npoints: 1"),
        new_md("**Exercise 1.** *Write f.*"),
        new_raw("# BEGIN SOLUTION"),
        new_code("def f(x):\n    # BEGIN SOLUTION\n    return x * 1234567\n    # END SOLUTION"),
        new_raw("# END SOLUTION"),
        new_raw("# BEGIN TESTS"),
        new_code("assert f(1) == 1234567"),
        new_code("# HIDDEN\nresult = f(rng.normal())"),
        new_raw("# END TESTS"),
        new_raw("# END QUESTION"),
    ]
    return nb


def test_cell_roles_follow_otter_s_markers():
    roles = slides.cell_roles(_assignment())
    assert roles == ["content", "setup", "content", "content", "content", "content", "content",
                     "content", "raw", "content", "raw", "solution", "raw", "raw", "test",
                     "test", "raw", "raw"]


def test_slide_notebook_lays_out_sections_and_leaves_out_what_is_not_for_slides():
    shown = slides.slide_notebook(_assignment())
    kinds = [c.metadata.slideshow.slide_type for c in shown.cells]
    starts = [c.source.split("\n")[0] for c in shown.cells if c.metadata.slideshow.slide_type == "slide"]
    assert starts == ["# 99 · A lesson", "## 1. First", "## 2. Figures", "## Exercises"]
    assert kinds.count("subslide") == 1             # two 500 px figures do not share a slide
    text = "\n".join(c.source for c in shown.cells)
    assert "setup_notebook" not in text and "NBVAL" not in text and "plot()" not in text
    assert "1234567" not in text and "HIDDEN" not in text and "def f(x):\n    ..." in text
    assert "1234567" in "\n".join(c.source for c in slides.slide_notebook(_assignment(), solutions=True).cells)


def test_live_notebook_keeps_every_cell_and_hides_what_the_decks_leave_out():
    source = _assignment()
    live = slides.live_notebook(source)
    code = [c.source for c in live.cells if c.cell_type == "code"]
    assert code == [c.source for c in source.cells if c.cell_type == "code"]   # Run All still works
    kinds = {c.source.split("\n")[0]: c.metadata.slideshow.slide_type for c in live.cells}
    assert kinds["# 99 · A lesson"] == "slide" and kinds["## 2. Figures"] == "slide"
    assert kinds["More text."] == "-"                     # the cell was split at its heading
    hidden = [slides.SETUP_MARKER + ": ...", "def f(x):", "assert f(1) == 1234567", "# HIDDEN",
              "# BEGIN QUESTION"]
    assert all(kinds[h] == "skip" for h in hidden)
    assert slides.live_notebook(source, solutions=True).cells[12].metadata.slideshow.slide_type != "skip"


def test_fetch_tarball_refuses_a_tarball_with_the_wrong_hash(tmp_path, monkeypatch):
    package = slides.VENDORED[0]
    (tmp_path / package.tarball).write_bytes(b"not the pinned tarball")
    monkeypatch.setenv("PATH", str(tmp_path / "no-npm-here"))
    with pytest.raises(RuntimeError, match="npm is not installed"):
        slides.fetch_tarball(package, cache=tmp_path)


# ------------------------------------------------------------------ the decks
class _Deck(HTMLParser):
    """The slide tree of a deck: top-level sections, each with its leaf sections' text
    and image sources, and every script/stylesheet address."""

    def __init__(self):
        super().__init__()
        self.depth, self.slides, self.addresses, self.text = 0, [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.depth += 1
            if self.depth == 1:
                self.slides.append([])
            if self.depth == 2 or (self.depth == 1):
                self.slides[-1].append({"text": [], "images": []})
        elif tag == "img" and self.depth:
            self.slides[-1][-1]["images"].append(attrs.get("src", ""))
        if tag in ("script", "img") and attrs.get("src"):
            self.addresses.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.addresses.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "section":
            self.depth -= 1

    def handle_data(self, data):
        self.text.append(data)
        if self.depth:
            self.slides[-1][-1]["text"].append(data)

    def leaves(self):
        """Each slide's sub-slides; a stack's own (empty) entry dropped."""
        return [[leaf for leaf in slide if "".join(leaf["text"]).strip() or leaf["images"]] or slide
                for slide in self.slides]


def _parse(path: Path) -> _Deck:
    deck = _Deck()
    deck.feed(path.read_text(encoding="utf-8"))
    return deck


def _kept_cells(nb):
    """The cells a deck shows, by the one reading of the lesson format (instructor.assignment):
    prose, code and exercise prompts and answers; not the setup cell, otter's raw cells,
    solutions, public tests or hidden probes."""
    shown = (assignment.CONTENT, assignment.PROMPT, assignment.ANSWER)
    return [part.cell for part in assignment.walk(nb)
            if part.role in shown and part.cell.cell_type != "raw"]


def _section_headings(nb) -> list[str]:
    headings = []
    for cell in _kept_cells(nb):
        if cell.cell_type == "markdown":
            fence = False
            for line in cell.source.split("\n"):
                fence ^= line.lstrip().startswith("```")
                if not fence and re.match(r"^#{1,2} \S", line):
                    headings.append(line.lstrip("#").strip())
    return headings


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    out = tmp_path_factory.mktemp("slides")
    start = time.perf_counter()
    built = slides.build_all(LESSONS, out)
    print(f"built {len(built)} decks in {time.perf_counter() - start:.1f} s")
    return {path.stem: path for path in built}


def test_build_all_writes_every_deck_an_index_and_local_reveal(decks):
    out = next(iter(decks.values())).parent
    assert sorted(decks) == [p.stem for p in LESSONS]
    index = (out / "index.html").read_text()
    assert all(f'href="{name}.html"' in index for name in decks)
    for address in ("_static/reveal.js/dist/reveal.js", "_static/reveal.js/dist/theme/white.css",
                    "_static/katex/dist/katex.min.js", "_static/katex/dist/contrib/auto-render.min.js"):
        assert (out / address).is_file(), address


NBCONVERT_NO_ALT = "No description has been provided for this image"   # nbconvert's filler


def _img_alts(html_text: str) -> list[str | None]:
    """Each <img>'s alt attribute, in order (None: the image has none, or nbconvert's filler
    for one without)."""
    class Images(HTMLParser):
        alts: list = []

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                alt = dict(attrs).get("alt")
                self.alts.append(None if alt == NBCONVERT_NO_ALT else alt)
    parser = Images()
    parser.alts = []
    parser.feed(html_text)
    return parser.alts


def test_a_deck_gives_each_figure_its_description_as_alt(tmp_path):
    """instructor/figures.py: the cell's metadata["alt"] becomes each figure's <img alt>."""
    nb = _assignment()
    nb.cells[5].metadata["alt"] = ["A rising <curve> & a falling one, drawn in two colours."]
    nb.cells[6].outputs.append(nbformat.v4.new_output("display_data", data={"image/png": _png(400, 300)}))
    nb.cells[6].metadata["alt"] = ["First figure: a grid of digits.", ""]   # "": decorative
    source = tmp_path / "99_toy.ipynb"
    nbformat.write(nb, source)
    deck = slides.build_deck(source, tmp_path / "out")
    assert _img_alts(deck.read_text(encoding="utf-8")) == [
        "A rising <curve> & a falling one, drawn in two colours.", "First figure: a grid of digits.", ""]
    live = slides.live_notebook(nb)
    figure_cell = next(c for c in live.cells if c.source.startswith("# extra code"))
    assert [o.metadata["image/png"]["alt"] for o in figure_cell.outputs] == [
        "A rising <curve> & a falling one, drawn in two colours."]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])
def test_deck_figures_carry_the_lesson_s_descriptions(decks, lesson):
    nb = nbformat.read(lesson, as_version=4)
    alts = _img_alts(decks[lesson.stem].read_text(encoding="utf-8"))
    described = [a for c in _kept_cells(nb) for a in c.metadata.get("alt", [])]
    assert alts and sorted(a for a in alts if a is not None) == sorted(described)
    if described:   # a lesson with descriptions has one for every figure of its deck
        assert None not in alts


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])
def test_deck_structure(decks, lesson):
    nb = nbformat.read(lesson, as_version=4)
    deck = _parse(decks[lesson.stem])
    slides_ = deck.leaves()
    headings = _section_headings(nb)
    # One slide per section (the title's # section is the first), in order.
    assert len(slides_) == len(headings), (len(slides_), headings)
    for slide, heading in zip(slides_, headings):
        first_text = " ".join("".join(slide[0]["text"]).split())
        assert first_text.startswith(" ".join(heading.replace("`", "").replace("*", "").split())[:25]), \
            (first_text[:80], heading)
    # No empty slide or sub-slide.
    for h, slide in enumerate(slides_):
        for v, leaf in enumerate(slide):
            assert "".join(leaf["text"]).strip() or leaf["images"], f"slide {h}.{v} is empty"
    # Every figure of the shown cells, and nothing else.
    expected = [o["data"]["image/png"].replace("\n", "") for c in _kept_cells(nb) if c.cell_type == "code"
                for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    shown = [src.split(",", 1)[1] for slide in slides_ for leaf in slide for src in leaf["images"]
             if src.startswith("data:image/png;base64,")]
    assert expected and sorted(shown) == sorted(expected)
    # Offline: every script, stylesheet and image is local or embedded.
    assert all(not re.match(r"(https?:)?//", a) for a in deck.addresses), deck.addresses
    # Left out: the setup cell, public tests, hidden probes, solutions.
    text = "".join(deck.text)
    assert "Setup, the same in every lesson" not in text and "setup_notebook()" not in text
    assert "# HIDDEN" not in text and "# BEGIN" not in text
    test_lines, other_lines = set(), set()   # lines only tests hold
    for part in assignment.walk(nb):
        lines = {line.strip() for line in part.cell.source.split("\n") if len(line.strip()) > 20}
        if part.role in (assignment.PUBLIC_TEST, assignment.PROBE):
            test_lines |= lines
        elif part.cell.cell_type != "raw":
            other_lines |= lines
    shown_lines = {line.strip() for line in text.split("\n")}
    leaks = sorted((test_lines - other_lines | secret_lines(nb)) & shown_lines)
    assert not leaks, leaks[:5]


def test_solutions_flag_shows_the_solutions(tmp_path, decks):
    """The leak check above is not vacuous: a deck built with solutions holds them."""
    shutil.copytree(next(iter(decks.values())).parent / "_static", tmp_path / "_static")
    lesson = LESSONS[0]
    text = "".join(_parse(slides.build_deck(lesson, tmp_path, solutions=True)).text)
    shown_lines = {line.strip() for line in text.split("\n")}
    nb = nbformat.read(lesson, as_version=4)
    hidden = {line.strip() for part in assignment.walk(nb) if part.role == assignment.PROBE
              for line in part.cell.source.split("\n")}
    solution_lines = secret_lines(nb) - hidden
    assert solution_lines and solution_lines <= shown_lines, sorted(solution_lines - shown_lines)


# ------------------------------------------------------------------ in a browser
WALK = """
const done = arguments[arguments.length - 1];
function walk() {
  Reveal.configure({transition: 'none', backgroundTransition: 'none'});
  const report = {viewport: [window.innerWidth, window.innerHeight],
                  config: [Reveal.getConfig().width, Reveal.getConfig().height], slides: []};
  for (const slide of Reveal.getSlides()) {
    const i = Reveal.getIndices(slide);
    Reveal.slide(i.h, i.v);
    const wide = [...slide.querySelectorAll('*')].filter(el =>
        el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 1 && el.clientHeight > 1 &&
        ['auto', 'scroll', 'hidden'].includes(getComputedStyle(el).overflowX)).length;
    const broken = [...slide.querySelectorAll('img')].filter(img => !img.naturalWidth).length;
    report.slides.push({h: i.h, v: i.v, height: slide.scrollHeight, width: slide.scrollWidth,
                        wide: wide, broken: broken, text: slide.innerText.trim().length});
  }
  done(report);
}
if (Reveal.isReady()) walk(); else Reveal.on('ready', walk);
"""


@pytest.fixture(scope="module")
def browser(start_chromium):
    """Headless Debian Chromium (tests/web/conftest.py) whose viewport, not window, is 1280x720."""
    driver = start_chromium(1280, 720, script_timeout=120)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    if inner != [1280, 720]:
        size = driver.get_window_size()
        driver.set_window_size(size["width"] + 1280 - inner[0], size["height"] + 720 - inner[1])
    return driver


# Slides to photograph (horizontal, vertical index): 01 title, formula, tall figure, exercise;
# 02 a shortened model summary; 03 a training's progress bar, a figure taller than the slide;
# 08 a dream; 09 the Gram-matrix formulas.
SHOTS = {"01": [(0, 0), (3, 0), (5, 1), (11, 0)], "02": [(2, 1)], "03": [(4, 3), (1, 2)],
         "08": [(6, 1)], "09": [(4, 0)]}


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])
def test_no_slide_overflows_in_chromium(decks, browser, lesson, tmp_path):
    browser.get(decks[lesson.stem].as_uri())
    report = browser.execute_async_script(WALK)
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors[:3]                # e.g. a file of _static/ that failed to load
    assert report["viewport"] == [1280, 720]
    assert report["config"] == [slides.WIDTH, slides.HEIGHT]
    too_big = [s for s in report["slides"]
               if s["height"] > slides.HEIGHT or s["width"] > slides.WIDTH or s["wide"] or s["broken"]]
    assert not too_big, json.dumps(too_big)
    assert all(s["text"] or s["height"] > 100 for s in report["slides"])
    shots = Path(os.environ.get("SLIDES_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    for h, v in SHOTS.get(lesson.stem[:2], []):
        browser.execute_script("Reveal.slide(arguments[0], arguments[1]);", h, v)
        time.sleep(0.3)
        browser.save_screenshot(str(shots / f"{lesson.stem[:2]}-slide-{h}-{v}.png"))


def _overflowing_deck(decks, tmp_path, monkeypatch):
    """A deck whose second slide is a section too long for one slide: the height budget that
    would split it lifted, 30 paragraphs added; built in tmp_path beside the decks' assets."""
    monkeypatch.setattr(slides, "HEIGHT_BUDGET", 10**6)
    nb = _assignment()
    nb.cells[2].source += "".join(f"\n\nParagraph {i} of a section too long for one slide." for i in range(30))
    source = tmp_path / "99_overflow.ipynb"
    nbformat.write(nb, source)
    shutil.copytree(next(iter(decks.values())).parent / "_static", tmp_path / "_static")
    return slides.build_deck(source, tmp_path)


def test_the_browser_check_sees_an_overflowing_slide(decks, browser, tmp_path, monkeypatch):
    """The walk above can fail: with the height budget lifted, a long section is one slide
    taller than 720 pixels, and the walk reports it."""
    browser.get(_overflowing_deck(decks, tmp_path, monkeypatch).as_uri())
    heights = {(s["h"], s["v"]): s["height"] for s in browser.execute_async_script(WALK)["slides"]}
    assert heights[(1, 0)] > slides.HEIGHT and max(h for k, h in heights.items() if k != (1, 0)) <= slides.HEIGHT


# reveal.js lays out every slide at once for printing (``?print-pdf``): the audit then sees
# every slide's content, not only the first slide's. Waits for that layout (its .pdf-page
# elements): right after loading, reveal has once answered ready with no slides yet.
READY_JS = """
const done = arguments[arguments.length - 1];
const check = () => (window.Reveal && Reveal.isReady() && Reveal.getSlides().length &&
                     document.querySelector('.pdf-page')) ? done(Reveal.getSlides().length)
                                                          : setTimeout(check, 100);
check();
"""


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])
def test_every_deck_passes_the_axe_audit(decks, browser, lesson, axe):
    """WCAG 2.1 A and AA rules of axe-core (tests/web/conftest.py) on every slide of the
    deck: no serious or critical violation; the others are printed."""
    browser.get(decks[lesson.stem].as_uri() + "?print-pdf")
    assert browser.execute_async_script(READY_JS) > 1
    failing, report = axe(browser, lesson.stem)
    print(f"\naxe on {lesson.stem}:\n" + ("\n".join(report) or "no violation"))
    assert not failing, "\n".join(failing)


def test_the_slides_index_passes_the_axe_audit(decks, browser, axe):
    browser.get((next(iter(decks.values())).parent / "index.html").as_uri())
    failing, report = axe(browser, "index.html")
    print("\naxe on the slides' index:\n" + ("\n".join(report) or "no violation"))
    assert not failing, "\n".join(failing)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])
def test_every_deck_has_a_language_one_h1_headings_in_order_and_clear_links(decks, browser, lesson, heading_problems):
    browser.get(decks[lesson.stem].as_uri() + "?print-pdf")   # every slide laid out
    assert browser.execute_async_script(READY_JS) > 1
    assert heading_problems(browser, lesson.stem) == []


# ------------------------------------------------------------------ keyboard and math
# reveal.js's own keys: → and ← between sections, ↓ and ↑ within one, Space to the next
# slide (down first, then right). Each step: the key and the slide (h, v) it should show.
def _key_walk(deck: _Deck):
    from selenium.webdriver.common.keys import Keys

    below = len(deck.leaves()[1]) - 1          # sub-slides under section 1
    assert below >= 2, "the walk needs a section with at least three sub-slides"
    return [(Keys.ARROW_RIGHT, (1, 0)), (Keys.ARROW_RIGHT, (2, 0)), (Keys.ARROW_LEFT, (1, 0)),
            (Keys.SPACE, (1, 1)), (Keys.ARROW_DOWN, (1, 2)), (Keys.ARROW_UP, (1, 1)),
            (Keys.ARROW_LEFT, (0, 0))]


def _open_deck(browser, path: Path, h: int = 0, v: int = 0) -> None:
    """Load a deck, wait for reveal.js, show slide (h, v) without transitions, focus the page."""
    browser.get(path.as_uri())
    browser.execute_async_script("""
        const [h, v, done] = arguments;
        const go = () => { Reveal.configure({transition: 'none'}); Reveal.slide(h, v);
                           document.activeElement.blur(); done(); };
        if (Reveal.isReady()) go(); else Reveal.on('ready', go);""", h, v)


def test_arrow_keys_and_space_move_between_slides(decks, browser):
    from selenium.webdriver.common.action_chains import ActionChains

    path = decks[LESSONS[0].stem]
    _open_deck(browser, path)
    for key, expected in _key_walk(_parse(path)):
        ActionChains(browser).send_keys(key).perform()
        shown = browser.execute_script("const i = Reveal.getIndices(); return [i.h, i.v]")
        assert tuple(shown) == expected, (repr(key), shown, expected)


# For the element that has the focus: where it is (on the slide shown, on a slide not
# shown, outside the slides: controls, slide number) and whether the focus is visible:
# an outline (not "none", wider than 0, not transparent) or a box shadow.
FOCUS_JS = """
const e = document.activeElement, s = getComputedStyle(e), slide = e.closest('.slides section');
const opaque = c => !/rgba\\(.*,\\s*0\\)$/.test(c) && c !== 'transparent';
return {tag: e.tagName, at: Array.prototype.indexOf.call(document.getElementsByTagName('*'), e),
        what: Array.from((e.getAttribute('aria-label') || e.innerText || e.className || '').trim()).slice(0, 40).join(''),
        where: !slide ? (e === document.body ? 'body' : 'outside') :
               (slide.classList.contains('present') && !slide.closest('[aria-hidden="true"]') ? 'shown' : 'hidden'),
        visible: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0 && opaque(s.outlineColor))
                 || (s.boxShadow !== 'none' && s.boxShadow !== '')};
"""


def _tab_walk(browser, path: Path, h: int, v: int, limit: int = 60) -> tuple[list[dict], list[str]]:
    """Press Tab from slide (h, v) until the focus comes back to the page (at most
    ``limit`` times); return every element it reached and the problems: focus on a slide
    that is not shown, or no visible focus."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    _open_deck(browser, path, h, v)
    reached = []
    for _ in range(limit):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        focus = browser.execute_script(FOCUS_JS)
        if focus["where"] == "body" or (reached and focus["at"] == reached[0]["at"]):
            break
        reached.append(focus)
    problems = [f"{f['tag']} {f['what']!r}: on a slide that is not shown" for f in reached
                if f["where"] == "hidden"]
    problems += [f"{f['tag']} {f['what']!r}: focus not visible" for f in reached if not f["visible"]]
    return reached, problems


def test_tab_reaches_the_controls_with_a_visible_focus_and_never_a_hidden_slide(decks, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    path = decks[LESSONS[0].stem]
    reached, problems = _tab_walk(browser, path, 1, 0)
    assert not problems, problems
    names = {f["what"] for f in reached}
    assert {"previous slide", "next slide", "below slide"} <= names, names   # reveal's controls
    assert any(f["tag"] == "A" for f in reached)                            # the slide number
    assert any(f["where"] == "shown" for f in reached)                      # the slide's cells
    # The focused control works with the keyboard: Enter on "next slide".
    _open_deck(browser, path, 1, 0)
    for _ in range(60):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if browser.execute_script(FOCUS_JS)["what"] == "next slide":
            break
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    assert browser.execute_script("return Reveal.getIndices().h") == 2


def test_a_slide_of_the_overview_can_be_clicked(decks, browser):
    """Esc shows every slide; a click on one goes there (the slides not shown are inert
    only outside the overview: inert slides would not take the click)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open_deck(browser, decks[LESSONS[0].stem], 1, 0)
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    assert browser.execute_script("return Reveal.isOverview()")
    browser.find_elements(By.CSS_SELECTOR, ".reveal .slides > section")[3].click()
    assert browser.execute_script("return [Reveal.isOverview(), Reveal.getIndices().h]") == [False, 3]


def _without(text: str, start: str, end: str) -> str:
    """``text`` without the part from ``start`` up to and including ``end``."""
    i = text.index(start)
    return text[:i] + text[text.index(end, i) + len(end):]


def test_the_tab_check_sees_hidden_slides_and_invisible_focus_without_the_fixes(decks, browser, tmp_path, monkeypatch):
    """Without the decks' focus ring (style.css) and the inert hidden slides (the template),
    reveal.js's controls show no focus and Tab reaches slides nobody sees: the walk says so."""
    monkeypatch.setattr(slides, "STYLE", _without(slides.STYLE, "/* Keyboard focus", "}"))
    monkeypatch.setattr(slides, "TEMPLATE", slides.TEMPLATE.replace(
        "Reveal.on('ready', inertHiddenSlides);", "").replace("Reveal.on('slidechanged', inertHiddenSlides);", ""))
    source = tmp_path / "99_toy.ipynb"
    nbformat.write(_assignment(), source)
    shutil.copytree(next(iter(decks.values())).parent / "_static", tmp_path / "_static")
    _, problems = _tab_walk(browser, slides.build_deck(source, tmp_path), 1, 0)
    assert any("not shown" in p for p in problems), problems
    assert "BUTTON 'next slide': focus not visible" in problems, problems


# Every KaTeX formula: its MathML (what a screen reader reads) with the TeX source, and the
# visible HTML hidden from screen readers; KaTeX's error boxes counted.
MATH_JS = """
const formulas = Array.from(document.querySelectorAll('.katex'));
return {count: formulas.length, errors: document.querySelectorAll('.katex-error').length,
        without: formulas.filter(f => !f.querySelector(':scope > .katex-mathml > math annotation[encoding="application/x-tex"]')
                                      || !f.querySelector(':scope > .katex-html[aria-hidden="true"]'))
                         .map(f => Array.from(f.textContent).slice(0, 40).join(''))};
"""


def _has_math(nb) -> bool:
    return any(c.cell_type == "markdown" and re.search(r"\$[^$\s][^$]*\$", c.source) for c in _kept_cells(nb))


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])
def test_every_formula_of_a_deck_carries_mathml_for_screen_readers(decks, browser, lesson):
    _open_deck(browser, decks[lesson.stem])
    math = browser.execute_script(MATH_JS)
    assert math["without"] == [] and math["errors"] == 0, math
    assert (math["count"] > 0) == _has_math(nbformat.read(lesson, as_version=4)), math


def test_the_math_check_sees_formulas_without_mathml(decks, browser, tmp_path, monkeypatch):
    """With KaTeX's output set to HTML only, the check finds every formula without MathML."""
    html_only = slides.TEMPLATE.replace('output: "htmlAndMathml"', 'output: "html"')
    assert html_only != slides.TEMPLATE
    monkeypatch.setattr(slides, "TEMPLATE", html_only)
    nb = _assignment()
    nb.cells[2].source += "\n\nThe sum $\\sum_i x_i w_i$ and\n\n$$y = \\max(0, x)$$"
    source = tmp_path / "99_math.ipynb"
    nbformat.write(nb, source)
    shutil.copytree(next(iter(decks.values())).parent / "_static", tmp_path / "_static")
    _open_deck(browser, slides.build_deck(source, tmp_path))
    math = browser.execute_script(MATH_JS)
    assert math["count"] == 2 and len(math["without"]) == 2, math


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])
def test_every_code_token_of_a_deck_has_4_5_contrast(decks, browser, lesson, code_contrast):
    """The decks' syntax colours (nbconvert's, darkened in style.css) on the code cells'
    background, every token of every slide and a token of each coloured class (the helper
    in conftest.py; test_site.py shows it failing on pale comments)."""
    _open_deck(browser, decks[lesson.stem])
    tokens, _, failing = code_contrast(browser, lesson.stem)
    assert tokens > 0 and not failing, "\n".join(failing)


# ------------------------------------------------------------------ PDF handouts
@pytest.fixture(scope="module")
def handouts(decks, browser):
    """Every deck's PDF handout (slides.write_pdfs: headless Chromium, as make slides runs it).
    Needs the browser fixture's Chromium: skipped without it, except under CI=true."""
    start = time.perf_counter()
    pdfs = slides.write_pdfs(list(decks.values()))
    print(f"\nprinted {len(pdfs)} PDF handouts in {time.perf_counter() - start:.1f} s")
    return {path.stem: path for path in pdfs}


# The print layout (?print-pdf): reveal.js puts each slide on its own .pdf-page, and a slide
# taller than the page on as many pages as it needs. Each page's size and its slide's content.
PRINT_LAYOUT_JS = """
return {slides: Reveal.getTotalSlides(),
        pages: Array.from(document.querySelectorAll('.pdf-page'), page => {
          const slide = page.querySelector(':scope > section');
          return {page: [page.offsetWidth, page.offsetHeight],
                  content: slide ? [slide.scrollWidth, slide.scrollHeight] : [0, 0],
                  text: slide ? Array.from(slide.innerText.trim()).slice(0, 40).join('') : ''}; })};
"""
_MEDIA_BOX = re.compile(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]")


def _handout_problems(browser, deck: Path, pdf: Path) -> list[str]:
    """What is wrong with a deck's handout: a page count that is not the deck's count of
    slides and sub-slides (from its HTML), pages of different sizes, a slide whose content
    is larger than the slide (printed over more than one page, cut in between)."""
    expected = sum(len(slide) for slide in _parse(deck).leaves())
    problems = []
    pages = slides.pdf_page_count(pdf)
    if pages != expected:
        problems.append(f"{pdf.name}: {pages} pages for {expected} slides")
    boxes = set(_MEDIA_BOX.findall(pdf.read_bytes()))
    if len(boxes) != 1:
        problems.append(f"{pdf.name}: pages of {len(boxes)} sizes: {sorted(boxes)[:3]}")
    browser.get(deck.as_uri() + "?print-pdf")
    browser.execute_async_script(READY_JS)
    layout = browser.execute_script(PRINT_LAYOUT_JS)
    if not len(layout["pages"]) == layout["slides"] == expected:
        problems.append(f"{deck.name}: print layout of {len(layout['pages'])} pages, "
                        f"{layout['slides']} slides, {expected} in the HTML")
    problems += [f"{deck.name}: slide {p['text']!r}: content {p['content']} on a {slides.WIDTH}x{slides.HEIGHT} slide"
                 for p in layout["pages"] if p["content"][0] > slides.WIDTH or p["content"][1] > slides.HEIGHT]
    return problems


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])
def test_pdf_handout_has_one_page_per_slide_and_no_slide_cut(decks, handouts, browser, lesson):
    assert _handout_problems(browser, decks[lesson.stem], handouts[lesson.stem]) == []


def test_the_handout_check_sees_a_slide_printed_over_two_pages(decks, handouts, browser, tmp_path, monkeypatch):
    """With the height budget lifted, a long section is one slide taller than 720 pixels:
    Chromium prints it over three pages, and both the page count and the layout say so."""
    deck = _overflowing_deck(decks, tmp_path, monkeypatch)
    problems = _handout_problems(browser, deck, slides.write_pdfs([deck])[0])
    assert len(problems) == 2, problems
    assert "pages for 4 slides" in problems[0] and "Paragraph 0" in problems[1], problems


def test_index_links_each_pdf_handout(decks, handouts):
    index = (next(iter(decks.values())).parent / "index.html").read_text()
    assert all(f'<a href="{name}.pdf">PDF handout</a>' in index for name in decks)


def test_pdf_step_without_chromium_warns_or_fails_under_require(decks, monkeypatch, capsys):
    """make slides without Chromium: the decks are kept, the PDFs skipped with a warning
    (exit 0); with --require or under CI=true, an error (exit 1)."""
    monkeypatch.setattr(slides, "find_chromium", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    folder = str(next(iter(decks.values())).parent)
    assert slides.main(["pdf", folder]) == 0
    assert "warning: no PDF handouts" in capsys.readouterr().err
    assert slides.main(["pdf", folder, "--require"]) == 1
    monkeypatch.setenv("CI", "true")
    assert slides.main(["pdf", folder]) == 1
    assert "error: no PDF handouts" in capsys.readouterr().err
