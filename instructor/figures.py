"""Text alternatives of the lessons' figures (WCAG 2.1 success criterion 1.1.1).

The format, written once in each lesson notebook: a code cell whose outputs hold figures
(outputs with ``image/png`` or ``image/jpeg`` data) carries in its cell metadata

    "alt": ["One sentence on what the first figure shows.", "... the second ...", ...]

a list with one string per figure the cell outputs, in output order: what a student should
see in the figure, not its number. An empty string marks a figure as decorative (its
``<img>`` gets ``alt=""``); no lesson figure is decorative today. ``tests/test_figures.py``
fails when a lesson's figure has no description or a cell's count of descriptions differs
from its count of figures.

The tools carry the descriptions out of the cell metadata (:func:`carry_alt`) into each
figure output's own metadata, keyed by its MIME type as nbformat keys ``width`` and
``height`` (``output.metadata["image/png"]["alt"]``), in the copies they write: the
website's pages (``course site``: MyST-NB's image gets ``alt``, see
``instructor/data/site/alt_text.py``), the slide decks (``course slides``: the deck
template's ``<img alt=...>``) and the live notebooks for RISE (``notebooks/live/``).
Neither JupyterLab 4.6 nor nbconvert 7.17's own templates read an image's ``alt`` from
output metadata yet; the lessons themselves keep the descriptions in the cell metadata only.
"""

from __future__ import annotations

ALT_KEY = "alt"
FIGURE_TYPES = ("image/png", "image/jpeg")


def figure_outputs(cell) -> list:
    """The outputs of ``cell`` that hold a figure, in order."""
    if cell.get("cell_type") != "code":
        return []
    return [out for out in cell.get("outputs", [])
            if any(mime in out.get("data", {}) for mime in FIGURE_TYPES)]


def alt_problems(nb) -> list[str]:
    """What is wrong with the figures' text alternatives in notebook ``nb``: one line per
    code cell (by index) whose figures lack descriptions, whose count of descriptions
    differs from its count of figures, or whose ``alt`` is not a list of strings."""
    problems = []
    for index, cell in enumerate(nb.cells):
        figures = figure_outputs(cell)
        alts = cell.get("metadata", {}).get(ALT_KEY)
        first = (cell.get("source") or "").split("\n", 1)[0][:60]
        if alts is None:
            if figures:
                problems.append(f"cell {index} ({first!r}): {len(figures)} figure(s), "
                                f"no metadata[{ALT_KEY!r}]")
            continue
        if not (isinstance(alts, list) and all(isinstance(a, str) for a in alts)):
            problems.append(f"cell {index} ({first!r}): metadata[{ALT_KEY!r}] is not a list "
                            f"of strings")
        elif len(alts) != len(figures):
            problems.append(f"cell {index} ({first!r}): {len(figures)} figure(s) but "
                            f"{len(alts)} description(s)")
        elif any(len(a.split()) < 5 for a in alts if a):
            problems.append(f"cell {index} ({first!r}): a description under five words "
                            f"says too little")
    return problems


def carry_alt(nb):
    """Copy each code cell's ``metadata["alt"]`` into its figure outputs' metadata
    (``output.metadata[mime]["alt"]``), in place; return ``nb``. A cell whose count of
    descriptions differs from its count of figures (an exercise whose outputs the page
    or slide left out) is left as it is."""
    for cell in nb.cells:
        alts = cell.get("metadata", {}).get(ALT_KEY)
        figures = figure_outputs(cell)
        if not isinstance(alts, list) or len(alts) != len(figures):
            continue
        for out, alt in zip(figures, alts):
            metadata = out.setdefault("metadata", {})
            for mime in FIGURE_TYPES:
                if mime in out["data"]:
                    metadata.setdefault(mime, {})[ALT_KEY] = alt
    return nb
