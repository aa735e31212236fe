"""``SamplingPlayground``: type a prompt, pick a decoding strategy and its settings, and watch a trained
character GPT's next-token distribution, its truncation and a few continuations change at once.

It also drives a real pretrained model (``course_lib.pretrained_lm.load_smollm2()``). One continuation
token of a 135M-parameter model costs a full forward pass (tens of ms on a laptop CPU), so there the sliders
only re-filter the prompt's next-token logits (computed once per prompt) and the continuations are drawn
when the "draw continuations" button is pressed.

A "sample many" button draws a larger batch and adds one point per setting to a picture of diversity
(distinct-2 of the batch) against quality (mean log-likelihood per character under the model's own,
unfiltered distribution), so the trade-off between the two is seen rather than told.

The helpers are public because notebook 06 uses them too: ``distinct_n`` (diversity of a set of texts),
``continuation_log_likelihood`` (how likely the model finds what was generated) and
``sample_continuations`` (several continuations of one prompt in one batch, with their log-likelihoods).
"""

from __future__ import annotations

import base64
import html
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn

from course_lib import viz
from course_lib.decoding import generate, next_token_distribution
from course_lib.models import DecoderOnlyLM
from course_lib.pretrained_lm import PretrainedLM, PretrainedTokenizer
from course_lib.tokenizers import CharTokenizer
from course_lib.validation import check_int, check_number, fail
from course_lib.viz._common import new_figure
from course_lib.widgets._common import (
    CHECKPOINT_NAME,
    FONT,
    TOKEN_FONT,
    bars_html,
    check_generation_model,
    dropdown,
    finish_layout,
    float_slider,
    new_output,
    slider,
    text_problem,
    token_html,
    token_labels,
    token_unit,
)

DEFAULT_PROMPT = "The function "
MAX_PROMPT_CHARS = 24  # prompt tokens kept: prompt + continuation fit the character GPT's 64-token context
CONTINUATION_CHARS = 40  # continuation length of the character GPT
CONTINUATION_TOKENS = 12  # continuation length of a pretrained model: each token is a full forward pass
MAX_TOP_K = 200  # the top-k slider's end (a BPE vocabulary has tens of thousands of tokens)
SHOWN_CONTINUATIONS = 4  # drawn on every control change: one batch of 4 (a few tens of ms)
MANY_CONTINUATIONS = 32  # drawn by the "sample many" button: one batch of 32
MANY_PRETRAINED_CONTINUATIONS = 12  # the same for a pretrained model, whose batch costs seconds, not ms
MAX_POINTS = 10  # the trade-off picture keeps the latest points
SHOWN_TOKENS = 12  # rows of the distribution table
STRATEGIES = ("sample", "greedy")


# ------------------------------------------------------------------------------------------------------------
# Measuring continuations: diversity and log-likelihood
# ------------------------------------------------------------------------------------------------------------


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Diversity of a set of texts: distinct n-grams / all n-grams (Li et al., 2016).

    Each text's n-grams (runs of n consecutive characters, or tokens if ``texts`` holds token lists)
    are taken within that text only; all of them are pooled. 1.0: no n-gram occurs twice; near 0: the
    texts repeat each other (or themselves). Texts shorter than n add nothing; no n-gram at all gives 0.
    """
    check_int("n", n, minimum=1, fix="Use e.g. n=2 (pairs of characters).")
    grams = [tuple(text[i : i + n]) for text in texts for i in range(len(text) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def continuation_log_likelihood(
    model: DecoderOnlyLM | PretrainedLM, ids: torch.Tensor, prompt_length: int
) -> torch.Tensor:
    """Log-probability (B,) the model gives to the tokens after the first ``prompt_length`` tokens in ids
    (B, T), T <= block_size.

    The model's own distribution at temperature 1, without filters: what it thinks of the text, whichever
    strategy wrote it. One forward pass scores every position at once (logits (B, T, V)).
    """
    with torch.no_grad():
        logits = model(ids).logits  # (B, T, V)
    log_probs = logits[:, prompt_length - 1 : -1].log_softmax(dim=-1)  # (B, n, V): predicts ids[:, P:]
    return log_probs.gather(-1, ids[:, prompt_length:, None]).squeeze(-1).sum(dim=-1)  # (B,)


@dataclass(frozen=True)
class Continuations:
    """Several continuations of one prompt and how likely the model finds each."""

    texts: list[str]  # the new text of each continuation (prompt not included)
    log_likelihood: torch.Tensor  # (B,) sum of log-probabilities of the new tokens


def sample_continuations(
    model: DecoderOnlyLM | PretrainedLM,
    tokenizer: CharTokenizer | PretrainedTokenizer,
    prompt: str,
    *,
    n: int,
    length: int = CONTINUATION_CHARS,
    seed: int = 0,
    **options: object,
) -> Continuations:
    """``n`` continuations of ``prompt``, ``length`` tokens each, drawn as one batch (B = n).

    ``options`` go to ``course_lib.decoding.generate`` (strategy, temperature, top_k, top_p, min_p,
    repetition_penalty). Prompt and continuation must fit the model's block_size.
    """
    prompt_ids = torch.tensor([tokenizer.encode(prompt)] * n)  # (B, P)
    prompt_length = prompt_ids.size(1)  # in tokens: a BPE token can hold several characters
    ids = generate(model, prompt_ids, length, seed=seed, **options)  # (B, P + length)
    texts = [tokenizer.decode(row[prompt_length:]) for row in ids]
    return Continuations(texts, continuation_log_likelihood(model, ids, prompt_length))


@dataclass(frozen=True)
class TradeOffPoint:
    """One "sample many" batch: its settings, diversity and quality."""

    label: str  # the settings, e.g. "sample T=0.80 k=10"
    distinct_2: float  # distinct-2 of the batch
    log_likelihood_per_char: float  # mean over the batch of log-likelihood / length (per token)


def plot_trade_off(
    points: Sequence[TradeOffPoint], ax: Axes | None = None, *, unit: str = "character"
) -> Figure:
    """Diversity (distinct-2) against quality (mean log-likelihood per ``unit``), one dot per batch."""
    if ax is None:
        fig = new_figure(6.0, 3.8)
        ax = fig.add_subplot()
    fig = ax.figure
    for number, point in enumerate(points, start=1):
        ax.scatter(point.log_likelihood_per_char, point.distinct_2, color=viz.KEPT_COLOR, zorder=2)
        ax.annotate(
            f"{number}: {point.label}",
            (point.log_likelihood_per_char, point.distinct_2),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=9,
        )
    if not points:
        ax.text(
            0.5, 0.5, 'press "sample many" to add a point', ha="center", va="center", transform=ax.transAxes
        )
    ax.set_xlabel(f"quality: mean log-likelihood per {unit} (higher = more like the training text)")
    ax.set_ylabel("diversity: distinct-2")
    ax.set_ylim(0, 1.05)
    ax.margins(x=0.25)  # room for the labels right of the dots
    ax.grid(alpha=0.3)
    ax.set_title("each dot: one batch of continuations", fontsize=10)
    return fig


# ------------------------------------------------------------------------------------------------------------
# The widget
# ------------------------------------------------------------------------------------------------------------


class SamplingPlayground(widgets.VBox):
    """Prompt, strategy and sliders over a trained character GPT: the next-character distribution before
    and after truncation, and ``SHOWN_CONTINUATIONS`` continuations with their log-likelihoods.

    model, tokenizer: the shipped character GPT (``load_checkpoint(...)``), or a ``PretrainedLM`` with its
    ``PretrainedTokenizer`` (``load_smollm2()``), whose continuations (``CONTINUATION_TOKENS`` long) are
    drawn by the "draw continuations" button instead of on every change. Off values: top-k 0, top-p 1,
    min-p 0, repetition penalty 1. Temperature 0 and strategy "greedy" both take the most likely token.
    Prompts longer than ``MAX_PROMPT_CHARS`` tokens keep their last ones, so prompt + continuation fit the
    model's context; a prompt with characters the model never saw is reported and the last valid one stays.

    After every update: ``before`` (V,) the full distribution (after penalty and temperature), ``probs``
    (V,) the renormalised distribution we sample from, ``kept`` its number of tokens with probability > 0,
    ``continuations`` (a ``Continuations``). The "sample many" button appends to ``points``.
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: CharTokenizer | PretrainedTokenizer,
        *,
        prompt: str = DEFAULT_PROMPT,
        strategy: str = "sample",
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        min_p: float = 0.0,
        repetition_penalty: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.live = isinstance(model, DecoderOnlyLM)  # continuations redrawn on every change
        self.continuation_length = CONTINUATION_CHARS if self.live else CONTINUATION_TOKENS
        self.many = MANY_CONTINUATIONS if self.live else MANY_PRETRAINED_CONTINUATIONS
        _check_model(model, tokenizer, self.continuation_length)
        self.model, self.tokenizer = model, tokenizer
        self.labels, self.unit = token_labels(tokenizer), token_unit(tokenizer)
        max_top_k = min(tokenizer.vocab_size, MAX_TOP_K)
        _check_settings(strategy, temperature, top_k, top_p, min_p, repetition_penalty, seed, max_top_k)
        if not isinstance(prompt, str) or text_problem(prompt, self.tokenizer):
            given = repr(prompt) if isinstance(prompt, str) else type(prompt).__name__
            fail(
                "prompt",
                "non-empty text in the model's vocabulary",
                given,
                text_problem(str(prompt), self.tokenizer),
            )

        self.prompt = widgets.Text(
            value=prompt, description="prompt", continuous_update=False, layout={"width": "400px"}
        )
        self.strategy = dropdown(options=STRATEGIES, value=strategy, description="strategy")
        self.temperature = float_slider("temperature", temperature, low=0.0, high=2.0, step=0.05)
        self.top_k = slider(widgets.IntSlider, value=top_k, min=0, max=max_top_k, description="top-k")
        self.top_p = float_slider("top-p", top_p, low=0.01, high=1.0, step=0.01)
        self.min_p = float_slider("min-p", min_p, low=0.0, high=1.0, step=0.01)
        self.repetition_penalty = float_slider(
            "repetition penalty", repetition_penalty, low=1.0, high=2.0, step=0.05
        )
        self.seed = slider(widgets.IntSlider, value=seed, min=0, max=99, description="seed")
        self.sample_many = widgets.Button(
            description=f"sample many ({self.many})",
            tooltip=f"Draw {self.many} continuations and add a point to the trade-off picture",
            layout={"width": "180px"},
        )
        self.draw_button = widgets.Button(
            description="draw continuations",
            tooltip=f"Draw {SHOWN_CONTINUATIONS} continuations with the current settings",
            layout={"width": "180px"},
        )
        self.output = new_output()
        self.points: list[TradeOffPoint] = []
        self._trade_off_html = ""
        self.message = ""
        self._use_prompt(prompt)
        controls = [self.prompt, self.strategy, self.temperature, self.top_k, self.top_p, self.min_p]
        controls += [self.repetition_penalty, self.seed]
        buttons = [self.sample_many] if self.live else [self.draw_button, self.sample_many]
        finish_layout(self, "sampling-playground", controls + buttons, self.output)
        self.prompt.observe(self._prompt_changed, names="value")
        for control in controls[1:]:
            control.observe(self._update, names="value")
        self.sample_many.on_click(self._sample_many)
        self.draw_button.on_click(self._draw_continuations)
        self._distributions()
        self._draw_continuations()

    # ---------------------------------------------------------------- settings

    def options(self) -> dict[str, object]:
        """The controls as ``generate`` arguments (off positions become None)."""
        return {
            "strategy": self.strategy.value,
            "temperature": self.temperature.value,
            "top_k": self.top_k.value or None,
            "top_p": self.top_p.value if self.top_p.value < 1.0 else None,
            "min_p": self.min_p.value or None,
            "repetition_penalty": self.repetition_penalty.value,
        }

    def settings_label(self) -> str:
        """The settings that are on, e.g. "sample T=0.80 k=10 penalty=1.20"."""
        options = self.options()
        if options["strategy"] == "greedy" or options["temperature"] == 0:
            parts = ["greedy"]
        else:
            parts = [f"sample T={options['temperature']:.2f}"]
            names = {"top_k": "k", "top_p": "p", "min_p": "min-p"}
            parts += [f"{short}={options[name]:g}" for name, short in names.items() if options[name]]
        if options["repetition_penalty"] != 1.0:
            parts.append(f"penalty={options['repetition_penalty']:.2f}")
        return " ".join(parts)

    # ---------------------------------------------------------------- computing

    def _use_prompt(self, text: str) -> None:
        """Keep the last MAX_PROMPT_CHARS tokens and the model's next-token logits after them."""
        ids = self.tokenizer.encode(text)
        self.used_prompt = self.tokenizer.decode(ids[-MAX_PROMPT_CHARS:])
        if len(ids) > MAX_PROMPT_CHARS:
            self.message = f"Using the last {MAX_PROMPT_CHARS} of {len(ids)} {self.unit}s of the prompt."
        self.prompt_ids = torch.tensor([ids[-MAX_PROMPT_CHARS:]])  # (1, P)
        with torch.no_grad():
            self.logits = self.model(self.prompt_ids).logits[:, -1]  # (1, V)

    def _distributions(self) -> None:
        options = self.options()
        greedy = options["strategy"] == "greedy"
        shared = {"repetition_penalty": options["repetition_penalty"], "previous_ids": self.prompt_ids}
        temperature = 0.0 if greedy else options["temperature"]
        full_temperature = temperature or 1.0  # greedy: show the full distribution at temperature 1
        self.before = next_token_distribution(self.logits, temperature=full_temperature, **shared)[0]  # (V,)
        filters = {} if greedy else {name: options[name] for name in ("top_k", "top_p", "min_p")}
        self.probs = next_token_distribution(self.logits, temperature=temperature, **filters, **shared)[
            0
        ]  # (V,)
        self.kept = int((self.probs > 0).sum())

    def _draw(self, prompt: str, n: int) -> Continuations:
        return sample_continuations(
            self.model,
            self.tokenizer,
            prompt,
            n=n,
            length=self.continuation_length,
            seed=self.seed.value,
            **self.options(),
        )

    # ---------------------------------------------------------------- events

    def _prompt_changed(self, change: dict) -> None:
        problem = text_problem(change["new"], self.tokenizer)
        if problem:
            self.message = f"{problem} (Still using the last valid prompt.)"
        else:
            self.message = ""
            self._use_prompt(change["new"])
        self._update()

    def _update(self, change: dict | None = None) -> None:
        self._distributions()
        if self.live:
            self._draw_continuations()
        else:  # a pretrained model: only the distribution follows; the continuations wait for the button
            self._render()

    def _draw_continuations(self, button: widgets.Button | None = None) -> None:
        self.continuations = self._draw(self.used_prompt, SHOWN_CONTINUATIONS)
        self._continuations_drawn_with = (self.used_prompt, self.settings_label(), self.seed.value)
        self._render()

    def _sample_many(self, button: widgets.Button | None = None) -> None:
        start = time.perf_counter()
        many = self._draw(self.used_prompt, self.many)
        point = TradeOffPoint(
            label=self.settings_label(),
            distinct_2=distinct_n(many.texts, 2),
            log_likelihood_per_char=(many.log_likelihood / self.continuation_length).mean().item(),
        )
        self.points = [*self.points, point][-MAX_POINTS:]
        seconds = time.perf_counter() - start
        self._trade_off_html = (
            f'<p style="margin: 8px 0 2px;">Last batch: {self.many} continuations of '
            f"&ldquo;{token_html(self.used_prompt)}&rdquo; with <b>{html.escape(point.label)}</b>: "
            f"distinct-2 <b>{point.distinct_2:.2f}</b>, log-likelihood per {self.unit} "
            f"<b>{point.log_likelihood_per_char:.2f}</b> (drawn in {seconds:.2f} s).</p>"
            f'<img class="course-trade-off" alt="diversity against quality" src="data:image/png;base64,'
            f'{_png_base64(plot_trade_off(self.points, unit=self.unit))}" style="max-width: 640px;">'
        )
        self._render()

    # ---------------------------------------------------------------- drawing

    def _render(self) -> None:
        notice = (
            f'<p class="course-notice" style="margin: 4px 0; color: #a30;">{html.escape(self.message)}</p>'
            if self.message
            else ""
        )
        order = torch.argsort(self.before, descending=True, stable=True)[:SHOWN_TOKENS]
        kept_mass = self.before[self.probs > 0].sum().item()
        self.output.value = (
            f'<div class="course-sampling-playground-view" data-kept="{self.kept}" style="{FONT}">{notice}'
            f'<p style="margin: 4px 0;">Next {self.unit} after &ldquo;{token_html(self.used_prompt)}&rdquo; '
            f"with <b>{html.escape(self.settings_label())}</b>: <b>{self.kept}</b> of {len(self.before)} "
            f"can be drawn, holding {100 * kept_mass:.1f}% of the full distribution "
            f"(renormalised: each kept probability &times; {1 / kept_mass:.2f}).{self._greedy_note()}</p>"
            f"{bars_html(self.labels, self.probs, self.before, order)}"
            f'<p style="margin: 0 0 6px; color: #666;">grey bar: full distribution &middot; blue bar: '
            f"renormalised, what is sampled &middot; struck through: removed by truncation. "
            f"Off: top-k 0, top-p 1.00, min-p 0.00, penalty 1.00; temperature 0 = greedy.</p>"
            f"{self._continuations_html()}{self._trade_off_html}</div>"
        )

    def _greedy_note(self) -> str:
        if self.strategy.value != "greedy":
            return ""
        return " Greedy ignores temperature, top-k, top-p and min-p; the repetition penalty still applies."

    def _continuations_html(self) -> str:
        rows = []
        for text, log_likelihood in zip(
            self.continuations.texts, self.continuations.log_likelihood.tolist(), strict=True
        ):
            rows.append(
                f'<tr class="course-continuation"><td style="padding: 1px 10px 1px 0; text-align: right;">'
                f'{log_likelihood:.1f}</td><td style="padding: 1px 10px 1px 0; text-align: right;">'
                f"{log_likelihood / self.continuation_length:.2f}</td>"
                f'<td style="{TOKEN_FONT} white-space: pre;">'
                f'<span style="color: #999;">{token_html(self.used_prompt)}</span>{token_html(text)}'
                "</td></tr>"
            )
        same = len(set(self.continuations.texts)) == 1
        note = " (all the same: nothing random is left)" if same else ""
        prompt, label, seed = self._continuations_drawn_with
        stale = (prompt, label, seed) != (self.used_prompt, self.settings_label(), self.seed.value)
        now = f"{self.settings_label()}, seed {self.seed.value}"
        stale_note = (
            f' <span class="course-stale" style="color: #a30;">Drawn with {html.escape(label)}, seed {seed}'
            f"{'' if prompt == self.used_prompt else ' and an earlier prompt'}; press &ldquo;draw "
            f"continuations&rdquo; for the current ones ({html.escape(now)}).</span>"
            if stale
            else ""
        )
        per = "char" if self.unit == "character" else self.unit
        return (
            f'<p style="margin: 4px 0;"><b>{SHOWN_CONTINUATIONS} continuations</b> of '
            f"{self.continuation_length} {self.unit}s, seed {seed}{note}:{stale_note}</p>"
            '<table style="border-collapse: collapse;"><tr style="color: #666;">'
            '<th style="font-weight: normal; padding-right: 10px;">log-lik.</th>'
            f'<th style="font-weight: normal; padding-right: 10px;">per {per}</th><th></th></tr>'
            f"{''.join(rows)}</table>"
        )

    def static_figure(self) -> Figure:
        """The distribution (grey: full, blue: renormalised) and the trade-off picture so far."""
        fig = new_figure(13.0, 4.0)
        bars_ax, points_ax = fig.subplots(1, 2, width_ratios=(1, 1.2))
        viz.plot_distribution(self.probs, self.labels, top=SHOWN_TOKENS, reference=self.before, ax=bars_ax)
        bars_ax.set_title(
            f"next {self.unit} after {viz.display_token(self.used_prompt)!r}: {self.kept} can be drawn",
            fontsize=10,
        )
        plot_trade_off(self.points, ax=points_ax, unit=self.unit)
        fig.suptitle(self.settings_label())
        return fig

    # ---------------------------------------------------------------- checks


