"""A piano roll (``plot_piano_roll``): one bar per note, time across, pitch up, as in a music editor."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from course_lib.music import Note
from course_lib.validation import fail
from course_lib.viz._common import figure_and_axes

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
NOTE_COLOR = "#1f77b4"


def note_name(pitch: int) -> str:
    """The name of a MIDI pitch in scientific notation: 60 -> ``"C4"``, 69 -> ``"A4"``."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def _labelled(pitch: int, *, span: int) -> bool:
    """Which pitches get a name on the axis: C, E and G (never two neighbours, so labels do not collide)
    over two octaves or less, only the Cs beyond."""
    return pitch % 12 == 0 if span > 24 else NOTE_NAMES[pitch % 12] in ("C", "E", "G")


def plot_piano_roll(
    notes: Sequence[Note], ax: Axes | None = None, title: str | None = None, color: str = NOTE_COLOR
) -> Figure:
    """Draw ``notes`` (``course_lib.music.tune_notes``) as bars: x = seconds, y = MIDI pitch, with the
    Cs, Es and Gs named (only the Cs beyond two octaves) and a faint band on the black keys."""
    if not isinstance(notes, (list, tuple)) or not all(isinstance(note, Note) for note in notes):
        fix = "Pass the notes of a tune, e.g. tune_notes(load_tunes()[0])."
        fail("notes", "a list of course_lib.music.Note", type(notes).__name__, fix)
    fig, ax = figure_and_axes(ax, width=8.0, height=3.2)
    low = min((note.pitch for note in notes), default=60) - 2
    high = max((note.pitch for note in notes), default=72) + 2
    for pitch in range(low, high + 1):
        if NOTE_NAMES[pitch % 12].endswith("#"):
            ax.axhspan(pitch - 0.5, pitch + 0.5, color="#f0f0f0", zorder=0)
    ax.barh(
        [note.pitch for note in notes],
        [note.length * 0.95 for note in notes],  # a small gap shows repeated notes as separate bars
        left=[note.start for note in notes],
        height=0.8,
        color=color,
        zorder=2,
    )
    labelled = [p for p in range(low, high + 1) if _labelled(p, span=high - low)]
    ax.set_yticks(labelled, [note_name(pitch) for pitch in labelled])
    ax.set_ylim(low - 0.5, high + 0.5)
    ax.set_xlim(0, max((note.start + note.length for note in notes), default=1.0))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("pitch")
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    return fig
