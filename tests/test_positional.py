"""Position encodings: the sinusoidal formula, learned tables, rotary's relative property, and "none"."""

import math

import pytest
import torch

from course_lib.positional import (
    LearnedPositions,
    NoPositions,
    RotaryEmbedding,
    SinusoidalPositions,
    make_positional,
    sinusoidal_table,
)
from course_lib.validation import CourseInputError


@pytest.mark.parametrize("n_embd", [8, 7])
def test_sinusoidal_table_matches_the_vaswani_formula(n_embd):
    table = sinusoidal_table(50, n_embd)
    expected = torch.zeros(50, n_embd)
    for pos in range(50):
        for j in range(n_embd):
            angle = pos / 10000 ** (2 * (j // 2) / n_embd)  # PE(pos, 2i) = sin(.), PE(pos, 2i+1) = cos(.)
            expected[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    torch.testing.assert_close(table, expected, atol=1e-6, rtol=0)


def test_sinusoidal_positions_add_the_rows_from_start():
    positions = SinusoidalPositions(block_size=16, n_embd=8)
    x = torch.randn(2, 3, 8)
    torch.testing.assert_close(positions(x, start=5), x + sinusoidal_table(16, 8)[5:8])
    assert list(positions.state_dict()) == []  # a fixed table: nothing to save or train


def test_learned_positions_add_their_trainable_rows_from_start():
    torch.manual_seed(0)
    positions = LearnedPositions(block_size=16, n_embd=8)
    x = torch.randn(2, 3, 8)
    torch.testing.assert_close(positions(x, start=4), x + positions.embedding.weight[4:7])
    positions(x).sum().backward()
    assert (
        positions.embedding.weight.grad[:3].abs().sum() > 0
        and positions.embedding.weight.grad[3:].abs().sum() == 0
    )


def test_no_positions_change_nothing():
    x = torch.randn(2, 3, 8)
    assert NoPositions()(x, start=2) is x


def test_rotary_scores_depend_only_on_the_distance_between_positions():
    torch.manual_seed(0)
    rotary = RotaryEmbedding(head_dim=8, block_size=64)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(query_pos: int, key_pos: int) -> torch.Tensor:
        return (rotary(q, start=query_pos) * rotary(k, start=key_pos)).sum()

    torch.testing.assert_close(score(3, 1), score(40, 38), atol=1e-5, rtol=0)  # both 2 apart
    torch.testing.assert_close(score(1, 3), score(50, 52), atol=1e-5, rtol=0)
    assert not torch.allclose(score(3, 1), score(3, 2), atol=1e-3)  # a different distance, a different score


def test_rotary_rotates_without_stretching_and_leaves_position_zero_alone():
    torch.manual_seed(0)
    rotary = RotaryEmbedding(head_dim=8, block_size=16)
    x = torch.randn(2, 3, 16, 8)
    rotated = rotary(x)
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(rotated[:, :, 0], x[:, :, 0])
    assert not torch.allclose(rotated[:, :, 1:], x[:, :, 1:])
    torch.testing.assert_close(
        rotary(x[:, :, 5:9], start=5), rotated[:, :, 5:9]
    )  # offsets line up with the cache


def test_make_positional_builds_each_kind():
    assert isinstance(make_positional("sinusoidal", 16, 8, 2), SinusoidalPositions)
    assert isinstance(make_positional("learned", 16, 8, 2), LearnedPositions)
    assert isinstance(make_positional("none", 16, 8, 2), NoPositions)
    rotary = make_positional("rotary", 16, 8, 2)
    assert isinstance(rotary, RotaryEmbedding) and rotary.cos.shape == (
        16,
        4,
    )  # one angle per channel of a head


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(
        CourseInputError,
        match=r"kind must be one of \('sinusoidal', 'learned', 'rotary', 'none'\), got 'alibi'",
    ):
        make_positional("alibi", 16, 8, 2)


def test_odd_rotary_head_size_is_rejected():
    with pytest.raises(CourseInputError, match="head_dim must be even for rotary positions, got 3"):
        RotaryEmbedding(head_dim=3, block_size=8)


@pytest.mark.parametrize("module", [SinusoidalPositions(8, 4), LearnedPositions(8, 4)])
def test_positions_past_block_size_are_rejected(module):
    with pytest.raises(CourseInputError, match=r"start \+ T must be at most block_size=8, got 6 \+ 3"):
        module(torch.zeros(1, 3, 4), start=6)
