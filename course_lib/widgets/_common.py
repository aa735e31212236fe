"""What every widget shares: CSS classes, fonts, the slider look, the layout and the probability bars."""

from __future__ import annotations

import html

import ipywidgets as widgets
import matplotlib
import numpy as np
import torch
from torch import nn

from course_lib import viz
from course_lib.models import DecoderOnlyLM
from course_lib.pretrained_lm import PretrainedLM, PretrainedTokenizer
from course_lib.tokenizers import CharTokenizer
from course_lib.validation import check_int, fail

CONTAINER_CLASS = "course-widget"
OUTPUT_CLASS = "course-widget-output"

FONT = "font-family: system-ui, sans-serif; font-size: 13px; line-height: 1.3; color: #222;"
TOKEN_FONT = "font-family: ui-monospace, monospace; font-size: 14px;"
_SLIDER_STYLE = {"description_width": "initial"}
_SLIDER_LAYOUT = {"width": "400px"}  # a long track: easier to set precisely with a mouse or a touchpad
_BAR_WIDTH_PX = 260  # a probability of 1.0 fills the whole bar


CHECKPOINT_NAME = "char_gpt_python_docs"  # the shipped character GPT, trained on Python's documentation


def hex_colors(values: np.ndarray, cmap_name: str) -> list[str]:
    """Map values in [0, 1] to '#rrggbb' strings with a matplotlib colormap (256 levels, a table look-up:
    fast)."""
    table = matplotlib.colormaps[cmap_name](np.linspace(0.0, 1.0, 256))[:, :3]  # (256, 3) floats
    table = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in (table * 255).round().astype(int)]
    levels = np.clip(np.round(values * 255), 0, 255).astype(int).ravel()
    return [table[level] for level in levels.tolist()]


def check_char_model(model: nn.Module, tokenizer: CharTokenizer) -> None:
    """The widgets over the character GPT need a DecoderOnlyLM and the CharTokenizer of its vocabulary."""
    fix = "Load the course's character GPT: load_checkpoint(DATA_DIR / 'checkpoints' / CHECKPOINT_NAME)."
    if not isinstance(model, DecoderOnlyLM):
        fail("model", "a DecoderOnlyLM", type(model).__name__, fix)
    if not isinstance(tokenizer, CharTokenizer):
        fail("tokenizer", "a CharTokenizer", type(tokenizer).__name__, fix)
    if tokenizer.vocab_size != model.config.vocab_size:
        fail("tokenizer", f"of vocab_size {model.config.vocab_size}", tokenizer.vocab_size, fix)


def check_generation_model(model: nn.Module, tokenizer: CharTokenizer | PretrainedTokenizer) -> None:
    """The generation widgets take the character GPT (a DecoderOnlyLM) with its CharTokenizer, or a real
    pretrained model (a PretrainedLM) with its PretrainedTokenizer; their vocab_size must agree."""
    fix = (
        "Load the course's character GPT: load_checkpoint(DATA_DIR / 'checkpoints' / CHECKPOINT_NAME), "
        "or a real pretrained one (a PretrainedLM): load_smollm2() from course_lib.pretrained_lm."
    )
    if not isinstance(model, (DecoderOnlyLM, PretrainedLM)):
        fail("model", "a DecoderOnlyLM or a PretrainedLM", type(model).__name__, fix)
    expected = CharTokenizer if isinstance(model, DecoderOnlyLM) else PretrainedTokenizer
    if not isinstance(tokenizer, expected):
        fail(
            "tokenizer",
            f"a {expected.__name__} (for a {type(model).__name__})",
            type(tokenizer).__name__,
            fix,
        )
    if tokenizer.vocab_size != model.config.vocab_size:
        fail("tokenizer", f"of vocab_size {model.config.vocab_size}", tokenizer.vocab_size, fix)


def token_labels(tokenizer: CharTokenizer | PretrainedTokenizer) -> list[str]:
    """How each token id is shown (V strings): the character GPT's characters, a BPE model's tokens."""
    return list(tokenizer.chars) if isinstance(tokenizer, CharTokenizer) else tokenizer.token_strings


def token_unit(tokenizer: CharTokenizer | PretrainedTokenizer) -> str:
    """What one token is called in a widget's text: "character" or "token"."""
    return "character" if isinstance(tokenizer, CharTokenizer) else "token"


