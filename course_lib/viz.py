"""Pictures of what a transformer does: attention maps, next-token distributions, beams, loss curves.

Every function returns a matplotlib ``Figure``. The figure is closed in pyplot before it is
returned, so a notebook shows it exactly once: when it is the cell's last value, or through
``display(fig)``. Pass ``ax=`` to draw into an axes of your own figure instead.

Tokens are drawn with visible whitespace (``" "`` -> ``"␣"``, ``"\\n"`` -> ``"↵"``), so a
character-level model's spaces and line breaks can be told apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.validation import check_int, check_same_size, check_shape, fail

ATTENTION_CMAP = "Blues"  # white = no attention, dark blue = all of it
POSITIONAL_CMAP = "RdBu_r"  # diverging: sin/cos values live in [-1, 1]
KEPT_COLOR = "#1f77b4"  # a token that can still be sampled
REMOVED_COLOR = "#c7c7c7"  # a token a filter removed (or the distribution before filtering)

_VISIBLE_WHITESPACE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


# ---------------------------------------------------------------- shared helpers (also used by widgets)


def display_token(token: str) -> str:
    """Make a token printable: whitespace becomes visible (``" "`` -> ``"␣"``), other control characters use repr."""
    if token == "":
        return "∅"
    shown = "".join(_VISIBLE_WHITESPACE.get(ch, ch) for ch in token)
    if any(not ch.isprintable() for ch in shown):
        return repr(token)[1:-1]
    return shown


def as_float_tensor(argument: str, value: object) -> torch.Tensor:
    """Return ``value`` as a float32 CPU tensor (a torch.Tensor or a NumPy array is accepted)."""
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        fail(
            argument, "a torch.Tensor", f"{type(value).__name__}", "Wrap the numbers with torch.tensor(...)."
        )
    tensor = value.detach().to("cpu", torch.float32)
    if torch.isnan(tensor).any():
        fail(
            argument,
            "free of NaN values",
            "a tensor containing NaN",
            "Check the computation that produced it.",
        )
    return tensor


def check_labels(
    argument: str, labels: Sequence[str], tensor_argument: str, size: int, dimension: str
) -> list[str]:
    """Check that there is one string label per entry along a tensor dimension; return them as a list."""
    if isinstance(labels, str):
        labels = list(labels)  # "hello" -> ["h", "e", "l", "l", "o"], handy for character-level models
    labels = [str(label) for label in labels]
    if len(labels) != size:
        fail(
            argument,
            f"one label per entry of {dimension} ({tensor_argument} has {dimension} = {size})",
            f"{len(labels)} labels",
            "Pass one string per token, e.g. [tokenizer.decode([i]) for i in ids].",
        )
    return labels


def check_attention_rows(argument: str, weights: torch.Tensor) -> None:
    """Check that attention weights (..., T_q, T_k) are probabilities: >= 0 and each query row sums to 1."""
    if (weights < 0).any():
        fail(
            argument,
            "attention weights (all >= 0)",
            f"a minimum of {weights.min().item():.3g}",
            "Pass the softmax output, not the raw scores QK^T/sqrt(d).",
        )
    row_sums = weights.sum(dim=-1)  # (..., T_q)
    worst = (row_sums - 1).abs().argmax()
    index = np.unravel_index(worst.item(), tuple(row_sums.shape))
    if abs(row_sums[index].item() - 1) > 1e-2:
        where = ", ".join(str(int(i)) for i in index)
        fail(
            argument,
            "attention weights whose rows (one per query) sum to 1",
            f"a row summing to {row_sums[index].item():.3f} at index ({where})",
            "Pass the softmax output (the weights returned by scaled_dot_product_attention), not the raw scores.",
        )


def _escape_mathtext(label: str) -> str:
    """Stop matplotlib from reading '$...$' in a token as a formula."""
    return label.replace("$", r"\$")


def _tick_labels(tokens: Sequence[str]) -> list[str]:
    return [_escape_mathtext(display_token(t)) for t in tokens]


def _new_figure(width: float, height: float) -> Figure:
    """A figure that pyplot does not keep open (so it is shown once, and never leaks)."""
    fig = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(fig)
    return fig


def _figure_and_axes(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = _new_figure(width, height)
    return fig, fig.add_subplot()


# ---------------------------------------------------------------- attention


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
    query_labels = _tick_labels(check_labels("query_tokens", query_tokens, "weights", t_q, "T_q"))
    key_tokens = query_tokens if key_tokens is None else key_tokens
    key_labels = _tick_labels(check_labels("key_tokens", key_tokens, "weights", t_k, "T_k"))
    check_attention_rows("weights", weights)

    fig, ax = _figure_and_axes(ax, width=min(3.0 + 0.3 * t_k, 14.0), height=min(2.5 + 0.3 * t_q, 14.0))
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
    query_labels = _tick_labels(check_labels("tokens", tokens, "weights", t_q, "T_q"))
    key_tokens = tokens if key_tokens is None else key_tokens
    key_labels = _tick_labels(check_labels("key_tokens", key_tokens, "weights", t_k, "T_k"))
    check_attention_rows("weights", weights)

    ncols = min(ncols, n_head)
    nrows = math.ceil(n_head / ncols)
    panel = min(1.2 + 0.18 * max(t_q, t_k), 4.5)  # inches per head
    fig = _new_figure(panel * ncols + 1.0, panel * nrows + 0.5)
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


# ---------------------------------------------------------------- next-token distributions


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
    fig, ax = _figure_and_axes(ax, width=min(2.0 + 0.4 * len(order), 12.0), height=3.5)
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
    bar_labels = _tick_labels([labels[i] for i in order])
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


# ---------------------------------------------------------------- beam search


def _beam_layout(trace: Sequence[Sequence[object]]) -> list[list[float]]:
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
    rows = _beam_layout(trace)
    best_path = _path_of(trace, [int(t) for t in best]) if best is not None else set()

    n_steps, widest = len(trace), max(len(step) for step in trace)
    fig, ax = _figure_and_axes(ax, width=min(2.0 + 1.2 * n_steps, 16.0), height=min(1.5 + 0.7 * widest, 10.0))
    box = {"boxstyle": "round,pad=0.3", "linewidth": 1}
    ax.text(
        0,
        0,
        _escape_mathtext(display_token(prompt[-12:])),
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
            label = _escape_mathtext(display_token(_token_label(token_labels, node.token)))
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


def _path_of(trace: Sequence[Sequence[object]], tokens: list[int]) -> set[tuple[int, int]]:
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


# ---------------------------------------------------------------- positions and training


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
    fig, ax = _figure_and_axes(
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


def _history_column(history: object, name: str) -> list:
    """Read one list from a History object (attribute) or a dict (key)."""
    if isinstance(history, Mapping):
        column = history.get(name)
    else:
        column = getattr(history, name, None)
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
    fig, ax = _figure_and_axes(ax, width=6.0, height=3.8)
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
        points = [(s, v) for s, v in zip(steps, losses) if v is not None and math.isfinite(v)]
        if points:
            xs, ys = zip(*points)
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
