"""Tests for course_lib.widgets: drive each view from Python, check what it renders and how fast."""

import matplotlib

matplotlib.use("Agg")

import re

import ipywidgets
import pytest
import torch
from ipywidgets.embed import dependency_state
from matplotlib.figure import Figure
from widget_timing import median_update_ms

from course_lib.architecture import (
    format_bytes,
    format_count,
    kv_cache_bytes,
    parameter_count,
    preset,
)
from course_lib.configs import DecoderOnlyConfig
from course_lib.models import DecoderOnlyLM
from course_lib.validation import CourseInputError
from course_lib.widgets import (
    CONTAINER_CLASS,
    OUTPUT_CLASS,
    ArchitectureExplorer,
    AttentionMapWidget,
    SamplingWidget,
    TemperaturePreview,
)

VOCAB = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [" ", ".", ",", "\n"]  # 30 labels


def random_logits(v: int = len(VOCAB), seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.randn(v) * 2


def attention_weights(n_layer: int = 2, n_head: int = 3, t: int = 6, seed: int = 0) -> torch.Tensor:
    """Random causal attention weights (L, H, T, T) whose rows sum to 1."""
    torch.manual_seed(seed)
    scores = torch.randn(n_layer, n_head, t, t) * 2
    scores = scores.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), float("-inf"))
    return scores.softmax(dim=-1)


def bar_widths(html: str) -> list[float]:
    """Widths (in % of a full bar) of the coloured probability bars, top row first."""
    return [float(w) for w in re.findall(r'class="course-bar" style="[^"]*width: ([\d.]+)%', html)]


def row_classes(html: str) -> list[str]:
    return re.findall(r'<tr class="(course-kept|course-removed|course-zero)"', html)


def assert_course_widget(view: ipywidgets.Widget, kind: str) -> None:
    """Stable CSS classes for browser tests, and state that survives saving without a kernel."""
    assert CONTAINER_CLASS in view._dom_classes and f"course-{kind}" in view._dom_classes
    assert OUTPUT_CLASS in view.output._dom_classes
    assert view.output in view.children
    models = {state["model_name"] for state in dependency_state(view).values()}
    assert "OutputModel" not in models  # Output widgets do not restore without a kernel
    saved_html = [
        s["state"].get("value") for s in dependency_state(view).values() if s["model_name"] == "HTMLModel"
    ]
    assert view.output.value in saved_html
    for forbidden in ("<script", "http://", "https://"):
        assert forbidden not in view.output.value


# ---------------------------------------------------------------- TemperaturePreview


def test_temperature_preview_renders_and_sharpens():
    view = TemperaturePreview()
    assert_course_widget(view, "temperature-preview")
    widths = bar_widths(view.output.value)
    assert len(widths) == len(TemperaturePreview.CHARACTERS)
    assert widths == sorted(widths, reverse=True)
    assert abs(sum(widths) - 100) < 0.1

    view.temperature.value = 0.05
    assert bar_widths(view.output.value)[0] > 99.9  # almost always 'e'
    assert "temperature 0.05" in view.output.value
    view.temperature.value = 3.0
    flat = bar_widths(view.output.value)
    assert flat[0] < widths[0] and flat[-1] > widths[-1]


def test_temperature_preview_static_figure_and_errors():
    fig = TemperaturePreview(temperature=0.5).static_figure()
    assert isinstance(fig, Figure)
    assert "temperature 0.50" in fig.axes[0].get_title()
    assert len(fig.axes[0].patches) == len(TemperaturePreview.CHARACTERS)
    with pytest.raises(CourseInputError, match=r"temperature must be in \[0.05, 3.0\], got 0"):
        TemperaturePreview(temperature=0)


# ---------------------------------------------------------------- SamplingWidget


def test_sampling_widget_defaults_keep_every_token():
    view = SamplingWidget(random_logits(), VOCAB)
    assert_course_widget(view, "sampling")
    torch.testing.assert_close(view.probs, random_logits().softmax(-1))
    assert view.kept == len(VOCAB)
    assert f'<b class="course-kept-count">{len(VOCAB)}</b> of {len(VOCAB)} tokens' in view.output.value
    assert row_classes(view.output.value) == ["course-kept"] * 20  # max_rows
    assert "10 less likely tokens not shown" in view.output.value
    assert "↵" in view.output.value or "␣" in view.output.value  # whitespace tokens are visible


def test_sampling_widget_low_temperature_puts_everything_on_the_top_token():
    logits = random_logits()
    view = SamplingWidget(logits, VOCAB)
    view.temperature.value = 0.05
    assert bar_widths(view.output.value)[0] > 99.9
    view.temperature.value = 0.0  # greedy
    assert view.kept == 1
    assert view.probs[logits.argmax()] == 1.0
    assert "entropy <b>0.00 bits</b>" in view.output.value


