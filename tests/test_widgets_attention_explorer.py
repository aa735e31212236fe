"""AttentionExplorer: drive it from Python on the shipped character GPT, check what it shows and how fast."""

import matplotlib

matplotlib.use("Agg")

import html
import re

import pytest
import torch
from ipywidgets.embed import dependency_state
from matplotlib.figure import Figure
from widget_timing import median_update_ms

from course_lib.checkpoints import load_checkpoint
from course_lib.data import DATA_DIR
from course_lib.validation import CourseInputError
from course_lib.widgets import CONTAINER_CLASS, OUTPUT_CLASS, AttentionExplorer
from course_lib.widgets._common import CHECKPOINT_NAME
from course_lib.widgets.attention_explorer import DEFAULT_TEXT, attention_scores

LONG_TEXT = "def mean(values):\n    return sum(values) / len(values)\n\nprint(mean([1, 2, 3]))\n"  # > 64


@pytest.fixture(scope="module")
def checkpoint():
    return load_checkpoint(DATA_DIR / "checkpoints" / CHECKPOINT_NAME)


@pytest.fixture
def view(checkpoint):
    return AttentionExplorer(checkpoint.model, checkpoint.tokenizer)


def model_weights(checkpoint, text: str) -> torch.Tensor:
    """The model's own attention weights (L, H, T, T) on ``text``."""
    ids = torch.tensor([checkpoint.tokenizer.encode(text)])
    with torch.no_grad():
        out = checkpoint.model(ids, return_attention=True)
    return torch.stack([layer[0] for layer in out.attentions])


def shown_text(view: AttentionExplorer) -> str:
    """The view's HTML with entities decoded (quotes and arrows as typed)."""
    return html.unescape(view.output.value)


def shown_query(view: AttentionExplorer) -> int:
    return int(re.search(r'data-query="(\d+)"', view.output.value).group(1))


def test_view_has_course_classes_and_saves_its_picture(view):
    assert CONTAINER_CLASS in view._dom_classes and "course-attention-explorer" in view._dom_classes
    assert OUTPUT_CLASS in view.output._dom_classes
    saved_html = [
        s["state"].get("value") for s in dependency_state(view).values() if s["model_name"] == "HTMLModel"
    ]
    assert view.output.value in saved_html
    for forbidden in ("<script", "http://", "https://"):
        assert forbidden not in view.output.value
    assert view.length == len(DEFAULT_TEXT) and view.query.value == len(DEFAULT_TEXT) - 1
    assert view.output.value.count("<tr") == len(DEFAULT_TEXT) + 1  # header row + one row per query


def test_scores_reproduce_the_model_s_own_attention(checkpoint):
    ids = torch.tensor(checkpoint.tokenizer.encode(DEFAULT_TEXT))
    scores = attention_scores(checkpoint.model, ids)  # (L, H, T, T)
    torch.testing.assert_close(scores.softmax(dim=-1), model_weights(checkpoint, DEFAULT_TEXT))
    assert torch.isinf(scores[0, 0, 0, 1:]).all()  # causal: position 0 cannot see later positions


def test_every_layer_and_head_is_the_model_s_map_at_temperature_one(view, checkpoint):
    weights = model_weights(checkpoint, DEFAULT_TEXT)
    for layer in range(weights.shape[0]):
        for head in range(weights.shape[1]):
            view.layer.value, view.head.value = layer, head
            torch.testing.assert_close(view.current_map(), weights[layer, head])
            assert f"layer {layer} of 2 · head {head} of 4" in view.output.value


def test_temperature_sharpens_and_spreads_without_running_the_model(view):
    scores = view.scores
    maxima = {}
    for temperature in (0.25, 1.0, 3.0):
        before = view.output.value
        view.temperature.value = temperature
        assert view.output.value != before
        maxima[temperature] = view.query_weights().max().item()
    assert view.scores is scores  # only a softmax was recomputed
    assert maxima[0.25] > maxima[1.0] > maxima[3.0]
    assert abs(view.query_weights().sum().item() - 1) < 1e-5


