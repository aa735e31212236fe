"""The image self-check of notebook 07 (MaskGIT's schedule) accepts right answers and names each mistake."""

from __future__ import annotations

import math

import numpy as np
import pytest

from course_lib.exercises import ExerciseFeedback
from course_lib.exercises.images import check_maskgit_schedule


def right_still_masked(step: int, steps: int) -> int:
    return math.floor(64 * math.cos(math.pi / 2 * step / steps))


@pytest.mark.parametrize(
    "answer",
    [
        right_still_masked,
        lambda k, n: np.floor(64 * np.cos(np.pi / 2 * k / n)),  # numpy floats with whole values
        lambda k, n: int(64 * math.cos(math.pi / 2 * k / n)),  # int() rounds down for counts >= 0
    ],
)
def test_right_answers_pass(answer, capsys) -> None:
    check_maskgit_schedule(answer)
    assert "Correct!" in capsys.readouterr().out


def test_placeholder_is_not_attempted(capsys) -> None:
    def placeholder(step, steps): ...

    check_maskgit_schedule(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (lambda k, n: math.floor(64 * (1 - k / n)), "linear schedule"),
        (lambda k, n: 64 - right_still_masked(k, n), "already committed"),
        (lambda k, n: math.floor(64 * math.sin(math.pi / 2 * k / n)), "You used sin"),
        (lambda k, n: math.ceil(64 * math.cos(math.pi / 2 * k / n)), "You rounded up"),
        (lambda k, n: round(64 * math.cos(math.pi / 2 * k / n)), "nearest whole number"),
        (lambda k, n: math.floor(64 * math.cos(math.pi / 2 * (k + 1) / n)), "not \\(k \\+ 1\\)/K"),
        (lambda k, n: math.floor(64 * math.cos(math.pi / 2 * k / (n + 1))), "not by K \\+ 1"),
        (lambda k, n: math.floor(64 * math.cos(90 * k / n)), "radians"),
        (lambda k, n: math.cos(math.pi / 2 * k / n), "the share of pixels still masked"),
        (lambda k, n: 64 * math.cos(math.pi / 2 * k / n), "not a whole number of pixels"),
        (lambda k, n: f"{right_still_masked(k, n)} pixels", "you returned str"),
        (lambda k, n: right_still_masked(k, n) + (k == n), "After round 8 of 8, 0 pixels are still masked"),
    ],
)
def test_each_mistake_gets_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_maskgit_schedule(answer)
