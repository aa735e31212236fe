"""Tests for course_lib.viz.masks: the three mask patterns, and their picture."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from matplotlib.figure import Figure

from course_lib.validation import CourseInputError
from course_lib.viz.masks import MAX_MASK_TOKENS, mask_patterns, plot_mask_patterns


def test_mask_patterns_shapes_and_values():
    masks = mask_patterns(5, 3)
    encoder, decoder, cross = masks.values()
    assert list(masks) == ["encoder self-attention", "decoder self-attention", "cross-attention"]
    assert all(mask.dtype == torch.bool for mask in masks.values())
    assert encoder.shape == (5, 5) and encoder.all()
    assert cross.shape == (3, 5) and cross.all()
    assert decoder.tolist() == [[True, False, False], [True, True, False], [True, True, True]]


def test_decoder_mask_agrees_with_torch_s_float_mask():
    hidden = torch.nn.Transformer.generate_square_subsequent_mask(6) == float("-inf")
    assert torch.equal(mask_patterns(2, 6)["decoder self-attention"], ~hidden)


def test_plot_mask_patterns_draws_three_labelled_panels():
    fig = plot_mask_patterns("I am", ["<s>", "je", "suis"])
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert len(axes) == 3
    assert "(source x source) = (4, 4)" in axes[0].get_title()
    assert "(target x target) = (3, 3)" in axes[1].get_title()
    assert "(target x source) = (3, 4)" in axes[2].get_title()
    assert [label.get_text() for label in axes[2].get_xticklabels()] == ["I", "␣", "a", "m"]
    assert [label.get_text() for label in axes[2].get_yticklabels()] == ["<s>", "je", "suis"]
    decoder_image = axes[1].get_images()[0].get_array()
    assert decoder_image.tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]


def test_plot_mask_patterns_rejects_bad_tokens():
    with pytest.raises(CourseInputError, match=r"source must be 1 to \d+ tokens, got 0 tokens"):
        plot_mask_patterns("", "abc")
    with pytest.raises(CourseInputError, match=r"target must be 1 to \d+ tokens"):
        plot_mask_patterns("abc", "x" * (MAX_MASK_TOKENS + 1))
    with pytest.raises(CourseInputError, match="source must be a string or a list of tokens, got int"):
        plot_mask_patterns(3, "abc")
    with pytest.raises(CourseInputError, match="target_length must be an integer >= 1, got 0"):
        mask_patterns(3, 0)
