"""Notebook 00's exercise: turn logits into probabilities at a given temperature."""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_lib.exercises.feedback import ExerciseFeedback, not_attempted

SoftmaxFn = Callable[[torch.Tensor, float], torch.Tensor]

_LOGITS = torch.tensor([2.0, 1.0, 0.5, -1.0])  # (V,)
_HUGE_LOGITS = torch.tensor([1000.0, 999.0, 0.0])  # (V,) overflows exp() unless the max is subtracted


def check_temperature_softmax(student: SoftmaxFn) -> None:
    """Check ``student(logits (V,), temperature) -> probs (V,)`` and print the verdict.

    Raises ExerciseFeedback naming the mistake: no normalisation, multiplying by the temperature,
    applying the temperature after the softmax, or overflow on large logits.
    """
    if not_attempted(student, _LOGITS.clone(), 1.0):
        print("Not attempted yet: replace the `...` with your code, then run this cell again.")
        return
    for temperature in (1.0, 0.5, 2.0):
        got = _as_probs(student(_LOGITS.clone(), temperature), temperature)
        want = torch.softmax(_LOGITS / temperature, dim=-1)
        if not torch.allclose(got, want, atol=1e-5):
            raise ExerciseFeedback(_diagnose(got, temperature))
    huge = student(_HUGE_LOGITS.clone(), 1.0)
    if not torch.isfinite(torch.as_tensor(huge)).all():
        raise ExerciseFeedback(
            "Your answer gives nan/inf for logits like [1000, 999, 0]: exp(1000) overflows. "
            "Subtract the largest logit before exponentiating (it cancels out in the division)."
        )
    print("Correct! Dividing by the temperature sharpens (T < 1) or flattens (T > 1) the distribution.")


def _as_probs(result: object, temperature: float) -> torch.Tensor:
    if not isinstance(result, torch.Tensor):
        raise ExerciseFeedback(
            f"Return a torch.Tensor of probabilities; at temperature {temperature} you returned "
            f"{type(result).__name__}."
        )
    if result.shape != _LOGITS.shape:
        raise ExerciseFeedback(
            f"Return one probability per logit: expected shape {tuple(_LOGITS.shape)}, got "
            f"{tuple(result.shape)}."
        )
    return result.float()


def _diagnose(got: torch.Tensor, temperature: float) -> str:
    """Name the mistake that produces ``got``, comparing with the usual wrong formulas."""
    multiplied = (
        "You multiplied the logits by the temperature; divide them instead (low temperature must sharpen)."
    )
    softmax_first = (
        "You applied the softmax before the temperature; divide the logits by the temperature first."
    )
    forgot = "You forgot the temperature: divide the logits by it before the softmax."
    mistakes = {
        multiplied: torch.softmax(_LOGITS * temperature, dim=-1),
        softmax_first: torch.softmax(_LOGITS, dim=-1) / temperature,
        forgot: torch.softmax(_LOGITS, dim=-1),
    }
    for message, wrong in mistakes.items():
        if temperature != 1.0 and torch.allclose(got, wrong, atol=1e-5):
            return message
    if not torch.isclose(got.sum(), torch.tensor(1.0), atol=1e-4):
        return f"Your probabilities sum to {got.sum():.3f}, not 1: divide the exponentials by their sum."
    expected = "softmax(logits / temperature)"
    return f"At temperature {temperature} your probabilities {got.tolist()} differ from {expected}."
