"""The course website (instructor/site.py): lesson pages without solutions, a home page
from the README, the Sphinx build, and every built page loaded in headless Chromium.

The unit tests need nbformat only. The build needs the site's tools (Sphinx, MyST-NB,
sphinx-book-theme, sphinx-mathjax-offline; requirements.txt pins them), the browser check
Debian's `chromium` and `chromium-driver` and selenium. Where one is missing these tests
are skipped with the reason, except under CI=true, where a missing one fails them
(.ci/run installs chromium and chromium-driver).
"""

from __future__ import annotations

import functools
import html.parser
import importlib.util
import os
import re
import threading
import time
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest

from instructor import assignment, course, figures, site

ROOT = Path(__file__).resolve().parents[2]
LESSONS = course.lesson_notebooks(ROOT)
CI = os.environ.get("CI") == "true"
C = nbformat.v4


def require(ok: bool, reason: str) -> None:
    """Skip with ``reason`` when ``ok`` is false; under CI=true, fail instead."""
    if not ok:
        if CI:
            pytest.fail(f"{reason} (CI=true: the site's checks must run)")
        pytest.skip(reason)


# ------------------------------------------------------------ solution code
def test_strip_solution_code_follows_otters_rules():
    source = ("def f(x):\n    # BEGIN SOLUTION\n    y = x * 42\n    return y\n    # END SOLUTION\n"
              "z = f(1)  # SOLUTION\nprint(z)  # SOLUTION\nkeep = 1\n"
              "# BEGIN SOLUTION NO PROMPT\ngone = 2\n# END SOLUTION\nw = 3  # SOLUTION NO PROMPT")
    assert site.strip_solution_code(source) == (
        "def f(x):\n    ...\nz = ...\n...\nkeep = 1")


def test_strip_solution_code_refuses_unbalanced_markers():
    with pytest.raises(ValueError, match="BEGIN SOLUTION without END"):
        site.strip_solution_code("# BEGIN SOLUTION\nx = 1")
    with pytest.raises(ValueError, match="END SOLUTION without BEGIN"):
        site.strip_solution_code("x = 1\n# END SOLUTION")


# ------------------------------------------------------------- lesson page
def toy_lesson():
    """An otter-format lesson: prose with a figure, then one question."""
    badge = (f"[![Open In Colab]({site.COLAB_BADGE_IMAGE})]"
             "(https://colab.research.google.com/github/o/r/blob/main/notebooks/toy.ipynb)")
    figure = C.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    nb = C.new_notebook()
    nb.cells = [
        C.new_markdown_cell(f"# 01 · Toy\n\n{badge}"),
        C.new_raw_cell("# ASSIGNMENT CONFIG\nrequirements: null"),
        C.new_code_cell("plot()", outputs=[figure]),
        C.new_raw_cell("# BEGIN QUESTION\nname: q1_answer\npoints: 2"),
        C.new_markdown_cell("**Exercise 1.** *Write f.*"),
        C.new_raw_cell("# BEGIN SOLUTION"),
        C.new_markdown_cell("The answer is 42, because the secret reason."),
        C.new_code_cell("def f(x):\n    # BEGIN SOLUTION\n    secret_value = x * 42\n"
                        "    return secret_value\n    # END SOLUTION",
                        outputs=[C.new_output("stream", name="stdout", text="secret output\n")]),
        C.new_raw_cell("# END SOLUTION"),
        C.new_raw_cell("# BEGIN TESTS"),
        C.new_code_cell("assert f(1) == 42", outputs=[C.new_output("stream", name="stdout", text="ok\n")]),
        C.new_code_cell("# HIDDEN\nresult = f(rng.integers(9))"),
        C.new_raw_cell("# END TESTS"),
        C.new_raw_cell("# END QUESTION"),
        C.new_markdown_cell("## Summary"),
    ]
    return nb


