"""``ImageGenerationWidget``: watch a mini DALL-E or a mini MaskGIT draw a digit (notebook 07).

Controls: the digit to draw (the "prompt"), the method (raster: 64 pixels one by one; MaskGIT: K parallel
rounds), K, the temperature, and a step slider (or "next step") to replay the drawing: still-masked pixels
are light blue. "sample 20" draws 20 images of the digit at once, each with the judge's verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from course_lib import images
from course_lib.models import DecoderOnlyLM, EncoderOnlyLM
from course_lib.validation import check_int, check_number, fail
from course_lib.viz.digits import MASKED_COLOR, MAX_LEVEL, plot_digits
from course_lib.widgets._common import FONT, dropdown, finish_layout, float_slider, new_output, slider

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

CELL_PX = 22  # one pixel of the watched canvas
SMALL_CELL_PX = 7  # one pixel in the grid of 20 samples
RIGHT, WRONG = "#2a7f3f", "#c0392b"  # the judge agrees / disagrees with the requested digit
GRID_SIZE = 20


def digit_html(image: np.ndarray, cell_px: int) -> str:
    """An image (8, 8) of grey levels 0..16 (-1: masked) as an HTML table of coloured cells."""
    rows = []
    for row in image:
        cells = []
        for level in row:
            if level < 0:
                colour = MASKED_COLOR
            else:
                shade = round(255 * (1 - level / MAX_LEVEL))
                colour = f"rgb({shade},{shade},{shade})"
            cells.append(
                f'<td style="width:{cell_px}px;height:{cell_px}px;padding:0;background:{colour};"></td>'
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table style="border-collapse:collapse;border:1px solid #888;margin:2px;">{"".join(rows)}</table>'
    )


class ImageGenerationWidget(widgets.VBox):
    """Digit, method, K, temperature and step over a raster model and a MaskGIT model of the digits.

    After every update: ``canvases`` holds the drawing (steps + 1, 8, 8) from the empty canvas to the
    finished image, ``verdict`` the judge's label of the finished image, and after "sample 20"
    ``grid`` holds the 20 images (20, 8, 8) and ``grid_labels`` the judge's labels (20,).
    """

    def __init__(
        self,
        raster: DecoderOnlyLM,
        maskgit: EncoderOnlyLM,
        judge: LogisticRegression,
        *,
        digit: int = 3,
        method: str = "maskgit",
        steps: int = 8,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        if not isinstance(raster, DecoderOnlyLM) or not isinstance(maskgit, EncoderOnlyLM):
            given = f"{type(raster).__name__} and {type(maskgit).__name__}"
            fix = "Load data/checkpoints/digits_raster_gpt and digits_maskgit with load_checkpoint."
            fail("raster and maskgit", "a DecoderOnlyLM and an EncoderOnlyLM", given, fix)
        check_int("digit", digit, minimum=0, maximum=9, fix="Digits are 0 to 9.")
        if method not in images.METHODS:
            fail("method", f"one of {images.METHODS}", repr(method), "Use 'raster' or 'maskgit'.")
        check_int("steps", steps, minimum=1, maximum=16, fix="The K slider covers 1 to 16.")
        check_number("temperature", temperature, low=0.3, high=2.0, fix="The slider covers 0.3 to 2.")
        self.models = {"raster": raster, "maskgit": maskgit}
        self.judge = judge
        self.digit = slider(widgets.IntSlider, value=digit, min=0, max=9, description="digit")
        self.method = dropdown(options=list(images.METHODS), value=method, description="method")
        self.k = slider(widgets.IntSlider, value=steps, min=1, max=16, description="K (MaskGIT rounds)")
        self.temperature = float_slider("temperature", temperature, low=0.3, high=2.0, step=0.05)
        self.step = slider(widgets.IntSlider, value=0, min=0, max=1, description="step")
        self.next_button = widgets.Button(description="next step")
        self.sample_button = widgets.Button(description=f"sample {GRID_SIZE}")
        self.output = new_output()
        controls = [self.digit, self.method, self.k, self.temperature, self.step]
        finish_layout(
            self, "image-generation", [*controls, self.next_button, self.sample_button], self.output
        )
        self.grid: np.ndarray | None = None
        self._drawings: dict[tuple, tuple[np.ndarray, int]] = {}  # settings -> (canvases, verdict): seeded
        self.grid_labels: np.ndarray | None = None
        for control in (self.digit, self.method, self.k, self.temperature):
            control.observe(self._regenerate, names="value")
        self.step.observe(self._render, names="value")
        self.next_button.on_click(self._next_step)
        self.sample_button.on_click(self._sample_grid)
        self._regenerate()

    def _settings(self) -> dict:
        return {"steps": self.k.value, "temperature": self.temperature.value, "seed": 0}

    def _regenerate(self, change: dict | None = None) -> None:
        """Draw one image with the current settings, keeping every intermediate canvas."""
        self.k.disabled = self.method.value == "raster"
        key = (self.method.value, self.digit.value, self.k.value, self.temperature.value)
        if key not in self._drawings:
            self._drawings[key] = self._draw()
        self.canvases, self.verdict = self._drawings[key]
        self.grid = self.grid_labels = None  # the old grid belongs to other settings
        with self.step.hold_trait_notifications():
            self.step.max = len(self.canvases) - 1
            self.step.value = self.step.max
        self._render()

    def _draw(self) -> tuple[np.ndarray, int]:
        """The canvases (steps + 1, 8, 8) of one seeded drawing, and the judge's label of the last."""
        recorded = [np.full((8, 8), -1)]
        model, digits = self.models[self.method.value], [self.digit.value]
        settings = self._settings()

        def record(canvas):
            recorded.append(images.images_from_tokens(canvas)[0])

        if self.method.value == "raster":
            settings.pop("steps")
            images.generate_raster(model, digits, on_step=record, **settings)
        else:
            images.generate_maskgit(model, digits, on_step=record, **settings)
        canvases = np.stack(recorded)  # (steps + 1, 8, 8)
        return canvases, int(images.judge_labels(self.judge, canvases[-1:])[0])

    def _next_step(self, button: widgets.Button | None = None) -> None:
        """One step further (back to the empty canvas after the last)."""
        self.step.value = (self.step.value + 1) % (self.step.max + 1)

    def _sample_grid(self, button: widgets.Button | None = None) -> None:
        """Draw 20 images of the digit in one batch and let the judge label them."""
        settings = self._settings()
        model = self.models[self.method.value]
        self.grid = images.generate_images(model, [self.digit.value] * GRID_SIZE, **settings)
        self.grid_labels = images.judge_labels(self.judge, self.grid)
        self._render()

    def _canvas_caption(self) -> str:
        step, total = self.step.value, self.step.max
        masked = int((self.canvases[step] < 0).sum())
        unit = "pixel" if self.method.value == "raster" else "round"
        text = f"{unit} {step} of {total}: {64 - masked} pixels chosen, {masked} still masked (blue)"
        if step == total:
            mark = "as requested" if self.verdict == self.digit.value else "not the requested digit"
            text += f"<br>the judge reads it as <b>{self.verdict}</b> ({mark})"
        return text

    def _grid_html(self) -> str:
        if self.grid is None:
            return f'<p style="color:#666;">Press "sample {GRID_SIZE}" to draw {GRID_SIZE} at once.</p>'
        cells = []
        for image, label in zip(self.grid, self.grid_labels, strict=True):
            colour = RIGHT if label == self.digit.value else WRONG
            cells.append(
                f'<div style="display:inline-block;text-align:center;color:{colour};margin:1px;">'
                f"{digit_html(image, SMALL_CELL_PX)}judge: {label}</div>"
            )
        hits = int((self.grid_labels == self.digit.value).sum())
        return (
            f"<p>{hits} of {GRID_SIZE} labelled {self.digit.value} by the judge</p>"
            f'<div style="width:{5 * (8 * SMALL_CELL_PX + 12)}px;">{"".join(cells)}</div>'
        )

    def _render(self, change: dict | None = None) -> None:
        canvas = self.canvases[self.step.value]
        self.output.value = (
            f'<div class="course-image-generation-view" style="{FONT} display:flex; gap:24px;">'
            f"<div>{digit_html(canvas, CELL_PX)}<p>{self._canvas_caption()}</p></div>"
            f"<div>{self._grid_html()}</div></div>"
        )

    def static_figure(self) -> Figure:
        """Snapshots of the current drawing (up to 8 steps from empty to finished) as a matplotlib Figure."""
        total = len(self.canvases) - 1
        shown = sorted({round(i * total / 7) for i in range(8)})
        titles = [f"step {i}" for i in shown]
        method = "raster order" if self.method.value == "raster" else f"MaskGIT, K={self.k.value}"
        title = f"Drawing a {self.digit.value} ({method}, temperature {self.temperature.value:.2f})"
        return plot_digits(self.canvases[shown], titles, columns=len(shown), title=title)