def test_sampling_widget_top_k_keeps_exactly_k_tokens():
    logits = random_logits()
    view = SamplingWidget(logits, VOCAB)
    view.top_k.value = 3
    html = view.output.value
    assert view.kept == 3 and 'data-kept="3"' in html
    assert row_classes(html) == ["course-kept"] * 3 + ["course-removed"] * 17
    assert re.search(r"removed \(was [\d.]+%\)", html)
    kept_ids = set(torch.nonzero(view.probs).flatten().tolist())
    assert kept_ids == set(torch.topk(logits, 3).indices.tolist())
    assert abs(sum(bar_widths(html)) - 100) < 0.1  # the 3 survivors share all the probability


def test_sampling_widget_top_p_and_min_p():
    logits = random_logits()
    before = logits.softmax(-1)
    view = SamplingWidget(logits, VOCAB)
    view.top_p.value = 0.5
    kept = view.probs > 0
    assert before[kept].sum() >= 0.5  # the nucleus reaches p ...
    assert before[kept].sum() - before[kept].min() < 0.5  # ... and is the smallest set that does
    view.top_p.value = 1.0
    view.min_p.value = 0.2
    torch.testing.assert_close(view.probs > 0, before >= 0.2 * before.max())


def test_sampling_widget_entropy_in_bits():
    view = SamplingWidget(torch.zeros(4), "abcd")  # uniform over 4 tokens
    assert view.entropy == pytest.approx(2.0)
    assert "entropy <b>2.00 bits</b> (like choosing among 4.0 equally likely tokens)" in view.output.value
    view = SamplingWidget(torch.tensor([1.0, 1.0, 0.0, 0.0]), "abcd", top_k=2)  # two equal survivors
    assert view.entropy == pytest.approx(1.0)


def test_sampling_widget_static_figure_shows_filtered_bars():
    view = SamplingWidget(random_logits(), VOCAB, top_k=5, max_rows=10)
    fig = view.static_figure()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.patches) == 2 * 10  # grey "before" bars + coloured "after" bars
    assert "top-k 5" in ax.get_title() and "5 of 30 tokens left" in ax.get_title()


def test_sampling_widget_rejects_bad_input():
    with pytest.raises(
        CourseInputError, match=r"logits must be a 1-D tensor of shape \(V\), got shape \(1, 30\)"
    ):
        SamplingWidget(random_logits()[None], VOCAB)
    with pytest.raises(
        CourseInputError, match=r"labels must be one label per entry of V \(logits has V = 30\), got 29"
    ):
        SamplingWidget(random_logits(), VOCAB[:-1])
    with pytest.raises(CourseInputError, match=r"top_k must be in \[0, 30\], got 31"):
        SamplingWidget(random_logits(), VOCAB, top_k=31)
    with pytest.raises(CourseInputError, match=r"top_p must be in \[0.01, 1.0\], got 0"):
        SamplingWidget(random_logits(), VOCAB, top_p=0)
    with pytest.raises(CourseInputError, match=r"temperature must be in \[0.0, 3.0\], got -1"):
        SamplingWidget(random_logits(), VOCAB, temperature=-1)


# ---------------------------------------------------------------- AttentionMapWidget


def test_attention_widget_sliders_select_layer_and_head():
    weights = attention_weights()
    view = AttentionMapWidget(weights, "hello!")
    assert_course_widget(view, "attention")
    assert 'data-layer="0" data-head="0"' in view.output.value
    assert view.output.value.count("<td ") == 36  # one cell per (query, key) pair

    first = view.output.value
    view.layer.value, view.head.value = 1, 2
    assert 'data-layer="1" data-head="2"' in view.output.value and view.output.value != first
    torch.testing.assert_close(view.current_map(), weights[1, 2])
    assert "layer 1 of 2, head 2 of 3" in view.output.value
    value = weights[1, 2, 3, 1].item()
    assert f'title="l &rarr; e: {value:.3f}"' in view.output.value  # hover shows the exact weight


def test_attention_widget_average_heads():
    weights = attention_weights()
    view = AttentionMapWidget(weights, "hello!")
    view.average_heads.value = True
    assert view.head.disabled
    torch.testing.assert_close(view.current_map(), weights[0].mean(dim=0))
    assert 'data-head="average"' in view.output.value and "average of 3 heads" in view.output.value
    view.average_heads.value = False
    assert not view.head.disabled


