"""The exercise self-checks accept right answers and name each usual mistake."""

from __future__ import annotations

import pytest
import torch

from course_lib.exercises import ExerciseFeedback
from course_lib.exercises.welcome import check_temperature_softmax


def right(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    scaled = logits / temperature
    exps = torch.exp(scaled - scaled.max())
    return exps / exps.sum()


def test_right_answer_passes(capsys) -> None:
    check_temperature_softmax(right)
    assert "Correct!" in capsys.readouterr().out


def test_placeholder_is_not_attempted(capsys) -> None:
    def placeholder(logits, temperature): ...

    check_temperature_softmax(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (lambda l, t: torch.softmax(l * t, dim=-1), "multiplied the logits by the temperature"),
        (lambda l, t: torch.softmax(l, dim=-1) / t, "softmax before the temperature"),
        (lambda l, t: torch.softmax(l, dim=-1), "forgot the temperature"),
        (lambda l, t: torch.exp(l / t), "sum to"),
        (lambda l, t: torch.exp(l / t) / torch.exp(l / t).sum(), "overflows"),
        (lambda l, t: (l / t).tolist(), "Return a torch.Tensor"),
        (lambda l, t: torch.softmax(l / t, dim=-1)[:2], "expected shape"),
    ],
)
def test_each_mistake_gets_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_temperature_softmax(answer)
