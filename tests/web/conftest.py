"""Shared by the browser checks of tests/web: headless Debian Chromium, driven by selenium
through Debian's chromedriver. Where either is missing the checks are skipped with the
reason, except under CI=true, where they fail (.ci/run installs chromium and chromium-driver).
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest


@pytest.fixture(scope="module")
def start_chromium(tmp_path_factory):
    """A function that starts headless Chromium with a ``width`` x ``height`` window and
    returns its selenium driver (browser console logged in full); every driver it started
    quits at the end of the test module."""
    drivers = []

    def start(width: int, height: int, *, script_timeout: float = 60):
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        chromedriver = shutil.which("chromedriver")
        missing = None
        if not (chromium and chromedriver):
            missing = ("the browser checks need Debian's chromium and chromium-driver "
                       "(apt-get install chromium chromium-driver)")
        elif importlib.util.find_spec("selenium") is None:
            missing = "selenium is not installed: pip install -r requirements.txt -c constraints.txt"
        if missing:
            if os.environ.get("CI") == "true":
                pytest.fail(f"{missing} (CI=true: the browser checks must run; .ci/run installs them)")
            pytest.skip(missing)
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-quic", "--hide-scrollbars", "--force-device-scale-factor=1",
                    f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
                    f"--window-size={width},{height}"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(chromedriver), options=options)
        drivers.append(driver)
        driver.set_page_load_timeout(60)
        driver.set_script_timeout(script_timeout)
        return driver

    yield start
    for driver in drivers:
        driver.quit()


# ------------------------------------------------------------ accessibility audit
# axe-core (instructor/npm.py: AXE, pinned and cached like reveal.js and KaTeX) run in the
# page: the WCAG 2.0/2.1 level A and AA rules. A violation of impact "serious" or "critical"
# fails the test; "moderate" and "minor" ones are printed (pytest -s, or the test's output).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_FAILING = ("serious", "critical")
AXE_RUN_JS = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
  .then(r => done(r.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
      targets: v.nodes.slice(0, 4).map(n => n.target.join(" "))}))))
  .catch(e => done([{id: "axe-error", impact: "critical", help: String(e), count: 1, targets: []}]));
"""


@pytest.fixture(scope="session")
def axe():
    """A function ``axe(driver, page)`` that runs axe-core on the document ``driver`` shows
    and returns ``(failing, report)``: the lines of the serious and critical violations, and
    a line for every violation (printed by the caller)."""
    from instructor.npm import axe_source

    try:
        source = axe_source()
    except RuntimeError as error:   # no npm and no cached tarball
        if os.environ.get("CI") == "true":
            pytest.fail(f"axe-core: {error}")
        pytest.skip(f"axe-core: {error}")

    def run(driver, page: str):
        driver.execute_script(source)
        violations = driver.execute_async_script(AXE_RUN_JS, AXE_TAGS)
        lines = [(v["impact"], f"{page}: [{v['impact']}] {v['id']} ({v['count']}x): {v['help']}; "
                               f"{', '.join(v['targets'])}") for v in violations]
        return [line for impact, line in lines if impact in AXE_FAILING], [line for _, line in lines]

    return run


# What axe does not check: the page's language, one h1, headings that never skip a level
# going down (h2 then h4), and link texts that say where they go (not "here"). Only headings a reader meets count: rendered ones (the
# theme's print-only copy of the title is display: none on screen) not hidden by aria-hidden.
HEADINGS_JS = """
const shown = el => el.getClientRects().length > 0 && !el.closest('[aria-hidden="true"]');
return {lang: document.documentElement.lang,
        links: Array.from(document.querySelectorAll('a[href]')).filter(shown)
          .map(a => (a.getAttribute('aria-label') || a.innerText || '').trim().toLowerCase()),
        headings: Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6'))
          .filter(shown).map(h => [Number(h.tagName[1]), h.textContent.trim().slice(0, 60)])};
"""


@pytest.fixture(scope="session")
def heading_problems():
    """A function ``heading_problems(driver, page)``: what is wrong with the language and
    the headings of the document ``driver`` shows (one line per problem)."""
    return _heading_problems


