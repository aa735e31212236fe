"""Tests for course_lib.viz: each plot returns a labelled Figure and rejects bad input clearly."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course_lib import viz  # noqa: E402
from course_lib.validation import CourseInputError  # noqa: E402


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
    with pytest.raises(CourseInputError, match=r"weights must be a 2-D tensor of shape \(T_q, T_k\), got shape \(1, 3, 3\)"):
        viz.plot_attention(causal_weights(1, t=3), "abc")


def test_plot_attention_rejects_label_count_mismatch():
    with pytest.raises(CourseInputError, match=r"query_tokens must be one label per entry of T_q \(weights has T_q = 3\), got 2 labels"):
        viz.plot_attention(causal_weights(t=3), "ab")
    with pytest.raises(CourseInputError, match=r"key_tokens must be one label per entry of T_k"):
        viz.plot_attention(causal_weights(t=3), "abc", key_tokens="abcd")


def test_plot_attention_rejects_scores_instead_of_weights():
    scores = torch.tensor([[0.5, 0.7], [0.2, 0.2]])
    with pytest.raises(CourseInputError, match=r"rows \(one per query\) sum to 1, got a row summing to 0.400 at index \(1\)"):
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
    with pytest.raises(CourseInputError, match=r"probs must be a 1-D tensor of shape \(V\), got shape \(1, 3\)"):
        viz.plot_distribution(torch.ones(1, 3) / 3, "abc")
    with pytest.raises(CourseInputError, match=r"labels must be one label per entry of V \(probs has V = 3\), got 2 labels"):
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
        step = [1, 2]
        train_loss = [2.0, 1.0]
        val_loss = [2.5, 1.5]

    fig = viz.plot_training_history(History())
    assert len(fig.axes[0].get_lines()) == 2


def test_plot_training_history_rejects_incomplete_history():
    with pytest.raises(CourseInputError, match=r"history must be a History \(or dict\) with a 'val_loss' list, got dict"):
        viz.plot_training_history({"step": [0], "train_loss": [1.0]})
    with pytest.raises(CourseInputError, match=r"history.train_loss must be the same length as history.step \(2\), got length 1"):
        viz.plot_training_history({"step": [0, 1], "train_loss": [1.0], "val_loss": [1.0, 2.0]})
