"""SamplingPlayground: drive it from Python on the shipped character GPT and on a real pretrained model
(SmolLM2-135M-Instruct), check what it shows and how fast."""

import matplotlib

matplotlib.use("Agg")

import html
import time

import pytest
import torch
from ipywidgets.embed import dependency_state
from matplotlib.figure import Figure
from widget_timing import median_update_ms

from course_lib.checkpoints import load_checkpoint
from course_lib.data import DATA_DIR
from course_lib.decoding import generate
from course_lib.pretrained_lm import load_smollm2
from course_lib.validation import CourseInputError
from course_lib.widgets import CONTAINER_CLASS, OUTPUT_CLASS, SamplingPlayground
from course_lib.widgets.sampling_playground import (
    CHECKPOINT_NAME,
    CONTINUATION_CHARS,
    CONTINUATION_TOKENS,
    DEFAULT_PROMPT,
    MANY_CONTINUATIONS,
    MAX_PROMPT_CHARS,
    SHOWN_CONTINUATIONS,
    continuation_log_likelihood,
    distinct_n,
    sample_continuations,
)

WRONG_MODEL = r"model must be a DecoderOnlyLM or a PretrainedLM, got Linear"


@pytest.fixture(scope="module")
def checkpoint():
    return load_checkpoint(DATA_DIR / "checkpoints" / CHECKPOINT_NAME)


@pytest.fixture
def view(checkpoint):
    return SamplingPlayground(checkpoint.model, checkpoint.tokenizer)


def test_distinct_n_counts_n_grams_within_each_text() -> None:
    assert distinct_n(["abab"], 2) == pytest.approx(2 / 3)  # ab, ba, ab
    assert distinct_n(["ab", "ab"], 2) == 0.5
    assert distinct_n(["ab", "cd"], 1) == 1.0
    assert distinct_n(["a", ""], 2) == 0.0  # no 2-gram at all
    assert distinct_n(["ab", "c"], 2) == 1.0  # no 2-gram "bc" across the two texts
    with pytest.raises(CourseInputError, match="n must be an integer >= 1"):
        distinct_n(["ab"], 0)


def test_log_likelihood_is_the_sum_of_each_step_s_log_probability(checkpoint):
    model, tokenizer = checkpoint.model, checkpoint.tokenizer
    ids = torch.tensor([tokenizer.encode("def f(x):")])
    total = 0.0
    with torch.no_grad():
        for t in range(4, ids.size(1)):
            total += model(ids[:, :t]).logits[0, -1].log_softmax(-1)[ids[0, t]].item()
    assert continuation_log_likelihood(model, ids, 4).item() == pytest.approx(total, abs=1e-4)


def test_continuations_are_generate_s_tokens_in_one_batch(checkpoint):
    model, tokenizer = checkpoint.model, checkpoint.tokenizer
    drawn = sample_continuations(model, tokenizer, DEFAULT_PROMPT, n=3, seed=5, top_k=10)
    ids = generate(
        model, torch.tensor([tokenizer.encode(DEFAULT_PROMPT)] * 3), CONTINUATION_CHARS, seed=5, top_k=10
    )
    assert drawn.texts == [tokenizer.decode(row[len(DEFAULT_PROMPT) :]) for row in ids]
    assert drawn.log_likelihood.shape == (3,) and (drawn.log_likelihood < 0).all()


def test_view_has_course_classes_and_saves_its_picture(view):
    assert CONTAINER_CLASS in view._dom_classes and "course-sampling-playground" in view._dom_classes
    assert OUTPUT_CLASS in view.output._dom_classes
    saved = [
        s["state"].get("value") for s in dependency_state(view).values() if s["model_name"] == "HTMLModel"
    ]
    assert view.output.value in saved
    for forbidden in ("<script", "http://", "https://"):
        assert forbidden not in view.output.value
    assert view.output.value.count('class="course-continuation"') == SHOWN_CONTINUATIONS
    assert view.kept == 103 and torch.equal(view.probs, view.before)  # no filter on: nothing removed


def test_truncation_shows_full_kept_and_renormalised_probabilities(view):
    view.top_k.value = 3
    assert view.kept == 3 and view.output.value.count('class="course-kept"') == 3
    kept = view.probs > 0
    torch.testing.assert_close(view.probs[kept], view.before[kept] / view.before[kept].sum())
    assert "removed (was" in view.output.value
    view.top_k.value, view.top_p.value = 0, 0.5
    assert view.kept == int(
        (
            view.before.sort(descending=True).values.cumsum(0) - view.before.sort(descending=True).values
            < 0.5
        ).sum()
    )
    view.top_p.value, view.min_p.value = 1.0, 0.2
    assert (view.probs[view.probs > 0] >= 0.2 * view.probs.max() * 0.999).all()


