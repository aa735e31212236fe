"""Tests for course_lib.viz.digits: a grid of 8x8 digits with masked pixels in blue."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from course_lib.validation import CourseInputError
from course_lib.viz.digits import MASKED_COLOR, plot_digits


def test_plot_digits_draws_one_titled_panel_per_image_and_masked_pixels_in_blue():
    images = np.zeros((3, 8, 8))
    images[1, 0, 0] = -1  # a pixel not generated yet
    fig = plot_digits(images, ["a", "b", "c"], columns=2, title="three", title_colors=["red"] * 3)
    assert isinstance(fig, Figure)
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert [ax.get_title() for ax in shown] == ["a", "b", "c"] and len(fig.axes) == 4  # 2 x 2, one empty
    image = shown[1].get_images()[0]
    assert np.ma.is_masked(image.get_array()[0, 0])
    assert image.get_cmap().get_bad() == pytest.approx(to_rgba(MASKED_COLOR))


def test_plot_digits_rejects_wrong_shapes_and_label_counts():
    with pytest.raises(CourseInputError, match=r"images must be an array of shape \(N, 8, 8\)"):
        plot_digits(np.zeros((2, 4, 4)))
    with pytest.raises(CourseInputError, match=r"titles must be one entry per image \(2\)"):
        plot_digits(np.zeros((2, 8, 8)), ["x"])
