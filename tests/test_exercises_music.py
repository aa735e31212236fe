"""The music self-checks of notebook 07 accept right answers and name each usual mistake."""

from __future__ import annotations

from fractions import Fraction

import pytest

from course_lib.exercises import ExerciseFeedback
from course_lib.exercises.music import check_bar_units, check_midi_frequency


def right_bar_units(metre: str, unit: str) -> Fraction:
    return Fraction(metre) / Fraction(unit)


def right_frequency(pitch: int) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (check_bar_units, right_bar_units),
        (check_bar_units, lambda m, u: float(Fraction(m) / Fraction(u))),
        (check_midi_frequency, right_frequency),
    ],
)
def test_right_answers_pass(check, answer, capsys) -> None:
    check(answer)
    assert "Correct!" in capsys.readouterr().out


@pytest.mark.parametrize("check", [check_bar_units, check_midi_frequency])
def test_placeholder_is_not_attempted(check, capsys) -> None:
    def placeholder(*args): ...

    check(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (lambda m, u: Fraction(m) * Fraction(u), "multiplied the metre by the unit"),
        (lambda m, u: Fraction(u) / Fraction(m), "divided the unit by the metre"),
        (lambda m, u: int(m.split("/")[0]), "top number"),
        (lambda m, u: f"{m}/{u}", "Return a number"),
        (lambda m, u: Fraction(m) / Fraction(u) + 1, "a bar holds 6 units of L; you returned 7"),
    ],
)
def test_each_bar_mistake_gets_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_bar_units(answer)


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (lambda p: 440.0 * 2.0 ** (p - 69), "divide \\(pitch - 69\\) by 12"),
        (lambda p: 440.0 * 2 ** ((p - 60) / 12), "not middle C"),
        (lambda p: 880.0 * 2 ** ((p - 69) / 12), "octave too high"),
        (lambda p: 220.0 * 2 ** ((p - 69) / 12), "octave too low"),
        (lambda p: f"{right_frequency(p):.1f} Hz", "Return a number"),
        (lambda p: 440.0 + (p - 69) * 10.0, "the frequency is 261.63 Hz"),
    ],
)
def test_each_frequency_mistake_gets_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_midi_frequency(answer)
