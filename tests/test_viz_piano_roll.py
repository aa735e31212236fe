"""Tests for course_lib.viz.piano_roll: one bar per note, at its time and pitch."""

import matplotlib

matplotlib.use("Agg")

import pytest
from matplotlib.figure import Figure

from course_lib.music import Note, tune_notes
from course_lib.validation import CourseInputError
from course_lib.viz.piano_roll import note_name, plot_piano_roll


def test_note_names_follow_scientific_pitch_notation():
    assert [note_name(p) for p in (60, 61, 69, 72, 48)] == ["C4", "C#4", "A4", "C5", "C3"]


def test_plot_piano_roll_draws_one_bar_per_note_at_its_time_and_pitch():
    notes = tune_notes("M:2/4 L:1/8 K:C C D E 2 | c 4 |", seconds_per_quarter=0.5)
    fig = plot_piano_roll(notes, title="scale")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    bars = ax.containers[0]
    assert len(bars) == len(notes) == 4
    assert [round(bar.get_x(), 3) for bar in bars] == [0.0, 0.25, 0.5, 1.0]
    assert [round(bar.get_y() + bar.get_height() / 2) for bar in bars] == [60, 62, 64, 72]
    names = [label.get_text() for label in ax.get_yticklabels()]
    assert names == ["C4", "E4", "G4", "C5"]  # the axis runs from 58 to 74
    assert ax.get_title() == "scale"


def test_plot_piano_roll_rejects_what_is_not_a_list_of_notes():
    with pytest.raises(CourseInputError, match=r"notes must be a list of course_lib\.music\.Note"):
        plot_piano_roll("C D E")
    with pytest.raises(CourseInputError, match="tune_notes"):
        plot_piano_roll([(60, 0.0, 1.0)])


def test_an_empty_tune_still_draws():
    fig = plot_piano_roll([Note(60, 0.0, 0.5)][:0])
    assert len(fig.axes[0].containers[0]) == 0