def _png_base64(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _check_model(
    model: nn.Module, tokenizer: CharTokenizer | PretrainedTokenizer, continuation_length: int
) -> None:
    """A model whose context holds the longest prompt and its continuation."""
    check_generation_model(model, tokenizer)
    needed = MAX_PROMPT_CHARS + continuation_length
    if model.config.block_size < needed:
        fix = f"Load the course's character GPT (data/checkpoints/{CHECKPOINT_NAME}), whose context is 64."
        fail("model", f"a model with block_size >= {needed}", model.config.block_size, fix)


def _check_settings(
    strategy: str,
    temperature: float,
    top_k: int,
    top_p: float,
    min_p: float,
    repetition_penalty: float,
    seed: int,
    max_top_k: int,
) -> None:
    """The constructor's settings, in the sliders' ranges."""
    if strategy not in STRATEGIES:
        fail("strategy", "'sample' or 'greedy'", repr(strategy), "Pick one of 'sample', 'greedy'.")
    check_number("temperature", temperature, low=0.0, high=2.0, fix="The slider covers 0 (greedy) to 2.")
    check_int("top_k", top_k, minimum=0, maximum=max_top_k, fix="Use 0 to switch top-k off.")
    check_number("top_p", top_p, low=0.01, high=1.0, fix="Use 1.0 to switch top-p off.")
    check_number("min_p", min_p, low=0.0, high=1.0, fix="Use 0.0 to switch min-p off.")
    fix = "Use 1.0 for no penalty (the slider covers 1 to 2)."
    check_number("repetition_penalty", repetition_penalty, low=1.0, high=2.0, fix=fix)
    check_int("seed", seed, minimum=0, maximum=99, fix="The slider covers seeds 0 to 99.")