def test_student_page_keeps_the_lesson_and_drops_the_solutions():
    page = site.student_page(toy_lesson())
    sources = [c.source for c in page.cells]
    assert all(c.cell_type != "raw" for c in page.cells)
    assert "../images/colab-badge.svg" in sources[0] and site.COLAB_BADGE_IMAGE not in sources[0]
    assert "colab.research.google.com/github/o/r/blob/main/notebooks/toy.ipynb" in sources[0]
    assert page.cells[1].outputs[0]["data"]["image/png"] == "iVBORw0KGgo="  # stored figure kept
    assert "**Exercise 1.** *Write f.*" in sources
    assert "def f(x):\n    ..." in sources
    assert not any("secret" in s or "HIDDEN" in s for s in sources)
    assert 'grader.check("q1_answer")' in "".join(sources)
    public = next(c for c in page.cells if c.source == "assert f(1) == 42")
    assert public.outputs == []
    assert sources[-1] == "## Summary"
    assert not any("secret" in str(c.get("outputs")) for c in page.cells)
    assert course.find_leaks(toy_lesson(), page) == []
    assert course.find_leaks(toy_lesson(), toy_lesson())  # the scan is not vacuous


def _images(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_every_lesson_page_keeps_its_figures_and_shows_no_solution(path):
    source = nbformat.read(path, as_version=4)
    page = site.student_page(source)
    assert course.find_leaks(source, page) == []
    assert _images(page) == _images(source) > 0  # the exercises' cells hold no figure
    probes = {p.cell.source for p in assignment.walk(source) if p.role == assignment.PROBE}
    assert probes and not any(c.source in probes for c in page.cells)


# --------------------------------------------------------------- home page
def test_home_page_keeps_the_students_sections_and_links_lessons_to_their_pages():
    readme = ("# Course\n\nIntro. See [the grader](instructor/grading.py).\n\n## Start\n\n"
              "```bash\n## not a heading\nmake lab\n```\n\n## Lessons\n\n| # | lesson |\n|---|---|\n"
              "| 01 | [Toy](notebooks/01_toy.ipynb) |\n\n"
              f"[![Open In Colab]({site.COLAB_BADGE_IMAGE})](https://colab.research.google.com/x)\n\n"
              "## Exercises and grading (for instructors)\n\nsecret grading notes\n\n"
              "## Tests and CI\n\nci notes\n")
    home = site.home_page(readme, "https://github.com/o/r", ["01_toy"])
    assert home.startswith("# Course\n")
    assert "## not a heading\nmake lab" in home and "## Lessons" in home
    assert "](notebooks/01_toy.ipynb)" in home
    assert "](https://github.com/o/r/blob/main/instructor/grading.py)" in home
    assert f"]({site.BADGE_FILE})" in home and site.COLAB_BADGE_IMAGE not in home
    assert "grading notes" not in home and "ci notes" not in home
    assert re.search(r"```\{toctree\}\n:hidden:\n:caption: Lessons\n\nnotebooks/01_toy\n```", home)


def test_home_page_from_the_real_readme_lists_every_lesson():
    home = site.home_page((ROOT / "README.md").read_text(), course.repository_url(ROOT),
                          [p.stem for p in LESSONS])
    for heading in ("## Start", "## Lessons", "## Open a lesson on Colab"):
        assert heading in home
    assert "## Tests and CI" not in home and "## Exercises and grading" not in home
    for path in LESSONS:
        assert f"](notebooks/{path.name})" in home and f"\nnotebooks/{path.stem}\n" in home


def test_course_site_builds_into_dist_site_or_out(monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.setattr(site, "build", lambda root, out: calls.append((root, out)) or 1.0)
    assert course.main(["site"]) == 0 and course.main(["site", "--out", str(tmp_path)]) == 0
    assert calls == [(ROOT, ROOT / "dist" / "site"), (ROOT, tmp_path)]
    assert f"course site: {len(LESSONS)} lessons -> " in capsys.readouterr().out


# ------------------------------------------------------------------ build
SITE_TOOLS = ("sphinx", "myst_nb", "sphinx_book_theme", "sphinx-mathjax-offline")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The site, built once into a temporary folder (printed: how long it took); or, when
    SITE_BUILT names a folder, the site already built there (`make site`: dist/site)."""
    if os.environ.get("SITE_BUILT"):
        return Path(os.environ["SITE_BUILT"])
    missing = [m for m in SITE_TOOLS if importlib.util.find_spec(m) is None]
    require(not missing, f"the site's tools are not installed ({', '.join(missing)}): "
                         "pip install -r requirements.txt -c constraints.txt")
    work = tmp_path_factory.mktemp("site")
    seconds = site.build(ROOT, work / "site", work=work)
    print(f"\nsite built in {seconds:.1f} s")
    return work / "site"


class _Text(html.parser.HTMLParser):
    """The visible text of an HTML page (scripts and styles left out)."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def page_lines(path: Path) -> set[str]:
    parser = _Text()
    parser.feed(path.read_text())
    return {line.strip() for line in "".join(parser.parts).split("\n")}


def test_site_has_a_home_page_every_lesson_and_search(built):
    assert "Convolutional neural networks in Keras" in (built / "index.html").read_text()
    for path in LESSONS:
        assert (built / "notebooks" / f"{path.stem}.html").exists(), path.name
    assert (built / "search.html").exists() and (built / "searchindex.js").exists()
    assert (built / "_images" / "colab-badge.svg").exists()


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_built_lesson_page_shows_no_solution_line(built, path):
    source = nbformat.read(path, as_version=4)
    lines = page_lines(built / "notebooks" / f"{path.stem}.html")
    assert "SIZE = setup_notebook()" in lines  # the text is read: the setup cell's last line
    assert not course.secret_lines(source) & lines


class _Images(html.parser.HTMLParser):
    """Each <img>'s src and alt (None: no alt attribute)."""

    def __init__(self):
        super().__init__()
        self.images = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append((dict(attrs).get("src", ""), dict(attrs).get("alt")))


def descriptions(page) -> list[str]:
    """The figure descriptions of a lesson page, in figure order: each cell's metadata["alt"]
    where it gives one per figure (instructor/figures.py)."""
    return [alt for cell in page.cells if len(cell.metadata.get("alt", [])) == len(figures.figure_outputs(cell))
            for alt in cell.metadata.get("alt", [])]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_built_lesson_page_gives_each_figure_its_description_as_alt(built, path):
    """instructor/figures.py: a cell's metadata["alt"] becomes its figures' <img alt>
    (through the page's output metadata and alt_text.py); the badge keeps its own alt."""
    page = site.student_page(nbformat.read(path, as_version=4))
    described = descriptions(page)
    parser = _Images()
    parser.feed((built / "notebooks" / f"{path.stem}.html").read_text())
    shown = [alt for src, alt in parser.images   # the figures (MyST-NB names them by hash)
             if re.search(r"_images/[0-9a-f]{64}\.png$", src)]
    assert shown and len(shown) == _images(page)
    if described:   # lessons still without descriptions: tests/test_figures.py's PENDING
        assert shown == described
    badges = [alt for src, alt in parser.images if src.endswith("colab-badge.svg")]
    assert badges == ["Open In Colab"]


# ---------------------------------------------------------------- browser
SHOTS = Path(os.environ.get("SITE_SHOTS", ROOT / "build" / "site-shots"))
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def served(built):
    """The built site on http://127.0.0.1:<free port>/, served from a thread."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(built)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(start_chromium):
    """Headless Debian Chromium (tests/web/conftest.py), at the desktop size."""
    return start_chromium(*SIZES["desktop"])


def visit(browser, url: str) -> None:
    """Open ``url`` and wait (30 s at most) until its document has loaded and shows the
    theme's main content (under load, chromedriver has once handed back a page before)."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && location.href === arguments[0]"
        " && document.querySelector('#main-content') !== null", url))