def test_edge_cases_behave_sensibly(view):
    greedy_text = sample_continuations(
        view.model, view.tokenizer, DEFAULT_PROMPT, n=1, strategy="greedy"
    ).texts[0]
    for setting in ({"temperature": 0.0}, {"top_k": 1}, {"strategy": "greedy"}):
        view.temperature.value, view.top_k.value, view.strategy.value = 1.0, 0, "sample"
        for name, value in setting.items():
            getattr(view, name).value = value
        assert view.kept == 1 and view.continuations.texts == [greedy_text] * SHOWN_CONTINUATIONS
        assert "all the same" in view.output.value
        assert ("Greedy ignores" in view.output.value) == (view.strategy.value == "greedy")
    view.strategy.value, view.top_k.value, view.temperature.value = "sample", 0, 1.0
    view.top_p.value, view.min_p.value = 1.0, 0.0  # both off: every token stays
    assert view.kept == 103


def test_seed_and_penalty_change_the_continuations(view):
    first = view.continuations.texts
    view.seed.value = 1
    assert view.continuations.texts != first
    view.seed.value = 0
    assert view.continuations.texts == first  # the same seed draws the same texts
    view.strategy.value = "greedy"
    looping = view.continuations.texts[0]
    view.repetition_penalty.value = 1.3
    assert view.continuations.texts[0] != looping and "penalty=1.30" in view.output.value


def test_prompt_box_reports_problems_and_keeps_the_last_valid_prompt(view):
    view.prompt.value = "import "
    assert view.used_prompt == "import " and "import␣" in view.output.value
    view.prompt.value = "naïve"
    assert "never seen 'ï'" in html.unescape(view.output.value) and view.used_prompt == "import "
    view.prompt.value = "x" * 30
    assert view.used_prompt == "x" * MAX_PROMPT_CHARS and "last 24 of 30" in view.output.value


def test_sample_many_adds_a_point_with_the_trade_off(view):
    view.temperature.value = 0.3
    view.sample_many.click()
    view.temperature.value = 1.5
    start = time.perf_counter()
    view.sample_many.click()
    seconds = time.perf_counter() - start
    print(f"SamplingPlayground sample many ({MANY_CONTINUATIONS} continuations): {seconds:.2f} s")
    assert seconds < 2.0  # a button may take longer than a slider, but not long enough to look broken
    cold, hot = view.points
    assert cold.label == "sample T=0.30" and hot.label == "sample T=1.50"
    assert hot.distinct_2 > cold.distinct_2 and hot.log_likelihood_per_char < cold.log_likelihood_per_char
    assert (
        f"{MANY_CONTINUATIONS} continuations" in view.output.value and "course-trade-off" in view.output.value
    )
    fig = view.static_figure()
    assert isinstance(fig, Figure) and len(fig.axes[1].collections) == 2


def test_bad_arguments_say_what_to_do(checkpoint):
    model, tokenizer = checkpoint.model, checkpoint.tokenizer
    with pytest.raises(CourseInputError, match=r"top_p must be in \[0.01, 1.0\], got 0"):
        SamplingPlayground(model, tokenizer, top_p=0)
    with pytest.raises(CourseInputError, match=r"strategy must be 'sample' or 'greedy', got 'beam'"):
        SamplingPlayground(model, tokenizer, strategy="beam")
    with pytest.raises(CourseInputError, match=r"prompt must be .* never seen 'é'"):
        SamplingPlayground(model, tokenizer, prompt="café")
    with pytest.raises(CourseInputError, match=WRONG_MODEL):
        SamplingPlayground(torch.nn.Linear(2, 2), tokenizer)


