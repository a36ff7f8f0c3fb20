"""sphinx-gallery helpers of the oasisgen docs: a figure scraper and the example order.

The figures of :mod:`oasisgen.plotting` are :class:`matplotlib.figure.Figure` objects
made without pyplot, so sphinx-gallery's own matplotlib scraper never sees them.
:func:`scrape_figures` finds them in the namespace of the running example instead.
Both names are given to sphinx-gallery as strings in ``conf.py``, which keeps the
Sphinx configuration picklable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The gallery in reading order; examples not listed follow, by file name.
EXAMPLE_ORDER = (
    "plot_quickstart.py",
    "plot_oasis_png_folders.py",
    "plot_grid_search.py",
    "plot_sampling.py",
    "plot_save_load.py",
)

_SCRAPED = "_oasisgen_docs_scraped"


def scrape_figures(block: Any, block_vars: dict[str, Any], gallery_conf: Any) -> str:
    """Save the Figures a code block left in the example's namespace.

    Each figure is saved once, after the first block in which it appears, in the
    order the variables were first assigned.

    Parameters
    ----------
    block : tuple
        The code block that just ran (unused).
    block_vars : dict
        sphinx-gallery's state of the example: ``example_globals`` and
        ``image_path_iterator``.
    gallery_conf : dict
        sphinx-gallery's configuration; ``src_dir`` is the documentation source.

    Returns
    -------
    rst : str
        reStructuredText showing the new figures, or an empty string.
    """
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    new = [
        value
        for value in block_vars["example_globals"].values()
        if isinstance(value, Figure) and not getattr(value, _SCRAPED, False)
    ]
    paths = []
    for figure, path in zip(new, block_vars["image_path_iterator"], strict=False):
        figure.savefig(path, dpi=100)
        setattr(figure, _SCRAPED, True)
        paths.append(path)
    if not paths:
        return ""
    return figure_rst(paths, gallery_conf["src_dir"])


class ExampleOrder:
    """Sort key that puts the gallery's examples in :data:`EXAMPLE_ORDER`.

    Parameters
    ----------
    src_dir : str
        The folder of the examples (given by sphinx-gallery).
    """

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        """Return the sort key of ``filename``."""
        name = Path(filename).name
        if name in EXAMPLE_ORDER:
            return EXAMPLE_ORDER.index(name), name
        return len(EXAMPLE_ORDER), name

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
