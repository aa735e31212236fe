"""Loss curves (``plot_training_history``) from a ``course_lib.train.History`` or a dict of lists."""

from __future__ import annotations

import math
from collections.abc import Mapping

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.validation import check_same_size, fail
from course_lib.viz._common import figure_and_axes


def _history_column(history: object, name: str) -> list:
    """Read one list from a History object (attribute) or a dict (key)."""
    column = history.get(name) if isinstance(history, Mapping) else getattr(history, name, None)
    if column is None:
        fail(
            "history",
            f"a History (or dict) with a '{name}' list",
            type(history).__name__,
            "Pass the History returned by course_lib.train.train, or a dict of lists.",
        )
    return list(column)


def plot_training_history(history: object, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Train and validation loss against the optimisation step.

    history: the ``History`` returned by ``course_lib.train.train`` or a dict with equally long lists
    ``step``, ``train_loss`` and ``val_loss`` (entries may be None where a loss was not measured).
    """
    steps = _history_column(history, "step")
    fig, ax = figure_and_axes(ax, width=6.0, height=3.8)
    for name, color in (("train_loss", "#1f77b4"), ("val_loss", "#ff7f0e")):
        losses = _history_column(history, name)
        check_same_size(
            f"history.{name}",
            len(losses),
            "history.step",
            len(steps),
            "length",
            "Record one loss per entry of history.step (use None where it was not measured).",
        )
        points = [(s, v) for s, v in zip(steps, losses, strict=True) if v is not None and math.isfinite(v)]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(
                xs,
                ys,
                marker="o" if len(points) <= 30 else None,
                markersize=3,
                color=color,
                label=name.replace("_", " "),
            )
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss (nats)")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    if title:
        ax.set_title(title)
    return fig
