"""Argument checks that fail with messages a student can act on.

Every message names the argument, says what was given, and says what to do, e.g.::

    top_p must be in (0, 1], got 1.5. Use a value such as 0.9 (1.0 keeps every token).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class CourseInputError(ValueError):
    """Raised for bad input to any course_lib function (a ``ValueError``)."""


def fail(argument: str, expected: str, given: object, fix: str) -> None:
    """Raise ``CourseInputError`` with the course's standard three-part message."""
    raise CourseInputError(f"{argument} must be {expected}, got {given}. {fix}")


def check_number(
    argument: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    fix: str = "",
) -> None:
    """Check that ``low <(=) value <(=) high``; either bound may be ``None`` (unbounded)."""
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        interval = f"in {left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        fail(argument, interval, repr(value), fix)


def check_int(argument: str, value: int, *, minimum: int, fix: str = "") -> None:
    """Check that ``value`` is an integer (not a bool) and at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        fail(argument, "an integer", f"{value!r} ({type(value).__name__})", fix)
    if value < minimum:
        fail(argument, f"an integer >= {minimum}", repr(value), fix)


def check_shape(argument: str, tensor: torch.Tensor, expected: Sequence[str | int | None], fix: str = "") -> None:
    """Check a tensor's shape against named dimensions.

    ``expected`` lists one entry per dimension: an ``int`` must match exactly, a ``str`` is a
    name only (any size), ``None`` means any size. Example: ``("B", "T", 128)``.
    """
    names = ", ".join(str(d) for d in expected)
    if tensor.dim() != len(expected):
        fail(argument, f"a {len(expected)}-D tensor of shape ({names})", f"shape {tuple(tensor.shape)}", fix)
    for axis, (size, want) in enumerate(zip(tensor.shape, expected)):
        if isinstance(want, int) and size != want:
            fail(
                argument,
                f"of shape ({names}) with dimension {axis} equal to {want}",
                f"shape {tuple(tensor.shape)}",
                fix,
            )


def check_same_size(argument: str, size: int, other_argument: str, other_size: int, dimension: str, fix: str = "") -> None:
    """Check that two tensors agree on a named dimension (e.g. both have head size D)."""
    if size != other_size:
        fail(argument, f"the same {dimension} as {other_argument} ({other_size})", f"{dimension} {size}", fix)
