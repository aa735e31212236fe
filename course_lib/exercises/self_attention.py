"""Notebook 01's exercises: scaled dot-product attention from scratch, and a sliding-window causal mask."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from course_lib.attention import attention_with_weights, causal_mask
from course_lib.exercises.feedback import ExerciseFeedback, not_attempted

AttentionFn = Callable[..., torch.Tensor]
MaskFn = Callable[[int, int], torch.Tensor]


def _qkv(
    *, t_q: int, t_k: int, d: int, d_v: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random q (2, 3, T_q, D), k (2, 3, T_k, D), v (2, 3, T_k, D_v) with scores large enough that every
    mistake changes the output visibly."""
    generator = torch.Generator().manual_seed(seed)
    q, k = (2 * torch.randn(2, 3, t, d, generator=generator) for t in (t_q, t_k))
    return q, k, torch.randn(2, 3, t_k, d_v, generator=generator)


# T_q = T_k = D: forgetting to transpose the keys still runs, so the mistake can be named. D_v differs, so
# returning the weights (T_q, T_k) instead of the output (T_q, D_v) shows in the shape.
_Q, _K, _V = _qkv(t_q=4, t_k=4, d=4, d_v=5, seed=0)
_MASK = causal_mask(4)  # (T, T) True = may attend
_Q2, _K2, _V2 = _qkv(t_q=3, t_k=5, d=8, d_v=6, seed=1)  # T_q != T_k != D: the answer must not assume a square


NO_SCALE = (
    "You forgot to scale the scores: divide q @ k^T by sqrt(d_k) (q.size(-1)) before the softmax, or large "
    "dot products saturate the softmax."
)
SCALE_BY_D = "You divided the scores by d_k; divide by sqrt(d_k) (math.sqrt(q.size(-1)))."
WRONG_AXIS = (
    "Your softmax runs over the wrong axis: each query's weights over the keys must sum to 1, so use "
    "softmax(dim=-1) (the last axis, the keys), not dim=-2."
)
NOT_TRANSPOSED = (
    "You multiplied q by k without transposing the keys: the scores are q @ k.transpose(-2, -1), one dot "
    "product per (query, key) pair."
)
MASK_AFTER_SOFTMAX = (
    "You applied the mask after the softmax: the hidden keys get weight 0 but the rows no longer sum to 1. "
    "Fill the masked scores with -inf before the softmax."
)
MASK_INVERTED = (
    "Your mask is the wrong way round: True means 'may attend', so hide the False entries with "
    "scores.masked_fill(~mask, float('-inf'))."
)
MASK_IGNORED = "You ignored the mask: fill the scores where mask is False with -inf before the softmax."


def _attention_mistakes(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, mask: torch.Tensor | None
) -> list[tuple[str, torch.Tensor]]:
    """(feedback, the output that mistake produces) for each usual mistake."""
    scale = math.sqrt(q.size(-1))
    scores = q @ k.transpose(-2, -1)  # (B, H, T_q, T_k), not scaled yet

    def hide(s: torch.Tensor) -> torch.Tensor:
        return s if mask is None else s.masked_fill(~mask, float("-inf"))

    mistakes = [
        (NO_SCALE, hide(scores).softmax(-1) @ v),
        (SCALE_BY_D, hide(scores / scale**2).softmax(-1) @ v),
        (WRONG_AXIS, hide(scores / scale).softmax(-2) @ v),
        (NOT_TRANSPOSED, hide(q @ k / scale).softmax(-1) @ v),
    ]
    if mask is not None:
        scaled = scores / scale
        mistakes += [
            (MASK_AFTER_SOFTMAX, scaled.softmax(-1).masked_fill(~mask, 0.0) @ v),
            (MASK_INVERTED, scaled.masked_fill(mask, float("-inf")).softmax(-1) @ v),
            (MASK_IGNORED, scaled.softmax(-1) @ v),
        ]
    return mistakes


def _attention_output(
    student: AttentionFn, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, mask: torch.Tensor | None
) -> torch.Tensor:
    """Call the student's function and check that it returned one tensor of the output's shape."""
    try:
        result = student(q.clone(), k.clone(), v.clone(), mask=mask)
    except RuntimeError as error:
        raise ExerciseFeedback(
            f"Your function failed with q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}: {error}. "
            "Shapes: scores = q @ k.transpose(-2, -1) is (..., T_q, T_k); weights @ v is (..., T_q, D_v)."
        ) from None
    if isinstance(result, tuple):
        raise ExerciseFeedback("Return only the output tensor (weights @ v), not a tuple.")
    if not isinstance(result, torch.Tensor):
        raise ExerciseFeedback(f"Return a torch.Tensor (weights @ v); you returned {type(result).__name__}.")
    if result.shape != q.shape[:-1] + v.shape[-1:]:
        raise ExerciseFeedback(
            f"The output must have shape (B, H, T_q, D_v) = {tuple(q.shape[:-1] + v.shape[-1:])}, got "
            f"{tuple(result.shape)}. Did you return the weights instead of weights @ v?"
        )
    return result


