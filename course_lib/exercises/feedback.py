"""What every exercise check shares: the feedback exception and the "not attempted" test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ExerciseFeedback(AssertionError):
    """The student's answer is wrong; the message says how and what to change."""


def not_attempted(function: Callable[..., Any], *args: Any) -> bool:
    """True when ``function`` still has its placeholder body (returns ``...``/``None`` or raises
    NotImplementedError)."""
    try:
        result = function(*args)
    except NotImplementedError:
        return True
    return result is None or result is Ellipsis
