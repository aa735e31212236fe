"""Attention maps: one heatmap (``plot_attention``) or one per head (``plot_attention_heads``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.validation import check_int, check_shape
from course_lib.viz._common import (
    ATTENTION_CMAP,
    as_float_tensor,
    check_attention_rows,
    check_labels,
    figure_and_axes,
    new_figure,
    tick_labels,
)


def _draw_attention(
    ax: Axes, weights: np.ndarray, query_labels: list[str], key_labels: list[str], annotate: bool
):
    """Draw one (T_q, T_k) heatmap with token labels on ``ax``; returns the image (for a colourbar)."""
    image = ax.imshow(
        weights, cmap=ATTENTION_CMAP, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest"
    )
    long_labels = any(len(label) > 2 for label in key_labels)  # sub-word tokens: turn them to fit
    ax.set_xticks(range(len(key_labels)), key_labels, rotation=90 if long_labels else 0, fontsize=9)
    ax.set_yticks(range(len(query_labels)), query_labels, fontsize=9)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    ax.tick_params(length=0)
    if annotate:
        for i, j in np.ndindex(weights.shape):
            value = weights[i, j]
            ax.text(
                j,
                i,
                f"{value:.2f}"[1:] if value < 1 else "1",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if value > 0.6 else "black",
            )
    return image


def plot_attention(
    weights: torch.Tensor,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Heatmap of one attention map: row i shows how query token i spreads its attention over the keys.

    weights: (T_q, T_k), each row sums to 1 (softmax output). key_tokens defaults to query_tokens
    (self-attention). Cells show their weight when the map is small (T_q, T_k <= 12). Colour scale 0..1.
    """
    weights = as_float_tensor("weights", weights)
    check_shape(
        "weights", weights, ("T_q", "T_k"), "Select one map first, e.g. attn[0, head] for (B, H, T_q, T_k)."
    )
    t_q, t_k = weights.shape
    query_labels = tick_labels(check_labels("query_tokens", query_tokens, "weights", t_q, "T_q"))
    key_tokens = query_tokens if key_tokens is None else key_tokens
    key_labels = tick_labels(check_labels("key_tokens", key_tokens, "weights", t_k, "T_k"))
    check_attention_rows("weights", weights)

    fig, ax = figure_and_axes(ax, width=min(3.0 + 0.3 * t_k, 14.0), height=min(2.5 + 0.3 * t_q, 14.0))
    image = _draw_attention(ax, weights.numpy(), query_labels, key_labels, annotate=max(t_q, t_k) <= 12)
    fig.colorbar(image, ax=ax, label="attention weight", shrink=0.8)
    if title:
        ax.set_title(title)
    return fig


def plot_attention_heads(
    weights: torch.Tensor,
    tokens: Sequence[str],
    key_tokens: Sequence[str] | None = None,
    ncols: int = 4,
    title: str | None = None,
) -> Figure:
    """One heatmap per head, side by side on a shared 0..1 colour scale.

    weights: (H, T_q, T_k) for one layer and one batch row, e.g. ``out.attentions[layer][0]``.
    tokens label the queries; key_tokens (default: tokens) label the keys.
    """
    weights = as_float_tensor("weights", weights)
    check_shape(
        "weights", weights, ("H", "T_q", "T_k"), "Select one layer and batch row, e.g. attentions[layer][0]."
    )
    check_int("ncols", ncols, minimum=1, fix="Use e.g. ncols=4.")
    n_head, t_q, t_k = weights.shape
    query_labels = tick_labels(check_labels("tokens", tokens, "weights", t_q, "T_q"))
    key_tokens = tokens if key_tokens is None else key_tokens
    key_labels = tick_labels(check_labels("key_tokens", key_tokens, "weights", t_k, "T_k"))
    check_attention_rows("weights", weights)

    ncols = min(ncols, n_head)
    nrows = math.ceil(n_head / ncols)
    panel = min(1.2 + 0.18 * max(t_q, t_k), 4.5)  # inches per head
    fig = new_figure(panel * ncols + 1.0, panel * nrows + 0.5)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for head, ax in enumerate(axes.flat):
        if head >= n_head:
            ax.set_axis_off()
            continue
        image = _draw_attention(ax, weights[head].numpy(), query_labels, key_labels, annotate=False)
        ax.set_title(f"head {head}")
        if head % ncols:  # query labels on the first column only
            ax.set_ylabel("")
            ax.set_yticks(range(t_q), [""] * t_q)
    fig.colorbar(image, ax=axes, label="attention weight", shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig
