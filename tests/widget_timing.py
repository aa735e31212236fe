"""Kernel time of widget actions, for the widget tests' 100 ms checks (one helper, not a copy per file)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import ipywidgets


def median_ms(action: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``action()`` over ``repeats`` calls, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def median_update_ms(view: ipywidgets.Widget, control: ipywidgets.Widget, values: list) -> float:
    """Median time of setting ``control.value`` to each of ``values`` (which runs the view's update
    handler), in milliseconds; every change must redraw ``view.output``."""
    times = []
    for value in values:
        before = view.output.value
        start = time.perf_counter()
        control.value = value
        times.append(time.perf_counter() - start)
        assert view.output.value != before, "the update handler did not run"
    return 1000 * statistics.median(times)