def _heading_problems(driver, page: str) -> list[str]:
    result = driver.execute_script(HEADINGS_JS)
    problems = [] if result["lang"] == "en" else [f"{page}: <html lang={result['lang']!r}>, not 'en'"]
    levels = [level for level, _ in result["headings"]]
    if levels.count(1) != 1:
        problems.append(f"{page}: {levels.count(1)} h1 headings, not one: "
                        f"{[t for level, t in result['headings'] if level == 1]}")
    if levels and levels[0] != 1:
        problems.append(f"{page}: the first heading is an h{levels[0]}: {result['headings'][0][1]!r}")
    for (a, _), (b, text) in zip(result["headings"], result["headings"][1:]):
        if b > a + 1:
            problems.append(f"{page}: h{a} then h{b} ({text!r}): a level skipped")
    vague = sorted({text for text in result["links"] if text.strip(" .:") in VAGUE_LINKS})
    if vague:
        problems.append(f"{page}: links that do not say where they go: {vague}")
    return problems


VAGUE_LINKS = {"here", "click here", "this", "link", "this link", "more", "read more", "click"}


# Code blocks' contrast (WCAG 2.1 AA, 1.4.3: 4.5:1 for text): every syntax-highlighted
# token of every code block (Pygments' and nbconvert's <div class="highlight"><pre>), its
# computed colour against the background it is drawn on (the element's and its ancestors'
# backgrounds composited, from a white canvas up). Counts every token, in any slide or
# section, shown or not: the colours are computed all the same. With ``every_class``, a
# token of each class that the page's style sheets colour (".highlight .kn") is added to
# the first code block first, so that token kinds the page does not use are checked too.
CONTRAST_JS = r"""
const rgba = c => { const m = c.match(/[\d.]+/g).map(Number); return m.length === 3 ? [...m, 1] : m; };
const over = (top, under) => { const a = top[3];
  return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]); };
const background = el => { const layers = [];
  for (let e = el; e; e = e.parentElement) layers.push(rgba(getComputedStyle(e).backgroundColor));
  return layers.reverse().reduce((under, top) => over(top, under), [255, 255, 255, 1]); };
const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
  return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
if (arguments[0]) {   // every token class the page's style sheets colour, on the first code block
  const classes = new Set(), pre = document.querySelector('div.highlight pre');
  const visit = rules => { for (const rule of rules) {
    if (rule.cssRules) visit(rule.cssRules);
    for (const m of (rule.selectorText || '').matchAll(/\.highlight\s+\.([\w-]+)/g)) classes.add(m[1]); } };
  for (const sheet of document.styleSheets) { try { visit(sheet.cssRules); } catch (e) { } }
  const probe = pre && pre.appendChild(document.createElement('span'));
  for (const c of pre ? classes : []) {
    const token = probe.appendChild(document.createElement('span'));
    token.className = c; token.textContent = 'x';
  }
}
const seen = {}; let tokens = 0;
for (const span of document.querySelectorAll('div.highlight pre span, div.highlight pre')) {
  if (!Array.from(span.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())) continue;
  tokens += 1;
  const bg = background(span), fg = over(rgba(getComputedStyle(span).color), bg);
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  const key = `${span.className || 'text'}: rgb(${fg.slice(0, 3).map(Math.round)}) on rgb(${bg.slice(0, 3).map(Math.round)})`;
  seen[key] = Math.round((hi + 0.05) / (lo + 0.05) * 100) / 100;
}
return {tokens: tokens, pairs: seen};
"""


@pytest.fixture(scope="session")
def code_contrast():
    """A function ``code_contrast(driver, page)``: ``(tokens, pairs, failing)``, the number
    of highlighted tokens on the page, every (token class, colour, background) with its
    contrast ratio, and a line for each pair under 4.5:1."""
    def run(driver, page: str, every_class: bool = True):
        result = driver.execute_script(CONTRAST_JS, every_class)
        failing = [f"{page}: {pair}: {ratio}:1" for pair, ratio in sorted(result["pairs"].items())
                   if ratio < 4.5]
        return result["tokens"], result["pairs"], failing
    return run
