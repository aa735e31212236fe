"""StepThroughGenerator: drive it from Python on the shipped character GPT and on a real pretrained model
(SmolLM2-135M-Instruct); what it shows, how fast."""

import matplotlib

matplotlib.use("Agg")

import html
import re

import pytest
import torch
from ipywidgets.embed import dependency_state
from matplotlib.figure import Figure
from widget_timing import median_ms

from course_lib.checkpoints import load_checkpoint
from course_lib.data import DATA_DIR
from course_lib.decoding import generate
from course_lib.pretrained_lm import load_smollm2
from course_lib.validation import CourseInputError
from course_lib.widgets import CONTAINER_CLASS, OUTPUT_CLASS, StepThroughGenerator
from course_lib.widgets._common import CHECKPOINT_NAME
from course_lib.widgets.step_through import DEFAULT_PROMPT

WRONG_MODEL = r"model must be a DecoderOnlyLM or a PretrainedLM, got Linear"


@pytest.fixture(scope="module")
def checkpoint():
    return load_checkpoint(DATA_DIR / "checkpoints" / CHECKPOINT_NAME)


@pytest.fixture
def view(checkpoint):
    return StepThroughGenerator(checkpoint.model, checkpoint.tokenizer)


def greedy_text(checkpoint, prompt: str, n: int) -> str:
    ids = torch.tensor([checkpoint.tokenizer.encode(prompt)])
    return checkpoint.tokenizer.decode(
        generate(checkpoint.model, ids, n, strategy="greedy", use_cache=False)[0]
    )


def shown_length(view: StepThroughGenerator) -> int:
    return int(re.search(r'data-length="(\d+)"', view.output.value).group(1))


def test_view_has_course_classes_and_saves_its_picture(view):
    assert CONTAINER_CLASS in view._dom_classes and "course-step-through" in view._dom_classes
    assert OUTPUT_CLASS in view.output._dom_classes
    saved_html = [
        s["state"].get("value") for s in dependency_state(view).values() if s["model_name"] == "HTMLModel"
    ]
    assert view.output.value in saved_html
    for forbidden in ("<script", "http://", "https://"):
        assert forbidden not in view.output.value
    assert view.text == DEFAULT_PROMPT and shown_length(view) == len(DEFAULT_PROMPT)
    assert view.back_button.disabled  # nothing to undo yet
    assert view.output.value.count('class="course-kept"') == view.top  # one bar per candidate


def test_next_token_follows_greedy_generate_and_back_undoes_it(view, checkpoint):
    for _ in range(5):
        view.next_button.click()
    assert view.text == greedy_text(checkpoint, DEFAULT_PROMPT, 5)
    assert shown_length(view) == len(DEFAULT_PROMPT) + 5 and "step 5 (greedy)" in view.output.value
    assert not view.back_button.disabled
    assert html.unescape(view.output.value).count("text-decoration: underline") == 5  # the generated ones
    view.back_button.click()
    assert view.text == greedy_text(checkpoint, DEFAULT_PROMPT, 4)
    for _ in range(10):
        view.back_button.click()
    assert view.text == DEFAULT_PROMPT and view.back_button.disabled


def test_distribution_and_attention_are_the_model_s_own(view, checkpoint):
    view.next_token()
    ids = torch.tensor([checkpoint.tokenizer.encode(view.text)])
    with torch.no_grad():
        out = checkpoint.model(ids, return_attention=True)
    torch.testing.assert_close(view.step.probs, out.logits[0, -1].softmax(-1))
    assert view.step.choice == int(out.logits[0, -1].argmax())
    for layer in range(2):
        for head in range(4):
            view.layer.value, view.head.value = layer, head
            torch.testing.assert_close(view.attention_row(), out.attentions[layer][0, head, -1])
            assert f"layer {layer} of 2 · head {head} of 4" in view.output.value


def test_layer_and_head_redraw_without_running_the_model(view):
    step = view.step
    before = view.output.value
    view.head.value = 2
    assert view.output.value != before and view.step is step


def test_past_the_context_the_model_sees_the_last_block_size_tokens(checkpoint):
    view = StepThroughGenerator(checkpoint.model, checkpoint.tokenizer, prompt="x" * 60, steps=10)
    assert len(view.step.ids) == 70 and view.step.context_start == 6
    assert view.attention_row().shape == (64,)
    assert view.output.value.count("outside the context: not seen") == 6
    assert "older than the model's 64-character context" in view.output.value


def test_a_new_prompt_starts_again_and_unknown_characters_are_reported(view):
    view.next_token()
    view.prompt.value = "import math"
    assert view.text == "import math" and view.back_button.disabled
    step = view.step
    view.prompt.value = "naïve → ok"
    shown = html.unescape(view.output.value)
    assert "never seen 'ï' '→'" in shown and "Still showing the last valid prompt" in shown
    assert view.step is step
    view.prompt.value = ""
    assert "Type at least one character" in view.output.value
    view.next_token()  # still works, from the last valid prompt
    assert view.text.startswith("import math") and "never seen" not in view.output.value


