"""Notebook 07's music exercises: how long a bar is, and the frequency of a MIDI pitch."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

from course_lib.exercises.feedback import ExerciseFeedback, not_attempted

BarUnitsFn = Callable[[str, str], float]
FrequencyFn = Callable[[int], float]

# (metre, unit note length) -> L units per bar; chosen so that each usual mistake gives another answer
_BAR_CASES = [("6/8", "1/8"), ("3/4", "1/8"), ("2/4", "1/16"), ("3/4", "1/4"), ("9/8", "1/8")]
_PITCHES = [69, 60, 81, 57, 74]


def check_bar_units(student: BarUnitsFn) -> None:
    """Check ``student(metre, unit) -> units per bar`` (``"6/8"``, ``"1/8"`` -> 6) and print the verdict.

    Raises ExerciseFeedback naming the mistake: metre times unit, unit divided by metre, the metre's
    numerator alone (beats, not units), or a value that is not a number.
    """
    if not_attempted(student, *_BAR_CASES[0]):
        print("Not attempted yet: replace the `...` with your code, then run this cell again.")
        return
    for metre, unit in _BAR_CASES:
        got = student(metre, unit)
        if isinstance(got, bool) or not isinstance(got, (int, float, Fraction)):
            raise ExerciseFeedback(
                f"Return a number; for M:{metre}, L:{unit} you returned {type(got).__name__}."
            )
        want = Fraction(metre) / Fraction(unit)
        if not math.isclose(float(got), float(want)):
            raise ExerciseFeedback(_diagnose_bar(float(got), metre, unit, want))
    print(
        "Correct! A bar holds metre / unit note lengths: 6/8 with L:1/8 is 6 eighths, 2/4 with L:1/16 is 8."
    )


def _diagnose_bar(got: float, metre: str, unit: str, want: Fraction) -> str:
    """Name the mistake that gives ``got`` for this metre and unit."""
    top, m, u = int(metre.split("/")[0]), Fraction(metre), Fraction(unit)
    mistakes = [
        (m * u, "You multiplied the metre by the unit length; divide the metre by it instead."),
        (u / m, "You divided the unit by the metre; it is the other way round: metre / unit."),
        (top, "You returned the metre's top number (beats), not units of L: divide the metre by the unit."),
    ]
    for wrong, message in mistakes:
        if math.isclose(got, float(wrong)):
            return f"For M:{metre}, L:{unit}: {message}"
    return f"For M:{metre}, L:{unit} a bar holds {want} units of L; you returned {got}."


def check_midi_frequency(student: FrequencyFn) -> None:
    """Check ``student(pitch) -> Hz`` (69 -> 440.0, 81 -> 880.0) and print the verdict.

    Raises ExerciseFeedback naming the mistake: a whole octave per semitone (no / 12), middle C (60)
    taken as the 440 Hz reference, a result an octave off, or a value that is not a number.
    """
    if not_attempted(student, 69):
        print("Not attempted yet: replace the `...` with your code, then run this cell again.")
        return
    for pitch in _PITCHES:
        got = student(pitch)
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            raise ExerciseFeedback(
                f"Return a number (Hz); for pitch {pitch} you returned {type(got).__name__}."
            )
        want = 440.0 * 2 ** ((pitch - 69) / 12)
        if not math.isclose(float(got), want, rel_tol=1e-6):
            raise ExerciseFeedback(_diagnose_frequency(float(got), pitch, want))
    print("Correct! Each semitone multiplies the frequency by 2^(1/12); 12 of them double it (an octave).")


def _diagnose_frequency(got: float, pitch: int, want: float) -> str:
    """Name the mistake that gives ``got`` for ``pitch``."""
    mistakes = [
        (440.0 * 2.0 ** (pitch - 69), "Each semitone is 1/12 of an octave: divide (pitch - 69) by 12."),
        (440.0 * 2 ** ((pitch - 60) / 12), "The 440 Hz reference is A4 = MIDI 69, not middle C (60)."),
        (2 * want, "Your answer is an octave too high: A4 (69) is 440 Hz, not 880."),
        (want / 2, "Your answer is an octave too low: A4 (69) is 440 Hz, not 220."),
    ]
    for wrong, message in mistakes:
        if math.isclose(got, wrong, rel_tol=1e-6):
            return f"For pitch {pitch}: {message}"
    return f"For pitch {pitch} the frequency is {want:.2f} Hz; you returned {got}."
