"""``AttentionExplorer``: type a text, pick a layer, a head and a query position of a trained character
GPT, and see where that position looks, as a heatmap and as the text coloured by attention weight.

The model runs once per text. Its pre-softmax scores Q K^T / sqrt(D) (causal mask applied, rotary
positions included) are kept, so the temperature slider only re-runs a softmax:
``weights = softmax(scores / temperature)``. Temperature 1 gives the model's own attention weights.
"""

from __future__ import annotations

import html
import math

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from course_lib import viz
from course_lib.attention import SelfAttention, causal_mask
from course_lib.models import DecoderOnlyLM
from course_lib.tokenizers import CharTokenizer
from course_lib.validation import check_int, check_number, fail
from course_lib.viz._common import new_figure, tick_labels
from course_lib.widgets._common import (
    FONT,
    TOKEN_FONT,
    check_char_model,
    check_layer_and_head,
    finish_layout,
    float_slider,
    hex_colors,
    new_output,
    slider,
    text_problem,
    token_html,
)

DEFAULT_TEXT = "for item in items: print(item)"  # one line: a text box cannot hold line breaks
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.1, 4.0


def attention_scores(model: DecoderOnlyLM, ids: torch.Tensor) -> torch.Tensor:
    """Pre-softmax attention scores (L, H, T, T) of ``model`` on one sequence ids (T,).

    Each layer's queries and keys are computed by that layer's own projections and rotary embedding from
    the input it receives during one forward pass; entries a causal layer may not see are -inf. So
    ``attention_scores(...).softmax(-1)`` equals the weights the model uses.
    """
    layers = [module for module in model.modules() if isinstance(module, SelfAttention)]
    scores: list[torch.Tensor] = []

    def keep_scores(layer: SelfAttention, args: tuple) -> None:
        x = args[0]  # (1, T, C): the layer's input
        q, k = layer.split_heads(layer.q_proj(x)), layer.split_heads(layer.k_proj(x))  # (1, H, T, D)
        if layer.rotary is not None:
            q, k = layer.rotary.rotate_queries_and_keys(q, k, 0)
        layer_scores = q @ k.transpose(-2, -1) / math.sqrt(layer.head_dim)  # (1, H, T, T)
        if layer.causal:
            layer_scores = layer_scores.masked_fill(~causal_mask(x.size(1)), float("-inf"))
        scores.append(layer_scores[0])

    hooks = [layer.register_forward_pre_hook(keep_scores) for layer in layers]
    try:
        with torch.no_grad():
            model(ids[None])
    finally:
        for hook in hooks:
            hook.remove()
    return torch.stack(scores)  # (L, H, T, T)


