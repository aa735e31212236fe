"""Notebook 07's image exercise: MaskGIT's cosine unmasking schedule."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

from course_lib.exercises.feedback import ExerciseFeedback, not_attempted
from course_lib.images import N_PIXELS, maskgit_still_masked

StillMaskedFn = Callable[[int, int], int]

# (step, steps) pairs: the two ends of the schedule and rounds in between, where each usual mistake
# gives another answer than the right one somewhere
_SCHEDULE_CASES = [(0, 8), (1, 8), (3, 8), (4, 8), (7, 8), (8, 8), (2, 5), (5, 5), (1, 12), (10, 12)]

# The usual mistakes: (what the wrong formula returns, what to tell the student)
_SCHEDULE_MISTAKES: list[tuple[StillMaskedFn, str]] = [
    (
        lambda k, n: math.floor(N_PIXELS * (1 - k / n)),
        "That is a linear schedule (64 (1 - k/K)); MaskGIT's is cosine: 64 cos(pi/2 k/K), which commits "
        "few pixels in the first rounds and many at the end.",
    ),
    (
        lambda k, n: N_PIXELS - math.floor(N_PIXELS * math.cos(math.pi / 2 * k / n)),
        "You returned how many pixels are already committed; the question is how many are still masked.",
    ),
    (
        lambda k, n: math.floor(N_PIXELS * math.sin(math.pi / 2 * k / n)),
        "You used sin: it starts at 0 masked. Use cos, so that round 0 has all 64 pixels masked.",
    ),
    (
        lambda k, n: math.ceil(N_PIXELS * math.cos(math.pi / 2 * k / n)),
        "You rounded up: cos(pi/2) is not exactly 0 in floating point, so ceil leaves 1 pixel masked "
        "after the last round. Round down with math.floor.",
    ),
    (
        lambda k, n: round(N_PIXELS * math.cos(math.pi / 2 * k / n)),
        "You rounded to the nearest whole number; the schedule rounds down (math.floor).",
    ),
    (
        lambda k, n: math.floor(N_PIXELS * math.cos(math.pi / 2 * (k + 1) / n)),
        "Off by one: after round k the progress is k/K, not (k + 1)/K (round 0 is the all-[MASK] start).",
    ),
    (
        lambda k, n: math.floor(N_PIXELS * math.cos(math.pi / 2 * k / (n + 1))),
        "Off by one: divide by K (the last round, k = K, must leave nothing masked), not by K + 1.",
    ),
    (
        lambda k, n: math.floor(N_PIXELS * math.cos(90 * k / n)),
        "math.cos takes radians: use pi/2 (a quarter turn), not 90.",
    ),
]


def check_maskgit_schedule(student: StillMaskedFn) -> None:
    """Check ``student(step, steps) -> pixels still masked after round step of steps`` and print the verdict.

    The answer is ``floor(64 cos(pi/2 step/steps))`` (``course_lib.images.maskgit_still_masked``). Raises
    ExerciseFeedback naming the mistake: a linear schedule, the committed count instead of the masked one,
    sin instead of cos, rounding up or to nearest, an off-by-one in the step or in K, degrees instead of
    radians, a share instead of a count, an unrounded count, or a value that is not a number.
    """
    if not_attempted(student, *_SCHEDULE_CASES[1]):
        print("Not attempted yet: replace the `...` with your code, then run this cell again.")
        return
    answers = [student(step, steps) for step, steps in _SCHEDULE_CASES]
    _check_whole_numbers(answers)
    rights = [maskgit_still_masked(step, steps) for step, steps in _SCHEDULE_CASES]
    if answers != rights:
        raise ExerciseFeedback(_diagnose_schedule(answers, rights))
    print(
        "Correct! floor(64 cos(pi/2 k/K)) masked: few pixels are committed in the first rounds, when the "
        "model knows least, and many at the end. It matches images.maskgit_still_masked."
    )


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_whole_numbers(answers: list[object]) -> None:
    """Counts of pixels: whole numbers (a share in [0, 1] or an unrounded count is a typical mistake)."""
    shares = [math.cos(math.pi / 2 * step / steps) for step, steps in _SCHEDULE_CASES]
    if all(
        _is_number(a) and math.isclose(a, share, abs_tol=1e-9)
        for a, share in zip(answers, shares, strict=True)
    ):
        raise ExerciseFeedback(
            "You returned the share of pixels still masked (cos(pi/2 k/K), between 0 and 1); return the "
            "count: 64 times the share, rounded down."
        )
    for (step, steps), got in zip(_SCHEDULE_CASES, answers, strict=True):
        if not _is_number(got):
            raise ExerciseFeedback(
                f"Return a whole number of pixels; for round {step} of {steps} you returned "
                f"{type(got).__name__}."
            )
        if not float(got).is_integer():
            raise ExerciseFeedback(
                f"For round {step} of {steps} you returned {got!r}, not a whole number of pixels: round "
                "down with math.floor."
            )


def _diagnose_schedule(answers: list[int], rights: list[int]) -> str:
    """Name the mistake whose formula gives ``answers`` on every case, or show the first wrong case."""
    for wrong, message in _SCHEDULE_MISTAKES:
        if answers == [wrong(step, steps) for step, steps in _SCHEDULE_CASES]:
            return message
    (step, steps), got, want = next(
        case for case in zip(_SCHEDULE_CASES, answers, rights, strict=True) if case[1] != case[2]
    )
    return f"After round {step} of {steps}, {want} pixels are still masked; you returned {got}."
