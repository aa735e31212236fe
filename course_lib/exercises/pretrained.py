"""Notebook 08's exercises: RMSNorm (as in LLaMA-family models) and mean pooling with the attention mask."""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_lib.exercises.feedback import ExerciseFeedback, not_attempted

RmsNormFn = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]
MeanPoolFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _example_x() -> torch.Tensor:
    """(B, T, C) = (2, 3, 4), with a mean far from 0 so that subtracting it shows."""
    return torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0)) + 1.5


_WEIGHT = torch.tensor([0.5, 1.0, 2.0, -1.0])  # (C,)


def _rms_cases() -> list[tuple[torch.Tensor, float]]:
    """(x, eps) pairs: ordinary numbers, then tiny ones where eps matters."""
    x = _example_x()
    return [(x, 1e-5), (x * 1e-3, 1e-2)]


def _rms_mistakes(x: torch.Tensor, eps: float) -> dict[str, torch.Tensor]:
    """The usual wrong answers for (x, eps), each with the message that names it."""
    mean_square = x.pow(2).mean(-1, keepdim=True)
    centred = x - x.mean(-1, keepdim=True)
    layer_norm = centred / torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + eps) * _WEIGHT
    over_time = x / torch.sqrt(x.pow(2).mean(1, keepdim=True) + eps) * _WEIGHT
    return {
        "You subtracted the mean: that is LayerNorm. RMSNorm only divides by the root mean square of x "
        "(no centring, no bias).": layer_norm,
        "You forgot eps: add it under the square root, sqrt(mean(x**2) + eps), so that a vector of tiny "
        "numbers is not blown up.": x / torch.sqrt(mean_square) * _WEIGHT,
        "You forgot the weight: multiply the normalised x by the learned per-channel weight.": (
            x / torch.sqrt(mean_square + eps)
        ),
        "The square root is missing: divide by sqrt(mean(x**2) + eps), not by mean(x**2) + eps.": (
            x / (mean_square + eps) * _WEIGHT
        ),
        "You averaged over the wrong dimension: take the mean of x**2 over the channels (dim=-1).": over_time,
        "You added eps after the square root: put it inside, sqrt(mean(x**2) + eps).": (
            x / (torch.sqrt(mean_square) + eps) * _WEIGHT
        ),
    }


def check_rms_norm(student: RmsNormFn) -> None:
    """Check ``student(x (B, T, C), weight (C,), eps) -> (B, T, C)`` and print the verdict.

    Raises ExerciseFeedback naming the mistake: subtracting the mean (LayerNorm), no eps, no weight, no
    square root, the wrong dimension, eps outside the root.
    """
    if not_attempted(student, _example_x(), _WEIGHT.clone(), 1e-5):
        print("Not attempted yet: replace the `...` with your code, then run this cell again.")
        return
    for x, eps in _rms_cases():
        got = _as_tensor(student(x.clone(), _WEIGHT.clone(), eps), x.shape, "x")
        want = torch.nn.functional.rms_norm(x, (x.shape[-1],), _WEIGHT, eps)
        if torch.allclose(got, want, rtol=1e-4, atol=1e-6):
            continue
        for message, wrong in _rms_mistakes(x, eps).items():
            if torch.allclose(got, wrong, rtol=1e-4, atol=1e-6):
                raise ExerciseFeedback(message)
        raise ExerciseFeedback(
            f"With eps={eps} your output differs from x / sqrt(mean(x**2 over channels) + eps) * weight "
            f"by up to {(got - want).abs().max():.3g}."
        )
    print(
        "Correct! RMSNorm rescales each token's vector to a root mean square of 1, then applies the weight."
    )


def _as_tensor(result: object, shape: torch.Size, like: str) -> torch.Tensor:
    if not isinstance(result, torch.Tensor):
        raise ExerciseFeedback(f"Return a torch.Tensor; you returned {type(result).__name__}.")
    if result.shape != shape:
        raise ExerciseFeedback(
            f"Return one vector per {like}: expected shape {tuple(shape)}, got {tuple(result.shape)}."
        )
    return result.float()


def _pool_case() -> tuple[torch.Tensor, torch.Tensor]:
    """hidden (2, 4, 3) and a mask (2, 4): a full sentence and one with two padding positions."""
    hidden = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(1))
    hidden[1, 2:] = 10.0  # padding vectors far from the real ones, so counting them shows
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    return hidden, mask


def _pool_mistakes(hidden: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    weights = mask.unsqueeze(-1).float()
    masked_sum = (hidden * weights).sum(1)
    return {
        "You counted the padding: average only where attention_mask is 1 (multiply by the mask, divide by "
        "its sum).": hidden.mean(1),
        "You returned the masked sum: divide it by the number of real tokens, mask.sum(1).": masked_sum,
        "You divided by the padded length T: divide by the number of real tokens, mask.sum(1).": masked_sum
        / hidden.shape[1],
        "You took the first token ([CLS]) only: average over all real tokens.": hidden[:, 0],
    }


def check_mean_pool(student: MeanPoolFn) -> None:
    """Check ``student(hidden (B, T, C), attention_mask (B, T)) -> (B, C)`` and print the verdict.

    Raises ExerciseFeedback naming the mistake: padding counted, a sum instead of a mean, dividing by the
    padded length, the first token only, the wrong shape.
    """
    hidden, mask = _pool_case()
    if not_attempted(student, hidden.clone(), mask.clone()):
        print("Not attempted yet: replace the `...` with your code, then run this cell again.")
        return
    got = _as_tensor(student(hidden.clone(), mask.clone()), torch.Size((2, 3)), "sentence (B, C)")
    want = torch.stack([hidden[0].mean(0), hidden[1, :2].mean(0)])
    if not torch.allclose(got, want, atol=1e-5):
        for message, wrong in _pool_mistakes(hidden, mask).items():
            if torch.allclose(got, wrong, atol=1e-5):
                raise ExerciseFeedback(message)
        raise ExerciseFeedback(
            "Your vectors differ from the mean of the real tokens' vectors by up to "
            f"{(got - want).abs().max():.3g}."
        )
    print("Correct! A padded sentence now gets the same vector as the sentence on its own.")
