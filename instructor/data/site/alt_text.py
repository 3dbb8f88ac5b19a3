"""Sphinx extension of the course site (copied next to conf.py by instructor/site.py):
each figure of a lesson page gets its text alternative as the <img>'s alt.

MyST-NB 1.4 takes an image's alt only from the cell-level ``mystnb.image.alt`` option, one
text for all of a cell's figures; the course keeps one description per figure (see
instructor/figures.py), carried into each output's ``metadata["image/png"]["alt"]`` when the
page is staged. This wraps MyST-NB's image renderer to read it from there. A figure
without one gets docutils' default, its file name: tests/test_figures.py keeps every
lesson figure described.
"""

_render_image = None   # MyST-NB's own renderer, kept by setup(): MyST-NB (the site extra) is
                       # imported only when Sphinx loads this extension, so the module imports
                       # without it (the wheel without extras imports every module)


def render_image(self, data):
    nodes = _render_image(self, data)
    alt = data.output_metadata.get(data.mime_type, {}).get("alt")
    for node in nodes:
        if alt is not None:
            node["alt"] = alt
    return nodes


def setup(app):
    global _render_image
    from myst_nb.core.render import NbElementRenderer

    if _render_image is None:
        _render_image = NbElementRenderer.render_image
    NbElementRenderer.render_image = render_image
    return {"parallel_read_safe": True, "parallel_write_safe": True}
