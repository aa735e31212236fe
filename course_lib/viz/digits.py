"""``plot_digits``: 8x8 digit images in a grid, with not-yet-generated ([MASK]) pixels drawn in blue.

Grey levels 0..16 run from white (0, paper) to black (16, ink), as the digits were scanned; a pixel of -1
is still masked (course_lib.images draws [MASK] as -1) and appears in light blue, so a half-finished
MaskGIT or raster canvas shows which cells are still open.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from course_lib.validation import fail
from course_lib.viz._common import new_figure

MASKED_COLOR = "#9ecae1"  # a pixel the generator has not chosen yet
DIGIT_CMAP = colormaps["gray_r"].with_extremes(bad=MASKED_COLOR)
MAX_LEVEL = 16


def plot_digits(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    columns: int = 10,
    title: str | None = None,
    title_colors: Sequence[str] | None = None,
) -> Figure:
    """Images (N, 8, 8) of grey levels 0..16 (-1: masked) in a grid of ``columns``; one small title each."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[1:] != (8, 8) or len(images) == 0:
        fail("images", "an array of shape (N, 8, 8) with N >= 1", f"shape {images.shape}", "Pass digits.")
    n = len(images)
    for name, labels in (("titles", titles), ("title_colors", title_colors)):
        if labels is not None and len(labels) != n:
            fail(name, f"one entry per image ({n})", f"{len(labels)} entries", "Pass one per image or None.")
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    fig = new_figure(1.1 * columns + 0.2, 1.25 * rows + (0.4 if title else 0.0))
    for index, ax in enumerate(fig.subplots(rows, columns, squeeze=False).flat):
        if index >= n:
            ax.set_axis_off()
            continue
        ax.set_xticks([])
        ax.set_yticks([])  # keep the frame: white paper pixels still show where the image ends
        for spine in ax.spines.values():
            spine.set_color("#888888")
        shown = np.ma.masked_less(images[index], 0)  # -1 -> masked -> MASKED_COLOR
        ax.imshow(shown, cmap=DIGIT_CMAP, vmin=0, vmax=MAX_LEVEL, interpolation="nearest")
        if titles is not None:
            color = title_colors[index] if title_colors is not None else "#222222"
            ax.set_title(titles[index], fontsize=10, color=color)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig
