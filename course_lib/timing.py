"""How the course times a piece of work: the fastest of a few runs.

The shortest run, not the mean: other programs only ever add time, so the fastest run is the one they
disturbed least (the advice of Python's ``timeit``). Used by ``attention_cost``, ``images`` and
``make bench``.

    best_seconds(lambda: model(x), repeats=5)                # one warm-up run first (caches, allocator)
    best_seconds(lambda: model(x), repeats=2, warmup=False)  # when the caller warmed up already
"""

from __future__ import annotations

import time
from collections.abc import Callable

from course_lib.validation import check_int


def best_seconds(function: Callable[[], object], *, repeats: int = 7, warmup: bool = True) -> float:
    """Shortest wall-clock time of ``function()`` in seconds over ``repeats`` runs, after one untimed run
    when ``warmup``."""
    check_int("repeats", repeats, minimum=1, fix="Use e.g. repeats=5.")
    if warmup:
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)
