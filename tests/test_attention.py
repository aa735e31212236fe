"""Attention: our written-out attention and multi-head attention against torch's own implementations."""

import pytest
import torch
import torch.nn.functional as F

from course_lib.attention import (
    MultiHeadAttention,
    SelfAttention,
    attention_with_weights,
    causal_mask,
    keep_attention_weights,
    padding_mask,
)
from course_lib.kv_cache import KVCache
from course_lib.positional import RotaryEmbedding
from course_lib.validation import CourseInputError

B, H, T, S, D = 2, 3, 5, 7, 4
C = H * D


def make_mask(kind: str, t_q: int, t_k: int) -> torch.Tensor | None:
    """Masks of every shape the course uses (True = may attend); every query keeps at least one key."""
    if kind == "none":
        return None
    if kind == "causal":
        return causal_mask(t_q, t_k)  # (T_q, T_k)
    if kind == "padding":
        ids = torch.ones(B, t_k, dtype=torch.long)
        ids[1, -2:] = 0  # the second sequence ends with two pads
        return padding_mask(ids, pad_id=0)  # (B, 1, 1, T_k)
    mask = torch.rand(B, H, t_q, t_k, generator=torch.Generator().manual_seed(1)) < 0.5  # arbitrary
    mask[..., 0] = True
    return mask


MASK_KINDS = ["none", "causal", "padding", "arbitrary"]


def test_causal_mask_is_lower_triangular_and_shifts_for_cached_keys():
    assert torch.equal(causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))
    # 2 new queries after 2 cached keys: query 0 sits at position 2 and sees keys 0..2
    expected = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(causal_mask(2, 4), expected)


def test_padding_mask_is_false_at_pads_and_broadcasts_over_heads_and_queries():
    ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    mask = padding_mask(ids, pad_id=0)
    assert mask.shape == (2, 1, 1, 3)
    assert mask[:, 0, 0].tolist() == [[True, True, False], [True, False, False]]


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_attention_equals_torch_sdpa(kind):
    torch.manual_seed(0)
    q, k, v = torch.randn(B, H, T, D), torch.randn(B, H, T, D), torch.randn(B, H, T, D)
    mask = make_mask(kind, T, T)
    out, weights = attention_with_weights(q, k, v, mask)
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, H, T), atol=1e-6, rtol=0)
    if mask is not None:
        assert (weights[~mask.expand(B, H, T, T)] == 0).all()


def test_attention_with_more_keys_than_queries_equals_torch_sdpa():
    torch.manual_seed(0)
    q, k, v = torch.randn(B, H, T, D), torch.randn(B, H, S, D), torch.randn(B, H, S, 6)
    mask = causal_mask(T, S)
    out, weights = attention_with_weights(q, k, v, mask)
    assert out.shape == (B, H, T, 6) and weights.shape == (B, H, T, S)
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-6, rtol=0
    )


def test_a_query_with_every_key_masked_gets_zeros_like_torch_sdpa():
    torch.manual_seed(0)
    q, k, v = torch.randn(B, H, T, D), torch.randn(B, H, S, D), torch.randn(B, H, S, D)
    mask = torch.ones(T, S, dtype=torch.bool)
    mask[1] = False  # query 1 may attend to nothing (e.g. a padded query over padded keys)
    out, weights = attention_with_weights(q, k, v, mask)
    assert (weights[:, :, 1] == 0).all() and (out[:, :, 1] == 0).all()
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-6, rtol=0
    )


def copy_from_torch(ours: MultiHeadAttention, theirs: torch.nn.MultiheadAttention) -> None:
    """torch keeps q, k, v projections stacked in in_proj_weight (3C, C); ours are three Linear layers."""
    with torch.no_grad():
        for proj, weight, bias in zip(
            (ours.q_proj, ours.k_proj, ours.v_proj),
            theirs.in_proj_weight.chunk(3),
            theirs.in_proj_bias.chunk(3),
            strict=False,
        ):
            proj.weight.copy_(weight)
            proj.bias.copy_(bias)
        ours.out_proj.weight.copy_(theirs.out_proj.weight)
        ours.out_proj.bias.copy_(theirs.out_proj.bias)


def torch_mha_pair(seed: int = 0) -> tuple[MultiHeadAttention, torch.nn.MultiheadAttention]:
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(C, H, batch_first=True)
    torch.nn.init.normal_(theirs.in_proj_bias)  # torch starts biases at 0: make them count
    torch.nn.init.normal_(theirs.out_proj.bias)
    ours = MultiHeadAttention(C, H)
    copy_from_torch(ours, theirs)
    return ours, theirs


