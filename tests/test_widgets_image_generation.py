"""ImageGenerationWidget: drive it from Python on the shipped digits models; what it shows, how fast."""

import matplotlib

matplotlib.use("Agg")


import numpy as np
import pytest
from ipywidgets.embed import dependency_state
from matplotlib.figure import Figure
from widget_timing import median_ms

from course_lib import images
from course_lib.validation import CourseInputError
from course_lib.widgets import CONTAINER_CLASS, OUTPUT_CLASS, ImageGenerationWidget


@pytest.fixture(scope="module")
def models():
    raster, maskgit = images.load_shipped_models()
    return raster, maskgit, images.train_judge(images.load_digit_images())


@pytest.fixture
def view(models):
    return ImageGenerationWidget(*models)


def test_view_has_course_classes_and_saves_its_picture(view):
    assert CONTAINER_CLASS in view._dom_classes and "course-image-generation" in view._dom_classes
    assert OUTPUT_CLASS in view.output._dom_classes
    saved = [
        s["state"].get("value") for s in dependency_state(view).values() if s["model_name"] == "HTMLModel"
    ]
    assert view.output.value in saved
    for forbidden in ("<script", "http://", "https://"):
        assert forbidden not in view.output.value


def test_maskgit_drawing_has_k_rounds_and_the_step_slider_replays_it(view):
    assert view.method.value == "maskgit" and view.k.value == 8
    assert view.canvases.shape == (9, 8, 8) and view.step.max == 8 and view.step.value == 8
    assert (view.canvases[0] < 0).all() and (view.canvases[-1] >= 0).all()
    assert "the judge reads it as" in view.output.value
    view.step.value = 3
    masked = images.maskgit_still_masked(3, 8)
    assert f"{masked} still masked" in view.output.value and "the judge reads" not in view.output.value
    view.next_button.click()
    assert view.step.value == 4
    view.k.value = 4
    assert view.canvases.shape == (5, 8, 8) and view.step.value == 4


def test_raster_method_draws_64_pixels_in_order_and_disables_k(view):
    view.method.value = "raster"
    assert view.k.disabled and view.canvases.shape == (65, 8, 8)
    view.step.value = 10
    assert (view.canvases[10].ravel()[:10] >= 0).all() and (view.canvases[10].ravel()[10:] < 0).all()
    assert "pixel 10 of 64: 10 pixels chosen, 54 still masked" in view.output.value


def test_digit_changes_the_drawing_and_sample_20_shows_verdicts(view):
    before = view.canvases[-1].copy()
    view.digit.value = 7
    assert not np.array_equal(before, view.canvases[-1])
    assert view.grid is None and 'Press "sample 20"' in view.output.value
    view.sample_button.click()
    assert view.grid.shape == (20, 8, 8) and view.grid_labels.shape == (20,)
    hits = int((view.grid_labels == 7).sum())
    assert hits >= 15  # the shipped MaskGIT draws the requested digit nearly always
    assert f"{hits} of 20 labelled 7 by the judge" in view.output.value
    view.temperature.value = 1.5
    assert view.grid is None  # a grid from other settings is not shown


def test_static_figure_shows_snapshots_from_empty_to_finished(view):
    fig = view.static_figure()
    assert isinstance(fig, Figure) and len(fig.axes) == 8
    assert fig.axes[0].get_title() == "step 0" and fig.axes[-1].get_title() == "step 8"


def test_bad_arguments_say_what_to_do(models):
    raster, maskgit, judge = models
    with pytest.raises(
        CourseInputError, match="raster and maskgit must be a DecoderOnlyLM and an EncoderOnlyLM"
    ):
        ImageGenerationWidget(maskgit, raster, judge)
    with pytest.raises(CourseInputError, match="method must be one of"):
        ImageGenerationWidget(raster, maskgit, judge, method="diffusion")


def test_controls_answer_within_100_ms(models):
    view = ImageGenerationWidget(*models)
    digits, steps, temps = iter(range(100)), iter(range(100)), iter(range(100))
    timings = {
        "digit (MaskGIT)": median_ms(lambda: setattr(view.digit, "value", next(digits) % 10), 10),
        "K": median_ms(lambda: setattr(view.k, "value", 4 + next(steps) % 13), 10),
        "step": median_ms(view.next_button.click, 10),
        "temperature": median_ms(lambda: setattr(view.temperature, "value", 0.5 + next(temps) % 10 / 10), 10),
    }
    view.method.value = "raster"
    timings["digit (raster)"] = median_ms(lambda: setattr(view.digit, "value", next(digits) % 10), 10)
    timings["method"] = median_ms(
        lambda: setattr(view.method, "value", "maskgit" if view.method.value == "raster" else "raster"), 10
    )
    print("ImageGenerationWidget median update (ms):", {k: round(v, 1) for k, v in timings.items()})
    assert max(timings.values()) < 100, timings