def test_attention_widget_cell_colours_follow_the_weights():
    weights = torch.tensor([[[[1.0, 0.0], [0.5, 0.5]]]])  # (1, 1, 2, 2)
    view = AttentionMapWidget(weights, "ab")
    colours = re.findall(r'<td style="background:(#[0-9a-f]{6})"', view.output.value)
    assert colours == [colours[0], "#f7fbff", colours[2], colours[2]]  # 'Blues': 0 is white
    assert colours[0] != colours[2]
    assert view.layer.disabled and view.head.disabled  # only one choice


def test_attention_widget_accepts_model_output_list_and_cross_attention():
    weights = attention_weights(t=4)
    per_layer = [layer[None] for layer in weights]  # like LMOutput.attentions: (1, H, T, T) per layer
    view = AttentionMapWidget(per_layer, "abcd", layer=1)
    torch.testing.assert_close(view.current_map(), weights[1, 0])
    cross = torch.full((1, 2, 3, 5), 0.2)  # 3 target tokens attend over 5 source tokens
    view = AttentionMapWidget(cross, "xyz", key_tokens=["s0", "s1", "s2", "s3", "s4"])
    assert view.output.value.count("<td ") == 15
    assert "s4</th>" in view.output.value


def test_attention_widget_shows_a_real_model_s_causal_attention():
    torch.manual_seed(0)
    model = DecoderOnlyLM(DecoderOnlyConfig(vocab_size=12, block_size=8, n_layer=2, n_head=2, n_embd=16))
    idx = torch.randint(0, 12, (1, 5))
    out = model(idx, return_attention=True)
    view = AttentionMapWidget(out.attentions, [str(i) for i in idx[0].tolist()], layer=1, head=1)
    torch.testing.assert_close(view.current_map(), out.attentions[1][0, 1].detach())
    colours = re.findall(r'<td style="background:(#[0-9a-f]{6})"', view.output.value)
    future = [colours[i * 5 + j] for i in range(5) for j in range(i + 1, 5)]  # keys after the query
    assert set(future) == {"#f7fbff"}  # the causal mask leaves them white (weight 0)


def test_attention_widget_static_figure():
    view = AttentionMapWidget(attention_weights(), "hello!", layer=1, head=1)
    fig = view.static_figure()
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_title() == "layer 1 of 2, head 1 of 3"
    torch.testing.assert_close(torch.tensor(fig.axes[0].images[0].get_array()), attention_weights()[1, 1])


def test_attention_widget_rejects_bad_input():
    weights = attention_weights()
    with pytest.raises(
        CourseInputError,
        match=r"weights must be a 4-D tensor of shape \(L, H, T_q, T_k\), got shape \(3, 6, 6\)",
    ):
        AttentionMapWidget(weights[0], "hello!")
    with pytest.raises(
        CourseInputError, match=r"tokens must be one label per entry of T_q \(weights has T_q = 6\), got 5"
    ):
        AttentionMapWidget(weights, "hello")
    with pytest.raises(CourseInputError, match=r"rows \(one per query\) sum to 1.*Pass the softmax output"):
        AttentionMapWidget(weights * 2, "hello!")
    with pytest.raises(
        CourseInputError, match=r"weights\[1\] must be of the same shape as weights\[0\] \(3, 6, 6\)"
    ):
        AttentionMapWidget([weights[0], weights[1, :2]], "hello!")
    with pytest.raises(CourseInputError, match=r"weights\[0\] must be a 3-D tensor of shape \(H, T_q, T_k\)"):
        AttentionMapWidget([weights[0, 0]], "hello!")
    with pytest.raises(CourseInputError, match=r"head must be in \[0, 2\], got 3. The weights have 3 heads"):
        AttentionMapWidget(weights, "hello!", head=3)


# ---------------------------------------------------------------- ArchitectureExplorer


def shown_total(view: ArchitectureExplorer) -> int:
    return int(re.search(r'data-parameters="(\d+)"', view.output.value).group(1))


def test_architecture_explorer_shows_gpt2_small_with_its_published_figure():
    view = ArchitectureExplorer()
    assert_course_widget(view, "architecture")
    html = view.output.value
    assert '<b class="course-parameter-count">124.4M</b> (124,439,808)' in html
    assert "published: <b>124M</b>" in html and "GPT2LMHeadModel" in html
    assert (view.layers.value, view.heads.value, view.width.value, view.context.value) == (12, 12, 768, 1024)
    assert view.caption() == "GPT-2 small" and view.error is None
    assert format_bytes(kv_cache_bytes(preset("GPT-2 small"))) in html


def test_architecture_explorer_model_choice_sets_the_sliders():
    view = ArchitectureExplorer()
    view.model.value = "LLaMA-2-7B"
    assert (view.layers.value, view.heads.value, view.width.value, view.context.value) == (32, 32, 4096, 4096)
    assert "<b>6.74B</b>" in view.output.value and view.architecture == preset("LLaMA-2-7B")
    view.model.value = "Mistral-7B"
    assert "8 key/value heads: grouped-query" in view.output.value
    assert "sliding window 4,096" in view.output.value
    assert "KV cache at 32,768 tokens (only the last 4,096 are kept)" in view.output.value
    view.model.value = "BERT-base"
    assert "KV cache</td>" in view.output.value and "generates nothing" in view.output.value


