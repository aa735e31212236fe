"""Tests for course_lib.viz: each plot returns a labelled Figure and rejects bad input clearly."""

import matplotlib

matplotlib.use("Agg")

from types import SimpleNamespace
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from course_lib import viz
from course_lib.architecture import preset
from course_lib.decoding import BeamNode, beam_search
from course_lib.positional import sinusoidal_table
from course_lib.validation import CourseInputError


def causal_weights(*leading: int, t: int, seed: int = 0) -> torch.Tensor:
    """Random causal attention weights (*leading, T, T) whose rows sum to 1."""
    torch.manual_seed(seed)
    scores = torch.randn(*leading, t, t)
    scores = scores.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), float("-inf"))
    return scores.softmax(dim=-1)


def tick_texts(labels) -> list[str]:
    return [label.get_text() for label in labels]


# ---------------------------------------------------------------- display_token


def test_display_token_makes_whitespace_visible():
    assert viz.display_token(" ") == "␣"
    assert viz.display_token("\n") == "↵"
    assert viz.display_token("a b") == "a␣b"
    assert viz.display_token("x") == "x"
    assert viz.display_token("\x00") == "\\x00"
    assert viz.display_token("") == "∅"


# ---------------------------------------------------------------- plot_attention


def test_plot_attention_labels_tokens_and_has_colourbar():
    weights = causal_weights(t=4)
    fig = viz.plot_attention(weights, ["a", "b", " ", "$"], title="head 0")
    assert isinstance(fig, Figure)
    heatmap, colourbar = fig.axes
    assert tick_texts(heatmap.get_yticklabels()) == ["a", "b", "␣", r"\$"]
    assert tick_texts(heatmap.get_xticklabels()) == ["a", "b", "␣", r"\$"]
    assert heatmap.get_title() == "head 0"
    assert colourbar.get_ylabel() == "attention weight"
    np.testing.assert_allclose(heatmap.images[0].get_array(), weights.numpy())
    assert len(heatmap.texts) == 16  # small maps show their numbers
    assert plt.get_fignums() == []  # closed in pyplot: a notebook shows it once


def test_plot_attention_cross_attention_has_separate_key_labels():
    weights = torch.full((2, 3), 1 / 3)
    fig = viz.plot_attention(weights, "ab", key_tokens=["x", "y", "z"])
    assert tick_texts(fig.axes[0].get_xticklabels()) == ["x", "y", "z"]
    assert tick_texts(fig.axes[0].get_yticklabels()) == ["a", "b"]


def test_plot_attention_draws_into_a_given_axes():
    fig, ax = plt.subplots()
    assert viz.plot_attention(causal_weights(t=3), "abc", ax=ax) is fig
    plt.close(fig)


def test_plot_attention_large_map_has_no_cell_numbers_and_fits_labels():
    tokens = [f"sub_word_token_{i}" for i in range(30)]  # long labels must not be cut off
    fig = viz.plot_attention(causal_weights(t=30), tokens)
    heatmap = fig.axes[0]
    assert len(heatmap.texts) == 0
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    texts = heatmap.get_xticklabels() + heatmap.get_yticklabels() + [heatmap.xaxis.label, heatmap.yaxis.label]
    for text in texts:
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.y0 >= 0, f"{text.get_text()!r} is clipped"


def test_plot_attention_rejects_wrong_shape():
    with pytest.raises(
        CourseInputError, match=r"weights must be a 2-D tensor of shape \(T_q, T_k\), got shape \(1, 3, 3\)"
    ):
        viz.plot_attention(causal_weights(1, t=3), "abc")


def test_plot_attention_rejects_label_count_mismatch():
    with pytest.raises(
        CourseInputError,
        match=r"query_tokens must be one label per entry of T_q \(weights has T_q = 3\), got 2 labels",
    ):
        viz.plot_attention(causal_weights(t=3), "ab")
    with pytest.raises(CourseInputError, match=r"key_tokens must be one label per entry of T_k"):
        viz.plot_attention(causal_weights(t=3), "abc", key_tokens="abcd")


