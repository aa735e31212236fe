"""``AttentionMapWidget``: layer and head sliders over attention weights, drawn as an HTML heatmap."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from course_lib import viz
from course_lib.validation import check_int, check_number, check_shape, fail
from course_lib.widgets._common import (
    FONT,
    TOKEN_FONT,
    finish_layout,
    hex_colors,
    new_output,
    slider,
    token_html,
)


def _stack_layers(weights: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """Attention weights as one (L, H, T_q, T_k) tensor.

    Accepts a (L, H, T_q, T_k) tensor or a list with one (H, T_q, T_k) tensor per layer; a per-layer
    (1, H, T_q, T_k) tensor (``LMOutput.attentions`` for a batch of one) is accepted too.
    """
    if isinstance(weights, (list, tuple)):
        if not weights:
            fail(
                "weights",
                "a non-empty list (one tensor per layer)",
                "an empty list",
                "Run the model with return_attention=True and pass out.attentions.",
            )
        layers = []
        for layer, layer_weights in enumerate(weights):
            layer_weights = viz.as_float_tensor(f"weights[{layer}]", layer_weights)
            if layer_weights.dim() == 4 and layer_weights.shape[0] == 1:
                layer_weights = layer_weights[0]  # (1, H, T_q, T_k) -> (H, T_q, T_k)
            check_shape(
                f"weights[{layer}]",
                layer_weights,
                ("H", "T_q", "T_k"),
                "Pass one (H, T_q, T_k) tensor per layer (select one batch row with [0]).",
            )
            if layer and layer_weights.shape != layers[0].shape:
                fail(
                    f"weights[{layer}]",
                    f"of the same shape as weights[0] {tuple(layers[0].shape)}",
                    f"shape {tuple(layer_weights.shape)}",
                    "Every layer must cover the same heads and tokens.",
                )
            layers.append(layer_weights)
        return torch.stack(layers)  # (L, H, T_q, T_k)
    weights = viz.as_float_tensor("weights", weights)
    check_shape(
        "weights",
        weights,
        ("L", "H", "T_q", "T_k"),
        "Stack one (H, T_q, T_k) map per layer, or pass the list out.attentions (batch of one).",
    )
    return weights


class AttentionMapWidget(widgets.VBox):
    """Layer and head sliders over attention weights, drawn as a heatmap (row = query, column = key).

    weights: (L, H, T_q, T_k) or a list of per-layer (H, T_q, T_k) tensors, e.g. ``out.attentions``
    from a model run with ``return_attention=True`` on one sequence. tokens: T_q labels for the
    queries; key_tokens: T_k labels for the keys (default: tokens, i.e. self-attention).
    "average heads" shows the mean over heads of the chosen layer. Hover a cell for its exact weight.
    """

    def __init__(
        self,
        weights: torch.Tensor | Sequence[torch.Tensor],
        tokens: Sequence[str],
        key_tokens: Sequence[str] | None = None,
        *,
        layer: int = 0,
        head: int = 0,
    ):
        super().__init__()
        self.weights = _stack_layers(weights)  # (L, H, T_q, T_k)
        n_layer, n_head, t_q, t_k = self.weights.shape
        self.tokens = viz.check_labels("tokens", tokens, "weights", t_q, "T_q")
        self.key_tokens = viz.check_labels(
            "key_tokens", tokens if key_tokens is None else key_tokens, "weights", t_k, "T_k"
        )
        viz.check_attention_rows("weights", self.weights)
        for name, value, count in (("layer", layer, n_layer), ("head", head, n_head)):
            check_int(name, value, minimum=0, fix=f"Number {name}s from 0.")
            check_number(
                name,
                value,
                low=0,
                high=count - 1,
                fix=f"The weights have {count} {name}s, numbered 0 to {count - 1}.",
            )
        self.head_average = self.weights.mean(dim=1)  # (L, T_q, T_k)

        few_steps = {"width": "240px"}  # a handful of layers or heads: a short track is enough
        self.layer = slider(
            widgets.IntSlider,
            value=layer,
            min=0,
            max=n_layer - 1,
            description="layer",
            layout=few_steps,
            disabled=n_layer == 1,
        )
        self.head = slider(
            widgets.IntSlider,
            value=head,
            min=0,
            max=n_head - 1,
            description="head",
            layout=few_steps,
            disabled=n_head == 1,
        )
        self.average_heads = widgets.Checkbox(value=False, description="average heads", indent=False)
        self.output = new_output()
        controls = [self.layer, self.head, self.average_heads]
        finish_layout(self, "attention", controls, self.output)
        for control in controls:
            control.observe(self._update, names="value")
        self._update()

    def current_map(self) -> torch.Tensor:
        """The (T_q, T_k) map the sliders select."""
        if self.average_heads.value:
            return self.head_average[self.layer.value]
        return self.weights[self.layer.value, self.head.value]

    def caption(self) -> str:
        """Which map is shown, e.g. "layer 1 of 4, head 2 of 4"."""
        n_layer, n_head = self.weights.shape[:2]
        which = (
            f"average of {n_head} heads"
            if self.average_heads.value
            else f"head {self.head.value} of {n_head}"
        )
        return f"layer {self.layer.value} of {n_layer}, {which}"

    def _update(self, change: dict | None = None) -> None:
        self.head.disabled = self.average_heads.value or self.weights.shape[1] == 1
        self.output.value = self._heatmap_html(self.current_map().numpy())

    def _heatmap_html(self, weights: np.ndarray) -> str:
        """The map (T_q, T_k) as an HTML table: one coloured cell per (query, key) pair."""
        t_q, t_k = weights.shape
        cell = max(8, min(28, 640 // max(t_q, t_k)))  # px: big maps get small cells
        show_numbers = cell >= 24  # numbers are percentages
        with_tooltips = t_q * t_k <= 64 * 64  # keeps the HTML small for very long sequences
        colors = hex_colors(weights, viz.ATTENTION_CMAP)
        queries = [token_html(t) for t in self.tokens]
        keys = [token_html(t) for t in self.key_tokens]
        rotate = any(len(viz.display_token(t)) > 2 for t in self.key_tokens)
        key_style = (
            "writing-mode: vertical-rl; transform: rotate(180deg); text-align: left;" if rotate else ""
        )

        head = "".join(f'<th style="{TOKEN_FONT} font-weight: normal; {key_style}">{k}</th>' for k in keys)
        rows = []
        for i in range(t_q):
            cells = []
            for j in range(t_k):
                value = weights[i, j]
                text = f"{round(100 * value)}" if show_numbers else ""
                dark = ' class="dark"' if show_numbers and value > 0.6 else ""  # white numbers on dark cells
                tip = f' title="{queries[i]} &rarr; {keys[j]}: {value:.3f}"' if with_tooltips else ""
                cells.append(f'<td style="background:{colors[i * t_k + j]}"{dark}{tip}>{text}</td>')
            rows.append(
                f'<tr><th style="{TOKEN_FONT} font-weight: normal; text-align: right; '
                f'padding-right: 6px;">{queries[i]}</th>{"".join(cells)}</tr>'
            )
        gradient = ", ".join(hex_colors(np.linspace(0, 1, 6), viz.ATTENTION_CMAP))
        return (
            f'<div class="course-attention-view" data-layer="{self.layer.value}" '
            f'data-head="{"average" if self.average_heads.value else self.head.value}" style="{FONT}">'
            f'<p style="margin: 4px 0;"><b>{self.caption()}</b> &middot; row = query (attending), '
            f"column = key (attended to){' &middot; numbers are %' if show_numbers else ''}</p>"
            # One shared rule for every heatmap on the page; each table sets its own sizes in CSS variables.
            f"<style>.course-heatmap td {{width: var(--cell); min-width: var(--cell); height: var(--cell); "
            f"padding: 0; text-align: center; font-size: var(--cell-font); color: #222; "
            f"border: 1px solid #fff;}} "
            f".course-heatmap td.dark {{color: #fff;}}</style>"
            f'<table class="course-heatmap" style="border-collapse: collapse; --cell: {cell}px; '
            f'--cell-font: {max(9, cell // 2 - 2)}px;"><tr><th></th>{head}</tr>{"".join(rows)}</table>'
            f'<div style="display: flex; align-items: center; gap: 6px; margin-top: 6px;">0'
            f'<div style="width: 160px; height: 12px; '
            f'background: linear-gradient(to right, {gradient});"></div>'
            f"1 (attention weight)</div></div>"
        )

    def static_figure(self) -> Figure:
        """The selected map as a matplotlib heatmap."""
        return viz.plot_attention(self.current_map(), self.tokens, self.key_tokens, title=self.caption())
