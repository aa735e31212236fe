"""course_lib.timing: the fastest of a few runs, after an optional warm-up run."""

from __future__ import annotations

import math

import pytest

from course_lib.timing import best_seconds
from course_lib.validation import CourseInputError


@pytest.mark.parametrize(("warmup", "calls"), [(True, 4), (False, 3)])
def test_best_seconds_runs_the_warm_up_then_times_each_repeat(warmup, calls):
    runs = []
    seconds = best_seconds(lambda: runs.append(1), repeats=3, warmup=warmup)
    assert math.isfinite(seconds) and seconds >= 0
    assert len(runs) == calls


def test_best_seconds_is_the_fastest_run():
    delays = iter([0.0, 0.03, 0.001, 0.03])  # the first (warm-up) run is not timed

    def sleepy():
        import time

        time.sleep(next(delays))

    assert best_seconds(sleepy, repeats=3) < 0.02


def test_repeats_must_be_positive():
    with pytest.raises(CourseInputError, match=r"repeats must be .* got 0\. Use e\.g\. repeats=5"):
        best_seconds(lambda: None, repeats=0)
