"""PositionalExplorer: drive the scheme, dimension and position controls from Python."""

import matplotlib

matplotlib.use("Agg")

import math
import re
import statistics
import time

import pytest
import torch
from ipywidgets.embed import dependency_state
from matplotlib.figure import Figure

from course_lib.positional import sinusoidal_table
from course_lib.validation import CourseInputError
from course_lib.widgets import CONTAINER_CLASS, OUTPUT_CLASS, PositionalExplorer


def view_data(view: PositionalExplorer) -> dict[str, str]:
    """The data-* attributes of the rendered view."""
    return dict(re.findall(r'data-(\w+)="([^"]*)"', view.output.value))


def test_classes_and_saved_state():
    view = PositionalExplorer()
    assert CONTAINER_CLASS in view._dom_classes and "course-positional" in view._dom_classes
    assert OUTPUT_CLASS in view.output._dom_classes
    saved = [
        s["state"].get("value") for s in dependency_state(view).values() if s["model_name"] == "HTMLModel"
    ]
    assert view.output.value in saved
    for forbidden in ("<script", "http://", "https://"):
        assert forbidden not in view.output.value


def test_sinusoidal_shows_the_table_value_and_the_similarity_peaks_at_the_position():
    view = PositionalExplorer(n_positions=40, n_embd=16, dimension=3, position=5)
    want = sinusoidal_table(40, 16)[5, 3].item()
    assert f"dimension 3 = {want:.3f}" in view.output.value
    assert view_data(view) == {"scheme": "sinusoidal", "position": "5", "dimension": "3", "peak": "5"}
    view.position.value = 30
    assert view_data(view)["peak"] == "30"
    assert f"= {sinusoidal_table(40, 16)[30, 3].item():.3f}" in view.output.value


def test_sinusoidal_and_rotary_similarity_depend_on_distance_only():
    view = PositionalExplorer(n_positions=64, n_embd=32, position=10)
    for scheme in ("sinusoidal", "rotary"):
        view.scheme.value = scheme
        view.position.value = 10
        at_10 = view.similarity()
        view.position.value = 30
        at_30 = view.similarity()
        torch.testing.assert_close(at_30[20:], at_10[:-20], atol=1e-5, rtol=0)


def test_rotary_turns_the_pair_by_position_times_frequency():
    view = PositionalExplorer(scheme="rotary", n_embd=32, dimension=18, position=3)
    assert view.pair() == (2, 18)
    theta = 10000 ** (-4 / 32)
    assert view.rotation_angle() == pytest.approx(3 * theta)
    assert f"pair (2, 18) turned {math.degrees(3 * theta) % 360:.0f}°" in view.output.value
    assert "the pair, rotated" in view.output.value
    view.scheme.value = "learned"
    assert "the pair, rotated" not in view.output.value and "turned" not in view.output.value


def test_learned_table_is_shown_as_given():
    table = torch.zeros(8, 4)
    table[2, 1] = 0.75
    view = PositionalExplorer(
        scheme="learned", n_positions=8, n_embd=4, dimension=1, position=2, learned_table=table
    )
    assert "dimension 1 = 0.750" in view.output.value


def test_static_figure():
    fig = PositionalExplorer(scheme="rotary", position=4).static_figure()
    assert isinstance(fig, Figure) and len(fig.axes) == 4  # with the rotated pair
    assert len(PositionalExplorer().static_figure().axes) == 3
    assert "rotary · position 4" in fig._suptitle.get_text()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scheme": "alibi"}, r"scheme must be one of"),
        ({"n_embd": 7}, r"n_embd must be even"),
        ({"position": 64}, r"position must be an integer from 0 to 63"),
        ({"dimension": -1}, r"dimension must be an integer from 0 to 31"),
        ({"learned_table": torch.zeros(3, 3)}, r"learned_table must be of shape"),
    ],
)
def test_bad_arguments_name_the_argument(options, message):
    with pytest.raises(CourseInputError, match=message):
        PositionalExplorer(**options)


def test_every_control_updates_well_under_100_ms():
    view = PositionalExplorer()
    timings = {}
    for name, control, values in (
        ("position", view.position, [1 + i for i in range(20)]),
        ("dimension", view.dimension, [1 + i for i in range(20)]),
        ("scheme", view.scheme, ["rotary", "learned", "sinusoidal"] * 4),
    ):
        times = []
        for value in values:
            before = view.output.value
            start = time.perf_counter()
            control.value = value
            times.append(time.perf_counter() - start)
            assert view.output.value != before
        timings[name] = 1000 * statistics.median(times)
    print("median update ms:", {name: round(ms, 2) for name, ms in timings.items()})
    assert max(timings.values()) < 100
