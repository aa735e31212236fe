"""``CrossAttentionExplorer``: an encoder-decoder's three kinds of attention on one example, side by side.

Pick an example (a source the model rewrites), a layer, a head and an output step. The view shows

- the **encoder's self-attention** (S, S): every source character looks at every other (bidirectional);
- the **decoder's self-attention** (T, T): each output step looks only at the steps before it (causal);
- the **cross-attention** (T, S): each output step looks at the source. Its selected row is also drawn
  as the source text coloured by weight, so the alignment reads directly: which source characters did
  the model read while writing this output character?

The model runs once per example, when the view is made: a greedy answer (``course_lib.tasks.predict``),
then one teacher-forced pass over that answer with ``return_attention=True``. Moving a control only picks
slices of the kept weights, so a change costs a few milliseconds.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_lib import viz
from course_lib.models import EncoderDecoderLM
from course_lib.tasks import Seq2SeqVocab, predict
from course_lib.validation import check_int, fail
from course_lib.viz._common import new_figure
from course_lib.widgets._common import (
    FONT,
    TOKEN_FONT,
    dropdown,
    finish_layout,
    hex_colors,
    new_output,
    slider,
    token_html,
)

START, END = "<s>", "</s>"  # how the decoder's BOS and EOS are shown


def seq2seq_attention(
    model: EncoderDecoderLM, source: str, *, vocab: Seq2SeqVocab
) -> tuple[str, dict[str, torch.Tensor]]:
    """The model's greedy answer to ``source`` and its attention while writing it, per kind:

    "encoder" (L, H, S, S), "decoder" (L, H, T, T), "cross" (L, H, T, S), with T = len(answer) + 1: row t
    reads BOS or answer character t - 1 and writes answer character t (the last row writes EOS).
    """
    answer = predict(model, [source], vocab=vocab)[0]
    src = torch.tensor([vocab.encode(source)])  # (1, S)
    tgt_in = torch.tensor([[vocab.bos_id, *vocab.encode(answer)]])  # (1, T)
    with torch.no_grad():
        out = model(src, tgt_in, return_attention=True)
    kinds = {"encoder": out.encoder_attentions, "decoder": out.attentions, "cross": out.cross_attentions}
    return answer, {kind: torch.stack([layer[0] for layer in weights]) for kind, weights in kinds.items()}


class CrossAttentionExplorer(widgets.VBox):
    """Example, layer, head and output step over an encoder-decoder's encoder, decoder and cross-attention.

    model: an ``EncoderDecoderLM`` trained on a ``course_lib.tasks`` task (e.g. the "dates" checkpoint),
    vocab: its ``Seq2SeqVocab``; sources: the examples to choose from (strings in the vocabulary); example,
    layer, head, step: the first selection (step t writes answer character t; the last step writes EOS).
    """

    def __init__(
        self,
        model: EncoderDecoderLM,
        vocab: Seq2SeqVocab,
        *,
        sources: Sequence[str],
        example: int = 0,
        layer: int = 0,
        head: int = 0,
        step: int = 0,
    ) -> None:
        super().__init__()
        fix = "Load the notebook's checkpoint: load_checkpoint('data/checkpoints/dates_encoder_decoder')."
        if not isinstance(model, EncoderDecoderLM):
            fail("model", "an EncoderDecoderLM", type(model).__name__, fix)
        if not isinstance(vocab, Seq2SeqVocab) or vocab.vocab_size != model.config.vocab_size:
            fail("vocab", f"a Seq2SeqVocab of vocab_size {model.config.vocab_size}", repr(vocab), fix)
        if isinstance(sources, str) or not sources or not all(isinstance(s, str) and s for s in sources):
            fail(
                "sources",
                "a non-empty list of non-empty strings",
                repr(sources),
                "Pass e.g. ['3 March 2021'].",
            )
        for source in sources:
            vocab.encode(source)  # names any character the model has never seen
        self.model, self.vocab, self.sources = model, vocab, list(sources)
        n_layer = min(model.config.n_layer, model.config.decoder_layers)
        limits = {"example": len(sources), "layer": n_layer, "head": model.config.n_head}
        for name, value in (("example", example), ("layer", layer), ("head", head)):
            count = limits[name]
            check_int(name, value, minimum=0, maximum=count - 1, fix=f"Use 0 to {count - 1}.")
        few = {"width": "220px"}
        self.example = dropdown(
            options=[(source, i) for i, source in enumerate(self.sources)],
            value=example,
            description="example",
        )
        self.layer = slider(
            widgets.IntSlider, value=layer, min=0, max=n_layer - 1, description="layer", layout=few
        )
        self.head = slider(
            widgets.IntSlider, value=head, min=0, max=model.config.n_head - 1, description="head", layout=few
        )
        self.step = slider(widgets.IntSlider, value=0, min=0, max=0, description="output step")
        self.output = new_output()
        # Every example's answer and attention, computed now: choosing an example is as quick as a slider.
        self._runs = [seq2seq_attention(model, source, vocab=vocab) for source in self.sources]
        self._drawing = True  # no redraw while the step slider's range is set
        self._run_model()
        check_int("step", step, minimum=0, maximum=self.step.max, fix=f"Use 0 to {self.step.max}.")
        self.step.value = step
        finish_layout(self, "cross-attention", [self.example, self.layer, self.head, self.step], self.output)
        self.example.observe(self._example_changed, names="value")
        for control in (self.layer, self.head, self.step):
            control.observe(self._draw, names="value")
        self._drawing = False
        self._draw()

    # ---------------------------------------------------------------- what the view shows

    @property
    def source_tokens(self) -> list[str]:
        """The source, one character per encoder position (S,)."""
        return list(self.sources[self.example.value])

    @property
    def read_tokens(self) -> list[str]:
        """What the decoder reads at each step (T,): BOS, then the answer."""
        return [START, *self.answer]

    @property
    def written_tokens(self) -> list[str]:
        """What the decoder writes at each step (T,): the answer, then EOS."""
        return [*self.answer, END]

    def current_maps(self) -> dict[str, torch.Tensor]:
        """The selected layer and head: "encoder" (S, S), "decoder" (T, T), "cross" (T, S)."""
        return {kind: weights[self.layer.value, self.head.value] for kind, weights in self.weights.items()}

    def step_alignment(self) -> torch.Tensor:
        """(S,) how much the selected output step looks at each source character (a row of "cross")."""
        return self.current_maps()["cross"][self.step.value]

    def caption(self) -> str:
        """E.g. "layer 1 · head 2 · step 3 writes '1' (after reading '2')"."""
        t = self.step.value
        written, read = self.written_tokens[t], self.read_tokens[t]
        return (
            f"layer {self.layer.value} of {self.weights['cross'].shape[0]} · head {self.head.value} of "
            f"{self.weights['cross'].shape[1]} · step {t} reads '{read}' and writes '{written}'"
        )

    def static_figure(self) -> Figure:
        """The three maps of the selected layer and head (the selected step's row boxed in red)."""
        fig = new_figure(13.0, 4.6)
        axes = fig.subplots(1, 3, width_ratios=(1.0, 0.9, 1.0))
        maps = self.current_maps()
        panels = (
            ("encoder self-attention (S, S)", maps["encoder"], self.source_tokens, self.source_tokens),
            ("decoder self-attention (T, T), causal", maps["decoder"], self.written_tokens, self.read_tokens),
            ("cross-attention (T, S)", maps["cross"], self.written_tokens, self.source_tokens),
        )
        for ax, (title, weights, rows, columns) in zip(axes, panels, strict=True):
            ax.imshow(weights.numpy(), cmap=viz.ATTENTION_CMAP, vmin=0, vmax=1)
            ax.set_xticks(
                range(len(columns)), [viz.display_token(c) for c in columns], fontsize=8, rotation=90
            )
            ax.set_yticks(range(len(rows)), [viz.display_token(r) for r in rows], fontsize=8)
            ax.set_title(title, fontsize=10)
        for ax in axes[1:]:
            ax.add_patch(
                _row_box(self.step.value, len(self.read_tokens if ax is axes[1] else self.source_tokens))
            )
        axes[0].set_xlabel("source (keys)")
        axes[1].set_ylabel("output step (writes)")
        axes[2].set_xlabel("source (keys)")
        fig.suptitle(
            f"{self.sources[self.example.value]!r} -> {self.answer!r}: {self.caption()}", fontsize=11
        )
        return fig

    # ---------------------------------------------------------------- model run (once per example)

    def _run_model(self) -> None:
        self.answer, self.weights = self._runs[self.example.value]
        self.step.max = len(self.answer)  # steps 0 .. len(answer): the last one writes EOS

    def _example_changed(self, change: dict) -> None:
        self._drawing = True
        self._run_model()
        self.step.value = min(self.step.value, self.step.max)
        self._drawing = False
        self._draw()

    # ---------------------------------------------------------------- drawing (every control change)

    def _draw(self, change: dict | None = None) -> None:
        if self._drawing:
            return
        maps = {kind: weights.numpy() for kind, weights in self.current_maps().items()}
        t = self.step.value
        panels = (
            ("encoder self-attention (S, S)", maps["encoder"], self.source_tokens, self.source_tokens, None),
            ("decoder self-attention (T, T)", maps["decoder"], self.written_tokens, self.read_tokens, t),
            ("cross-attention (T, S)", maps["cross"], self.written_tokens, self.source_tokens, t),
        )
        tables = "".join(
            f'<div style="margin: 0 14px 0 0;"><p style="margin: 2px 0;"><b>{title}</b></p>'
            f"{_map_html(weights, rows, columns, highlight)}</div>"
            for title, weights, rows, columns, highlight in panels
        )
        self.output.value = (
            f'<div class="course-cross-attention-view" style="{FONT}" data-step="{t}">'
            f"<p style='margin: 4px 0;'><b>{html.escape(self.sources[self.example.value])} → "
            f"{html.escape(self.answer)}</b> · {html.escape(self.caption())}</p>"
            f"{self._alignment_html(maps['cross'][t])}"
            f'<div style="display: flex; flex-wrap: wrap; align-items: flex-start;">{tables}</div>'
            "<p style='margin: 4px 0;'>rows: what a position writes (decoder) or reads (encoder); columns: "
            "what it looks at. White = 0, dark blue = 1; the red box is the selected output step.</p></div>"
        )

    def _alignment_html(self, row: np.ndarray) -> str:
        """The source coloured by the selected step's cross-attention weights."""
        colors = hex_colors(row, viz.ATTENTION_CMAP)
        spans = "".join(
            f'<span style="background: {colors[j]}; color: {"#fff" if row[j] > 0.6 else "#222"};" '
            f'title="{row[j]:.3f}">{token_html(character)}</span>'
            for j, character in enumerate(self.source_tokens)
        )
        written = html.escape(self.written_tokens[self.step.value])
        return (
            f'<div class="course-alignment" style="margin: 6px 0;">writing <b style="{TOKEN_FONT}">{written}'
            f'</b>, the decoder reads: <span style="{TOKEN_FONT} white-space: pre;">{spans}</span></div>'
        )


def _row_box(row: int, width: int) -> Rectangle:
    """A red frame around row ``row`` of an imshow picture ``width`` cells wide."""
    return Rectangle((-0.5, row - 0.5), width, 1, fill=False, edgecolor="#d62728", linewidth=2)


def _map_html(weights: np.ndarray, rows: list[str], columns: list[str], highlight: int | None) -> str:
    """A (rows, columns) map as a table of coloured cells with token labels; row ``highlight`` boxed."""
    colors = hex_colors(weights, viz.ATTENTION_CMAP)
    n_columns = len(columns)
    head = "".join(f"<th>{token_html(c)}</th>" for c in columns)
    body = []
    for i, label in enumerate(rows):
        outline = ' style="outline: 2px solid #d62728;"' if i == highlight else ""
        cells = "".join(
            f'<td style="background:{colors[i * n_columns + j]}" title="{weights[i, j]:.2f}"></td>'
            for j in range(n_columns)
        )
        body.append(f"<tr{outline}><th>{token_html(label)}</th>{cells}</tr>")
    return (
        "<style>.course-cross-map td {width: 14px; height: 14px; padding: 0; border: 1px solid #fff;} "
        ".course-cross-map th {font-weight: normal; padding: 0 2px; font-family: ui-monospace, monospace; "
        "font-size: 11px;}</style>"
        f'<table class="course-cross-map" style="border-collapse: collapse;"><tr><th></th>{head}</tr>'
        f"{''.join(body)}</table>"
    )
