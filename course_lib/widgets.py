"""Interactive views for the notebooks (ipywidgets 8): move a slider, see the model's numbers change.

- ``TemperaturePreview``  one slider over a fixed next-character distribution (notebook 00's widget check)
- ``SamplingWidget``      temperature, top-k, top-p and min-p over any next-token logits (V,)
- ``AttentionMapWidget``  layer and head sliders over attention weights (L, H, T_q, T_k)

Each view is an ``ipywidgets.VBox``: show it by making it a cell's last value or with ``display(view)``.
The live picture is plain HTML (a table with inline colours, no JavaScript, no network), so a slider
move costs a few milliseconds, and a notebook saved with its widget state still shows the last picture
when it is reopened without a kernel. ``static_figure()`` draws the same state with matplotlib (for
printouts and exported notebooks).

For browser tests: every view's top-level element has the CSS class ``course-widget`` plus one of
``course-temperature-preview``, ``course-sampling``, ``course-attention``; the picture that changes lives
in the element with class ``course-widget-output``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as widgets
import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure

from course_lib import viz
from course_lib.decoding import next_token_distribution
from course_lib.validation import check_int, check_number, check_shape, fail

CONTAINER_CLASS = "course-widget"
OUTPUT_CLASS = "course-widget-output"

_FONT = "font-family: system-ui, sans-serif; font-size: 13px; line-height: 1.3; color: #222;"
_TOKEN_FONT = "font-family: ui-monospace, monospace; font-size: 14px;"
_SLIDER_STYLE = {"description_width": "initial"}
_SLIDER_LAYOUT = {"width": "400px"}  # a long track: easier to set precisely with a mouse or a touchpad
_BAR_WIDTH_PX = 260  # a probability of 1.0 fills the whole bar


# ---------------------------------------------------------------- HTML building blocks


def _token_html(token: str) -> str:
    """A token as safe HTML with visible whitespace."""
    return html.escape(viz.display_token(token))


def _hex_colors(values: np.ndarray, cmap_name: str) -> list[str]:
    """Map values in [0, 1] to '#rrggbb' strings with a matplotlib colormap (256 levels, table look-up: fast)."""
    table = matplotlib.colormaps[cmap_name](np.linspace(0.0, 1.0, 256))[:, :3]  # (256, 3) floats
    table = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in (table * 255).round().astype(int)]
    levels = np.clip(np.round(values * 255), 0, 255).astype(int).ravel()
    return [table[level] for level in levels.tolist()]


def _bars_html(labels: list[str], probs: torch.Tensor, before: torch.Tensor, order: torch.Tensor) -> str:
    """One row per token in ``order``: label, bar and percentage.

    probs: (V,) distribution shown in colour. before: (V,) distribution drawn as a grey bar behind it.
    A token with probability 0 is greyed out; if it had some probability before, a filter removed
    it and its label is struck through.
    """
    rows = []
    for index in order.tolist():
        p, b = probs[index].item(), before[index].item()
        kept, removed = p > 0, p == 0 and b > 0
        label_style = "" if kept else "color: #999;"
        label_style += "text-decoration: line-through;" if removed else ""
        value = f"removed (was {100 * b:.1f}%)" if removed else f"{100 * p:.1f}%"
        rows.append(
            f'<tr class="{"course-kept" if kept else "course-removed" if removed else "course-zero"}">'
            f'<td style="{_TOKEN_FONT} padding: 1px 8px 1px 0; text-align: right; {label_style}">'
            f"{_token_html(labels[index])}</td>"
            f'<td style="padding: 1px 0;"><div style="position: relative; width: {_BAR_WIDTH_PX}px; height: 14px; '
            f'background: #f2f2f2;">'
            f'<div style="position: absolute; left: 0; top: 0; bottom: 0; width: {100 * b:.2f}%; '
            f'background: {viz.REMOVED_COLOR};"></div>'
            f'<div class="course-bar" style="position: absolute; left: 0; top: 0; bottom: 0; width: {100 * p:.2f}%; '
            f'background: {viz.KEPT_COLOR};"></div></div></td>'
            f'<td style="padding: 1px 0 1px 8px; {"" if kept else "color: #999;"}">{value}</td></tr>'
        )
    # The bottom margin keeps the last label (often "␣", which sits low) from being clipped by the widget box.
    return f'<table style="border-collapse: collapse; margin-bottom: 8px; {_FONT}">{"".join(rows)}</table>'


def _entropy_bits(probs: torch.Tensor) -> float:
    """Entropy of a (V,) distribution in bits (0 * log 0 counts as 0)."""
    nonzero = probs[probs > 0]
    return max(0.0, -(nonzero * nonzero.log2()).sum().item())  # max(): no "-0.00" for a one-hot


def _new_output() -> widgets.HTML:
    output = widgets.HTML()
    output.add_class(OUTPUT_CLASS)
    return output


def _slider(kind: type[widgets.Widget], **options) -> widgets.Widget:
    """A slider of ``kind`` (FloatSlider, IntSlider) with the course's look (whole label, long track);
    ``options`` may override the layout."""
    return kind(**{"style": _SLIDER_STYLE, "layout": _SLIDER_LAYOUT, **options})


def _finish_layout(
    view: widgets.VBox, kind: str, controls: list[widgets.Widget], output: widgets.HTML
) -> None:
    """Put controls above the output and tag the container with its CSS classes."""
    view.children = [widgets.HBox(controls, layout=widgets.Layout(flex_flow="row wrap")), output]
    view.add_class(CONTAINER_CLASS)
    view.add_class(f"course-{kind}")


# ---------------------------------------------------------------- notebook 00: do widgets render?


class TemperaturePreview(widgets.VBox):
    """A temperature slider over a fixed next-character distribution (what comes after "th"?).

    probs = softmax(logits / temperature): small temperatures put almost everything on 'e',
    large ones flatten the bars. Used in notebook 00 to check that widgets render.
    After every update ``probs`` holds the distribution shown (V,).
    """

    CONTEXT = "th"
    CHARACTERS = ["e", "a", "i", "o", "r", "u", "y", " "]
    LOGITS = torch.tensor([3.0, 1.9, 1.4, 1.1, 0.6, 0.2, -0.2, -1.0])  # (V,) made-up, roughly English-like

    def __init__(self, temperature: float = 1.0):
        super().__init__()
        check_number("temperature", temperature, low=0.05, high=3.0, fix="The slider covers 0.05 to 3.")
        self.temperature = _slider(
            widgets.FloatSlider,
            value=temperature,
            min=0.05,
            max=3.0,
            step=0.05,
            description="temperature",
            readout_format=".2f",
        )
        self.output = _new_output()
        _finish_layout(self, "temperature-preview", [self.temperature], self.output)
        self.temperature.observe(self._update, names="value")
        self._update()

    def _update(self, change: dict | None = None) -> None:
        self.probs = torch.softmax(self.LOGITS / self.temperature.value, dim=-1)  # (V,)
        order = torch.arange(len(self.CHARACTERS))  # already sorted by logit
        self.output.value = (
            f'<div class="course-temperature-view" style="{_FONT}">'
            f'<p style="margin: 4px 0;">Next character after <code style="{_TOKEN_FONT}">'
            f"{_token_html(self.CONTEXT)}</code> at temperature {self.temperature.value:.2f}:</p>"
            f"{_bars_html(self.CHARACTERS, self.probs, self.probs, order)}</div>"
        )

    def static_figure(self) -> Figure:
        """The current bars as a matplotlib Figure."""
        return viz.plot_distribution(
            self.probs,
            self.CHARACTERS,
            title=f"after '{self.CONTEXT}' at temperature {self.temperature.value:.2f}",
        )


# ---------------------------------------------------------------- sampling filters


class SamplingWidget(widgets.VBox):
    """Temperature, top-k, top-p and min-p sliders over one next-token distribution.

    logits: (V,) next-token logits, e.g. ``model(idx).logits[0, -1]``. labels: V strings (a string of
    V characters also works for a character vocabulary). Rows show the ``max_rows`` most likely tokens
    (by the model's own logits): the blue bar is the probability we would sample with, the grey bar
    behind it the probability after temperature but before the filters; tokens a filter removed are
    struck through. The summary gives how many tokens can still be sampled (probability > 0; a very
    low temperature also rounds unlikely tokens to exactly 0) and the entropy in bits.

    Filters use ``course_lib.decoding.next_token_distribution`` (Hugging Face's order and rules).
    Off values: top-k 0, top-p 1.0, min-p 0.0. Temperature 0 is greedy.

    After every update: ``probs`` (V,) what we would sample from, ``before`` (V,) after temperature
    only, ``kept`` the number of tokens with probability > 0, ``entropy`` of ``probs`` in bits.
    """

    def __init__(
        self,
        logits: torch.Tensor,
        labels: Sequence[str],
        *,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        min_p: float = 0.0,
        max_rows: int = 20,
    ):
        super().__init__()
        logits = viz.as_float_tensor("logits", logits)
        check_shape("logits", logits, ("V",), "Pass one row of next-token logits, e.g. out.logits[0, -1].")
        self.labels = viz.check_labels("labels", labels, "logits", logits.shape[0], "V")
        vocab_size = logits.shape[0]
        check_number("temperature", temperature, low=0.0, high=3.0, fix="The slider covers 0 (greedy) to 3.")
        check_int("top_k", top_k, minimum=0, fix="Use 0 to switch top-k off.")
        check_number(
            "top_k",
            top_k,
            low=0,
            high=vocab_size,
            fix=f"There are only {vocab_size} tokens (0 switches top-k off).",
        )
        check_number("top_p", top_p, low=0.01, high=1.0, fix="Use 1.0 to switch top-p off.")
        check_number("min_p", min_p, low=0.0, high=1.0, fix="Use 0.0 to switch min-p off.")
        check_int("max_rows", max_rows, minimum=1, fix="Use e.g. max_rows=20.")
        self.logits = logits  # (V,)
        self.order = torch.argsort(logits, descending=True, stable=True)[:max_rows]  # rows never reorder

        self.temperature = _slider(
            widgets.FloatSlider,
            value=temperature,
            min=0.0,
            max=3.0,
            step=0.05,
            description="temperature",
            readout_format=".2f",
        )
        self.top_k = _slider(widgets.IntSlider, value=top_k, min=0, max=vocab_size, description="top-k")
        self.top_p = _slider(
            widgets.FloatSlider,
            value=top_p,
            min=0.01,
            max=1.0,
            step=0.01,
            description="top-p",
            readout_format=".2f",
        )
        self.min_p = _slider(
            widgets.FloatSlider,
            value=min_p,
            min=0.0,
            max=1.0,
            step=0.01,
            description="min-p",
            readout_format=".2f",
        )
        self.output = _new_output()
        controls = [self.temperature, self.top_k, self.top_p, self.min_p]
        _finish_layout(self, "sampling", controls, self.output)
        for control in controls:
            control.observe(self._update, names="value")
        self._update()

    def _options(self) -> dict:
        """Slider values as next_token_distribution arguments (off positions become None)."""
        return {
            "temperature": self.temperature.value,
            "top_k": self.top_k.value or None,
            "top_p": self.top_p.value if self.top_p.value < 1.0 else None,
            "min_p": self.min_p.value or None,
        }

    def _update(self, change: dict | None = None) -> None:
        logits = self.logits[None]  # (1, V)
        self.before = next_token_distribution(logits, temperature=self.temperature.value)[0]  # (V,)
        self.probs = next_token_distribution(logits, **self._options())[0]  # (V,) what we would sample from
        self.kept = int((self.probs > 0).sum())
        self.entropy = _entropy_bits(self.probs)
        vocab_size = len(self.labels)
        hidden = vocab_size - len(self.order)
        note = ""
        if hidden:
            hidden_mass = 1.0 - self.before[self.order].sum().item()
            note = (
                f'<p style="margin: 4px 0; color: #666;">{hidden} less likely tokens not shown '
                f"({100 * hidden_mass:.1f}% before filtering).</p>"
            )
        self.output.value = (
            f'<div class="course-sampling-view" data-kept="{self.kept}" style="{_FONT}">'
            f'<p style="margin: 4px 0;"><b class="course-kept-count">{self.kept}</b> of {vocab_size} '
            f"tokens can be sampled"
            f" &middot; entropy <b>{self.entropy:.2f} bits</b> (like choosing among "
            f"{2**self.entropy:.1f} equally likely tokens)</p>"
            f"{_bars_html(self.labels, self.probs, self.before, self.order)}{note}"
            f'<p style="margin: 4px 0; color: #666;">Off: top-k 0, top-p 1.00, min-p 0.00. '
            f"Temperature 0 = greedy.</p></div>"
        )

    def static_figure(self) -> Figure:
        """The current distribution as a bar chart (grey: before the filters, blue: after)."""
        settings = ", ".join(
            f"{name.replace('_', '-')} {value:g}"
            for name, value in self._options().items()
            if value is not None
        )
        return viz.plot_distribution(
            self.probs,
            self.labels,
            top=len(self.order),
            reference=self.before,
            title=f"{settings}: {self.kept} of {len(self.labels)} tokens left, "
            f"entropy {self.entropy:.2f} bits",
        )


# ---------------------------------------------------------------- attention maps


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
        self.layer = _slider(
            widgets.IntSlider,
            value=layer,
            min=0,
            max=n_layer - 1,
            description="layer",
            layout=few_steps,
            disabled=n_layer == 1,
        )
        self.head = _slider(
            widgets.IntSlider,
            value=head,
            min=0,
            max=n_head - 1,
            description="head",
            layout=few_steps,
            disabled=n_head == 1,
        )
        self.average_heads = widgets.Checkbox(value=False, description="average heads", indent=False)
        self.output = _new_output()
        controls = [self.layer, self.head, self.average_heads]
        _finish_layout(self, "attention", controls, self.output)
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
        colors = _hex_colors(weights, viz.ATTENTION_CMAP)
        queries = [_token_html(t) for t in self.tokens]
        keys = [_token_html(t) for t in self.key_tokens]
        rotate = any(len(viz.display_token(t)) > 2 for t in self.key_tokens)
        key_style = (
            "writing-mode: vertical-rl; transform: rotate(180deg); text-align: left;" if rotate else ""
        )

        head = "".join(f'<th style="{_TOKEN_FONT} font-weight: normal; {key_style}">{k}</th>' for k in keys)
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
                f'<tr><th style="{_TOKEN_FONT} font-weight: normal; text-align: right; '
                f'padding-right: 6px;">{queries[i]}</th>{"".join(cells)}</tr>'
            )
        gradient = ", ".join(_hex_colors(np.linspace(0, 1, 6), viz.ATTENTION_CMAP))
        return (
            f'<div class="course-attention-view" data-layer="{self.layer.value}" '
            f'data-head="{"average" if self.average_heads.value else self.head.value}" style="{_FONT}">'
            f'<p style="margin: 4px 0;"><b>{self.caption()}</b> &middot; row = query (attending), '
            f"column = key (attended to){' &middot; numbers are %' if show_numbers else ''}</p>"
            # One shared rule for every heatmap on the page; each table sets its own sizes in CSS variables.
            f"<style>.course-heatmap td {{width: var(--cell); min-width: var(--cell); height: var(--cell); "
            f"padding: 0; text-align: center; font-size: var(--cell-font); color: #222; border: 1px solid #fff;}} "
            f".course-heatmap td.dark {{color: #fff;}}</style>"
            f'<table class="course-heatmap" style="border-collapse: collapse; --cell: {cell}px; '
            f'--cell-font: {max(9, cell // 2 - 2)}px;"><tr><th></th>{head}</tr>{"".join(rows)}</table>'
            f'<div style="display: flex; align-items: center; gap: 6px; margin-top: 6px;">0'
            f'<div style="width: 160px; height: 12px; background: linear-gradient(to right, {gradient});"></div>'
            f"1 (attention weight)</div></div>"
        )

    def static_figure(self) -> Figure:
        """The selected map as a matplotlib heatmap."""
        return viz.plot_attention(self.current_map(), self.tokens, self.key_tokens, title=self.caption())
