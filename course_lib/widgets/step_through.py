"""``StepThroughGenerator``: generation one click at a time, with what the model saw and predicted.

Type a prompt and press "next token": the view shows the next-token distribution of a trained character
GPT, or of a real pretrained model (``course_lib.pretrained_lm.load_smollm2()``), the most likely candidates
as bars, the token greedy decoding picks (the most likely one), and where
the newest token looks in the context (its attention row, for the chosen layer and head), as the text
coloured by attention weight. "back" undoes the last token.

Each step runs the model once, without a KV cache, on the last ``block_size`` tokens (about 2 ms for 64
characters on a laptop CPU; SmolLM2-135M, 30 layers of 9 heads, takes a few tenths of a second for a short
prompt); its result is kept, so "back" and the layer and head sliders only redraw.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure
from torch import nn

from course_lib import viz
from course_lib.models import DecoderOnlyLM
from course_lib.pretrained_lm import PretrainedLM, PretrainedTokenizer
from course_lib.tokenizers import CharTokenizer
from course_lib.validation import check_int, fail
from course_lib.viz._common import new_figure, tick_labels
from course_lib.widgets._common import (
    FONT,
    TOKEN_FONT,
    bars_html,
    check_generation_model,
    check_layer_and_head,
    finish_layout,
    hex_colors,
    new_output,
    slider,
    text_problem,
    token_html,
    token_labels,
    token_unit,
)

DEFAULT_PROMPT = "The for statement "  # one line: a text box cannot hold line breaks
MAX_TOP = 20


@dataclass
class Step:
    """What the model computed for one sequence: the input to the next click."""

    ids: list[int]  # the whole sequence so far (prompt and generated tokens)
    context_start: int  # index in ids of the first token the model saw (the last block_size tokens)
    probs: torch.Tensor  # (V,) next-token distribution
    attention: torch.Tensor  # (L, H, T) attention of the newest token over the T tokens the model saw

    @property
    def choice(self) -> int:
        """Greedy decoding's pick: the most likely next token."""
        return int(self.probs.argmax())


def run_step(model: DecoderOnlyLM | PretrainedLM, ids: list[int]) -> Step:
    """Run ``model`` on the last block_size tokens of ``ids``: the next-token distribution and the newest
    token's attention in every layer and head."""
    start = max(0, len(ids) - model.config.block_size)
    with torch.no_grad():
        out = model(torch.tensor([ids[start:]]), return_attention=True)
    probs = out.logits[0, -1].softmax(dim=-1)  # (V,)
    attention = torch.stack([layer[0, :, -1, :] for layer in out.attentions])  # (L, H, T)
    return Step(list(ids), start, probs, attention)