def test_architecture_explorer_doubling_layers_doubles_the_blocks():
    view = ArchitectureExplorer()
    before = parameter_count(view.architecture)
    view.layers.value = 24
    after = parameter_count(view.architecture)
    assert after.non_embedding / before.non_embedding == pytest.approx(2, rel=1e-3)
    assert after.embeddings == before.embeddings
    assert shown_total(view) == after.total and format_count(after.total) in view.output.value
    assert view.caption() == "GPT-2 small, modified"
    assert "the published figure describes the unmodified model" in view.output.value


def test_architecture_explorer_width_context_and_heads():
    view = ArchitectureExplorer("Mistral-7B")
    view.width.value = 2048  # the MLP keeps its width ratio
    assert view.architecture.d_ff == 7168
    view.context.value = 2048  # below the sliding window: the cache holds every token
    assert view.architecture.context == 2048
    assert format_bytes(kv_cache_bytes(view.architecture)) in view.output.value
    view.heads.value = 16  # 4 query heads per key/value head, as in Mistral
    assert view.architecture.kv_heads == 4
    view.width.value = 3072
    view.heads.value = 6  # 4 does not divide 6: one key/value head per query head
    assert view.architecture.kv_heads == 6


def test_architecture_explorer_reports_an_impossible_shape_and_recovers():
    view = ArchitectureExplorer()
    view.heads.value = 7  # 768 is not divisible by 7
    assert view.error.startswith("d_model must be divisible by n_head=7, got 768")
    assert "This shape is impossible" in view.output.value and "course-error" in view.output.value
    assert view.architecture == preset("GPT-2 small")  # the last valid shape is kept
    view.heads.value = 8
    assert view.error is None and view.architecture.head_dim == 96


def test_architecture_explorer_names_the_slider_values_that_repair_an_impossible_shape():
    view = ArchitectureExplorer()
    view.heads.value = 13  # the library suggests d_model=767: the width slider (steps of 64) has no 767
    hint = "With width 768, these head counts work: 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64."
    assert hint in view.output.value
    assert "With 13 heads, the nearest widths that work: 832, 1,664, 2,496." in view.output.value
    view.width.value = 832
    assert view.error is None and view.architecture.head_dim == 64
    view.model.value = "LLaMA-2-7B"  # rotary positions: the head size must also be even
    view.width.value, view.heads.value = 64, 64
    assert "head size) must be even" in view.error
    assert "With width 64, these head counts work: 1, 2, 4, 8, 16, 32." in view.output.value


def test_architecture_explorer_static_figure_and_errors():
    view = ArchitectureExplorer("T5-base")
    fig = view.static_figure()
    assert isinstance(fig, Figure)
    assert fig.get_suptitle() == "T5-base"
    assert fig.axes[0].get_title() == "222.9M parameters"
    with pytest.raises(CourseInputError, match=r"model must be one of \['GPT-2 small', .*\], got 'GPT-5'"):
        ArchitectureExplorer("GPT-5")


# ---------------------------------------------------------------- speed: each update well under 100 ms


def test_updates_are_fast():
    timings = {}
    preview = TemperaturePreview()
    timings["preview"] = median_update_ms(preview, preview.temperature, [0.1 + 0.1 * i for i in range(20)])
    sampling = SamplingWidget(random_logits(v=2048), [f"t{i}" for i in range(2048)])  # a small BPE vocabulary
    timings["sampling"] = median_update_ms(sampling, sampling.top_p, [0.5 + 0.02 * i for i in range(20)])
    attention = AttentionMapWidget(attention_weights(n_layer=4, n_head=4, t=64), ["tok"] * 64)
    timings["attention"] = median_update_ms(attention, attention.head, [1, 2, 3, 0] * 5)
    explorer = ArchitectureExplorer()
    timings["architecture layers"] = median_update_ms(explorer, explorer.layers, list(range(13, 33)))
    timings["architecture context"] = median_update_ms(
        explorer, explorer.context, [64 * i for i in range(1, 17)]
    )
    timings["architecture model"] = median_update_ms(explorer, explorer.model, ["Mistral-7B", "T5-base"] * 5)
    explorer.model.value = "GPT-2 small"
    timings["architecture impossible heads"] = median_update_ms(explorer, explorer.heads, [13, 11] * 10)
    print("median update ms:", {name: round(ms, 2) for name, ms in timings.items()})
    assert all(ms < 100 for ms in timings.values()), timings
