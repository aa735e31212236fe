"""Argument checks that fail with messages a student can act on.

Every message names the argument, says what was given, and says what to do, e.g.::

    top_p must be in (0, 1], got 1.5. Use a value such as 0.9 (1.0 keeps every token).

One checker per kind of value (a number in a range, an integer, a tensor shape, a batch of token ids),
called once at the boundary a person touches: public functions, constructors, command lines, files.
Inner code that only course_lib calls trusts its callers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NoReturn

import torch


class CourseInputError(ValueError):
    """Raised for bad input to any course_lib function (a ``ValueError``)."""


def fail(argument: str, expected: str, given: object, fix: str) -> NoReturn:
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
    """Check that ``value`` is a finite number with ``low <(=) value <(=) high``; a bound of ``None`` is open.

    NaN and infinities always fail: NaN compares false with everything, so it would slip through a range.
    """
    left, right = "[" if low_inclusive else "(", "]" if high_inclusive else ")"
    interval = f"in {left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(argument, f"a number {interval}", f"{value!r} ({type(value).__name__})", fix)
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if not math.isfinite(value) or too_low or too_high:
        fail(argument, interval, repr(value), fix)


def check_int(argument: str, value: int, *, minimum: int, maximum: int | None = None, fix: str = "") -> None:
    """Check that ``value`` is an integer (not a bool) from ``minimum`` to ``maximum`` (None: no upper
    limit)."""
    if isinstance(value, bool) or not isinstance(value, int):
        fail(argument, "an integer", f"{value!r} ({type(value).__name__})", fix)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        fail(argument, f"an integer {bound}", repr(value), fix)


MAX_SEED = 2**63 - 1  # torch seeds are 64-bit; up to here every seed (and the train command's seed + 1) fits


def check_seed(argument: str, seed: int, *, fix: str = "Use e.g. 0.") -> None:
    """A seed torch can take: an integer from 0 to MAX_SEED."""
    check_int(argument, seed, minimum=0, maximum=MAX_SEED, fix=fix)


def check_shape(
    argument: str, tensor: torch.Tensor, expected: Sequence[str | int | None], fix: str = ""
) -> None:
    """Check a tensor's shape against named dimensions.

    ``expected`` lists one entry per dimension: an ``int`` must match exactly, a ``str`` is a
    name only (any size), ``None`` means any size. Example: ``("B", "T", 128)``.
    """
    names = ", ".join(str(d) for d in expected)
    if tensor.dim() != len(expected):
        fail(argument, f"a {len(expected)}-D tensor of shape ({names})", f"shape {tuple(tensor.shape)}", fix)
    for axis, (size, want) in enumerate(zip(tensor.shape, expected, strict=True)):
        if isinstance(want, int) and size != want:
            fail(
                argument,
                f"of shape ({names}) with dimension {axis} equal to {want}",
                f"shape {tuple(tensor.shape)}",
                fix,
            )


def check_same_size(
    argument: str, size: int, other_argument: str, other_size: int, dimension: str, fix: str = ""
) -> None:
    """Check that two tensors agree on a named dimension (e.g. both have head size D)."""
    if size != other_size:
        fail(argument, f"the same {dimension} as {other_argument} ({other_size})", f"{dimension} {size}", fix)


def check_token_ids(
    argument: str,
    ids: torch.Tensor,
    *,
    vocab_size: int,
    shape: Sequence[str | int] = ("B", "T"),
    fix: str = "Add a batch dimension with ids.unsqueeze(0) for a single sequence.",
) -> None:
    """Check a tensor of token ids: a LongTensor of the named ``shape``, at least one position long,
    every id from 0 to vocab_size - 1. The one token-id check that models and generation share."""
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
        given = f"dtype {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__
        fix_dtype = "Build it with torch.tensor(ids, dtype=torch.long) or convert with .long()."
        fail(argument, "a LongTensor (torch.long) of token ids", given, fix_dtype)
    check_shape(argument, ids, shape, fix)
    if ids.numel() == 0:
        fail(
            argument,
            "at least one token long",
            f"shape {tuple(ids.shape)}",
            "Start from a prompt (or a BOS token).",
        )
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= vocab_size:
        check_ids_in_vocab(argument, [low if low < 0 else high], vocab_size=vocab_size)


def check_ids_in_vocab(
    argument: str,
    ids: Sequence[int],
    *,
    vocab_size: int,
    fix: str = "Encode text with the tokenizer the model was built for (their vocab_size must agree).",
) -> None:
    """Every id in ``ids`` (a list of ints) must be from 0 to vocab_size - 1."""
    out_of_range = sorted({i for i in ids if not 0 <= i < vocab_size})
    if out_of_range:
        fail(
            argument,
            f"token ids from 0 to vocab_size - 1 = {vocab_size - 1}",
            f"id {', '.join(map(str, out_of_range))}",
            fix,
        )
