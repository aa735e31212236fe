"""CrossAttentionExplorer: driven from Python on the shipped encoder-decoder; what it shows, how fast."""

import matplotlib

matplotlib.use("Agg")

import html
import statistics
import time

import pytest
import torch
from matplotlib.figure import Figure

from course_lib.checkpoints import load_checkpoint
from course_lib.data import DATA_DIR
from course_lib.tasks import Seq2SeqVocab, predict
from course_lib.validation import CourseInputError
from course_lib.widgets import CONTAINER_CLASS, OUTPUT_CLASS, CrossAttentionExplorer

SOURCES = ["Tue 3 March 2020", "3/4/2021", "Mar 3, 2020"]


@pytest.fixture(scope="module")
def checkpoint():
    return load_checkpoint(DATA_DIR / "checkpoints" / "dates_encoder_decoder")


@pytest.fixture(scope="module")
def vocab(checkpoint):
    return Seq2SeqVocab.from_tokenizer(checkpoint.tokenizer)


@pytest.fixture
def view(checkpoint, vocab):
    return CrossAttentionExplorer(checkpoint.model, vocab, sources=SOURCES)


def shown(view) -> str:
    return html.unescape(view.output.value)


def test_view_has_course_classes_and_no_script(view):
    assert CONTAINER_CLASS in view._dom_classes and "course-cross-attention" in view._dom_classes
    assert OUTPUT_CLASS in view.output._dom_classes
    for forbidden in ("<script", "http://", "https://"):
        assert forbidden not in view.output.value


def test_maps_are_the_models_own_attention_with_the_right_shapes(view, checkpoint, vocab):
    answer = predict(checkpoint.model, [SOURCES[0]], vocab=vocab)[0]
    assert view.answer == answer == "2020-03-03"
    src = torch.tensor([vocab.encode(SOURCES[0])])
    tgt_in = torch.tensor([[vocab.bos_id, *vocab.encode(answer)]])
    with torch.no_grad():
        out = checkpoint.model(src, tgt_in, return_attention=True)
    view.layer.value, view.head.value = 1, 2
    maps = view.current_maps()
    S, T = len(SOURCES[0]), len(answer) + 1
    assert (
        maps["encoder"].shape == (S, S) and maps["decoder"].shape == (T, T) and maps["cross"].shape == (T, S)
    )
    assert torch.allclose(maps["cross"], out.cross_attentions[1][0, 2])
    assert torch.allclose(maps["encoder"], out.encoder_attentions[1][0, 2])
    assert torch.equal(maps["decoder"].triu(1), torch.zeros(T, T))  # causal: nothing above the diagonal
    assert torch.allclose(maps["cross"].sum(-1), torch.ones(T))


def test_moving_each_control_changes_the_picture(view):
    before = view.output.value
    view.step.value = 9
    assert "step 9 reads '0' and writes '3'" in shown(view) and 'data-step="9"' in view.output.value
    assert torch.equal(view.step_alignment(), view.current_maps()["cross"][9])
    after_step = view.output.value
    view.head.value = 3
    assert view.output.value != after_step and "head 3 of 4" in shown(view)
    view.layer.value = 1
    assert "layer 1 of 2" in shown(view)
    view.example.value = 1  # another example: its own answer and maps, the step kept in range
    assert "3/4/2021 → 2021-04-03" in shown(view) and view.step.value <= view.step.max
    assert view.output.value != before


def test_day_digits_read_the_day(view):
    """The last layer's cross-attention, averaged over heads, puts most weight on the day when the model
    writes the day's last digit (step 9), for a source where the day is a single '3'."""
    view.layer.value, view.step.value = 1, 9
    weights = view.weights["cross"][1, :, 9].mean(0)  # (S,)
    assert SOURCES[0][int(weights.argmax())] == "3"


def test_static_figure_draws_three_maps(view):
    fig = view.static_figure()
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert "cross-attention" in fig.axes[2].get_title()


def test_a_control_change_takes_under_100_ms(view):
    timings = []
    for step in [*range(11), *range(10, -1, -1)]:
        start = time.perf_counter()
        view.step.value = step
        view.head.value = step % 4
        view.example.value = step % len(SOURCES)
        timings.append((time.perf_counter() - start) / 3)
    median = statistics.median(timings) * 1000
    print(
        f"CrossAttentionExplorer: median {median:.1f} ms per control change, "
        f"worst {max(timings) * 1000:.1f} ms"
    )
    assert median < 100


def test_errors_name_the_argument(checkpoint, vocab):
    with pytest.raises(CourseInputError, match="model must be an EncoderDecoderLM"):
        CrossAttentionExplorer(torch.nn.Linear(2, 2), vocab, sources=SOURCES)
    with pytest.raises(CourseInputError, match="sources must be a non-empty list"):
        CrossAttentionExplorer(checkpoint.model, vocab, sources="3/4/2021")
    with pytest.raises(CourseInputError, match=r"unknown character\(s\) 'f', 'é'"):
        CrossAttentionExplorer(checkpoint.model, vocab, sources=["3 févr 2020"])
    with pytest.raises(CourseInputError, match="layer must be an integer from 0 to 1, got 2"):
        CrossAttentionExplorer(checkpoint.model, vocab, sources=SOURCES, layer=2)
    with pytest.raises(CourseInputError, match="step must be an integer from 0 to 10, got 11"):
        CrossAttentionExplorer(checkpoint.model, vocab, sources=SOURCES, step=11)