def test_plot_attention_rejects_scores_instead_of_weights():
    scores = torch.tensor([[0.5, 0.7], [0.2, 0.2]])
    with pytest.raises(
        CourseInputError, match=r"rows \(one per query\) sum to 1, got a row summing to 0.400 at index \(1\)"
    ):
        viz.plot_attention(scores, "ab")
    with pytest.raises(CourseInputError, match=r"all >= 0"):
        viz.plot_attention(torch.tensor([[1.5, -0.5], [0.5, 0.5]]), "ab")


def test_plot_attention_rejects_non_tensors_and_nan():
    with pytest.raises(CourseInputError, match=r"weights must be a torch.Tensor, got list"):
        viz.plot_attention([[1.0]], "a")
    with pytest.raises(CourseInputError, match=r"weights must be free of NaN"):
        viz.plot_attention(torch.tensor([[float("nan")]]), "a")


def test_plot_attention_accepts_numpy():
    fig = viz.plot_attention(np.eye(2), "ab")
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), np.eye(2))


# ---------------------------------------------------------------- plot_attention_heads


def test_plot_attention_heads_one_panel_per_head_and_one_colourbar():
    fig = viz.plot_attention_heads(causal_weights(6, t=5), "hello", ncols=4)
    heatmaps = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in heatmaps] == [f"head {h}" for h in range(6)]
    assert sum(1 for ax in fig.axes if ax.get_ylabel() == "attention weight") == 1
    assert len(fig.axes) == 8 + 1  # 2x4 grid (two empty panels hidden) + colourbar
    assert tick_texts(heatmaps[0].get_yticklabels()) == list("hello")
    assert tick_texts(heatmaps[1].get_yticklabels()) == [""] * 5  # only the first column is labelled


def test_plot_attention_heads_rejects_a_single_map():
    with pytest.raises(CourseInputError, match=r"weights must be a 3-D tensor of shape \(H, T_q, T_k\)"):
        viz.plot_attention_heads(causal_weights(t=3), "abc")


# ---------------------------------------------------------------- plot_distribution


def test_plot_distribution_shows_top_tokens_in_order():
    probs = torch.tensor([0.1, 0.5, 0.05, 0.35])
    fig = viz.plot_distribution(probs, ["a", "b", "c", " "], top=3)
    ax = fig.axes[0]
    assert tick_texts(ax.get_xticklabels()) == ["b", "␣", "a"]
    np.testing.assert_allclose([bar.get_height() for bar in ax.patches], [0.5, 0.35, 0.1])
    assert ax.get_xlabel() == "top 3 of 4 tokens"


def test_plot_distribution_with_reference_greys_removed_tokens():
    before = torch.tensor([0.5, 0.3, 0.2])
    after = torch.tensor([0.625, 0.375, 0.0])  # top-k with k=2
    fig = viz.plot_distribution(after, "abc", reference=before)
    ax = fig.axes[0]
    grey_bars, coloured_bars = ax.patches[:3], ax.patches[3:]
    np.testing.assert_allclose([bar.get_height() for bar in grey_bars], [0.5, 0.3, 0.2])
    np.testing.assert_allclose([bar.get_height() for bar in coloured_bars], [0.625, 0.375, 0.0])
    kept = matplotlib.colors.to_rgba(viz.KEPT_COLOR)
    removed = matplotlib.colors.to_rgba(viz.REMOVED_COLOR)
    assert [bar.get_facecolor() for bar in coloured_bars] == [kept, kept, removed]


def test_plot_distribution_rejects_bad_input():
    with pytest.raises(
        CourseInputError, match=r"probs must be a 1-D tensor of shape \(V\), got shape \(1, 3\)"
    ):
        viz.plot_distribution(torch.ones(1, 3) / 3, "abc")
    with pytest.raises(
        CourseInputError, match=r"labels must be one label per entry of V \(probs has V = 3\), got 2 labels"
    ):
        viz.plot_distribution(torch.ones(3) / 3, "ab")
    with pytest.raises(CourseInputError, match=r"top must be an integer >= 1, got 0"):
        viz.plot_distribution(torch.ones(3) / 3, "abc", top=0)
    with pytest.raises(CourseInputError, match=r"reference must be of shape \(3\)"):
        viz.plot_distribution(torch.ones(3) / 3, "abc", reference=torch.ones(4) / 4)


