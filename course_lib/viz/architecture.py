"""What a transformer costs, as a picture (``plot_architecture_costs``): parameters by part, memory."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.architecture import (
    Architecture,
    format_bytes,
    format_count,
    kv_cache_bytes,
    parameter_count,
    weight_bytes,
)
from course_lib.validation import fail
from course_lib.viz._common import KEPT_COLOR, REMOVED_COLOR, new_figure

_PART_LABELS = {
    "embeddings": "embeddings",
    "attention": "attention",
    "mlp": "MLP",
    "norms": "norms",
    "head": "head",
}


def _labelled_bars(
    ax: Axes, labels: list[str], values: list[int], texts: list[str], colors: list[str]
) -> None:
    """Horizontal bars, first label on top, each with its value written after the bar."""
    positions = range(len(labels))
    ax.barh(positions, values, color=colors)
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()
    right = max(max(values), 1)
    for y, (value, text) in enumerate(zip(values, texts, strict=True)):
        ax.text(value + 0.02 * right, y, text, va="center", fontsize=9)
    ax.set_xlim(0, 1.45 * right)  # room for the texts
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)


def plot_architecture_costs(arch: Architecture, title: str | None = None) -> Figure:
    """Two panels: the parameters by part (embeddings, attention, MLP, norms, head) and the memory of the
    weights (fp32, bf16) and of one sequence's KV cache at the full context (bf16)."""
    if not isinstance(arch, Architecture):
        fail(
            "arch",
            "a course_lib.architecture.Architecture",
            type(arch).__name__,
            'Use e.g. architecture.preset("GPT-2 small").',
        )
    counts = parameter_count(arch)
    fig = new_figure(10.0, 3.0)
    params_ax, memory_ax = fig.subplots(1, 2)

    parts = counts.parts()
    _labelled_bars(
        params_ax,
        [_PART_LABELS[part] for part in parts],
        list(parts.values()),
        [f"{format_count(n)} ({100 * n / counts.total:.0f}%)" for n in parts.values()],
        [KEPT_COLOR] * len(parts),
    )
    params_ax.set_title(f"{format_count(counts.total)} parameters", fontsize=10)

    generates = arch.family != "encoder-only"
    kv_label = f"KV cache bf16\n({arch.context:,} tokens)" if generates else "KV cache: none\n(encoder-only)"
    memory = {
        "weights fp32": weight_bytes(arch, "fp32"),
        "weights bf16": weight_bytes(arch, "bf16"),
        kv_label: kv_cache_bytes(arch),
    }
    _labelled_bars(
        memory_ax,
        list(memory),
        list(memory.values()),
        [format_bytes(n) for n in memory.values()],
        [KEPT_COLOR, KEPT_COLOR, REMOVED_COLOR],
    )
    memory_ax.set_title("memory (one sequence)", fontsize=10)
    if title:
        fig.suptitle(title)
    return fig
