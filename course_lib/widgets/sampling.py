"""``SamplingWidget``: temperature, top-k, top-p and min-p sliders over one next-token distribution."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from course_lib import viz
from course_lib.decoding import next_token_distribution
from course_lib.validation import check_int, check_number, check_shape
from course_lib.widgets._common import FONT, bars_html, finish_layout, float_slider, new_output, slider


def _entropy_bits(probs: torch.Tensor) -> float:
    """Entropy of a (V,) distribution in bits (0 * log 0 counts as 0)."""
    nonzero = probs[probs > 0]
    return max(0.0, -(nonzero * nonzero.log2()).sum().item())  # max(): no "-0.00" for a one-hot


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

        self.temperature = float_slider("temperature", temperature, low=0.0, high=3.0, step=0.05)
        self.top_k = slider(widgets.IntSlider, value=top_k, min=0, max=vocab_size, description="top-k")
        self.top_p = float_slider("top-p", top_p, low=0.01, high=1.0, step=0.01)
        self.min_p = float_slider("min-p", min_p, low=0.0, high=1.0, step=0.01)
        self.output = new_output()
        controls = [self.temperature, self.top_k, self.top_p, self.min_p]
        finish_layout(self, "sampling", controls, self.output)
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
            f'<div class="course-sampling-view" data-kept="{self.kept}" style="{FONT}">'
            f'<p style="margin: 4px 0;"><b class="course-kept-count">{self.kept}</b> of {vocab_size} '
            f"tokens can be sampled"
            f" &middot; entropy <b>{self.entropy:.2f} bits</b> (like choosing among "
            f"{2**self.entropy:.1f} equally likely tokens)</p>"
            f"{bars_html(self.labels, self.probs, self.before, self.order)}{note}"
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