# ---------------------------------------------------------------- positions and training


def test_plot_positional_encoding_symmetric_colour_scale():
    table = torch.linspace(-0.5, 1.0, 8 * 16).reshape(8, 16)
    fig = viz.plot_positional_encoding(table)
    image = fig.axes[0].images[0]
    assert image.get_clim() == (-1.0, 1.0)
    assert image.get_array().shape == (8, 16)
    assert fig.axes[0].get_xlabel() == "embedding dimension"
    with pytest.raises(CourseInputError, match=r"table must be a 2-D tensor of shape \(T, C\)"):
        viz.plot_positional_encoding(torch.zeros(1, 8, 16))


def test_plot_positional_encoding_of_the_sinusoidal_table():
    fig = viz.plot_positional_encoding(sinusoidal_table(32, 16))
    assert fig.axes[0].images[0].get_clim() == (-1.0, 1.0)
    assert fig.axes[0].get_title() == "positional encoding (32 positions x 16 dims)"


def test_plot_training_history_from_dict_skips_missing_values():
    history = {"step": [0, 10, 20], "train_loss": [4.0, 3.0, 2.5], "val_loss": [4.1, None, 2.7]}
    fig = viz.plot_training_history(history)
    train_line, val_line = fig.axes[0].get_lines()
    assert train_line.get_label() == "train loss"
    np.testing.assert_allclose(train_line.get_xdata(), [0, 10, 20])
    np.testing.assert_allclose(val_line.get_xdata(), [0, 20])
    np.testing.assert_allclose(val_line.get_ydata(), [4.1, 2.7])


def test_plot_training_history_from_object_attributes():
    class History:
        step: ClassVar[list[int]] = [1, 2]
        train_loss: ClassVar[list[float]] = [2.0, 1.0]
        val_loss: ClassVar[list[float]] = [2.5, 1.5]

    fig = viz.plot_training_history(History())
    assert len(fig.axes[0].get_lines()) == 2


def test_plot_training_history_rejects_incomplete_history():
    with pytest.raises(
        CourseInputError, match=r"history must be a History \(or dict\) with a 'val_loss' list, got dict"
    ):
        viz.plot_training_history({"step": [0], "train_loss": [1.0]})
    with pytest.raises(
        CourseInputError,
        match=r"history.train_loss must be the same length as history.step \(2\), got length 1",
    ):
        viz.plot_training_history({"step": [0, 1], "train_loss": [1.0], "val_loss": [1.0, 2.0]})


# ---------------------------------------------------------------- plot_beam_tree


class BigramLM(torch.nn.Module):
    """Stand-in language model for beam search: next-token logits are a row of a (V, V) table."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = torch.nn.Parameter(table)
        self.config = SimpleNamespace(vocab_size=table.size(0), block_size=16)

    def compute_logits(self, idx: torch.Tensor, cache: None = None) -> torch.Tensor:
        return self.table[idx]  # (B, T, V)


def hand_made_trace() -> list[list[BeamNode]]:
    """Two beams; at step 2 the second beam ends with eos and the first beam's only child continues it."""
    return [
        [BeamNode(parent=-1, token=1, log_prob=-0.5, finished=False), BeamNode(-1, 2, -1.0, False)],
        [BeamNode(parent=1, token=3, log_prob=-1.2, finished=True), BeamNode(0, 0, -1.5, False)],
    ]


def node_texts(fig: Figure) -> dict[str, matplotlib.text.Text]:
    return {text.get_text(): text for text in fig.axes[0].texts}


