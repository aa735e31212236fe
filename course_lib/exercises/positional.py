"""Notebook 02's exercises: the sinusoidal table without loops, and attention with rotary positions."""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_lib.exercises.feedback import ExerciseFeedback, not_attempted
from course_lib.positional import RotaryEmbedding, rotate_half, sinusoidal_table

TableFn = Callable[[int, int], torch.Tensor]
AttentionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

_SIZES = ((12, 8), (5, 6))  # (n_positions, n_embd): T != C, so a transposed table has the wrong shape
_NOT_ATTEMPTED = "Not attempted yet: replace the `...` with your code, then run this cell again."


# ------------------------------------------------------------------------------------------------------------
# Exercise 1: the sinusoidal table
# ------------------------------------------------------------------------------------------------------------


def _angles(n_positions: int, n_embd: int, pair_exponent: bool = True, divide: bool = True) -> torch.Tensor:
    """pos * 10000^(-2i/C) (T, C/2); the flags make the usual wrong versions."""
    position = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (T, 1)
    i = torch.arange(n_embd // 2, dtype=torch.float64)  # (C/2,)
    exponent = (2 * i if pair_exponent else i) / n_embd
    return position * 10000.0 ** (-exponent if divide else exponent)  # (T, C/2)


def _interleave(even: torch.Tensor, odd: torch.Tensor) -> torch.Tensor:
    """Columns (T, C/2) and (T, C/2) -> (T, C) with even columns from ``even``, odd ones from ``odd``."""
    return torch.stack((even, odd), dim=-1).flatten(-2)


def _sinusoidal_mistakes(n_positions: int, n_embd: int) -> dict[str, torch.Tensor]:
    angles = _angles(n_positions, n_embd)
    return {
        "sin and cos are swapped: even dimensions (0, 2, 4, ...) take the sine, odd ones the cosine.": (
            _interleave(angles.cos(), angles.sin())
        ),
        "Your sines and cosines are in two halves ([sin | cos]); course_lib interleaves them: column 2i "
        "holds sin, column 2i + 1 holds cos of the same angle.": torch.cat((angles.sin(), angles.cos()), -1),
        "The exponent uses the pair index i; it must be 2i / n_embd (the even dimension's own index), so "
        "the slowest pair turns 10000 times slower than the fastest.": _interleave(
            _angles(n_positions, n_embd, pair_exponent=False).sin(),
            _angles(n_positions, n_embd, pair_exponent=False).cos(),
        ),
        "You multiplied the position by 10000^(2i/C); divide by it (the frequencies must fall, not grow).": (
            _interleave(*(f(_angles(n_positions, n_embd, divide=False)) for f in (torch.sin, torch.cos)))
        ),
    }


def check_sinusoidal_positions(student: TableFn) -> None:
    """Check ``student(n_positions, n_embd) -> table (T, C)`` against ``sinusoidal_table``.

    Raises ExerciseFeedback naming the mistake: positions and dimensions transposed, sin and cos swapped,
    halves instead of interleaved columns, the exponent i instead of 2i, multiplying instead of dividing.
    """
    if not_attempted(student, *_SIZES[0]):
        print(_NOT_ATTEMPTED)
        return
    for n_positions, n_embd in _SIZES:
        got = student(n_positions, n_embd)
        want = sinusoidal_table(n_positions, n_embd).double()
        if not isinstance(got, torch.Tensor):
            raise ExerciseFeedback(f"Return a torch.Tensor; you returned {type(got).__name__}.")
        got = got.detach().double()
        if got.shape == want.T.shape and torch.allclose(got, want.T, atol=1e-4):
            raise ExerciseFeedback(
                "Positions and dimensions are transposed: row t must be the vector of position t, "
                f"shape (n_positions, n_embd) = {tuple(want.shape)}, not {tuple(got.shape)}."
            )
        if got.shape != want.shape:
            raise ExerciseFeedback(
                f"Expected shape (n_positions, n_embd) = {tuple(want.shape)}, got {tuple(got.shape)}."
            )
        if not torch.allclose(got, want, atol=1e-4):
            for message, wrong in _sinusoidal_mistakes(n_positions, n_embd).items():
                if torch.allclose(got, wrong, atol=1e-4):
                    raise ExerciseFeedback(message)
            row, column = divmod(int((got - want).abs().argmax()), n_embd)
            raise ExerciseFeedback(
                f"For n_positions={n_positions}, n_embd={n_embd}: entry [{row}, {column}] is "
                f"{got[row, column]:.4f}, expected {want[row, column]:.4f}."
            )
    print("Correct! One broadcast product (positions x frequencies) gives every angle at once.")


# ------------------------------------------------------------------------------------------------------------
# Exercise 2: attention with rotary positions
# ------------------------------------------------------------------------------------------------------------


def _rotate(x: torch.Tensor, *, interleaved: bool = False, backwards: bool = False) -> torch.Tensor:
    """Rotate x (T, D) at positions 0 .. T-1 the course_lib way; the flags make the usual wrong versions."""
    t, d = x.shape
    cos, sin = RotaryEmbedding(d, t).angles(0, t, x.dtype)  # (T, D) each
    sin = -sin if backwards else sin
    if not interleaved:
        return x * cos + rotate_half(x) * sin
    even, odd = x[:, 0::2], x[:, 1::2]  # pairs (2i, 2i + 1), with the angles of pairs (i, i + D/2)
    cos, sin = cos[:, : d // 2], sin[:, : d // 2]
    return _interleave(even * cos - odd * sin, even * sin + odd * cos)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: bool = True) -> torch.Tensor:
    scores = q @ k.T / (q.size(-1) ** 0.5 if scale else 1.0)  # (T, T)
    return scores.softmax(dim=-1) @ v  # (T, D)


def _rotary_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return tuple(torch.randn(6, 8, generator=generator) for _ in range(3))  # q, k, v (T, D) each


def _rotary_mistakes(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> dict[str, torch.Tensor]:
    return {
        "You rotated the values too. RoPE turns only queries and keys (it changes which tokens are "
        "attended to); the values are mixed as they are.": _attend(_rotate(q), _rotate(k), _rotate(v)),
        "You rotated the queries but not the keys: the score then depends on the query's absolute "
        "position. Rotate both, each by its own position.": _attend(_rotate(q), k, v),
        "You rotated the keys but not the queries: the score then depends on the key's absolute "
        "position. Rotate both, each by its own position.": _attend(q, _rotate(k), v),
        "You paired neighbouring channels (2i, 2i + 1); course_lib (like LLaMA) pairs channel i with "
        "channel i + D/2: use rotate_half.": _attend(
            _rotate(q, interleaved=True), _rotate(k, interleaved=True), v
        ),
        "You rotated the wrong way round: x * cos + rotate_half(x) * sin, with a plus.": _attend(
            _rotate(q, backwards=True), _rotate(k, backwards=True), v
        ),
        "You forgot to divide the scores by sqrt(D).": _attend(_rotate(q), _rotate(k), v, scale=False),
        "Nothing is rotated: this is attention without positions. Rotate q and k (rope_rotate) before "
        "the scores.": _attend(q, k, v),
    }


def check_rotary_attention(student: AttentionFn) -> None:
    """Check ``student(q, k, v) -> out (T, D)``: attention (no mask) with rotary q and k at positions 0..T-1.

    Raises ExerciseFeedback naming the mistake: values rotated too, only queries or only keys rotated,
    nothing rotated, neighbouring channels paired, rotation backwards, no 1/sqrt(D).
    """
    q, k, v = _rotary_inputs()
    if not_attempted(student, q.clone(), k.clone(), v.clone()):
        print(_NOT_ATTEMPTED)
        return
    got = student(q.clone(), k.clone(), v.clone())
    want = _attend(_rotate(q), _rotate(k), v)
    if not isinstance(got, torch.Tensor) or got.shape != want.shape:
        given = f"shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else type(got).__name__
        raise ExerciseFeedback(f"Return a tensor of shape (T, D) = {tuple(want.shape)}; got {given}.")
    if not torch.allclose(got.detach(), want, atol=1e-5):
        for message, wrong in _rotary_mistakes(q, k, v).items():
            if torch.allclose(got.detach(), wrong, atol=1e-5):
                raise ExerciseFeedback(message)
        raise ExerciseFeedback(
            "Your output differs from softmax(rope_rotate(q) @ rope_rotate(k).T / sqrt(D)) @ v; compare it "
            "step by step."
        )
    print("Correct! Only queries and keys turn, so the scores see offsets and the values stay untouched.")