class StepThroughGenerator(widgets.VBox):
    """Greedy generation by hand: a prompt box, "next token" and "back" buttons, layer and head sliders.

    model: a ``DecoderOnlyLM`` with its ``CharTokenizer`` (e.g. the shipped checkpoint's), or a
    ``PretrainedLM`` with its ``PretrainedTokenizer`` (``load_smollm2()``). ``steps`` tokens are generated
    before the view is first drawn; ``top`` candidates are shown as bars. Characters outside a character
    GPT's vocabulary are reported in the view (the last valid prompt stays).
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: CharTokenizer | PretrainedTokenizer,
        *,
        prompt: str = DEFAULT_PROMPT,
        steps: int = 0,
        layer: int = 0,
        head: int = 0,
        top: int = 8,
    ) -> None:
        super().__init__()
        check_generation_model(model, tokenizer)
        self.model, self.tokenizer = model, tokenizer
        self.labels, self.unit = token_labels(tokenizer), token_unit(tokenizer)
        n_layer, n_head = model.config.n_layer, model.config.n_head
        check_layer_and_head(model, layer=layer, head=head)
        check_int("steps", steps, minimum=0, fix="Use e.g. 5 (0 starts from the prompt).")
        check_int("top", top, minimum=1, maximum=min(MAX_TOP, tokenizer.vocab_size), fix="Use e.g. 8.")
        if not isinstance(prompt, str):
            fail("prompt", "a string", type(prompt).__name__, "Pass the text to continue, e.g. 'def f(x):'.")
        if text_problem(prompt, self.tokenizer):
            fail(
                "prompt",
                "non-empty text in the model's vocabulary",
                repr(prompt),
                text_problem(prompt, self.tokenizer),
            )
        self.top = top
        self.message = ""  # shown above the picture: characters outside the vocabulary, an empty prompt
        self.prompt = widgets.Text(
            value=prompt, description="prompt", continuous_update=False, layout={"width": "480px"}
        )
        self.next_button = widgets.Button(description="next token ▶", button_style="primary")
        self.back_button = widgets.Button(description="◀ back")
        few = {"width": "220px"}
        self.layer = slider(
            widgets.IntSlider, value=layer, min=0, max=n_layer - 1, description="layer", layout=few
        )
        self.head = slider(
            widgets.IntSlider, value=head, min=0, max=n_head - 1, description="head", layout=few
        )
        self.output = new_output()
        self._start(prompt)
        for _ in range(steps):
            self._history.append(run_step(self.model, [*self.step.ids, self.step.choice]))
        controls = [self.prompt, self.next_button, self.back_button, self.layer, self.head]
        finish_layout(self, "step-through", controls, self.output)
        self.prompt.observe(self._prompt_changed, names="value")
        self.next_button.on_click(lambda _: self.next_token())
        self.back_button.on_click(lambda _: self.back())
        for control in (self.layer, self.head):
            control.observe(self._draw, names="value")
        self._draw()

    # ---------------------------------------------------------------- what the view shows

    @property
    def step(self) -> Step:
        """The current step: the sequence so far and what the model predicts after it."""
        return self._history[-1]

    @property
    def prompt_length(self) -> int:
        return len(self._history[0].ids)

    @property
    def text(self) -> str:
        """The prompt followed by the tokens generated so far."""
        return self.tokenizer.decode(self.step.ids)

    def attention_row(self) -> torch.Tensor:
        """(T,) the newest token's attention over the tokens the model saw (selected layer and head)."""
        return self.step.attention[self.layer.value, self.head.value]

    def caption(self) -> str:
        """E.g. "step 3 (greedy) · layer 1 of 2 · head 0 of 4"."""
        n_layer, n_head = self.step.attention.shape[:2]
        generated = len(self.step.ids) - self.prompt_length
        return (
            f"step {generated} (greedy) · layer {self.layer.value} of {n_layer} · "
            f"head {self.head.value} of {n_head}"
        )

    def next_token(self) -> None:
        """Append greedy decoding's pick and run the model on the longer sequence."""
        self._history.append(run_step(self.model, [*self.step.ids, self.step.choice]))
        self.message = ""
        self._draw()

    def back(self) -> None:
        """Undo the last generated token (the prompt itself stays)."""
        if len(self._history) > 1:
            self._history.pop()
        self.message = ""
        self._draw()

    def static_figure(self) -> Figure:
        """The newest token's attention over the context (bars) and the next-token candidates."""
        fig = new_figure(12.0, 6.5)
        attention_ax, distribution_ax = fig.subplots(2, 1, height_ratios=(1, 1.1))
        tokens = [self.labels[i] for i in self.step.ids[self.step.context_start :]]
        row = self.attention_row().numpy()
        attention_ax.bar(range(len(tokens)), row, color=viz.KEPT_COLOR)
        attention_ax.set_xticks(range(len(tokens)), tick_labels(tokens), fontsize=8)
        attention_ax.get_xticklabels()[-1].set_color("red")
        attention_ax.set_ylim(0, 1)
        attention_ax.set_ylabel("attention weight")
        attention_ax.set_title("where the newest token (red) looks in the context")
        labels = self.labels
        viz.plot_distribution(self.step.probs, labels, top=self.top, ax=distribution_ax)
        chosen = viz.display_token(labels[self.step.choice])
        distribution_ax.set_title(f"next-token candidates: greedy picks '{chosen}'")
        fig.suptitle(self.caption())
        return fig

    # ---------------------------------------------------------------- input

    def _start(self, prompt: str) -> None:
        """Forget the generated tokens and run the model on ``prompt``."""
        self._history = [run_step(self.model, self.tokenizer.encode(prompt))]

    def _prompt_changed(self, change: dict) -> None:
        problem = text_problem(change["new"], self.tokenizer)
        self.message = f"{problem} (Still showing the last valid prompt.)" if problem else ""
        if not problem:
            self._start(change["new"])
        self._draw()

    # ---------------------------------------------------------------- drawing

    def _draw(self, change: dict | None = None) -> None:
        self.back_button.disabled = len(self._history) == 1
        notice = (
            f'<p class="course-notice" style="margin: 4px 0; color: #a30;">{html.escape(self.message)}</p>'
            if self.message
            else ""
        )
        labels = self.labels
        probs = self.step.probs
        order = torch.argsort(probs, descending=True, stable=True)[: self.top]
        chosen = token_html(labels[self.step.choice])
        self.output.value = (
            f'<div class="course-step-through-view" style="{FONT}" data-length="{len(self.step.ids)}">'
            f"{notice}<p style='margin: 4px 0;'><b>{html.escape(self.caption())}</b></p>"
            f"{self._text_html()}"
            f"<p style='margin: 8px 0 2px;'>Next token: the {self.top} most likely of {len(labels)}. "
            f"Greedy picks <b style='{TOKEN_FONT}'>{chosen}</b> ({100 * probs[self.step.choice]:.1f}%).</p>"
            f"{bars_html(labels, probs, probs, order)}</div>"
        )

    def _text_html(self) -> str:
        """The sequence, coloured by the newest token's attention; generated tokens underlined; tokens the
        model no longer sees (older than block_size) greyed."""
        step, row = self.step, self.attention_row().numpy()
        colors = hex_colors(row, viz.ATTENTION_CMAP)
        spans = []
        for index, token in enumerate(step.ids):
            shown = self.labels[token]
            position = index - step.context_start  # in the model's context, < 0 if outside it
            if position < 0:
                style, tip = "color: #bbb;", "outside the context: not seen"
            else:
                text_color = "#fff" if row[position] > 0.6 else "#222"
                style, tip = f"background: {colors[position]}; color: {text_color};", f"{row[position]:.3f}"
            if index >= self.prompt_length:
                style += " text-decoration: underline;"
            if self.unit == "token":  # a BPE token holds several characters: show where each one ends
                style += " border-right: 1px solid #bbb;"
            if index == len(step.ids) - 1:
                style += " outline: 2px solid #d62728;"
            spans.append(f'<span style="{style}" title="{tip}">{token_html(shown)}</span>')
        legend = (
            f"Colour: how much the newest token (red outline) looks at each {self.unit} (white = 0, dark "
            "blue = 1); underlined: generated"
            + ("; thin lines: token boundaries" if self.unit == "token" else "")
            + (
                f"; grey: older than the model's {self.model.config.block_size}-{self.unit} context"
                if step.context_start
                else ""
            )
            + "."
        )
        return (
            f'<div class="course-step-text" style="{TOKEN_FONT} line-height: 1.7; margin: 6px 0; '
            f'white-space: pre-wrap; max-width: 720px;">{"".join(spans)}</div>'
            f"<p style='margin: 2px 0; color: #555;'>{legend}</p>"
        )
