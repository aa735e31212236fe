"""Notebook 03's self-checks accept right answers and name each usual mistake."""

from __future__ import annotations

import pytest
import torch

from course_lib.exercises import ExerciseFeedback
from course_lib.exercises.blocks import check_cross_attention_block, check_mask_patterns

# ---------------------------------------------------------------- the block with cross-attention


def right_block(x, memory, block):
    x = x + block.attn(block.ln_attn(x))
    x = x + block.cross_attn(block.ln_cross(x), context=memory)
    return x + block.mlp(block.ln_mlp(x))


def post_ln(x, memory, block):
    x = block.ln_attn(x + block.attn(x))
    x = block.ln_cross(x + block.cross_attn(x, context=memory))
    return block.ln_mlp(x + block.mlp(x))


def mlp_first(x, memory, block):
    x = x + block.mlp(block.ln_mlp(x))
    x = x + block.attn(block.ln_attn(x))
    return x + block.cross_attn(block.ln_cross(x), context=memory)


def cross_first(x, memory, block):
    x = x + block.cross_attn(block.ln_cross(x), context=memory)
    x = x + block.attn(block.ln_attn(x))
    return x + block.mlp(block.ln_mlp(x))


def no_self_residual(x, memory, block):
    x = block.attn(block.ln_attn(x))
    x = x + block.cross_attn(block.ln_cross(x), context=memory)
    return x + block.mlp(block.ln_mlp(x))


def no_cross_residual(x, memory, block):
    x = x + block.attn(block.ln_attn(x))
    x = block.cross_attn(block.ln_cross(x), context=memory)
    return x + block.mlp(block.ln_mlp(x))


def no_mlp_residual(x, memory, block):
    x = x + block.attn(block.ln_attn(x))
    x = x + block.cross_attn(block.ln_cross(x), context=memory)
    return block.mlp(block.ln_mlp(x))


def no_self_norm(x, memory, block):
    x = x + block.attn(x)
    x = x + block.cross_attn(block.ln_cross(x), context=memory)
    return x + block.mlp(block.ln_mlp(x))


def no_cross_norm(x, memory, block):
    x = x + block.attn(block.ln_attn(x))
    x = x + block.cross_attn(x, context=memory)
    return x + block.mlp(block.ln_mlp(x))


def no_mlp_norm(x, memory, block):
    x = x + block.attn(block.ln_attn(x))
    x = x + block.cross_attn(block.ln_cross(x), context=memory)
    return x + block.mlp(x)


def memory_normalised(x, memory, block):
    x = x + block.attn(block.ln_attn(x))
    x = x + block.cross_attn(block.ln_cross(x), context=block.ln_cross(memory))
    return x + block.mlp(block.ln_mlp(x))


def queries_from_memory(x, memory, block):
    x = x + block.attn(block.ln_attn(x))
    return block.cross_attn(memory, context=block.ln_cross(x))  # (B, S, C): the roles swapped


def norms_mixed_up(x, memory, block):
    x = x + block.attn(block.ln_mlp(x))
    x = x + block.cross_attn(block.ln_cross(x), context=memory)
    return x + block.mlp(block.ln_attn(x))


def test_right_block_passes(capsys) -> None:
    check_cross_attention_block(right_block)
    assert "Correct!" in capsys.readouterr().out


def test_block_placeholder_is_not_attempted(capsys) -> None:
    def placeholder(x, memory, block): ...

    check_cross_attention_block(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (post_ln, "normalised after the residual add"),
        (mlp_first, "ran the MLP before the attention"),
        (cross_first, "ran cross-attention before self-attention"),
        (no_self_residual, "residual connection around the self-attention is missing"),
        (no_cross_residual, "residual connection around the cross-attention is missing"),
        (no_mlp_residual, "residual connection around the MLP is missing"),
        (no_self_norm, "The self-attention reads x without its LayerNorm"),
        (no_cross_norm, "The cross-attention reads x without its LayerNorm"),
        (no_mlp_norm, "The MLP reads x without its LayerNorm"),
        (memory_normalised, "passed the memory through ln_cross too"),
        (queries_from_memory, "the queries came from the memory"),
        (norms_mixed_up, "differs from block"),
        (lambda x, memory, block: right_block(x, memory, block).tolist(), "as a torch.Tensor"),
        (lambda x, memory, block: right_block(x, memory, block)[:, -1], "Return x's shape"),
    ],
)
def test_each_block_mistake_gets_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_cross_attention_block(answer)


# ---------------------------------------------------------------- the three masks


def right_masks(source_length, target_length):
    encoder = torch.ones(source_length, source_length, dtype=torch.bool)
    decoder = torch.ones(target_length, target_length, dtype=torch.bool).tril()
    cross = torch.ones(target_length, source_length, dtype=torch.bool)
    return encoder, decoder, cross


def with_mask(index: int, make):
    """The right answer with mask ``index`` replaced by ``make(S, T)``."""

    def answer(source_length, target_length):
        masks = list(right_masks(source_length, target_length))
        masks[index] = make(source_length, target_length)
        return tuple(masks)

    return answer


def ones(*shape):
    return torch.ones(*shape, dtype=torch.bool)


def test_right_masks_pass(capsys) -> None:
    check_mask_patterns(right_masks)
    assert "Correct!" in capsys.readouterr().out


def test_masks_placeholder_is_not_attempted(capsys) -> None:
    def placeholder(source_length, target_length): ...

    check_mask_patterns(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (with_mask(0, lambda s, t: ones(s, s).tril()), "encoder_mask is causal"),
        (with_mask(0, lambda s, t: ones(s, s).triu()), "encoder_mask hides some positions"),
        (with_mask(0, lambda s, t: ones(t, t)), r"encoder_mask must be \(S, S\) = \(5, 5\)"),
        (with_mask(1, lambda s, t: ones(t, t).tril(-1)), "decoder_mask is off by one"),
        (with_mask(1, lambda s, t: ones(t, t).triu(1)), "decoder_mask is inverted"),
        (with_mask(1, lambda s, t: ones(t, t).triu()), "decoder_mask is the upper triangle"),
        (with_mask(1, lambda s, t: ones(t, t)), "a decoder must be causal"),
        (with_mask(1, lambda s, t: ones(t, t).tril(1)), "decoder_mask is not the causal pattern"),
        (with_mask(1, lambda s, t: ones(s, s).tril()), r"decoder_mask must be \(T, T\) = \(4, 4\)"),
        (with_mask(2, lambda s, t: ones(s, t)), r"cross_mask is transposed: \(5, 4\) = \(S, T\)"),
        (with_mask(2, lambda s, t: ones(t, s).tril()), "cross_mask is causal"),
        (with_mask(2, lambda s, t: ones(t, s).triu(1)), "cross_mask hides some source positions"),
        (with_mask(2, lambda s, t: ones(t, t)), r"cross_mask must be \(T, S\) = \(4, 5\)"),
        (with_mask(1, lambda s, t: torch.ones(t, t).tril()), "decoder_mask has dtype torch.float32"),
        (with_mask(2, lambda s, t: [[True] * s] * t), "cross_mask must be a torch.Tensor; it is a list"),
        (lambda s, t: right_masks(s, t)[:2], "Return three masks.*tuple of length 2"),
    ],
)
def test_each_mask_mistake_gets_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_mask_patterns(answer)