def check_layer_and_head(model: DecoderOnlyLM | PretrainedLM, *, layer: int, head: int) -> None:
    """``layer`` and ``head`` must name one of the model's attention maps (both numbered from 0)."""
    for name, value, count in (("layer", layer, model.config.n_layer), ("head", head, model.config.n_head)):
        fix = f"The model has {count} {name}s, numbered 0 to {count - 1}."
        check_int(name, value, minimum=0, maximum=count - 1, fix=fix)


def text_problem(text: str, tokenizer: CharTokenizer | PretrainedTokenizer) -> str:
    """What is wrong with a typed text (empty, or characters outside the vocabulary), or "" if nothing.

    A byte-level BPE tokenizer (``PretrainedTokenizer``) encodes any text, so only empty text is wrong.
    """
    if not text:
        return "Type at least one character."
    if not isinstance(tokenizer, CharTokenizer):
        return ""
    unknown = sorted(set(text) - tokenizer.stoi.keys())
    if unknown:
        shown = " ".join(repr(c) for c in unknown[:8]) + (" …" if len(unknown) > 8 else "")
        pronoun = "it" if len(unknown) == 1 else "them"
        return f"The model has never seen {shown}: remove or replace {pronoun}."
    return ""


def token_html(token: str) -> str:
    """A token as safe HTML with visible whitespace."""
    return html.escape(viz.display_token(token))


def bars_html(labels: list[str], probs: torch.Tensor, before: torch.Tensor, order: torch.Tensor) -> str:
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
            f'<td style="{TOKEN_FONT} padding: 1px 8px 1px 0; text-align: right; {label_style}">'
            f"{token_html(labels[index])}</td>"
            f'<td style="padding: 1px 0;"><div style="position: relative; width: {_BAR_WIDTH_PX}px; '
            f'height: 14px; background: #f2f2f2;">'
            f'<div style="position: absolute; left: 0; top: 0; bottom: 0; width: {100 * b:.2f}%; '
            f'background: {viz.REMOVED_COLOR};"></div>'
            f'<div class="course-bar" style="position: absolute; left: 0; top: 0; bottom: 0; '
            f'width: {100 * p:.2f}%; background: {viz.KEPT_COLOR};"></div></div></td>'
            f'<td style="padding: 1px 0 1px 8px; {"" if kept else "color: #999;"}">{value}</td></tr>'
        )
    # The bottom margin keeps the last label (often "␣", which sits low) from being clipped by the widget box.
    return f'<table style="border-collapse: collapse; margin-bottom: 8px; {FONT}">{"".join(rows)}</table>'


def new_output() -> widgets.HTML:
    """The HTML widget that shows a view's picture (tagged for the browser tests)."""
    output = widgets.HTML()
    output.add_class(OUTPUT_CLASS)
    return output


def slider(kind: type[widgets.Widget], **options) -> widgets.Widget:
    """A slider of ``kind`` (FloatSlider, IntSlider) with the course's look (whole label, long track);
    ``options`` may override the layout."""
    return kind(**{"style": _SLIDER_STYLE, "layout": _SLIDER_LAYOUT, **options})


def float_slider(
    description: str, value: float, *, low: float, high: float, step: float
) -> widgets.FloatSlider:
    """A course slider for a number shown with two decimals (temperature, top-p, min-p)."""
    options = {"min": low, "max": high, "step": step, "description": description, "readout_format": ".2f"}
    return slider(widgets.FloatSlider, value=value, **options)


def dropdown(**options) -> widgets.Dropdown:
    """A drop-down list with the sliders' look (whole label, same width)."""
    return widgets.Dropdown(**{"style": _SLIDER_STYLE, "layout": _SLIDER_LAYOUT, **options})


def finish_layout(
    view: widgets.VBox, kind: str, controls: list[widgets.Widget], output: widgets.HTML
) -> None:
    """Put controls above the output and tag the container with its CSS classes."""
    view.children = [widgets.HBox(controls, layout=widgets.Layout(flex_flow="row wrap")), output]
    view.add_class(CONTAINER_CLASS)
    view.add_class(f"course-{kind}")
