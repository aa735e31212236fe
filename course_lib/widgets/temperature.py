"""``TemperaturePreview``: a slider over a fixed next-character distribution (notebook 00's widget check)."""

from __future__ import annotations

from typing import ClassVar

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from course_lib import viz
from course_lib.validation import check_number
from course_lib.widgets._common import (
    FONT,
    TOKEN_FONT,
    bars_html,
    finish_layout,
    float_slider,
    new_output,
    token_html,
)


class TemperaturePreview(widgets.VBox):
    """A temperature slider over a fixed next-character distribution (what comes after "th"?).

    probs = softmax(logits / temperature): small temperatures put almost everything on 'e',
    large ones flatten the bars. Used in notebook 00 to check that widgets render.
    After every update ``probs`` holds the distribution shown (V,).
    """

    CONTEXT = "th"
    CHARACTERS: ClassVar[list[str]] = ["e", "a", "i", "o", "r", "u", "y", " "]
    LOGITS = torch.tensor([3.0, 1.9, 1.4, 1.1, 0.6, 0.2, -0.2, -1.0])  # (V,) made-up, roughly English-like

    def __init__(self, temperature: float = 1.0):
        super().__init__()
        check_number("temperature", temperature, low=0.05, high=3.0, fix="The slider covers 0.05 to 3.")
        self.temperature = float_slider("temperature", temperature, low=0.05, high=3.0, step=0.05)
        self.output = new_output()
        finish_layout(self, "temperature-preview", [self.temperature], self.output)
        self.temperature.observe(self._update, names="value")
        self._update()

    def _update(self, change: dict | None = None) -> None:
        self.probs = torch.softmax(self.LOGITS / self.temperature.value, dim=-1)  # (V,)
        order = torch.arange(len(self.CHARACTERS))  # already sorted by logit
        self.output.value = (
            f'<div class="course-temperature-view" style="{FONT}">'
            f'<p style="margin: 4px 0;">Next character after <code style="{TOKEN_FONT}">'
            f"{token_html(self.CONTEXT)}</code> at temperature {self.temperature.value:.2f}:</p>"
            f"{bars_html(self.CHARACTERS, self.probs, self.probs, order)}</div>"
        )

    def static_figure(self) -> Figure:
        """The current bars as a matplotlib Figure."""
        return viz.plot_distribution(
            self.probs,
            self.CHARACTERS,
            title=f"after '{self.CONTEXT}' at temperature {self.temperature.value:.2f}",
        )