# Waits for every <img> (lazy ones made eager) and returns those that did not decode.
BROKEN_IMAGES_JS = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
images.forEach(img => { img.loading = "eager"; });
Promise.all(images.map(img => img.decode().then(() => null, () => img.src)))
  .then(failed => done({count: images.length,
                        broken: [...new Set(failed.filter(Boolean).concat(
                          images.filter(i => i.naturalWidth === 0).map(i => i.src)))]}));
"""


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(v for k, v in attrs if k in ("id", "name") and v)


@functools.cache
def fetch(url: str) -> tuple[int, set[str]]:
    """HTTP status of an internal address, and the ids its HTML defines."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        return error.code, set()
    ids = _Ids()
    if url.split("?")[0].endswith((".html", "/")):
        ids.feed(body.decode("utf-8", "replace"))
    return status, ids.ids


def test_every_page_loads_in_chromium_with_links_figures_and_no_console_error(built, served, browser):
    # _static/ holds the theme's template fragments (*-macros.html), not pages.
    pages = sorted(p.relative_to(built).as_posix() for p in built.rglob("*.html")
                   if p.relative_to(built).parts[0] != "_static")
    assert "index.html" in pages and len(pages) >= len(LESSONS) + 1
    problems, images = [], 0
    for page in pages:
        visit(browser, served + page)
        hrefs = browser.execute_script("return Array.from(document.querySelectorAll('a[href]'), a => a.href)")
        for href in sorted(set(hrefs)):
            if not href.startswith(served):
                continue
            address, _, fragment = href.partition("#")
            status, ids = fetch(address)
            if status != 200:
                problems.append(f"{page}: link {href} answers {status}")
            elif fragment and address.endswith(".html") and fragment not in ids:
                problems.append(f"{page}: link {href}: no element with id {fragment!r}")
        result = browser.execute_async_script(BROKEN_IMAGES_JS)
        images += result["count"]
        problems += [f"{page}: image {src} does not load" for src in result["broken"]]
        problems += [f"{page}: console {entry['level']}: {entry['message']}"
                     for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not problems, "\n".join(problems)
    assert images >= sum(_images(nbformat.read(p, as_version=4)) for p in LESSONS)


def _site_pages(built) -> list[str]:
    # _static/ holds the theme's template fragments (*-macros.html), not pages.
    return sorted(p.relative_to(built).as_posix() for p in built.rglob("*.html")
                  if p.relative_to(built).parts[0] != "_static")


def test_every_page_passes_the_axe_audit(built, served, browser, axe):
    """WCAG 2.1 A and AA rules of axe-core (tests/web/conftest.py): no serious or critical
    violation on any page; the others are printed."""
    failing, report = [], []
    for page in _site_pages(built):
        visit(browser, served + page)
        bad, lines = axe(browser, page)
        failing += bad
        report += lines
    print("\naxe on the site:\n" + ("\n".join(report) or "no violation"))
    assert not failing, "\n".join(failing)


def test_every_page_has_a_language_one_h1_headings_in_order_and_clear_links(built, served, browser, heading_problems):
    problems = []
    for page in _site_pages(built):
        visit(browser, served + page)
        problems += heading_problems(browser, page)
    assert not problems, "\n".join(problems)


def test_the_heading_check_sees_a_second_h1_a_skipped_level_and_a_vague_link(served, browser, heading_problems):
    visit(browser, served + "index.html")
    assert heading_problems(browser, "index.html") == []
    browser.execute_script("""
        const main = document.querySelector('#main-content');
        main.appendChild(document.createElement('h1')).textContent = 'Another title';
        main.appendChild(document.createElement('h3')).textContent = 'Too deep';
        const link = main.appendChild(document.createElement('a'));
        link.href = 'index.html'; link.textContent = 'here';
        document.documentElement.lang = '';""")
    problems = heading_problems(browser, "index.html")
    assert len(problems) == 4 and "2 h1" in problems[1] and "h1 then h3" in problems[2], problems
    assert "['here']" in problems[3], problems


def test_the_axe_audit_fails_an_image_without_alt(served, browser, axe, tmp_path):
    """The audit is not vacuous: the home page with a figure that has no alt fails it."""
    visit(browser, served + "index.html")
    browser.execute_script("""
        const img = document.createElement('img');
        img.src = document.querySelector('img').src;
        document.querySelector('#main-content').appendChild(img);""")
    failing, _ = axe(browser, "index.html + <img> without alt")
    assert any("image-alt" in line and "[critical]" in line for line in failing), failing


def test_lessons_link_to_each_other_and_to_colab(served, browser):
    from selenium.webdriver.common.by import By

    base = course.colab_base(course.repository_url(ROOT))
    for previous, path, following in zip([None, *LESSONS], LESSONS, [*LESSONS[1:], None]):
        visit(browser, f"{served}notebooks/{path.stem}.html")
        links = browser.execute_script("return Array.from(document.querySelectorAll('a[href]'), a => a.href)")
        assert f"{base}notebooks/{path.name}" in links, f"{path.name}: no Colab link"
        badge = browser.find_element(By.CSS_SELECTOR, f'a[href="{base}notebooks/{path.name}"] img')
        assert badge.get_property("naturalWidth") > 0
        nav = {a.get_attribute("class").split()[0]: a.get_attribute("href")
               for a in browser.find_elements(By.CSS_SELECTOR, "a.left-prev, a.right-next")}
        if following:
            assert nav.get("right-next") == f"{served}notebooks/{following.stem}.html", path.name
        if previous:
            assert nav.get("left-prev") == f"{served}notebooks/{previous.stem}.html", path.name


def test_search_finds_a_lesson(served, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{served}search.html?q=receptive")
    results = WebDriverWait(browser, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "ul.search li a") or False)
    assert any("notebooks/" in (a.get_attribute("href") or "") for a in results)


@pytest.mark.parametrize("size", SIZES)
def test_home_and_a_lesson_fit_the_screen(served, browser, size):
    """Screenshots (build/site-shots/, or $SITE_SHOTS) at desktop and phone widths; no page
    is wider than the screen (a wide table scrolls inside its own box)."""
    width, height = SIZES[size]
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"})
    try:
        # Each page's top, then further down for the eye: the lesson table, a figure, an exercise.
        for name, page, further in (
                ("home", "index.html", {"lessons": "#lessons"}),
                ("lesson", f"notebooks/{LESSONS[0].stem}.html",
                 {"figure": ".cell_output img", "exercise": "#exercises"})):
            visit(browser, served + page)
            time.sleep(0.5)
            browser.save_screenshot(str(SHOTS / f"{name}-{size}.png"))
            scroll, inner = browser.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]")
            assert inner == width and scroll <= width, f"{page} at {size}: {scroll} px wide in {inner}"
            for part, selector in further.items():
                browser.execute_script("document.querySelector(arguments[0]).scrollIntoView()", selector)
                time.sleep(0.3)
                browser.save_screenshot(str(SHOTS / f"{name}-{part}-{size}.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_pages_workflow_installs_the_site_extra_and_publishes_dist_site():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!~ ;\[]", r)[0].lower() for r in project["optional-dependencies"]["site"]}
    workflow = (ROOT / ".github" / "workflows" / "pages.yml").read_text()
    install = next(line for line in workflow.splitlines() if "pip install" in line).lower().split()
    assert names <= set(install), f"pages.yml does not install {names - set(install)}"
    assert "-c constraints.txt" in " ".join(install)
    assert "python -m instructor.course site" in workflow and "path: dist/site" in workflow