def test_plot_beam_tree_draws_every_kept_beam_without_crossings():
    fig = viz.plot_beam_tree(hand_made_trace(), token_labels="ab.<", best=[2, 3], prompt="hi there")
    texts = node_texts(fig)
    assert set(texts) == {"hi␣there", "b\n-0.50", ".\n-1.00", "<\n-1.20", "a\n-1.50"}
    positions = {label: text.get_position() for label, text in texts.items()}
    assert positions["b\n-0.50"] == (1, -0.5) and positions[".\n-1.00"] == (1, 0.5)  # best-ranked on top
    assert positions["a\n-1.50"] == (2, -0.5) and positions["<\n-1.20"] == (2, 0.5)  # children follow parents
    edges = [(tuple(line.get_xdata()), tuple(line.get_ydata())) for line in fig.axes[0].get_lines()]
    assert ((1, 2), (0.5, 0.5)) in edges and ((1, 2), (-0.5, -0.5)) in edges
    green = matplotlib.colors.to_rgba("#d9f2d9")
    assert texts["<\n-1.20"].get_bbox_patch().get_facecolor() == green  # finished with eos
    assert texts["<\n-1.20"].get_fontweight() == "bold" and texts[".\n-1.00"].get_fontweight() == "bold"
    assert texts["b\n-0.50"].get_fontweight() == "normal"


def test_plot_beam_tree_greys_dropped_beams_and_labels_with_a_function():
    trace = [[BeamNode(-1, 1, -0.5, False), BeamNode(-1, 2, -1.0, False)], [BeamNode(0, 0, -0.9, False)]]
    fig = viz.plot_beam_tree(trace, token_labels=lambda i: f"<{i}>")
    texts = node_texts(fig)
    assert texts["<2>\n-1.00"].get_bbox_patch().get_facecolor() == matplotlib.colors.to_rgba("#f2f2f2")
    assert texts["<1>\n-0.50"].get_bbox_patch().get_facecolor() == matplotlib.colors.to_rgba("white")


def test_plot_beam_tree_from_a_real_beam_search():
    torch.manual_seed(3)
    model = BigramLM(torch.randn(6, 6) * 1.5)
    prompt = torch.tensor([[0]])
    result = beam_search(model, prompt, max_new_tokens=5, num_beams=3, eos_id=5, use_cache=False)
    fig = viz.plot_beam_tree(result.trace, "abcde.", best=result.sequence[0, 1:])
    texts = fig.axes[0].texts
    assert len(texts) == 1 + sum(len(step) for step in result.trace)
    n_new = result.sequence.size(1) - 1
    assert (
        sum(text.get_fontweight() == "bold" for text in texts) == n_new
    )  # the best path, one node per token


def test_plot_beam_tree_rejects_bad_traces():
    with pytest.raises(
        CourseInputError, match=r"trace must be a non-empty list of steps, got an empty trace"
    ):
        viz.plot_beam_tree([])
    broken = hand_made_trace()
    broken[1][0].parent = 5
    with pytest.raises(
        CourseInputError, match=r"trace\[1\]\[0\].parent must be an index into trace\[0\] \(0 to 1\), got 5"
    ):
        viz.plot_beam_tree(broken)
    with pytest.raises(CourseInputError, match=r"trace\[0\]\[0\] must be a node with .parent"):
        viz.plot_beam_tree([[(-1, 1, -0.5, False)]])


# ---------------------------------------------------------------- plot_architecture_costs


def test_plot_architecture_costs_parameters_and_memory():
    fig = viz.plot_architecture_costs(preset("GPT-2 small"), title="GPT-2 small")
    params_ax, memory_ax = fig.axes
    assert tick_texts(params_ax.get_yticklabels()) == ["embeddings", "attention", "MLP", "norms", "head"]
    assert sum(bar.get_width() for bar in params_ax.patches) == 124_439_808
    assert params_ax.get_title() == "124.4M parameters"
    assert [bar.get_width() for bar in memory_ax.patches][:2] == [4 * 124_439_808, 2 * 124_439_808]
    assert "249 MB" in [text.get_text() for text in memory_ax.texts]
    assert fig.get_suptitle() == "GPT-2 small"


def test_plot_architecture_costs_encoder_has_no_cache():
    fig = viz.plot_architecture_costs(preset("BERT-base"))
    assert tick_texts(fig.axes[1].get_yticklabels())[-1] == "KV cache: none\n(encoder-only)"
    with pytest.raises(
        CourseInputError, match=r"arch must be a course_lib.architecture.Architecture, got str"
    ):
        viz.plot_architecture_costs("GPT-2 small")