class AttentionExplorer(widgets.VBox):
    """Where does each character look? A text box, layer / head / query-position sliders and a
    softmax-temperature slider over a trained character-level GPT's real attention.

    model: a ``DecoderOnlyLM`` with a ``CharTokenizer`` (e.g. ``load_checkpoint(...)``'s model and
    tokenizer). Text longer than the model's context (``block_size``) is cut to its last block_size
    characters; characters outside the vocabulary are reported in the view (the last valid text stays).
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: CharTokenizer,
        *,
        text: str = DEFAULT_TEXT,
        layer: int = 0,
        head: int = 0,
        query: int | None = None,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        check_char_model(model, tokenizer)
        self.model, self.tokenizer = model, tokenizer
        n_layer, n_head = model.config.n_layer, model.config.n_head
        check_layer_and_head(model, layer=layer, head=head)
        check_number(
            "temperature",
            temperature,
            low=MIN_TEMPERATURE,
            high=MAX_TEMPERATURE,
            fix="Use 1.0 for the model's own weights; lower sharpens, higher spreads the attention.",
        )
        if not isinstance(text, str):
            fail("text", "a string", type(text).__name__, "Pass the text to look at, e.g. 'for x in xs:'.")
        if text_problem(text, self.tokenizer):
            fail(
                "text",
                "non-empty text in the model's vocabulary",
                repr(text),
                text_problem(text, self.tokenizer),
            )

        self.text = widgets.Text(
            value=text, description="text", continuous_update=False, layout={"width": "560px"}
        )
        few = {"width": "220px"}
        self.layer = slider(
            widgets.IntSlider, value=layer, min=0, max=n_layer - 1, description="layer", layout=few
        )
        self.head = slider(
            widgets.IntSlider, value=head, min=0, max=n_head - 1, description="head", layout=few
        )
        self.query = slider(widgets.IntSlider, value=0, min=0, max=0, description="query position")
        self.temperature = float_slider(
            "softmax temperature", temperature, low=MIN_TEMPERATURE, high=MAX_TEMPERATURE, step=0.05
        )
        self.output = new_output()
        self.message = ""  # shown above the picture: truncation or characters outside the vocabulary
        self._drawing = True  # no redraw while the sliders are being set up
        self._run_model(text)
        self.query.max = self.length - 1
        self.query.value = self.length - 1 if query is None else self._checked_query(query)
        finish_layout(
            self,
            "attention-explorer",
            [self.text, self.layer, self.head, self.query, self.temperature],
            self.output,
        )
        self.text.observe(self._text_changed, names="value")
        for control in (self.layer, self.head, self.query, self.temperature):
            control.observe(self._draw, names="value")
        self._drawing = False
        self._draw()

    # ---------------------------------------------------------------- what the view shows

    def current_map(self) -> torch.Tensor:
        """The (T, T) weights of the selected layer and head at the selected temperature."""
        scores = self.scores[self.layer.value, self.head.value]  # (T, T)
        return (scores / self.temperature.value).softmax(dim=-1)

    def query_weights(self) -> torch.Tensor:
        """(T,) how much the selected query position attends to each position (0 after the query)."""
        scores = self.scores[self.layer.value, self.head.value, self.query.value]  # (T,)
        return (scores / self.temperature.value).softmax(dim=-1)

    def caption(self) -> str:
        """E.g. "layer 1 of 2 · head 0 of 4 · query 5 ('i') · temperature 1.00"."""
        n_layer, n_head = self.scores.shape[:2]
        character = viz.display_token(self.characters[self.query.value])
        return (
            f"layer {self.layer.value} of {n_layer} · head {self.head.value} of {n_head} · "
            f"query {self.query.value} ('{character}') · temperature {self.temperature.value:.2f}"
        )

    def static_figure(self) -> Figure:
        """The selected map as a heatmap, and the query's weights as bars under its text."""
        fig = new_figure(12.0, 5.5)
        heatmap_ax, bars_ax = fig.subplots(1, 2, width_ratios=(1, 1.3))
        viz.plot_attention(self.current_map(), self.characters, ax=heatmap_ax, title="every query (rows)")
        heatmap_ax.tick_params(labelsize=max(6, min(9, 280 // self.length)))  # long texts: smaller labels
        query = self.query.value
        bars_ax.bar(range(self.length), self.query_weights().numpy(), color=viz.KEPT_COLOR)
        bars_ax.set_xticks(range(self.length), tick_labels(self.characters), fontsize=8)
        bars_ax.get_xticklabels()[query].set_color("red")
        bars_ax.set_ylim(0, 1)
        character = viz.display_token(self.characters[query])
        bars_ax.set_title(f"how much query {query} ('{character}', red) looks at each character")
        fig.suptitle(self.caption())
        return fig

    # ---------------------------------------------------------------- model run (once per text)

    def _run_model(self, text: str) -> None:
        """Keep the last block_size characters of ``text`` and their scores (L, H, T, T)."""
        block_size = self.model.config.block_size
        kept = text[-block_size:]
        self.message = (
            f"Showing the last {block_size} of {len(text)} characters (the model's context is {block_size})."
            if len(text) > block_size
            else ""
        )
        self.characters = list(kept)
        self.length = len(kept)
        ids = torch.tensor(self.tokenizer.encode(kept), dtype=torch.long)
        self.scores = attention_scores(self.model, ids)  # (L, H, T, T)

    def _checked_query(self, query: int) -> int:
        fix = f"The text has {self.length} characters: use 0 to {self.length - 1}."
        check_int("query", query, minimum=0, maximum=self.length - 1, fix=fix)
        return query

    def _text_changed(self, change: dict) -> None:
        problem = text_problem(change["new"], self.tokenizer)
        if problem:
            self.message = f"{problem} (Still showing the last valid text.)"
            self._draw()
            return
        self._run_model(change["new"])
        self._drawing = True  # the query slider's range changes: draw once, afterwards
        self.query.max = max(self.length - 1, self.query.min)
        self.query.value = self.length - 1
        self._drawing = False
        self._draw()

    # ---------------------------------------------------------------- drawing (every control change)

    def _draw(self, change: dict | None = None) -> None:
        if self._drawing:
            return
        weights = self.current_map().numpy()  # (T, T)
        notice = (
            f'<p class="course-notice" style="margin: 4px 0; color: #a30;">{html.escape(self.message)}</p>'
            if self.message
            else ""
        )
        self.output.value = (
            f'<div class="course-attention-explorer-view" style="{FONT}" data-query="{self.query.value}">'
            f"{notice}<p style='margin: 4px 0;'><b>{html.escape(self.caption())}</b></p>"
            f"{self._text_html(weights[self.query.value])}{self._heatmap_html(weights)}</div>"
        )

    def _text_html(self, row: np.ndarray) -> str:
        """The text with each character's background coloured by the query's weight on it."""
        colors = hex_colors(row, viz.ATTENTION_CMAP)
        query = self.query.value
        spans = []
        for j, character in enumerate(self.characters):
            if j > query:  # the future: a causal model cannot look there
                style = "color: #bbb;"
            else:
                text_color = "#fff" if row[j] > 0.6 else "#222"
                style = f"background: {colors[j]}; color: {text_color};"
            if j == query:
                style += " outline: 2px solid #d62728;"
            tip = f"{row[j]:.3f}" if j <= query else "future: not visible"
            spans.append(f'<span style="{style}" title="{tip}">{token_html(character)}</span>')
            if character == "\n":
                spans.append("<br>")
        return (
            f'<div class="course-attention-text" style="{TOKEN_FONT} line-height: 1.7; margin: 6px 0; '
            f'white-space: pre;">{"".join(spans)}</div>'
        )

    def _heatmap_html(self, weights: np.ndarray) -> str:
        """The (T, T) map as a table of coloured cells; the query's row is outlined."""
        t = weights.shape[0]
        cell = max(7, min(20, 560 // t))  # px
        colors = hex_colors(weights, viz.ATTENTION_CMAP)
        labels = [token_html(c) for c in self.characters]
        head = "".join(f"<th>{label}</th>" for label in labels)
        rows = []
        for i in range(t):
            outline = ' style="outline: 2px solid #d62728;"' if i == self.query.value else ""
            cells = "".join(f'<td style="background:{colors[i * t + j]}"></td>' for j in range(t))
            rows.append(f"<tr{outline}><th>{labels[i]}</th>{cells}</tr>")
        font = max(8, min(12, cell - 2))
        return (
            "<style>.course-explorer-map td {width: var(--cell); height: var(--cell); padding: 0; "
            "border: 1px solid #fff;} .course-explorer-map th {font-weight: normal; padding: 0 3px; "
            "font-family: ui-monospace, monospace; font-size: var(--label);}</style>"
            f'<table class="course-explorer-map" style="border-collapse: collapse; --cell: {cell}px; '
            f'--label: {font}px;"><tr><th></th>{head}</tr>{"".join(rows)}</table>'
            "<p style='margin: 4px 0;'>row = query (attending), column = key (attended to); "
            "white = 0, dark blue = 1</p>"
        )
