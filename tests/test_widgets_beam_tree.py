"""BeamTreeExplorer: drive it from Python on the shipped character GPT; what it shows, how fast."""

import matplotlib

matplotlib.use("Agg")

import itertools
import re

import pytest
import torch
from ipywidgets.embed import dependency_state
from matplotlib.figure import Figure
from widget_timing import median_ms

from course_lib import decoding
from course_lib.checkpoints import load_checkpoint
from course_lib.data import DATA_DIR
from course_lib.validation import CourseInputError
from course_lib.widgets import CONTAINER_CLASS, OUTPUT_CLASS, BeamTreeExplorer
from course_lib.widgets._common import CHECKPOINT_NAME
from course_lib.widgets.beam_tree import DEFAULT_PROMPT


@pytest.fixture(scope="module")
def checkpoint():
    return load_checkpoint(DATA_DIR / "checkpoints" / CHECKPOINT_NAME)


@pytest.fixture
def view(checkpoint):
    return BeamTreeExplorer(checkpoint.model, checkpoint.tokenizer)


def boxes(view: BeamTreeExplorer) -> int:
    """Nodes drawn in the tree (the prompt's box included)."""
    return view.output.value.count("<rect ")


def test_view_has_course_classes_and_saves_its_picture(view):
    assert CONTAINER_CLASS in view._dom_classes and "course-beam-tree" in view._dom_classes
    assert OUTPUT_CLASS in view.output._dom_classes
    saved_html = [
        s["state"].get("value") for s in dependency_state(view).values() if s["model_name"] == "HTMLModel"
    ]
    assert view.output.value in saved_html
    for forbidden in ("<script", "http://", "https://"):
        assert forbidden not in view.output.value
    assert boxes(view) == 1 + sum(len(step) for step in view.result.trace)


def test_the_tree_is_beam_search_s_own_result(view, checkpoint):
    tokenizer = checkpoint.tokenizer
    ids = torch.tensor([tokenizer.encode(DEFAULT_PROMPT)])
    expected = decoding.beam_search(
        checkpoint.model, ids, 10, num_beams=4, length_penalty=1.0, eos_id=tokenizer.stoi[" "]
    )
    assert torch.equal(view.result.sequence, expected.sequence)
    assert [w for w, _, _ in view.words] == [
        tokenizer.decode(h.tokens[ids.shape[1] :]) for h in expected.finished
    ]
    best = view.words[0][0]
    assert f"best word <b>{best.replace(' ', '␣')}</b>" in view.output.value
    bold_boxes = len(re.findall(r'stroke-width="2.5"', view.output.value))
    assert bold_boxes == len(best)  # one bold box per character of the best word


def test_sliders_change_the_search(view):
    view.num_beams.value = 1
    one_beam = view.output.value
    assert all(len(step) == 1 for step in view.result.trace) and len(view.words) == 1
    view.num_beams.value = 6
    assert view.output.value != one_beam and max(len(step) for step in view.result.trace) == 6
    before = [w for w, _, _ in view.words]
    view.length_penalty.value = 0.0  # raw sums: the shortest words rise to the top
    raw = [w for w, _, _ in view.words]
    assert sorted(raw) == sorted(before) and [s for _, _, s in view.words] == sorted(
        (s for _, _, s in view.words), reverse=True
    )
    assert len(raw[0]) <= len(before[0])
    view.max_new.value = 2
    assert len(view.result.trace) <= 2


def test_a_bad_prompt_is_reported_and_the_last_search_stays(view):
    words = view.words
    view.prompt.value = "héllo ✓"
    assert "never seen" in view.output.value and view.words == words
    view.prompt.value = "import "
    assert "never seen" not in view.output.value and "import" in view.output.value


def test_static_figure_draws_the_same_tree(view):
    figure = view.static_figure()
    assert isinstance(figure, Figure)
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert len(texts) == boxes(view)  # one box per node, plus the prompt


def test_bad_arguments_say_what_to_do(checkpoint):
    model, tokenizer = checkpoint.model, checkpoint.tokenizer
    for kwargs, named in (
        ({"num_beams": 0}, "num_beams"),
        ({"length_penalty": 3.0}, "length_penalty"),
        ({"max_new_tokens": 99}, "max_new_tokens"),
        ({"prompt": ""}, "prompt"),
    ):
        with pytest.raises(CourseInputError, match=named):
            BeamTreeExplorer(model, tokenizer, **kwargs)
    with pytest.raises(CourseInputError, match="model"):
        BeamTreeExplorer(torch.nn.Linear(2, 2), tokenizer)


def test_controls_answer_within_100_ms(checkpoint):
    torch.set_num_threads(1)
    view = BeamTreeExplorer(checkpoint.model, checkpoint.tokenizer, max_new_tokens=12)
    beams, penalties = itertools.cycle(range(1, 9)), itertools.cycle([0.0, 0.5, 1.0, 1.5, 2.0])
    timings = {
        "beams (1 to 8)": median_ms(lambda: setattr(view.num_beams, "value", next(beams)), 16),
        "length penalty": median_ms(lambda: setattr(view.length_penalty, "value", next(penalties)), 10),
    }
    print("BeamTreeExplorer median update (ms):", {k: round(v, 1) for k, v in timings.items()})
    assert max(timings.values()) < 100, timings