def test_query_slider_moves_the_outline_and_hides_the_future(view):
    view.query.value = 4
    assert shown_query(view) == 4
    weights = view.query_weights()
    assert weights[5:].sum() == 0 and abs(weights[:5].sum().item() - 1) < 1e-5
    assert view.output.value.count("future: not visible") == view.length - 5
    assert f"query 4 ('{DEFAULT_TEXT[4]}')" in shown_text(view)


def test_new_text_reruns_the_model_and_resets_the_query(view, checkpoint):
    view.text.value = "import math"
    assert view.length == 11 and view.query.max == 10 and view.query.value == 10
    assert shown_query(view) == 10
    torch.testing.assert_close(view.current_map(), model_weights(checkpoint, "import math")[0, 0])
    view.text.value = "x = 1"
    assert view.query.max == 4 and view.query.value == 4


def test_long_text_keeps_the_last_block_size_characters(view):
    view.text.value = LONG_TEXT
    assert view.length == 64 and "".join(view.characters) == LONG_TEXT[-64:]
    assert f"Showing the last 64 of {len(LONG_TEXT)} characters" in view.output.value
    view.text.value = "short"
    assert "Showing the last" not in view.output.value


def test_unknown_characters_are_reported_in_the_view(view):
    scores = view.scores
    view.text.value = "naïve → ok"
    assert "never seen 'ï' '→'" in shown_text(view)
    assert "Still showing the last valid text" in view.output.value
    assert view.scores is scores  # the last valid text is still shown
    view.text.value = ""
    assert "Type at least one character" in view.output.value
    view.text.value = "ok"
    assert "never seen" not in view.output.value and view.length == 2


def test_static_figure_shows_the_selected_map(view):
    view.head.value, view.query.value, view.temperature.value = 2, 7, 0.5
    fig = view.static_figure()
    assert isinstance(fig, Figure)
    heatmap = torch.tensor(fig.axes[0].images[0].get_array())
    torch.testing.assert_close(heatmap, view.current_map())
    assert "query 7" in fig.texts[0].get_text() and "temperature 0.50" in fig.texts[0].get_text()


def test_bad_arguments_say_what_to_do(checkpoint):
    model, tokenizer = checkpoint.model, checkpoint.tokenizer
    with pytest.raises(CourseInputError, match=r"head must be an integer from 0 to 3, got 4"):
        AttentionExplorer(model, tokenizer, head=4)
    with pytest.raises(CourseInputError, match=r"temperature must be in \[0.1, 4.0\], got 0"):
        AttentionExplorer(model, tokenizer, temperature=0)
    with pytest.raises(CourseInputError, match=r"text must be .* never seen 'é'"):
        AttentionExplorer(model, tokenizer, text="café")
    with pytest.raises(CourseInputError, match=r"query must be an integer from 0 to 2, got 3"):
        AttentionExplorer(model, tokenizer, text="abc", query=3)
    with pytest.raises(CourseInputError, match=r"model must be a DecoderOnlyLM, got Linear"):
        AttentionExplorer(torch.nn.Linear(2, 2), tokenizer)


def test_controls_answer_within_100_ms_at_full_context(view):
    view.text.value = LONG_TEXT  # 64 characters: the biggest map
    timings = {
        "temperature": median_update_ms(view, view.temperature, [0.5, 1.5, 0.8, 2.0] * 3),
        "query": median_update_ms(view, view.query, [10, 40, 63, 20] * 3),
        "head": median_update_ms(view, view.head, [1, 2, 3, 0] * 3),
        "layer": median_update_ms(view, view.layer, [1, 0] * 6),
    }
    print("AttentionExplorer median update (ms):", {k: round(v, 1) for k, v in timings.items()})
    assert max(timings.values()) < 100, timings