def test_static_figure_shows_attention_and_candidates(checkpoint):
    view = StepThroughGenerator(checkpoint.model, checkpoint.tokenizer, steps=3, layer=1, head=2)
    fig = view.static_figure()
    assert isinstance(fig, Figure)
    heights = torch.tensor([bar.get_height() for bar in fig.axes[0].patches])
    torch.testing.assert_close(heights.float(), view.attention_row())
    assert "step 3 (greedy) · layer 1 of 2 · head 2 of 4" in fig.texts[0].get_text()
    assert "greedy picks" in fig.axes[1].get_title()


def test_bad_arguments_say_what_to_do(checkpoint):
    model, tokenizer = checkpoint.model, checkpoint.tokenizer
    with pytest.raises(CourseInputError, match=r"head must be an integer from 0 to 3, got 4"):
        StepThroughGenerator(model, tokenizer, head=4)
    with pytest.raises(CourseInputError, match=r"prompt must be .* never seen 'é'"):
        StepThroughGenerator(model, tokenizer, prompt="café")
    with pytest.raises(CourseInputError, match=r"steps must be an integer >= 0, got -1"):
        StepThroughGenerator(model, tokenizer, steps=-1)
    with pytest.raises(CourseInputError, match=WRONG_MODEL):
        StepThroughGenerator(torch.nn.Linear(2, 2), tokenizer)


def test_controls_answer_within_100_ms_at_full_context(checkpoint):
    view = StepThroughGenerator(checkpoint.model, checkpoint.tokenizer, prompt="a" * 64)  # a full context
    values = iter([1, 0] * 20)
    timings = {
        "next token": median_ms(view.next_button.click, 12),
        "back": median_ms(view.back_button.click, 6),
        "head": median_ms(lambda: setattr(view.head, "value", next(values)), 12),
    }
    print("StepThroughGenerator median update (ms):", {k: round(v, 1) for k, v in timings.items()})
    assert max(timings.values()) < 100, timings


# ------------------------------------------------------------------------------------------------------------
# The same widget on a real pretrained model: a BPE tokenizer, 30 layers of 9 heads
# ------------------------------------------------------------------------------------------------------------

REAL_PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def smollm2():
    return load_smollm2()


def test_real_model_steps_through_greedy_generate_token_by_token(smollm2):
    model, tokenizer = smollm2
    view = StepThroughGenerator(model, tokenizer, prompt=REAL_PROMPT, layer=29, head=8)
    assert shown_length(view) == 5 and view.output.value.count('class="course-kept"') == view.top
    assert "Greedy picks <b" in view.output.value and "␣Paris" in view.output.value
    for _ in range(3):
        view.next_button.click()
    prompt_ids = torch.tensor([tokenizer.encode(REAL_PROMPT)])
    assert view.step.ids == generate(model, prompt_ids, 3, strategy="greedy")[0].tolist()
    assert view.text.startswith(REAL_PROMPT + " Paris") and shown_length(view) == 8  # tokens, not characters
    assert view.step.attention.shape == (30, 9, 8)
    assert "step 3 (greedy) · layer 29 of 30 · head 8 of 9" in view.output.value
    assert "looks at each token" in view.output.value and "thin lines: token boundaries" in view.output.value
    assert view.output.value.count("border-right: 1px solid") == 8  # one boundary per token
    before = view.output.value
    view.head.value = 0
    assert view.output.value != before
    view.back_button.click()
    assert len(view.step.ids) == 7
    fig = view.static_figure()
    assert [label.get_text() for label in fig.axes[0].get_xticklabels()][:2] == ["The", "␣capital"]
    view.prompt.value = "naïve → ok"  # a byte-level BPE tokenizer encodes any text
    assert view.text == "naïve → ok" and "never seen" not in view.output.value


def test_real_model_needs_its_own_tokenizer(smollm2, checkpoint):
    message = r"tokenizer must be a PretrainedTokenizer \(for a PretrainedLM\), got CharTokenizer"
    with pytest.raises(CourseInputError, match=message):
        StepThroughGenerator(smollm2[0], checkpoint.tokenizer)
    with pytest.raises(CourseInputError, match=r"head must be an integer from 0 to 8, got 9"):
        StepThroughGenerator(*smollm2, head=9)


def test_real_model_sliders_answer_within_100_ms(smollm2):
    view = StepThroughGenerator(*smollm2, prompt=REAL_PROMPT, steps=3)
    values = iter([1, 0] * 20)
    timings = {
        "next token": median_ms(view.next_button.click, 3),
        "back": median_ms(view.back_button.click, 3),
        "head": median_ms(lambda: setattr(view.head, "value", next(values)), 8),
        "layer": median_ms(lambda: setattr(view.layer, "value", next(values)), 8),
    }
    print(
        "StepThroughGenerator on SmolLM2-135M, median update (ms):", {k: round(v) for k, v in timings.items()}
    )
    # sliders only redraw; "next token" runs the 135M model once on the whole sequence (a button)
    assert max(timings["head"], timings["layer"], timings["back"]) < 100, timings
