"""Notebook 02's self-checks accept right answers and name each usual mistake."""

from __future__ import annotations

import pytest
import torch

from course_lib.exercises import ExerciseFeedback
from course_lib.exercises.positional import check_rotary_attention, check_sinusoidal_positions
from course_lib.positional import RotaryEmbedding, rotate_half

# ---------------------------------------------------------------- sinusoidal table


def angles(n_positions: int, n_embd: int, exponent_scale: float = 2.0, sign: float = -1.0) -> torch.Tensor:
    position = torch.arange(n_positions, dtype=torch.float32)[:, None]  # (T, 1)
    i = torch.arange(n_embd // 2, dtype=torch.float32)  # (C/2,)
    return position * 10000.0 ** (sign * exponent_scale * i / n_embd)  # (T, C/2)


def interleave(even: torch.Tensor, odd: torch.Tensor) -> torch.Tensor:
    table = torch.zeros(even.size(0), 2 * even.size(1))
    table[:, 0::2], table[:, 1::2] = even, odd
    return table


def right_table(n_positions: int, n_embd: int) -> torch.Tensor:
    a = angles(n_positions, n_embd)
    return interleave(a.sin(), a.cos())


def test_sinusoidal_right_answer_passes(capsys) -> None:
    check_sinusoidal_positions(right_table)
    assert "Correct!" in capsys.readouterr().out


def test_sinusoidal_placeholder_is_not_attempted(capsys) -> None:
    def placeholder(n_positions, n_embd): ...

    check_sinusoidal_positions(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (lambda t, c: right_table(t, c).T, "transposed"),
        (lambda t, c: interleave(angles(t, c).cos(), angles(t, c).sin()), "swapped"),
        (lambda t, c: torch.cat((angles(t, c).sin(), angles(t, c).cos()), -1), "interleaves"),
        (lambda t, c: interleave(angles(t, c, 1.0).sin(), angles(t, c, 1.0).cos()), "pair index i"),
        (lambda t, c: interleave(angles(t, c, sign=1.0).sin(), angles(t, c, sign=1.0).cos()), "multiplied"),
        (lambda t, c: right_table(t, c)[:, :-1], "Expected shape"),
        (lambda t, c: right_table(t, c) + 0.1, "entry"),
        (lambda t, c: right_table(t, c).tolist(), "Return a torch.Tensor"),
    ],
)
def test_sinusoidal_mistakes_get_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_sinusoidal_positions(answer)


# ---------------------------------------------------------------- rotary attention


def rope(x: torch.Tensor, sign: float = 1.0) -> torch.Tensor:
    cos, sin = RotaryEmbedding(x.size(-1), x.size(0)).angles(0, x.size(0), x.dtype)
    return x * cos + sign * rotate_half(x) * sin


def rope_neighbours(x: torch.Tensor) -> torch.Tensor:
    """Pairs (2i, 2i + 1) instead of (i, i + D/2)."""
    cos, sin = RotaryEmbedding(x.size(-1), x.size(0)).angles(0, x.size(0), x.dtype)
    half = x.size(-1) // 2
    cos, sin = cos[:, :half], sin[:, :half]
    out = torch.empty_like(x)
    out[:, 0::2] = x[:, 0::2] * cos - x[:, 1::2] * sin
    out[:, 1::2] = x[:, 0::2] * sin + x[:, 1::2] * cos
    return out


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: bool = True) -> torch.Tensor:
    scores = q @ k.T / (q.size(-1) ** 0.5 if scale else 1.0)
    return torch.softmax(scores, dim=-1) @ v


def test_rotary_right_answer_passes(capsys) -> None:
    check_rotary_attention(lambda q, k, v: attend(rope(q), rope(k), v))
    assert "Correct!" in capsys.readouterr().out


def test_rotary_placeholder_is_not_attempted(capsys) -> None:
    def placeholder(q, k, v): ...

    check_rotary_attention(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (lambda q, k, v: attend(rope(q), rope(k), rope(v)), "rotated the values too"),
        (lambda q, k, v: attend(rope(q), k, v), "queries but not the keys"),
        (lambda q, k, v: attend(q, rope(k), v), "keys but not the queries"),
        (lambda q, k, v: attend(rope_neighbours(q), rope_neighbours(k), v), "neighbouring channels"),
        (lambda q, k, v: attend(rope(q, -1.0), rope(k, -1.0), v), "wrong way round"),
        (lambda q, k, v: attend(rope(q), rope(k), v, scale=False), "sqrt"),
        (lambda q, k, v: attend(q, k, v), "Nothing is rotated"),
        (lambda q, k, v: attend(rope(q), rope(k), v) + 0.1, "differs"),
        (lambda q, k, v: attend(rope(q), rope(k), v)[:, :2], "shape"),
    ],
)
def test_rotary_mistakes_get_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_rotary_attention(answer)