# ------------------------------------------------ math, code contrast, dark mode
# Waits for MathJax (on pages with math: Sphinx loads it only there) and returns the count of
# formulas in the page's source (MyST's .math elements), of those MathJax rendered, and of
# those with their MathML beside them for screen readers (MathJax's assistive MathML).
MATHJAX_JS = """
const done = arguments[arguments.length - 1];
const sources = document.querySelectorAll('.math').length;
if (!sources) { done({sources: 0}); }
else {
  const wait = () => (window.MathJax && MathJax.startup && MathJax.startup.promise)
    ? MathJax.startup.promise.then(() => done({sources: sources,
        rendered: document.querySelectorAll('mjx-container').length,
        assistive: document.querySelectorAll('mjx-container > mjx-assistive-mml > math').length}))
    : setTimeout(wait, 50);
  wait();
}
"""


def _math_problems(browser, page: str) -> tuple[int, list[str]]:
    math = browser.execute_async_script(MATHJAX_JS)
    if not math["sources"]:
        return 0, []
    if math["rendered"] == math["assistive"] == math["sources"]:
        return math["sources"], []
    return math["sources"], [f"{page}: {math}: formulas without MathML for screen readers"]


def test_every_formula_on_the_site_carries_mathml_for_screen_readers(built, served, browser):
    formulas, problems = 0, []
    for page in _site_pages(built):
        visit(browser, served + page)
        count, bad = _math_problems(browser, page)
        formulas, problems = formulas + count, problems + bad
    assert not problems, "\n".join(problems)
    assert formulas > 0


