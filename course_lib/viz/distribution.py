"""Next-token distributions as bar charts (``plot_distribution``), optionally before and after filtering."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.validation import check_int, check_shape
from course_lib.viz._common import (
    KEPT_COLOR,
    REMOVED_COLOR,
    as_float_tensor,
    check_labels,
    figure_and_axes,
    tick_labels,
)


def plot_distribution(
    probs: torch.Tensor,
    labels: Sequence[str],
    top: int = 20,
    reference: torch.Tensor | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Bar chart of the ``top`` most likely next tokens.

    probs: (V,) probabilities. reference: optional (V,) distribution drawn as grey bars behind
    (e.g. before top-k/top-p filtering); bars are then ordered by the reference, and tokens whose
    probability in ``probs`` is 0 (removed by a filter) show only their grey bar.
    """
    probs = as_float_tensor("probs", probs)
    check_shape("probs", probs, ("V",), "Pass one row of probabilities, e.g. probs[0] for (B, V).")
    vocab_size = probs.shape[0]
    labels = check_labels("labels", labels, "probs", vocab_size, "V")
    check_int("top", top, minimum=1, fix="Use e.g. top=20.")
    if reference is not None:
        reference = as_float_tensor("reference", reference)
        check_shape("reference", reference, (vocab_size,), "Pass the (V,) distribution before filtering.")

    order = torch.argsort(probs if reference is None else reference, descending=True, stable=True)[
        :top
    ]  # (top,)
    positions = np.arange(len(order))
    fig, ax = figure_and_axes(ax, width=min(2.0 + 0.4 * len(order), 12.0), height=3.5)
    if reference is not None:
        ax.bar(positions, reference[order].numpy(), color=REMOVED_COLOR, label="before filtering")
    kept = probs[order] > 0
    ax.bar(
        positions,
        probs[order].numpy(),
        color=[KEPT_COLOR if k else REMOVED_COLOR for k in kept],
        label="probability" if reference is None else "after filtering",
        width=0.6,
    )
    bar_labels = tick_labels([labels[i] for i in order])
    long_labels = any(len(label) > 2 for label in bar_labels)  # sub-word tokens: turn them to fit
    ax.set_xticks(
        positions,
        bar_labels,
        fontsize=10,
        rotation=60 if long_labels else 0,
        ha="right" if long_labels else "center",
        rotation_mode="anchor",
    )
    ax.set_ylim(0, 1.05 * max(probs.max().item(), 0 if reference is None else reference.max().item(), 1e-9))
    ax.set_ylabel("probability")
    ax.set_xlabel(f"top {len(order)} of {vocab_size} tokens")
    if reference is not None:
        ax.legend(loc="upper right", fontsize=9)
    if title:
        ax.set_title(title)
    return fig