def torch_masks(mask: torch.Tensor | None, t_q: int) -> dict:
    """Our masks (True = may attend) in torch.nn.MultiheadAttention's arguments (True = may NOT attend)."""
    if mask is None:
        return {}
    if mask.dim() == 4 and mask.shape[1:3] == (1, 1):  # padding (B, 1, 1, T_k)
        return {"key_padding_mask": ~mask[:, 0, 0]}
    if mask.dim() == 4:  # (B, H, T_q, T_k) -> torch wants (B * H, T_q, T_k)
        return {"attn_mask": ~mask.reshape(-1, t_q, mask.size(-1))}
    return {"attn_mask": ~mask}


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_multi_head_self_attention_equals_torch(kind):
    ours, theirs = torch_mha_pair()
    x = torch.randn(B, T, C)
    mask = make_mask(kind, T, T)
    expected, expected_weights = theirs(x, x, x, average_attn_weights=False, **torch_masks(mask, T))
    fused = ours(x, mask=mask)
    assert ours.weights is None  # the fused kernel keeps no weights
    keep_attention_weights(ours)
    explicit, weights = ours(x, mask=mask), ours.weights
    torch.testing.assert_close(fused, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(explicit, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(weights, expected_weights, atol=1e-6, rtol=0)


@pytest.mark.parametrize("kind", ["none", "padding", "arbitrary"])
def test_cross_attention_equals_torch(kind):
    ours, theirs = torch_mha_pair(seed=1)
    x, context = torch.randn(B, T, C), torch.randn(B, S, C)
    mask = make_mask(kind, T, S)
    expected, expected_weights = theirs(
        x, context, context, average_attn_weights=False, **torch_masks(mask, T)
    )
    keep_attention_weights(ours)
    out, weights = ours(x, context=context, mask=mask), ours.weights
    assert weights.shape == (B, H, T, S)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(weights, expected_weights, atol=1e-6, rtol=0)
    keep_attention_weights(ours, False)
    torch.testing.assert_close(ours(x, context=context, mask=mask), out, atol=1e-6, rtol=0)


def test_attention_weights_rows_sum_to_one_and_masked_entries_are_zero():
    ours, _ = torch_mha_pair()
    mask = causal_mask(T)
    keep_attention_weights(ours)
    ours(torch.randn(B, T, C), mask=mask)
    weights = ours.weights
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, H, T), atol=1e-6, rtol=0)
    assert (weights[..., ~mask] == 0).all()
    assert (weights[..., mask] > 0).all()


def test_attention_dropout_acts_in_training_only():
    torch.manual_seed(0)
    attn = MultiHeadAttention(C, H, dropout=0.5)
    x = torch.randn(B, T, C)
    attn.eval()
    assert torch.equal(attn(x), attn(x))
    attn.train()
    assert not torch.allclose(attn(x), attn(x))


# ------------------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------------------


def test_mismatched_head_size_names_the_dimension():
    q, k, v = torch.randn(B, H, T, D), torch.randn(B, H, T, D + 1), torch.randn(B, H, T, D)
    with pytest.raises(
        CourseInputError,
        match=r"k must be the same head size D \(dim 3\) as q \(4\), got head size D \(dim 3\) 5",
    ):
        attention_with_weights(q, k, v)


def test_mismatched_key_and_value_lengths_name_the_dimension():
    q, k, v = torch.randn(B, H, T, D), torch.randn(B, H, S, D), torch.randn(B, H, S - 1, D)
    with pytest.raises(
        CourseInputError, match=r"v must be the same number of key positions T_k \(dim 2\) as k \(7\)"
    ):
        attention_with_weights(q, k, v)


def test_mismatched_heads_and_batch_name_the_dimension():
    q = torch.randn(B, H, T, D)
    with pytest.raises(CourseInputError, match=r"k must be the same number of heads H \(dim 1\) as q \(3\)"):
        attention_with_weights(q, torch.randn(B, H + 1, T, D), torch.randn(B, H + 1, T, D))
    with pytest.raises(CourseInputError, match=r"v must be the same batch size B \(dim 0\) as q \(2\)"):
        attention_with_weights(q, q, torch.randn(1, H, T, D))


def test_three_dimensional_queries_are_rejected_with_the_expected_layout():
    with pytest.raises(
        CourseInputError, match=r"q must be a 4-D tensor of shape \(B, H, T, D\), got shape \(2, 5, 4\)"
    ):
        attention_with_weights(torch.randn(B, T, D), torch.randn(B, T, D), torch.randn(B, T, D))


def test_wrong_mask_shape_says_which_shape_is_expected():
    q = torch.randn(B, H, T, D)
    with pytest.raises(
        CourseInputError,
        match=r"mask must be a boolean tensor broadcastable to \(B, H, T_q, T_k\) = "
        r"\(2, 3, 5, 5\), got shape \(4, 4\)",
    ):
        attention_with_weights(q, q, q, causal_mask(4))
    attn = MultiHeadAttention(C, H)
    with pytest.raises(CourseInputError, match=r"\(2, 3, 5, 7\), got shape \(2, 1, 1, 5\)"):
        attn(
            torch.randn(B, T, C), context=torch.randn(B, S, C), mask=torch.ones(B, 1, 1, T, dtype=torch.bool)
        )


def test_float_mask_is_rejected():
    q = torch.randn(B, H, T, D)
    with pytest.raises(CourseInputError, match=r"mask must be a boolean tensor .* got dtype torch.float32"):
        attention_with_weights(q, q, q, causal_mask(T).float())


def test_multi_head_attention_input_errors():
    attn = MultiHeadAttention(C, H)
    with pytest.raises(
        CourseInputError,
        match=r"x must be of shape \(B, T, 12\) with dimension 2 equal to 12, got shape \(2, 5, 8\)",
    ):
        attn(torch.randn(B, T, 8))
    with pytest.raises(CourseInputError, match=r"context must be the same batch size B as x \(2\)"):
        attn(torch.randn(B, T, C), context=torch.randn(1, S, C))
    with pytest.raises(CourseInputError, match="n_embd must be divisible by n_head=5, got 12"):
        MultiHeadAttention(12, 5)


def test_causal_mask_rejects_fewer_keys_than_queries():
    with pytest.raises(CourseInputError, match=r"t_k must be an integer >= 4, got 3"):
        causal_mask(4, 3)


# ------------------------------------------------------------------------------------------------------------
# SelfAttention: the causal switch, rotary positions and the KV cache around the same attention
# ------------------------------------------------------------------------------------------------------------


def self_attention_pair(**kwargs) -> tuple[SelfAttention, MultiHeadAttention]:
    torch.manual_seed(0)
    plain = MultiHeadAttention(C, H)
    ours = SelfAttention(C, H, **kwargs)
    ours.load_state_dict(plain.state_dict())
    return ours, plain


def test_causal_self_attention_equals_multi_head_attention_with_a_causal_mask():
    ours, plain = self_attention_pair(causal=True)
    x = torch.randn(B, T, C)
    torch.testing.assert_close(ours(x), plain(x, mask=causal_mask(T)), atol=1e-6, rtol=0)
    keep_attention_weights(ours)
    ours(x)
    assert (ours.weights[..., ~causal_mask(T)] == 0).all()


def test_self_attention_with_rotary_rotates_queries_and_keys_before_the_scores():
    rotary = RotaryEmbedding(D, 16)
    ours, plain = self_attention_pair(causal=False, rotary=rotary)
    x = torch.randn(B, T, C)
    q, k, v = (plain.split_heads(proj(x)) for proj in (plain.q_proj, plain.k_proj, plain.v_proj))
    y = F.scaled_dot_product_attention(rotary(q), rotary(k), v)
    torch.testing.assert_close(ours(x), plain.out_proj(plain.merge_heads(y)), atol=1e-6, rtol=0)


@pytest.mark.parametrize("chunks", [[2, 1, 2], [1, 3, 1], [3, 1, 1], [1, 1, 1, 2]])
@pytest.mark.parametrize("window", [None, 3])
def test_self_attention_with_a_cache_equals_one_full_pass(window, chunks):
    """Feeding the positions in chunks through a cache gives the full pass's outputs; with a sliding
    window of 3 the full pass uses the banded causal mask."""
    ours, _ = self_attention_pair(causal=True, rotary=RotaryEmbedding(D, 16))
    x = torch.randn(B, T, C)
    cache = KVCache(1, B, H, D, max_length=3 if window else T, sliding_window=window is not None)
    pieces = []
    for chunk in x.split(chunks, dim=1):
        pieces.append(ours(chunk, cache=cache))
        cache.advance(chunk.size(1))
    keep_attention_weights(ours)
    full = ours(x, mask=None) if window is None else None
    if window is not None:  # the same attention with the band mask, written out
        q, k, v = (ours.split_heads(p(x)) for p in (ours.q_proj, ours.k_proj, ours.v_proj))
        q, k = ours.rotary(q), ours.rotary(k)
        y, _ = attention_with_weights(q, k, v, causal_mask(T, window=window))
        full = ours.out_proj(ours.merge_heads(y))
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=0)


def test_causal_mask_with_a_window_keeps_the_last_window_positions():
    expected = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=torch.bool)
    assert torch.equal(causal_mask(4, window=2), expected)
    assert torch.equal(causal_mask(2, 4, window=2), expected[2:])
