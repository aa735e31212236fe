"""What every plot shares: colours, visible whitespace, input checks and figures that pyplot does not keep.

The checks (``as_float_tensor``, ``check_labels``, ``check_attention_rows``) and ``display_token`` are
public through ``course_lib.viz``: the widgets use them too.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.validation import fail

ATTENTION_CMAP = "Blues"  # white = no attention, dark blue = all of it
POSITIONAL_CMAP = "RdBu_r"  # diverging: sin/cos values live in [-1, 1]
KEPT_COLOR = "#1f77b4"  # a token that can still be sampled
REMOVED_COLOR = "#c7c7c7"  # a token a filter removed (or the distribution before filtering)

_VISIBLE_WHITESPACE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


def display_token(token: str) -> str:
    """Make a token printable: whitespace becomes visible (``" "`` -> ``"␣"``), other control characters
    use repr."""
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
            "Pass the softmax output (the weights returned by attention_with_weights), not the raw scores.",
        )


def escape_mathtext(label: str) -> str:
    """Stop matplotlib from reading '$...$' in a token as a formula."""
    return label.replace("$", r"\$")


def tick_labels(tokens: Sequence[str]) -> list[str]:
    """Tokens as axis labels: visible whitespace, '$' kept literal."""
    return [escape_mathtext(display_token(t)) for t in tokens]


def new_figure(width: float, height: float) -> Figure:
    """A figure that pyplot does not keep open (so it is shown once, and never leaks)."""
    fig = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(fig)
    return fig


def figure_and_axes(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    """Draw into ``ax`` when given (returning its figure), else into a new width x height inch figure."""
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(width, height)
    return fig, fig.add_subplot()