def test_the_math_check_sees_assistive_mathml_turned_off(served, browser):
    """With assistive MathML off in MathJax's menu (the setting conf.py states), the check
    finds the formulas without MathML."""
    page = next(f"notebooks/{p.stem}.html" for p in LESSONS if "$" in p.read_text())
    visit(browser, served + page)
    browser.execute_script("localStorage.setItem('MathJax-Menu-Settings', '{\"assistiveMml\": false}')")
    try:
        visit(browser, served + page)
        count, problems = _math_problems(browser, page)
    finally:
        browser.execute_script("localStorage.removeItem('MathJax-Menu-Settings')")
    assert count > 0 and len(problems) == 1 and "'assistive': 0" in problems[0], problems


def _set_mode(browser, url: str, mode: str) -> None:
    """Open ``url`` in the theme's light or dark mode (its switch keeps the choice in
    localStorage "mode", as a reader's click does)."""
    visit(browser, url)
    browser.execute_script("localStorage.setItem('mode', arguments[0])", mode)
    visit(browser, url)
    assert browser.execute_script("return document.documentElement.dataset.theme") == mode


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_every_code_token_has_4_5_contrast_on_its_block(served, browser, code_contrast, mode):
    """Each lesson page's code blocks (Pygments' classes of the theme's light and dark
    styles, plus a token of every class its style sheets colour), WCAG AA 4.5:1."""
    failing, tokens = [], 0
    try:
        for path in LESSONS:
            _set_mode(browser, f"{served}notebooks/{path.stem}.html", mode)
            count, _, bad = code_contrast(browser, f"{path.stem} ({mode})")
            failing, tokens = failing + bad, tokens + count
    finally:
        browser.execute_script("localStorage.removeItem('mode')")
    assert not failing, "\n".join(failing)
    assert tokens > 1000


