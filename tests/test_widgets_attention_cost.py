"""AttentionCostExplorer: drive the image side, patch, frames and attention kind from Python."""

import matplotlib

matplotlib.use("Agg")

import re
import statistics
import time

import numpy as np
import pytest
from ipywidgets.embed import dependency_state
from matplotlib.figure import Figure

from course_lib import attention_cost as cost
from course_lib.validation import CourseInputError
from course_lib.widgets import CONTAINER_CLASS, OUTPUT_CLASS, AttentionCostExplorer

GIB = 2**30


def view_data(view: AttentionCostExplorer) -> dict[str, str]:
    """The data-* attributes of the rendered view."""
    return dict(re.findall(r'data-(\w+)="([^"]*)"', view.output.value))


def test_classes_and_saved_state():
    view = AttentionCostExplorer(available_bytes=8 * GIB)
    assert CONTAINER_CLASS in view._dom_classes and "course-attention-cost" in view._dom_classes
    assert OUTPUT_CLASS in view.output._dom_classes
    saved = [
        s["state"].get("value") for s in dependency_state(view).values() if s["model_name"] == "HTMLModel"
    ]
    assert view.output.value in saved
    for forbidden in ("<script", "http://", "https://"):
        assert forbidden not in view.output.value


def test_tokens_and_memory_follow_the_controls():
    view = AttentionCostExplorer(side=256, patch=8, n_head=8, available_bytes=8 * GIB)
    assert view_data(view) == {"tokens": "1024", "kind": "full", "fits": "true"}
    assert view.numbers()["peak_bytes"] == 8 * 1024**2 * 8
    view.patch.value = 4  # half the patch: four times the tokens, sixteen times the memory
    assert view.numbers()["tokens"] == 4096
    assert view.numbers()["peak_bytes"] == 16 * 8 * 1024**2 * 8
    view.frames.value = 16  # 65,536 tokens: 8 x 65536^2 x 8 bytes = 256 GiB, far over 8 GiB
    assert view_data(view) == {"tokens": str(16 * 4096), "kind": "full", "fits": "false"}
    assert "does not fit" in view.output.value
    view.kind.value = "window"  # 64 keys per query instead of 65,536
    assert view_data(view)["fits"] == "true"
    assert view.numbers()["keys_per_query"] == 64
    view.kind.value = "axial"
    assert view.numbers()["keys_per_query"] == 2 * 64 + 16


def test_the_limit_is_the_largest_full_layer_that_fits():
    view = AttentionCostExplorer(available_bytes=GIB, n_head=1)
    assert view.max_tokens == cost.max_full_attention_tokens(GIB, n_head=1)
    assert f"{view.max_tokens:,} tokens" in view.output.value
    curve = view.curve_bytes("full", np.array([view.max_tokens, view.max_tokens + 1.0]))
    assert curve[0] <= GIB < curve[1]


def test_curves_match_the_arithmetic_on_whole_grids():
    view = AttentionCostExplorer(side=512, patch=8, frames=4, available_bytes=GIB)
    for kind in cost.ATTENTION_KINDS:
        view.kind.value = kind
        curve = view.curve_bytes(kind, np.array([float(view.tokens())]))[0]
        assert curve == pytest.approx(view.numbers()["peak_bytes"])


def test_time_estimate_appears_when_a_measurement_is_passed():
    assert "est.)" not in AttentionCostExplorer(available_bytes=GIB).output.value
    view = AttentionCostExplorer(available_bytes=GIB, seconds_per_pair=1e-9)
    assert view.numbers()["seconds"] == pytest.approx(1e-9 * view.numbers()["pairs"])
    assert "est.)" in view.output.value


def test_every_control_updates_well_under_100_ms():
    view = AttentionCostExplorer(available_bytes=8 * GIB)
    moves = {
        "side": [512, 1024, 256],
        "patch": [4, 16, 8],
        "frames": [32, 256, 1],
        "kind": ["window", "axial", "full"],
    }
    timings = {}
    for name, values in moves.items():
        control, durations = getattr(view, name), []
        for value in values * 3:
            start = time.perf_counter()
            control.value = value
            durations.append(1000 * (time.perf_counter() - start))
        timings[name] = statistics.median(durations)
    print("median update ms:", {name: round(ms, 2) for name, ms in timings.items()})
    assert max(timings.values()) < 100


def test_static_figure():
    figure = AttentionCostExplorer(frames=8, available_bytes=GIB).static_figure()
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    assert len(ax.get_lines()) == 6  # three kinds, the memory limit, the token limit, the current setting
    assert "8 frame(s)" in ax.get_title()


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"side": 100}, "side"),
        ({"patch": 3}, "patch"),
        ({"frames": 0}, "frames"),
        ({"kind": "global"}, "kind"),
        ({"available_bytes": 0}, "available_bytes"),
        ({"seconds_per_pair": -1.0}, "seconds_per_pair"),
    ],
)
def test_bad_options_name_the_argument(options, argument):
    with pytest.raises(CourseInputError, match=rf"^{argument} must be"):
        AttentionCostExplorer(**options)
