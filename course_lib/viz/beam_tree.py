"""The beams that beam search kept, drawn as a tree growing to the right (``plot_beam_tree``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.validation import fail
from course_lib.viz._common import display_token, escape_mathtext, figure_and_axes


def beam_layout(trace: Sequence[Sequence[object]]) -> list[list[float]]:
    """Vertical position of every node: children sit in their parents' order, so no edges cross."""
    rows: list[list[float]] = []
    for t, step in enumerate(trace):
        parent_rows = rows[t - 1] if t else [0.0]
        order = sorted(
            range(len(step)), key=lambda i: (parent_rows[step[i].parent] if t else 0.0, -step[i].log_prob)
        )
        row_of = [0.0] * len(step)
        for rank, i in enumerate(order):
            row_of[i] = rank - (len(step) - 1) / 2  # centred on the prompt's row
        rows.append(row_of)
    return rows


def _check_trace(trace: Sequence[Sequence[object]]) -> None:
    if len(trace) == 0:
        fail(
            "trace",
            "a non-empty list of steps",
            "an empty trace",
            "Run beam_search with max_new_tokens >= 1.",
        )
    for t, step in enumerate(trace):
        previous = len(trace[t - 1]) if t else 1
        for i, node in enumerate(step):
            if not all(hasattr(node, name) for name in ("parent", "token", "log_prob", "finished")):
                fail(
                    f"trace[{t}][{i}]",
                    "a node with .parent, .token, .log_prob and .finished (decoding.BeamNode)",
                    type(node).__name__,
                    "Pass result.trace from course_lib.decoding.beam_search.",
                )
            valid = node.parent == -1 if t == 0 else 0 <= node.parent < previous
            if not valid:
                expected = (
                    "-1 (the prompt)" if t == 0 else f"an index into trace[{t - 1}] (0 to {previous - 1})"
                )
                fail(
                    f"trace[{t}][{i}].parent",
                    expected,
                    repr(node.parent),
                    "Pass an unmodified beam_search trace.",
                )


def plot_beam_tree(
    trace: Sequence[Sequence[object]],
    token_labels: Callable[[int], str] | Sequence[str] | None = None,
    best: Sequence[int] | torch.Tensor | None = None,
    prompt: str = "prompt",
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Draw the beams that beam search kept, step by step, as a tree growing to the right.

    trace: ``result.trace`` from ``course_lib.decoding.beam_search``: ``trace[t]`` lists the beams kept
    at step t; each node has ``parent`` (index into ``trace[t - 1]``, -1 for the prompt), ``token``
    (id), ``log_prob`` (cumulative log-probability of the new tokens) and ``finished`` (ended with eos).
    token_labels: how to print a token id: a function (e.g. ``lambda i: tok.decode([i])``) or a list
    indexed by id (e.g. ``tok.chars``); default: the id itself. best: the new token ids of the best
    sequence (e.g. ``result.sequence[0, T:]``); its path is drawn in bold.

    Green boxes finished with eos, grey boxes were dropped (no kept continuation), numbers are
    cumulative log-probabilities.
    """
    _check_trace(trace)
    rows = beam_layout(trace)
    best_path = path_of(trace, [int(t) for t in best]) if best is not None else set()

    n_steps, widest = len(trace), max(len(step) for step in trace)
    fig, ax = figure_and_axes(ax, width=min(2.0 + 1.2 * n_steps, 16.0), height=min(1.5 + 0.7 * widest, 10.0))
    box = {"boxstyle": "round,pad=0.3", "linewidth": 1}
    ax.text(
        0,
        0,
        escape_mathtext(display_token(prompt[-12:])),
        ha="center",
        va="center",
        fontsize=10,
        bbox={**box, "facecolor": "#eeeeee", "edgecolor": "#555555"},
    )
    for t, step in enumerate(trace):
        continued = {node.parent for node in trace[t + 1]} if t + 1 < n_steps else set(range(len(step)))
        for i, node in enumerate(step):
            x, y = t + 1, rows[t][i]
            parent_y = rows[t - 1][node.parent] if t else 0.0
            on_best = (t, i) in best_path
            ax.plot(
                [x - 1, x],
                [parent_y, y],
                color="#1f77b4" if on_best else "#aaaaaa",
                linewidth=2.5 if on_best else 1,
                zorder=1,
            )
            if node.finished:
                face, edge = "#d9f2d9", "#2ca02c"
            elif i in continued:
                face, edge = "#ffffff", "#1f77b4"
            else:
                face, edge = "#f2f2f2", "#bbbbbb"
            label = escape_mathtext(display_token(_token_label(token_labels, node.token)))
            ax.text(
                x,
                y,
                f"{label}\n{node.log_prob:.2f}",
                ha="center",
                va="center",
                fontsize=9,
                zorder=2,
                fontweight="bold" if on_best else "normal",
                bbox={**box, "facecolor": face, "edgecolor": edge},
            )
    ax.set_xlim(-0.6, n_steps + 0.6)
    ax.set_ylim((widest + 1) / 2, -(widest + 1) / 2)  # best-ranked beams near the top
    ax.set_xticks(range(n_steps + 1), ["prompt"] + [str(t) for t in range(1, n_steps + 1)])
    ax.set_yticks([])
    ax.set_xlabel(
        "step (number: cumulative log-probability; green: ended with eos; grey: dropped)", fontsize=9
    )
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title)
    return fig


def _token_label(token_labels: Callable[[int], str] | Sequence[str] | None, token: int) -> str:
    if token_labels is None:
        return str(token)
    if callable(token_labels):
        return str(token_labels(token))
    return str(token_labels[token])


def path_of(trace: Sequence[Sequence[object]], tokens: list[int]) -> set[tuple[int, int]]:
    """The (step, index) nodes that spell ``tokens`` from the prompt (empty if the trace has no such path)."""
    path: set[tuple[int, int]] = set()
    parent = -1
    for t, token in enumerate(tokens[: len(trace)]):
        matches = [i for i, node in enumerate(trace[t]) if node.parent == parent and node.token == token]
        if not matches:
            return set()
        parent = matches[0]
        path.add((t, parent))
    return path
