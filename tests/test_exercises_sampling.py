"""Notebook 06's self-checks accept right answers and name each usual mistake."""

from __future__ import annotations

import pytest
import torch

from course_lib.exercises import ExerciseFeedback
from course_lib.exercises.sampling import check_repetition_penalty, check_top_p

# ---------------------------------------------------------------- top-p


def nucleus(
    probs: torch.Tensor,
    p: float,
    *,
    descending: bool = True,
    include_crossing: bool = True,
    keep_one: bool = True,
    renormalise: bool = True,
    sort: bool = True,
    back_to_vocabulary: bool = True,
) -> torch.Tensor:
    """A student's top-p; every flag set to False plants one usual mistake."""
    if sort:
        sorted_probs, order = probs.sort(descending=descending)
    else:
        sorted_probs, order = probs, torch.arange(probs.numel())
    cumulative = sorted_probs.cumsum(0)
    keep = cumulative - sorted_probs < p if include_crossing else cumulative <= p
    if keep_one:
        keep[0] = True
    kept = sorted_probs * keep
    if back_to_vocabulary:
        kept = torch.zeros_like(probs).scatter(0, order, kept)
    return kept / kept.sum() if renormalise else kept


def test_top_p_right_answer_passes(capsys) -> None:
    check_top_p(nucleus)
    assert "Correct!" in capsys.readouterr().out


def test_top_p_placeholder_is_not_attempted(capsys) -> None:
    def placeholder(probs, p): ...

    check_top_p(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (lambda probs, p: nucleus(probs, p, include_crossing=False), "dropped the token that crosses p"),
        (lambda probs, p: nucleus(probs, p, include_crossing=False, keep_one=False), "kept no token"),
        (lambda probs, p: nucleus(probs, p, descending=False), "least"),
        (lambda probs, p: nucleus(probs, p, sort=False), "vocabulary order"),
        (lambda probs, p: nucleus(probs, p, renormalise=False), "renormalise"),
        (lambda probs, p: nucleus(probs, p, back_to_vocabulary=False), "sorted order"),
        (lambda probs, p: nucleus(probs, p) + 0.01, "expected"),
        (lambda probs, p: nucleus(probs, p)[:-1], "expected shape"),
        (lambda probs, p: nucleus(probs, p).tolist(), "Return a torch.Tensor"),
    ],
)
def test_top_p_mistakes_get_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_top_p(answer)


# ---------------------------------------------------------------- repetition penalty


def penalise(logits: torch.Tensor, previous_ids: torch.Tensor, penalty: float) -> torch.Tensor:
    logits = logits.clone()
    seen = logits[previous_ids]
    logits[previous_ids] = torch.where(seen < 0, seen * penalty, seen / penalty)
    return logits


def penalise_each_occurrence(
    logits: torch.Tensor, previous_ids: torch.Tensor, penalty: float
) -> torch.Tensor:
    logits = logits.clone()
    for i in previous_ids.tolist():
        logits[i] = logits[i] * penalty if logits[i] < 0 else logits[i] / penalty
    return logits


def penalise_in_place(logits: torch.Tensor, previous_ids: torch.Tensor, penalty: float) -> torch.Tensor:
    seen = logits[previous_ids]
    logits[previous_ids] = torch.where(seen < 0, seen * penalty, seen / penalty)
    return logits


def test_penalty_right_answer_passes(capsys) -> None:
    check_repetition_penalty(penalise)
    assert "Correct!" in capsys.readouterr().out


def test_penalty_placeholder_is_not_attempted(capsys) -> None:
    def placeholder(logits, previous_ids, penalty): ...

    check_repetition_penalty(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out


def divide_seen(logits, previous_ids, penalty):
    out = logits.clone()
    out[previous_ids] = logits[previous_ids] / penalty
    return out


def swapped(logits, previous_ids, penalty):
    out = logits.clone()
    seen = logits[previous_ids]
    out[previous_ids] = torch.where(seen < 0, seen / penalty, seen * penalty)
    return out


def penalise_everything(logits, previous_ids, penalty):
    return torch.where(logits < 0, logits * penalty, logits / penalty)


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (divide_seen, "multiply negative logits"),
        (swapped, "wrong way round"),
        (penalise_everything, "never occurred"),
        (penalise_each_occurrence, "once per occurrence"),
        (penalise_in_place, "in place"),
        (lambda logits, ids, penalty: penalise(logits, ids, penalty) - 0.5, "expected"),
        (lambda logits, ids, penalty: penalise(logits, ids, penalty)[:3], "shape"),
    ],
)
def test_penalty_mistakes_get_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_repetition_penalty(answer)