def check_scaled_dot_product_attention(student: AttentionFn) -> None:
    """Check ``student(q, k, v, mask=None) -> output (B, H, T_q, D_v)`` and print the verdict.

    Raises ExerciseFeedback naming the mistake: no 1/sqrt(d_k) (or 1/d_k), softmax over the wrong axis,
    keys not transposed, mask applied after the softmax, mask the wrong way round or ignored.
    """
    try:
        attempted = not not_attempted(student, _Q.clone(), _K.clone(), _V.clone())
    except RuntimeError:  # attempted, but failing: the loop below says why
        attempted = True
    if not attempted:
        print("Not attempted yet: replace the `...` with your code, then run this cell again.")
        return
    for q, k, v, mask in ((_Q, _K, _V, None), (_Q, _K, _V, _MASK), (_Q2, _K2, _V2, None)):
        got = _attention_output(student, q, k, v, mask=mask)
        want, _ = attention_with_weights(q, k, v, mask)
        if torch.allclose(got, want, atol=1e-5):
            continue
        for message, wrong in _attention_mistakes(q, k, v, mask=mask):
            if torch.allclose(got, wrong, atol=1e-5, equal_nan=True):
                raise ExerciseFeedback(message)
        if not torch.isfinite(got).all():
            raise ExerciseFeedback(
                "Your output contains nan or inf. If you filled masked entries with -inf, do it to the "
                "scores before the softmax (never to the weights afterwards)."
            )
        case = "without a mask" if mask is None else "with a causal mask"
        raise ExerciseFeedback(
            f"Your output differs from softmax(q @ k^T / sqrt(d_k)) @ v {case} (largest difference "
            f"{(got - want).abs().max():.3g}). Check each step against the cells above."
        )
    print(
        "Correct! Your attention matches course_lib's: scores, scale, mask, softmax over keys, weighted sum."
    )


def check_sliding_window_mask(student: MaskFn) -> None:
    """Check ``student(t, window) -> mask (T, T)``, True where query i may attend to key j: j <= i and
    j > i - window. Raises ExerciseFeedback naming the mistake: a float mask, True meaning "hidden", the
    future visible, the window one too wide or too narrow, the window ignored, the diagonal hidden."""
    if not_attempted(student, 6, 3):
        print("Not attempted yet: replace the `...` with your code, then run this cell again.")
        return
    for t, window in ((6, 3), (5, 1), (4, 4), (7, 2)):
        got = student(t, window)
        if not isinstance(got, torch.Tensor):
            raise ExerciseFeedback(f"Return a torch.Tensor; you returned {type(got).__name__}.")
        if got.shape != (t, t):
            raise ExerciseFeedback(
                f"For t={t} the mask must have shape (t, t) = ({t}, {t}), got {tuple(got.shape)}."
            )
        if got.dtype != torch.bool:
            raise ExerciseFeedback(
                f"Return a boolean mask (dtype torch.bool, True = may attend); yours has dtype {got.dtype}. "
                "Compare positions (e.g. j <= i) or call .bool()."
            )
        want = causal_mask(t, window=window)
        if torch.equal(got, want):
            continue
        raise ExerciseFeedback(_diagnose_window(got, t, window))
    print("Correct! Each position sees itself and the window - 1 positions before it, nothing later.")


def _diagnose_window(got: torch.Tensor, t: int, window: int) -> str:
    """Name the mistake that produces the mask ``got`` (T, T) for ``t`` positions and ``window``."""
    i, j = torch.arange(t)[:, None], torch.arange(t)[None, :]  # query and key positions
    right = causal_mask(t, window=window)
    mistakes = [
        ("True must mean 'may attend': your mask is the wrong way round (invert it with ~mask).", ~right),
        (
            "Your mask lets a position see the future: keep only keys j <= i (the causal part).",
            (i - j).abs() < window,
        ),
        (
            "Your window is one too wide: a window of w covers the query itself and the w - 1 positions "
            "before it (j > i - w).",
            causal_mask(t, window=window + 1),
        ),
        (
            "You forgot the window: a query may see only its last `window` positions, itself included.",
            causal_mask(t),
        ),
        ("A position must see itself: the diagonal (j == i) has to be True.", right & (i != j)),
    ]
    if window > 1:
        too_narrow = causal_mask(t, window=window - 1)
        message = (
            "Your window is one too narrow: a window of w covers the query itself and the w - 1 positions "
            "before it (keys j with i - w < j <= i)."
        )
        mistakes.append((message, too_narrow))
    for message, wrong in mistakes:
        if torch.equal(got, wrong):
            return message
    return f"For t={t}, window={window} the mask should be\n{right.int()}\nbut yours is\n{got.int()}"
