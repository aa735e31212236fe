"""Notebook 01's self-checks accept right answers and name each usual mistake (one planted answer each)."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.exercises import ExerciseFeedback
from course_lib.exercises.self_attention import (
    check_scaled_dot_product_attention,
    check_sliding_window_mask,
)

# ---------------------------------------------------------------- scaled dot-product attention


def attention(q, k, v, mask=None, *, scale=None, axis=-1, transpose=True, mask_step="before"):
    """Right by default; each keyword plants one mistake."""
    scale = math.sqrt(q.size(-1)) if scale is None else scale
    scores = (q @ (k.transpose(-2, -1) if transpose else k)) / scale
    if mask is not None and mask_step == "before":
        scores = scores.masked_fill(~mask, float("-inf"))
    if mask is not None and mask_step == "inverted":
        scores = scores.masked_fill(mask, float("-inf"))
    weights = scores.softmax(dim=axis)
    if mask is not None and mask_step == "after":
        weights = weights.masked_fill(~mask, 0.0)
    if mask is not None and mask_step == "after-inf":
        weights = weights.masked_fill(~mask, float("-inf"))
    return weights @ v


def test_right_attention_passes(capsys) -> None:
    check_scaled_dot_product_attention(attention)
    assert "Correct!" in capsys.readouterr().out


def test_torch_attention_passes(capsys) -> None:
    check_scaled_dot_product_attention(
        lambda q, k, v, mask=None: torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    )
    assert "Correct!" in capsys.readouterr().out


def test_attention_placeholder_is_not_attempted(capsys) -> None:
    def scaled_dot_product_attention(q, k, v, mask=None): ...

    check_scaled_dot_product_attention(scaled_dot_product_attention)
    assert "Not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (lambda q, k, v, mask=None: attention(q, k, v, mask, scale=1.0), "forgot to scale"),
        (lambda q, k, v, mask=None: attention(q, k, v, mask, scale=q.size(-1)), "divided the scores by d_k"),
        (lambda q, k, v, mask=None: attention(q, k, v, mask, axis=-2), "wrong axis"),
        (lambda q, k, v, mask=None: attention(q, k, v, mask, transpose=False), "without transposing"),
        (lambda q, k, v, mask=None: attention(q, k, v, mask, mask_step="after"), "mask after the softmax"),
        (lambda q, k, v, mask=None: attention(q, k, v, mask, mask_step="inverted"), "wrong way round"),
        (lambda q, k, v, mask=None: attention(q, k, v, mask, mask_step="ignored"), "ignored the mask"),
        (lambda q, k, v, mask=None: attention(q, k, v, mask, mask_step="after-inf"), "nan or inf"),
        (lambda q, k, v, mask=None: (attention(q, k, v, mask), None), "not a tuple"),
        (lambda q, k, v, mask=None: (q @ k.transpose(-2, -1)).softmax(-1), "shape"),
        (lambda q, k, v, mask=None: attention(q, k, v, mask).tolist(), "Return a torch.Tensor"),
        (lambda q, k, v, mask=None: attention(q, k, v, mask) * 1.1, "differs from"),
    ],
)
def test_each_attention_mistake_gets_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_scaled_dot_product_attention(answer)


def test_keys_transposed_with_dot_t_gets_a_shape_hint() -> None:
    """k.T on a 4-D tensor reverses every dimension: the shapes no longer fit, and the hint says how."""

    def reversed_keys(q, k, v, mask=None):
        return attention(q, k.permute(3, 2, 1, 0), v, mask, transpose=False)

    with pytest.raises(ExerciseFeedback, match=r"failed with q .* k.transpose\(-2, -1\)"):
        check_scaled_dot_product_attention(reversed_keys)


# ---------------------------------------------------------------- sliding-window mask


def window_mask(t, window, *, low=None, causal=True, self_visible=True):
    """Right by default: True where j <= i and j > i - window. Keywords plant mistakes."""
    i, j = torch.arange(t)[:, None], torch.arange(t)[None, :]
    low = i - window if low is None else low(i)
    mask = j > low
    if causal:
        mask &= j <= i
    if not self_visible:
        mask &= j != i
    return mask


def test_right_window_mask_passes(capsys) -> None:
    check_sliding_window_mask(window_mask)
    assert "Correct!" in capsys.readouterr().out


def test_window_placeholder_is_not_attempted(capsys) -> None:
    def sliding_window_mask(t, window): ...

    check_sliding_window_mask(sliding_window_mask)
    assert "Not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (lambda t, w: ~window_mask(t, w), "wrong way round"),
        (lambda t, w: window_mask(t, w, causal=False) & window_mask(t, w, causal=False).T, "see the future"),
        (lambda t, w: window_mask(t, w, low=lambda i: i - w - 1), "one too wide"),
        (lambda t, w: window_mask(t, w, low=lambda i: i - w + 1), "one too narrow"),
        (lambda t, w: window_mask(t, t), "forgot the window"),
        (lambda t, w: window_mask(t, w, self_visible=False), "must see itself"),
        (lambda t, w: window_mask(t, w).float(), "boolean mask"),
        (lambda t, w: window_mask(t, w)[:-1], "must have shape"),
        (lambda t, w: window_mask(t, w).tolist(), "Return a torch.Tensor"),
        (lambda t, w: window_mask(t, w) | (torch.arange(t)[:, None] == 3), "should be"),
    ],
)
def test_each_window_mistake_gets_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_sliding_window_mask(answer)
