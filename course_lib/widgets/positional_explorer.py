"""``PositionalExplorer``: scheme, dimension and position sliders over a position encoding (notebook 02).

Three pictures, drawn as inline SVG (no JavaScript), for the chosen position p and dimension d:

- the vector of position p (for rotary: a query vector after its rotation to position p);
- dimension d across every position (a wave for the sinusoidal and rotary schemes, noise for learned);
- the similarity of position p to every position n: it peaks at n = p and, for sinusoidal and rotary,
  its shape depends on n - p only, so moving p slides the curve without changing it.

For rotary, a dial shows the pair of channels that holds d turning by the angle p * theta_i.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.positional import RotaryEmbedding, sinusoidal_table
from course_lib.validation import check_int, check_shape, fail
from course_lib.viz import KEPT_COLOR, REMOVED_COLOR, as_float_tensor
from course_lib.viz._common import new_figure
from course_lib.widgets._common import FONT, dropdown, finish_layout, new_output, slider

SCHEMES = ("sinusoidal", "learned", "rotary")
_PANEL_W, _PANEL_H, _PAD = 300, 130, 22  # px: one SVG plot, and the room left for its labels
_HIGHLIGHT = "#d62728"  # the chosen dimension and position


def _points(values: torch.Tensor, low: float, high: float) -> list[tuple[float, float]]:
    """Values (N,) -> SVG (x, y) pixel points across one panel; ``low``..``high`` spans its height."""
    n = values.numel()
    span = max(high - low, 1e-9)
    xs = [_PAD + (_PANEL_W - 2 * _PAD) * i / max(n - 1, 1) for i in range(n)]
    ys = [_PANEL_H - _PAD - (_PANEL_H - 2 * _PAD) * (v - low) / span for v in values.tolist()]
    return list(zip(xs, ys, strict=True))


def _panel(title: str, body: str, x_label: str) -> str:
    """One SVG panel: a title, a zero line across the middle, ``body`` and an x-axis label."""
    return (
        f'<svg width="{_PANEL_W}" height="{_PANEL_H}" style="background: #fafafa; margin: 2px;">'
        f'<text x="{_PAD}" y="14" font-size="12" font-weight="bold">{title}</text>'
        f'<line x1="{_PAD}" y1="{_PANEL_H / 2}" x2="{_PANEL_W - _PAD}" y2="{_PANEL_H / 2}" stroke="#ccc"/>'
        f"{body}"
        f'<text x="{_PANEL_W / 2}" y="{_PANEL_H - 5}" font-size="11" text-anchor="middle">{x_label}</text>'
        "</svg>"
    )


def _bars_svg(values: torch.Tensor, highlight: set[int], limit: float) -> str:
    """Bars (N,) around the middle line, scaled so +-limit fills the height; ``highlight`` in red."""
    points = _points(values, -limit, limit)
    width = max((_PANEL_W - 2 * _PAD) / values.numel() - 1, 1)
    middle = _PANEL_H / 2
    bars = []
    for i, (x, y) in enumerate(points):
        color = _HIGHLIGHT if i in highlight else KEPT_COLOR
        top, height = min(y, middle), abs(y - middle)
        bars.append(
            f'<rect x="{x - width / 2:.1f}" y="{top:.1f}" width="{width:.1f}" height="{height:.1f}" '
            f'fill="{color}"/>'
        )
    return "".join(bars)


def _curve_svg(values: torch.Tensor, marker: int, limit: float) -> str:
    """A line through values (N,) with a red dot at index ``marker``; +-limit fills the height."""
    points = _points(values, -limit, limit)
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    x, y = points[marker]
    return (
        f'<polyline points="{line}" fill="none" stroke="{KEPT_COLOR}" stroke-width="1.5"/>'
        f'<line x1="{x:.1f}" y1="{_PAD}" x2="{x:.1f}" y2="{_PANEL_H - _PAD}" stroke="{_HIGHLIGHT}" '
        f'stroke-dasharray="3,3"/><circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{_HIGHLIGHT}"/>'
    )


def _dial_svg(start: tuple[float, float], angle: float) -> str:
    """A unit circle with the pair ``start`` (grey) and the same pair turned by ``angle`` radians (red)."""
    width, radius = 190, _PANEL_H / 2 - _PAD
    cx, cy = 60, _PANEL_H / 2 + 4
    norm = max(math.hypot(*start), 1e-9)
    x0, y0 = start[0] / norm, start[1] / norm
    x1, y1 = x0 * math.cos(angle) - y0 * math.sin(angle), x0 * math.sin(angle) + y0 * math.cos(angle)

    def arrow(x: float, y: float, color: str) -> str:
        return (
            f'<line x1="{cx}" y1="{cy}" x2="{cx + radius * x:.1f}" y2="{cy - radius * y:.1f}" '
            f'stroke="{color}" stroke-width="3"/>'
        )

    def label(y: float, text: str, color: str = "#222") -> str:
        return f'<text x="{cx + radius + 12}" y="{y}" font-size="11" fill="{color}">{text}</text>'

    return (
        f'<svg width="{width}" height="{_PANEL_H}" style="background: #fafafa; margin: 2px;">'
        f'<text x="{_PAD}" y="14" font-size="12" font-weight="bold">the pair, rotated</text>'
        f'<circle cx="{cx}" cy="{cy}" r="{radius}" fill="none" stroke="#bbb"/>'
        f"{arrow(x0, y0, REMOVED_COLOR)}{arrow(x1, y1, _HIGHLIGHT)}"
        f"{label(cy - 16, 'at position 0', '#888')}{label(cy, 'at position p', _HIGHLIGHT)}"
        f"{label(cy + 16, f'turned {math.degrees(angle) % 360:.0f}°')}</svg>"
    )


class PositionalExplorer(widgets.VBox):
    """Scheme drop-down and dimension / position sliders over a position encoding of n_embd dimensions.

    learned_table: an optional (n_positions, n_embd) table for the "learned" scheme (e.g. a trained
    model's ``embed.positions.embedding.weight``); by default an untrained one (seeded random numbers).
    For "rotary" the vector shown is a query of ones (n_embd,) rotated to each position.
    """

    def __init__(
        self,
        *,
        scheme: str = "sinusoidal",
        n_positions: int = 64,
        n_embd: int = 32,
        dimension: int = 0,
        position: int = 8,
        learned_table: torch.Tensor | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if scheme not in SCHEMES:
            fail("scheme", f"one of {SCHEMES}", repr(scheme), "Pick one of the listed schemes.")
        check_int("n_positions", n_positions, minimum=2, maximum=512, fix="Use e.g. 64.")
        check_int("n_embd", n_embd, minimum=2, maximum=256, fix="Use an even number such as 32.")
        if n_embd % 2:
            fail("n_embd", "even (rotary turns pairs of channels)", n_embd, "Use e.g. n_embd=32.")
        check_int("dimension", dimension, minimum=0, maximum=n_embd - 1, fix="Number dimensions from 0.")
        check_int("position", position, minimum=0, maximum=n_positions - 1, fix="Number positions from 0.")
        self.tables = {
            "sinusoidal": sinusoidal_table(n_positions, n_embd),  # (T, C)
            "learned": self._learned(learned_table, n_positions, n_embd, seed),  # (T, C)
            "rotary": self._rotated_query(n_positions, n_embd),  # (T, C)
        }
        self.rotary = RotaryEmbedding(n_embd, n_positions)
        self.scheme = dropdown(options=list(SCHEMES), value=scheme, description="scheme")
        self.dimension = slider(
            widgets.IntSlider, value=dimension, min=0, max=n_embd - 1, description="dimension"
        )
        self.position = slider(
            widgets.IntSlider, value=position, min=0, max=n_positions - 1, description="position"
        )
        self.output = new_output()
        controls = [self.scheme, self.dimension, self.position]
        finish_layout(self, "positional", controls, self.output)
        for control in controls:
            control.observe(self._update, names="value")
        self._update()

    @staticmethod
    def _learned(table: torch.Tensor | None, n_positions: int, n_embd: int, seed: int) -> torch.Tensor:
        if table is None:
            return torch.randn(n_positions, n_embd, generator=torch.Generator().manual_seed(seed))
        table = as_float_tensor("learned_table", table)
        fix = "Pass a (n_positions, n_embd) table, e.g. model.embed.positions.embedding.weight."
        check_shape("learned_table", table, (n_positions, n_embd), fix)
        return table

    @staticmethod
    def _rotated_query(n_positions: int, n_embd: int) -> torch.Tensor:
        """A query of ones (C,) rotated to every position: (T, C)."""
        rotary = RotaryEmbedding(n_embd, n_positions)
        ones = torch.ones(1, 1, n_positions, n_embd)  # (B, H, T, D)
        return rotary(ones)[0, 0]  # (T, C)

    def similarity(self) -> torch.Tensor:
        """Similarity (T,) of the chosen position p to every position n: the dot product of the two vectors
        divided by the product of their lengths (1 at n = p)."""
        table = self.tables[self.scheme.value]  # (T, C)
        unit = table / table.norm(dim=-1, keepdim=True).clamp_min(1e-9)
        return unit @ unit[self.position.value]  # (T,)

    def pair(self) -> tuple[int, int]:
        """The rotary channel pair (i, i + C/2) that holds the chosen dimension."""
        half = self.tables["rotary"].size(1) // 2
        i = self.dimension.value % half
        return i, i + half

    def rotation_angle(self) -> float:
        """Angle in radians by which rotary turns the chosen pair at the chosen position: p * theta_i."""
        return self.position.value * self.rotary.inv_freq[self.pair()[0]].item()

    def _highlighted(self) -> set[int]:
        """The dimensions drawn in red: the chosen one, or for rotary the pair that holds it."""
        return set(self.pair()) if self.scheme.value == "rotary" else {self.dimension.value}

    def caption(self) -> str:
        """What is shown, e.g. "sinusoidal · position 8 · dimension 0 = 0.989"."""
        scheme, p, d = self.scheme.value, self.position.value, self.dimension.value
        value = self.tables[scheme][p, d].item()
        text = f"{scheme} · position {p} · dimension {d} = {value:.3f}"
        if scheme == "rotary":
            i, j = self.pair()
            text += f" · pair ({i}, {j}) turned {math.degrees(self.rotation_angle()) % 360:.0f}°"
        return text

    def _update(self, change: dict | None = None) -> None:
        scheme, p, d = self.scheme.value, self.position.value, self.dimension.value
        table = self.tables[scheme]  # (T, C)
        limit = max(table.abs().max().item(), 1e-9)
        highlight = self._highlighted()
        vector_title = "query rotated to position p" if scheme == "rotary" else "vector added at position p"
        scale = f"(height: ±{limit:.2f})"
        panels = [
            _panel(vector_title, _bars_svg(table[p], highlight, limit), f"dimension {scale}"),
            _panel(
                f"dimension {d} at every position", _curve_svg(table[:, d], p, limit), f"position {scale}"
            ),
            _panel(
                "similarity of p to every position", _curve_svg(self.similarity(), p, 1.0), "position n (±1)"
            ),
        ]
        if scheme == "rotary":  # the query of ones: every pair starts at (1, 1)
            panels.append(_dial_svg((1.0, 1.0), self.rotation_angle()))
        peak = int(self.similarity().argmax())
        self.output.value = (
            f'<div class="course-positional-view" data-scheme="{scheme}" data-position="{p}" '
            f'data-dimension="{d}" data-peak="{peak}" style="{FONT}">'
            f'<p style="margin: 4px 0;"><b>{self.caption()}</b></p>'
            f'<div style="display: flex; flex-wrap: wrap;">{"".join(panels)}</div></div>'
        )

    def static_figure(self) -> Figure:
        """The same pictures with matplotlib (2 x 2): three panels, and for rotary the turned pair."""
        scheme, p, d = self.scheme.value, self.position.value, self.dimension.value
        table = self.tables[scheme]
        fig = new_figure(8.5, 5.5)
        axes = fig.subplots(2, 2).ravel()
        highlight = self._highlighted()
        colors = [_HIGHLIGHT if i in highlight else KEPT_COLOR for i in range(table.size(1))]
        axes[0].bar(range(table.size(1)), table[p].numpy(), color=colors)
        axes[0].set(title=f"vector at position {p}", xlabel="dimension")
        axes[1].plot(table[:, d].numpy(), color=KEPT_COLOR)
        axes[1].plot([p], [table[p, d].item()], "o", color=_HIGHLIGHT)
        axes[1].set(title=f"dimension {d} at every position", xlabel="position")
        axes[2].plot(self.similarity().numpy(), color=KEPT_COLOR)
        axes[2].axvline(p, color=_HIGHLIGHT, linestyle="--")
        axes[2].set(title=f"similarity of position {p} to n", xlabel="position n", ylim=(-1.05, 1.05))
        if scheme == "rotary":
            self._draw_dial(axes[3])
        else:
            fig.delaxes(axes[3])  # the additive schemes turn nothing
        fig.suptitle(self.caption())
        return fig

    def _draw_dial(self, ax: Axes) -> None:
        """The chosen pair of the query of ones at position 0 (grey) and turned to position p (red)."""
        circle = torch.linspace(0, 2 * math.pi, 100)
        ax.plot(circle.cos().numpy(), circle.sin().numpy(), color="#bbb")
        start, angle = math.pi / 4, self.rotation_angle()  # the pair (1, 1) points at 45 degrees
        for turn, color, label in ((0.0, REMOVED_COLOR, "position 0"), (angle, _HIGHLIGHT, "position p")):
            x, y = math.cos(start + turn), math.sin(start + turn)
            ax.plot([0, x], [0, y], color=color, linewidth=3, label=label)
        ax.set(
            title="the pair, rotated",
            aspect="equal",
            xticks=[],
            yticks=[],
            xlim=(-1.1, 1.1),
            ylim=(-1.1, 1.1),
        )
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