def test_controls_answer_within_100_ms(view):
    timings = {
        "temperature": median_update_ms(view, view.temperature, [0.5, 1.5, 0.8, 1.2] * 2),
        "top-k": median_update_ms(view, view.top_k, [5, 20, 1, 40] * 2),
        "top-p": median_update_ms(view, view.top_p, [0.5, 0.9, 0.3, 0.7] * 2),
        "min-p": median_update_ms(view, view.min_p, [0.05, 0.2, 0.1, 0.0] * 2),
        "penalty": median_update_ms(view, view.repetition_penalty, [1.2, 1.5, 1.1, 1.0] * 2),
        "seed": median_update_ms(view, view.seed, [1, 2, 3, 4] * 2),
        "strategy": median_update_ms(view, view.strategy, ["greedy", "sample"] * 4),
        "prompt": median_update_ms(
            view, view.prompt, ["import ", "def f(x):", "Return the ", "The function "] * 2
        ),
    }
    print("SamplingPlayground median update (ms):", {k: round(v, 1) for k, v in timings.items()})
    assert max(timings.values()) < 100, timings


# ------------------------------------------------------------------------------------------------------------
# The same widget on a real pretrained model: sliders re-filter, a button draws the continuations
# ------------------------------------------------------------------------------------------------------------

REAL_PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def smollm2():
    return load_smollm2()


@pytest.fixture(scope="module")
def real_view(smollm2):
    return SamplingPlayground(*smollm2, prompt=REAL_PROMPT, top_k=50)


def test_real_model_continuations_are_sliced_by_tokens(smollm2):
    model, tokenizer = smollm2
    drawn = sample_continuations(model, tokenizer, REAL_PROMPT, n=2, length=4, seed=3, top_k=20)
    ids = generate(model, torch.tensor([tokenizer.encode(REAL_PROMPT)] * 2), 4, seed=3, top_k=20)
    assert len(REAL_PROMPT) == 24 and ids.size(1) == 5 + 4  # 24 characters are 5 tokens
    assert drawn.texts == [tokenizer.decode(row[5:]) for row in ids]
    assert drawn.log_likelihood.shape == (2,) and (drawn.log_likelihood < 0).all()


def test_real_model_sliders_refilter_and_the_button_draws(real_view, smollm2):
    view = real_view
    assert view.top_k.max == 200 and view.kept <= 50
    assert "Next token after" in view.output.value and "␣Paris" in view.output.value
    assert f"continuations</b> of {CONTINUATION_TOKENS} tokens" in view.output.value
    assert view.output.value.count('class="course-continuation"') == SHOWN_CONTINUATIONS
    drawn = view.continuations
    view.top_k.value = 1
    assert view.kept == 1 and view.continuations is drawn  # the distribution follows at once ...
    assert "course-stale" in view.output.value  # ... and the continuations say they are out of date
    view.draw_button.click()
    assert "course-stale" not in view.output.value and "all the same" in view.output.value
    again = sample_continuations(
        *smollm2, REAL_PROMPT, n=SHOWN_CONTINUATIONS, length=CONTINUATION_TOKENS, top_k=1
    )
    assert view.continuations.texts == again.texts
    view.top_k.value = 50
    view.prompt.value = " ".join(["word"] * 40)  # 40 tokens ("word", then " word"): the last 24 are kept
    assert "Using the last 24 of 40 tokens" in view.output.value
    assert view.prompt_ids.size(1) == MAX_PROMPT_CHARS
    view.prompt.value = REAL_PROMPT
    fig = view.static_figure()
    assert "next token after" in fig.axes[0].get_title()


def test_real_model_controls_timed(real_view):
    view = real_view
    timings = {
        "temperature": median_update_ms(view, view.temperature, [0.5, 1.5, 0.8, 1.2] * 2),
        "top-k": median_update_ms(view, view.top_k, [5, 20, 1, 40] * 2),
        "top-p": median_update_ms(view, view.top_p, [0.5, 0.9, 0.3, 0.7] * 2),
        "min-p": median_update_ms(view, view.min_p, [0.05, 0.2, 0.1, 0.0] * 2),
        "penalty": median_update_ms(view, view.repetition_penalty, [1.2, 1.5, 1.1, 1.0] * 2),
        "seed": median_update_ms(view, view.seed, [1, 2, 3, 4] * 2),
        "strategy": median_update_ms(view, view.strategy, ["greedy", "sample"] * 4),
    }
    buttons = {}
    for name, button in (("draw continuations", view.draw_button), ("sample many", view.sample_many)):
        start = time.perf_counter()
        button.click()
        buttons[name] = time.perf_counter() - start
    print(
        "SamplingPlayground on SmolLM2-135M, median slider update (ms):",
        {k: round(v) for k, v in timings.items()},
    )
    print("  buttons (s):", {k: round(v, 1) for k, v in buttons.items()})
    assert max(timings.values()) < 100, timings
    assert view.points and view.points[-1].label == view.settings_label()
    assert "log-likelihood per token" in view.output.value
