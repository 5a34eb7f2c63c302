"""Every figure a notebook builds is shown: each source notebook (the release with the answers in
place) runs in a fresh kernel with Jupyter's own matplotlib backend, and every code cell that
draws (pyplot, a ``plot_...`` helper or a ``Figure``) must end with an image among its outputs.

A figure built outside pyplot and followed by ``plt.show()`` draws nothing; this catches it.
Slow: it runs the six notebooks' demos (about three minutes on two cores).
"""

import re
import time

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.authoring.notebooks import SOURCE
from tinytorch.submission import SKIP_ENV

pytestmark = pytest.mark.slow

DRAWS = re.compile(r"^(?!\s*(?:#|from |import )).*(?:\bplot_\w+\(|\bplt\.(?:subplots|figure|show)\(|\bFigure\()",
                   re.MULTILINE)
"""A line (not an import or a comment) that calls a plot helper, opens a pyplot figure or builds a Figure."""


def drawing_cells(nb):
    return [(i, cell) for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and DRAWS.search(cell.source)]


def test_every_notebook_draws_somewhere():
    """The pattern finds the figures: each notebook has at least one drawing cell."""
    for path in sorted(SOURCE.glob("*.ipynb")):
        assert drawing_cells(nbformat.read(path, as_version=4)), f"{path.name}: no cell draws a figure"


@pytest.mark.parametrize("path", sorted(SOURCE.glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_drawing_cell_shows_an_image(path, tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's default: Jupyter's inline backend
    monkeypatch.setenv(SKIP_ENV, "1")  # the submit cell would run the notebook once more
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    print(f"{path.stem}: ran in {time.perf_counter() - started:.0f} s")
    errors = [(i, out.ename, out.evalue) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.output_type == "error"]
    assert not errors, f"{path.name}: cells failed: {errors}"
    blank = [(i, cell.source.splitlines()[0]) for i, cell in drawing_cells(nb)
             if not any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))]
    assert not blank, f"{path.name}: these cells draw a figure that is never shown (display it): {blank}"
