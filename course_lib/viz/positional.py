"""Position tables as heatmaps (``plot_positional_encoding``)."""

from __future__ import annotations

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.validation import check_shape
from course_lib.viz._common import POSITIONAL_CMAP, as_float_tensor, figure_and_axes


def plot_positional_encoding(table: torch.Tensor, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Heatmap of a position table (T, C): row t is the vector added for position t.

    Sinusoidal tables show fast waves in the first dimensions and slow ones in the last.
    """
    table = as_float_tensor("table", table)
    check_shape(
        "table", table, ("T", "C"), "Pass a (positions, n_embd) table, e.g. sinusoidal_table(64, 128)."
    )
    n_positions, n_embd = table.shape
    limit = max(table.abs().max().item(), 1e-9)  # symmetric scale so 0 is white
    fig, ax = figure_and_axes(
        ax, width=min(3.0 + 0.06 * n_embd, 12.0), height=min(2.5 + 0.06 * n_positions, 9.0)
    )
    image = ax.imshow(
        table.numpy(), cmap=POSITIONAL_CMAP, vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest"
    )
    ax.set_xlabel("embedding dimension")
    ax.set_ylabel("position")
    fig.colorbar(image, ax=ax, label="value", shrink=0.8)
    ax.set_title(title or f"positional encoding ({n_positions} positions x {n_embd} dims)")
    return fig