def test_the_contrast_check_sees_a_pale_comment(served, browser, code_contrast):
    visit(browser, f"{served}notebooks/{LESSONS[0].stem}.html")
    browser.execute_script("document.head.appendChild(document.createElement('style')).textContent ="
                           " '.highlight .c1 { color: #999 !important; }'")
    _, pairs, failing = code_contrast(browser, "lesson 01 + pale comments")
    assert len(failing) == 1 and failing[0].startswith("lesson 01 + pale comments: c1: rgb(153,153,153)"), failing


# Each lesson figure's box in dark mode: its computed background (opaque and light: relative
# luminance at least 0.9) and filter (none: the theme would dim it).
DARK_FIGURES_JS = """
const lum = c => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => { v /= 255;
  return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
return Array.from(document.querySelectorAll('.cell_output img')).map(img => {
  const s = getComputedStyle(img), parts = s.backgroundColor.match(/[\\d.]+/g).map(Number);
  return {src: img.src.slice(-20), background: s.backgroundColor, filter: s.filter,
          opaque: parts.length === 3 || parts[3] === 1, luminance: lum(s.backgroundColor)}; });
"""


def _dark_figure_problems(browser, page: str) -> tuple[int, list[str]]:
    figures_ = browser.execute_script(DARK_FIGURES_JS)
    return len(figures_), [f"{page}: figure …{f['src']}: background {f['background']}, filter {f['filter']}"
                           for f in figures_ if not f["opaque"] or f["luminance"] < 0.9 or f["filter"] != "none"]


def test_figures_stay_readable_in_dark_mode(served, browser):
    """Every lesson's figures in dark mode sit on an opaque light background, undimmed;
    screenshots of lesson 01's first figure in both modes (build/site-shots/)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems, count = [], 0
    try:
        for path in LESSONS:
            _set_mode(browser, f"{served}notebooks/{path.stem}.html", "dark")
            n, bad = _dark_figure_problems(browser, path.stem)
            problems, count = problems + bad, count + n
            if path == LESSONS[0]:
                browser.execute_script("document.querySelector('.cell_output img').scrollIntoView()")
                time.sleep(0.5)
                browser.save_screenshot(str(SHOTS / "lesson-figure-dark.png"))
                _set_mode(browser, f"{served}notebooks/{path.stem}.html", "light")
                browser.execute_script("document.querySelector('.cell_output img').scrollIntoView()")
                time.sleep(0.5)
                browser.save_screenshot(str(SHOTS / "lesson-figure-light.png"))
    finally:
        browser.execute_script("localStorage.removeItem('mode')")
    assert not problems, "\n".join(problems)
    assert count >= sum(_images(nbformat.read(p, as_version=4)) for p in LESSONS)


def test_the_dark_mode_check_sees_the_theme_s_dimmed_figures(served, browser):
    """Without course.css, the theme's dark mode dims each figure on grey-blue: reported."""
    page = f"{served}notebooks/{LESSONS[0].stem}.html"
    try:
        _set_mode(browser, page, "dark")
        browser.execute_script("document.querySelector('link[href*=\"course.css\"]').disabled = true")
        count, problems = _dark_figure_problems(browser, LESSONS[0].stem)
    finally:
        browser.execute_script("localStorage.removeItem('mode')")
    assert count > 0 and len(problems) == count, problems
    assert "filter brightness(0.8)" in problems[0], problems


def _accessible_images(browser) -> list[dict]:
    """Every image node of the page's accessibility tree, as Chromium computes it for a
    screen reader (DevTools' Accessibility.getFullAXTree): its name and whether it is ignored."""
    browser.execute_cdp_cmd("Accessibility.enable", {})
    nodes = browser.execute_cdp_cmd("Accessibility.getFullAXTree", {})["nodes"]
    return [{"name": " ".join(str(n.get("name", {}).get("value", "")).split()), "ignored": n.get("ignored", False),
             "backendDOMNodeId": n.get("backendDOMNodeId")}
            for n in nodes if n.get("role", {}).get("value") in ("image", "img")]


# Pins a label over the page's first figure with what the accessibility tree says of it.
AX_LABEL_JS = """
const img = document.querySelector('.cell_output img');
img.scrollIntoView({block: 'center'});
const box = img.getBoundingClientRect(), label = document.createElement('div');
label.textContent = 'Chromium accessibility tree: role "' + arguments[0] + '", name "' + arguments[1] + '"';
Object.assign(label.style, {position: 'fixed', left: box.left + 'px', top: Math.max(0, box.top - 70) + 'px',
  width: box.width + 'px', background: '#fffbe6', color: '#000', border: '2px solid #000', padding: '4px',
  font: '13px sans-serif', zIndex: 10000});
document.body.appendChild(label);
"""


def test_every_figure_reaches_the_accessibility_tree_with_its_description(served, browser):
    """What a screen reader is given: on every lesson page, each figure is an image node of
    Chromium's accessibility tree whose name is the figure's description; the check fails
    for a figure whose alt is removed. Lesson 01's first figure, its node and a label with
    its name are kept in build/site-shots/ (lesson-figure-accessibility-tree.png, .json)."""
    import json
    from collections import Counter

    SHOTS.mkdir(parents=True, exist_ok=True)
    missing = {}
    for path in LESSONS:
        # as the accessibility tree gives names: whitespace as one space
        described = [" ".join(alt.split()) for alt in descriptions(site.student_page(nbformat.read(path, as_version=4)))]
        visit(browser, f"{served}notebooks/{path.stem}.html")
        images = _accessible_images(browser)
        lacking = Counter(described) - Counter(n["name"] for n in images if not n["ignored"])
        if lacking:
            missing[path.stem] = list(lacking)
        if path == LESSONS[0]:
            first = described[0]
            node = next(n for n in images if n["name"] == first)
            (SHOTS / "lesson-figure-accessibility-tree.json").write_text(json.dumps(node, indent=1))
            browser.execute_script(AX_LABEL_JS, "image", node["name"])
            time.sleep(0.5)
            browser.save_screenshot(str(SHOTS / "lesson-figure-accessibility-tree.png"))
            # The check can fail: without its alt, the first figure's node loses its name.
            browser.execute_script("document.querySelector('.cell_output img').removeAttribute('alt')")
            after = Counter(n["name"] for n in _accessible_images(browser) if not n["ignored"])
            assert Counter(described) - after == Counter([first]), after
    assert not missing, missing
