"""The three attention-mask patterns of the transformer families, side by side (``plot_mask_patterns``).

- encoder self-attention (BERT; the encoder of T5/BART): every source position sees every source position;
- decoder self-attention (GPT; the decoder of T5/BART): target position t sees positions 0..t (causal);
- cross-attention (the decoder of T5/BART): every target position sees the whole source.

Masks are boolean, True = may attend (as in ``course_lib.attention``); rows are queries, columns keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from course_lib.attention import causal_mask
from course_lib.validation import check_int, fail
from course_lib.viz._common import KEPT_COLOR, new_figure, tick_labels

MAX_MASK_TOKENS = 24  # more tokens than this make unreadable tick labels
HIDDEN_COLOR = "#eeeeee"  # a key the query may not see
_MASK_CMAP = ListedColormap([HIDDEN_COLOR, KEPT_COLOR])  # False -> hidden, True -> visible


def mask_patterns(source_length: int, target_length: int) -> dict[str, torch.Tensor]:
    """The three boolean masks (True = may attend) of a source of S tokens and a target of T tokens.

    Returns {"encoder self-attention": (S, S) all True, "decoder self-attention": (T, T) lower triangle
    with the diagonal, "cross-attention": (T, S) all True}.
    """
    fix = "Pass a number of tokens, e.g. 6."
    check_int("source_length", source_length, minimum=1, fix=fix)
    check_int("target_length", target_length, minimum=1, fix=fix)
    return {
        "encoder self-attention": torch.ones(source_length, source_length, dtype=torch.bool),
        "decoder self-attention": causal_mask(target_length),
        "cross-attention": torch.ones(target_length, source_length, dtype=torch.bool),
    }


_PANELS = {  # mask name -> (title, who uses it, query tokens, key tokens)
    "encoder self-attention": ("encoder self-attention", "BERT; T5/BART encoder", "source", "source"),
    "decoder self-attention": ("decoder self-attention (causal)", "GPT; T5/BART decoder", "target", "target"),
    "cross-attention": ("cross-attention", "T5/BART decoder reads the encoder", "target", "source"),
}


def _tokens(argument: str, tokens: Sequence[str] | str) -> list[str]:
    """A non-empty list of at most MAX_MASK_TOKENS strings (a string is split into characters)."""
    if not isinstance(tokens, (str, list, tuple)):
        fail(
            argument,
            "a string or a list of tokens",
            type(tokens).__name__,
            'Pass e.g. "hello" or ["a", "b"].',
        )
    tokens = [str(token) for token in tokens]
    if not 1 <= len(tokens) <= MAX_MASK_TOKENS:
        fix = f"Pass 1 to {MAX_MASK_TOKENS} tokens, so that every label stays readable."
        fail(argument, f"1 to {MAX_MASK_TOKENS} tokens", f"{len(tokens)} tokens", fix)
    return tokens


def _draw_mask(ax: Axes, mask: torch.Tensor, queries: list[str], keys: list[str]) -> None:
    """One mask as a grid: blue = may attend, grey = hidden, with a white line between cells."""
    ax.imshow(mask.int().numpy(), cmap=_MASK_CMAP, vmin=0, vmax=1)
    ax.set_xticks(range(len(keys)), tick_labels(keys), fontsize=10)
    ax.set_yticks(range(len(queries)), tick_labels(queries), fontsize=10)
    ax.set_xticks([i - 0.5 for i in range(1, len(keys))], minor=True)
    ax.set_yticks([i - 0.5 for i in range(1, len(queries))], minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    ax.xaxis.tick_top()
    ax.set_xlabel("key (what is looked at)", fontsize=10)
    ax.set_ylabel("query (who looks)", fontsize=10)


def plot_mask_patterns(source: Sequence[str] | str, target: Sequence[str] | str) -> Figure:
    """Three panels: encoder self-attention (S, S), decoder self-attention (T, T), cross-attention (T, S).

    ``source`` and ``target`` are the tokens (a string is read as characters) that label rows and columns.
    """
    source, target = _tokens("source", source), _tokens("target", target)
    masks = mask_patterns(len(source), len(target))
    tokens = {"source": source, "target": target}
    fig = new_figure(12.0, 4.2)
    for ax, (name, mask) in zip(fig.subplots(1, 3), masks.items(), strict=True):
        title, users, query_kind, key_kind = _PANELS[name]
        _draw_mask(ax, mask, tokens[query_kind], tokens[key_kind])
        shape = f"({query_kind} x {key_kind}) = {tuple(mask.shape)}"
        ax.set_title(f"{title}\n{users}\n{shape}", fontsize=11)
    fig.suptitle("Blue: may attend. Grey: hidden.", fontsize=11)
    return fig
