"""``AttentionCostExplorer``: resolution, patch size, frames and attention kind -> tokens, FLOPs and memory of
one attention layer, drawn against this machine's available memory.

Everything shown is arithmetic from ``course_lib.attention_cost`` (no tensors), so a control move costs
about a millisecond; the only measurement (available memory) is taken once, at construction, or passed in.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from course_lib import attention_cost as cost
from course_lib.architecture import format_bytes, format_flops
from course_lib.validation import check_int, check_number, fail
from course_lib.widgets._common import FONT, dropdown, finish_layout, new_output, slider

PATCHES = (1, 2, 4, 8, 16, 32)
KIND_COLORS = {"full": "#d62728", "window": "#1f77b4", "axial": "#2ca02c"}
_LIMIT_COLOR = "#444"
_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 520, 260, 62, 12, 14, 38  # the plot's size and margins (px)
_TOKENS_RANGE = (1e2, 1e7)  # the x axis (tokens per layer input), log scale
_BYTES_RANGE = (1e4, 1e15)  # the y axis (bytes), log scale
_CELL = "padding: 2px 12px 2px 0;"


def _scale(value: float, low: float, high: float, start: float, end: float) -> float:
    """Position of ``value`` on a log axis from ``low`` (at ``start`` px) to ``high`` (at ``end`` px)."""
    fraction = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
    return start + min(max(fraction, -0.02), 1.02) * (end - start)


def _x(tokens: float) -> float:
    return _scale(tokens, *_TOKENS_RANGE, _LEFT, _W - _RIGHT)


def _y(size: float) -> float:
    return _scale(size, *_BYTES_RANGE, _H - _BOTTOM, _TOP)


class AttentionCostExplorer(widgets.VBox):
    """Controls for an image or video and an attention kind; the cost of one attention layer.

    Tokens = frames x (side / patch)^2. Memory is the peak of written-out float32 attention (scores and
    weights alive at once: ``bytes_per_pair`` bytes per (query, key) pair, over ``n_head`` heads).
    available_bytes: this machine's limit (default: ``available_memory_bytes()`` at construction).
    seconds_per_pair: measured single-thread seconds per (query, key) pair for one head of ``head_dim``
    (optional): with it, the view estimates one layer's attention time.
    """

    def __init__(
        self,
        *,
        side: int = 256,
        patch: int = 8,
        frames: int = 1,
        kind: str = "full",
        window: int = 8,
        n_head: int = 8,
        head_dim: int = 64,
        bytes_per_pair: int = cost.TABLES_ALIVE * cost.FLOAT32_BYTES,
        available_bytes: int | None = None,
        seconds_per_pair: float | None = None,
    ):
        super().__init__()
        check_int("side", side, minimum=64, maximum=1024, fix="Use a multiple of 64 from 64 to 1024.")
        if side % 64:
            fail("side", "a multiple of 64", side, "Use e.g. 256.")
        if patch not in PATCHES:
            fail("patch", f"one of {PATCHES}", repr(patch), "Use e.g. patch=8.")
        check_int("frames", frames, minimum=1, maximum=256, fix="Use 1 for an image, e.g. 32 for a video.")
        cost.keys_per_query(kind, grid=1, window=window)  # checks kind and window
        check_int("n_head", n_head, minimum=1, fix="Use e.g. n_head=8.")
        check_int("head_dim", head_dim, minimum=1, fix="Use e.g. head_dim=64.")
        check_int("bytes_per_pair", bytes_per_pair, minimum=1, fix="Use e.g. 8 (two float32 tables).")
        if available_bytes is None:
            available_bytes = cost.available_memory_bytes()
        check_int("available_bytes", available_bytes, minimum=1, fix="Pass available_memory_bytes().")
        if seconds_per_pair is not None:
            check_number("seconds_per_pair", seconds_per_pair, low=0, low_inclusive=False, fix="Measure it.")
        self.window, self.n_head, self.head_dim = window, n_head, head_dim
        self.bytes_per_pair, self.available_bytes = bytes_per_pair, available_bytes
        self.seconds_per_pair = seconds_per_pair
        self.max_tokens = cost.max_full_attention_tokens(
            available_bytes, n_head=n_head, bytes_per_pair=bytes_per_pair
        )

        self.side = slider(
            widgets.IntSlider, value=side, min=64, max=1024, step=64, description="image side (px)"
        )
        self.patch = dropdown(options=PATCHES, value=patch, description="patch (px)")
        self.frames = slider(widgets.IntSlider, value=frames, min=1, max=256, description="frames")
        self.kind = dropdown(options=cost.ATTENTION_KINDS, value=kind, description="attention")
        self.output = new_output()
        controls = [self.side, self.patch, self.frames, self.kind]
        finish_layout(self, "attention-cost", controls, self.output)
        for control in controls:
            control.observe(self._update, names="value")
        self._update()

    # -- the numbers --

    def grid(self) -> int:
        """Tokens along one edge of a frame."""
        return self.side.value // self.patch.value

    def tokens(self) -> int:
        """Tokens in the layer's input: frames x grid^2."""
        return self.frames.value * self.grid() ** 2

    def curve_bytes(self, kind: str, tokens: np.ndarray) -> np.ndarray:
        """Peak memory of one written-out layer of ``kind`` over each of ``tokens`` (N,) token counts, for
        the chosen number of frames (grid taken as continuous, for a smooth curve) -> (N,) bytes."""
        frames = self.frames.value
        per_frame = tokens / frames
        if kind == "full":
            keys = tokens
        elif kind == "window":
            keys = np.minimum(self.window**2, per_frame)
        else:
            keys = 2 * np.sqrt(per_frame) + (frames if frames > 1 else 0)
        return self.n_head * tokens * keys * self.bytes_per_pair

    def numbers(self) -> dict[str, int | float | None]:
        """Everything the view reports for the current settings."""
        kind, grid, frames = self.kind.value, self.grid(), self.frames.value
        tokens = self.tokens()
        keys = cost.keys_per_query(kind, grid=grid, frames=frames, window=self.window)
        pairs = cost.score_pairs(kind, grid=grid, frames=frames, window=self.window, n_head=self.n_head)
        d_model = self.n_head * self.head_dim
        flops = cost.layer_flops(tokens, pairs, d_model=d_model, head_dim=self.head_dim)
        seconds = None if self.seconds_per_pair is None else self.seconds_per_pair * pairs
        return {
            "tokens": tokens,
            "keys_per_query": keys,
            "pairs": pairs,
            "projection_flops": flops["projections"],
            "attention_flops": flops["attention"],
            "peak_bytes": pairs * self.bytes_per_pair,
            "kv_cache_bytes": cost.kv_cache_bytes(tokens, n_layer=1, d_model=d_model),
            "seconds": seconds,
        }

    def fits(self) -> bool:
        """Whether the chosen layer's peak memory fits in this machine's available memory."""
        return self.numbers()["peak_bytes"] <= self.available_bytes

    # -- the view --

    def _update(self, change: dict | None = None) -> None:
        self.output.value = self._html()

    def _table_html(self, numbers: dict) -> str:
        fits = self.fits()
        verdict = (
            '<b style="color: #2ca02c;">fits</b>'
            if fits
            else f'<b style="color: {KIND_COLORS["full"]};">does not fit</b>'
        )
        rows = [
            ("tokens", f"{self.frames.value} frame(s) x {self.grid()}&sup2; = {numbers['tokens']:,}"),
            ("keys per query", f"{numbers['keys_per_query']:,}"),
            (f"(query, key) pairs, {self.n_head} heads", f"{numbers['pairs']:,}"),
            ("FLOPs: q, k, v, output projections", format_flops(numbers["projection_flops"])),
            ("FLOPs: scores and weighted values", format_flops(numbers["attention_flops"])),
            ("peak memory (written-out, float32)", f"{format_bytes(numbers['peak_bytes'])}: {verdict}"),
            ("KV cache of this layer (bf16)", format_bytes(numbers["kv_cache_bytes"])),
        ]
        if numbers["seconds"] is not None:
            rows.append(("attention time, one CPU thread (est.)", f"{numbers['seconds']:.3g} s"))
        body = "".join(
            f'<tr><td style="{_CELL}">{label}</td><td style="{_CELL}">{value}</td></tr>'
            for label, value in rows
        )
        return f'<table style="border-collapse: collapse;">{body}</table>'

    def _plot_svg(self) -> str:
        xs = np.logspace(*np.log10(_TOKENS_RANGE), 40)
        lines = []
        for kind, color in KIND_COLORS.items():
            points = " ".join(
                f"{_x(t):.1f},{_y(b):.1f}" for t, b in zip(xs, self.curve_bytes(kind, xs), strict=True)
            )
            width = 3 if kind == self.kind.value else 1.5
            lines.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="{width}"/>')
        limit_y, limit_x = _y(self.available_bytes), _x(max(self.max_tokens, 1))
        tokens, peak = self.tokens(), self.numbers()["peak_bytes"]
        ticks_x = "".join(
            f'<text x="{_x(10**e):.1f}" y="{_H - _BOTTOM + 16}" font-size="11" text-anchor="middle">'
            f"10<tspan dy='-5' font-size='8'>{e}</tspan></text>"
            for e in range(2, 8)
        )
        ticks_y = "".join(
            f'<text x="{_LEFT - 6}" y="{_y(size) + 4:.1f}" font-size="11" text-anchor="end">{label}</text>'
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_y(size):.1f}" y2="{_y(size):.1f}" '
            f'stroke="#e6e6e6"/>'
            for size, label in ((1e6, "1 MB"), (1e9, "1 GB"), (1e12, "1 TB"), (1e15, "1 PB"))
        )
        legend = "".join(
            f'<text x="{_LEFT + 8}" y="{_TOP + 14 + 14 * i}" font-size="11" fill="{color}">{kind}</text>'
            for i, (kind, color) in enumerate(KIND_COLORS.items())
        )
        return (
            f'<svg width="{_W}" height="{_H}" style="background: #fafafa;">{ticks_y}{ticks_x}'
            f'<text x="{(_LEFT + _W) / 2}" y="{_H - 4}" font-size="11" text-anchor="middle">'
            f"tokens (log scale)</text>"
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{limit_y:.1f}" y2="{limit_y:.1f}" '
            f'stroke="{_LIMIT_COLOR}" stroke-dasharray="5,4"/>'
            f'<text x="{_LEFT + 6}" y="{limit_y + 14:.1f}" font-size="11">'
            f"available here: {format_bytes(self.available_bytes)}</text>"
            f'<line x1="{limit_x:.1f}" x2="{limit_x:.1f}" y1="{limit_y:.1f}" y2="{_H - _BOTTOM}" '
            f'stroke="{_LIMIT_COLOR}" stroke-dasharray="2,3"/>'
            f"{''.join(lines)}{legend}"
            f'<circle cx="{_x(tokens):.1f}" cy="{_y(peak):.1f}" r="6" fill="{KIND_COLORS[self.kind.value]}" '
            f'stroke="#000"/></svg>'
        )

    def _html(self) -> str:
        numbers = self.numbers()
        return (
            f'<div class="course-attention-cost-view" data-tokens="{numbers["tokens"]}" '
            f'data-kind="{self.kind.value}" data-fits="{str(self.fits()).lower()}" style="{FONT}">'
            f'<p style="margin: 4px 0;"><b>One attention layer</b> &middot; {self.n_head} heads of '
            f"{self.head_dim} &middot; full attention fits up to {self.max_tokens:,} tokens here "
            f"(dotted line)</p>"
            f'<div style="display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start;">'
            f"{self._table_html(numbers)}{self._plot_svg()}</div></div>"
        )

    def static_figure(self) -> Figure:
        """The same plot with matplotlib: peak memory per layer against tokens, this machine's limit
        dashed and the current setting as a dot."""
        figure = Figure(figsize=(7, 3.6), layout="constrained")
        ax = figure.subplots()
        xs = np.logspace(*np.log10(_TOKENS_RANGE), 40)
        for kind, color in KIND_COLORS.items():
            ax.loglog(xs, self.curve_bytes(kind, xs), color=color, label=kind)
        ax.axhline(self.available_bytes, color=_LIMIT_COLOR, linestyle="--", label="available memory here")
        ax.axvline(self.max_tokens, color=_LIMIT_COLOR, linestyle=":")
        numbers = self.numbers()
        ax.plot(
            numbers["tokens"], numbers["peak_bytes"], "o", color=KIND_COLORS[self.kind.value], mec="k", ms=9
        )
        ax.set(
            xlabel="tokens",
            ylabel="peak memory of one layer (bytes)",
            ylim=_BYTES_RANGE,
            title=f"{self.frames.value} frame(s) of {self.side.value} px, patch {self.patch.value}: "
            f"{numbers['tokens']:,} tokens ({self.kind.value})",
        )
        ax.legend(fontsize=9)
        return figure
