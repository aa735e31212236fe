"""Attention: every position looks at other positions and takes a weighted average of what it finds.

Scaled dot-product attention, for queries Q (T_q, D), keys K (T_k, D) and values V (T_k, D)::

    weights = softmax(Q K^T / sqrt(D))      # (T_q, T_k): how much query i looks at key j; rows sum to 1
    output  = weights V                      # (T_q, D):   a weighted average of the values

Masks are boolean with **True = may attend** (the same convention as torch's
``F.scaled_dot_product_attention``). A mask must broadcast to (B, H, T_q, T_k), so one causal (T_q, T_k)
mask serves every sequence and head, and one padding mask (B, 1, 1, T_k) serves every query and head.

Multi-head attention runs H attentions side by side, each on its own D = C / H slice of the
projected queries, keys and values, and mixes the H results with one output projection.

Shapes: B = batch, H = heads, T_q = query positions, T_k = key positions, D = head size, C = n_embd.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.validation import check_int, check_same_size, check_shape, fail

if TYPE_CHECKING:  # imported for type hints only
    from course_lib.kv_cache import KVCache
    from course_lib.positional import RotaryEmbedding


# ---------------------------------------------------------------------------------------------------------------
# Masks (True = may attend)
# ---------------------------------------------------------------------------------------------------------------


def causal_mask(t_q: int, t_k: int | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """Causal mask (T_q, T_k): query i may see key j iff j <= i + (T_k - T_q).

    With T_k == T_q this is the usual lower triangle (a position sees itself and the past). With a KV
    cache the T_k - T_q cached keys come first, so the T_q new queries also see all of them.
    """
    t_k = t_q if t_k is None else t_k
    check_int("t_q", t_q, minimum=1, fix="Pass the number of query positions.")
    check_int(
        "t_k", t_k, minimum=t_q, fix="Keys include every query position (and any cached ones before them)."
    )
    ones = torch.ones(t_q, t_k, dtype=torch.bool, device=device)  # (T_q, T_k)
    return ones.tril(diagonal=t_k - t_q)


def padding_mask(token_ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Padding mask (B, 1, 1, T) from token ids (B, T): True at real tokens, False at ``pad_id``.

    The two singleton dimensions broadcast over heads and query positions: nobody attends to padding.
    """
    check_shape("token_ids", token_ids, ("B", "T"), "Pass a batch of token ids, e.g. ids.unsqueeze(0).")
    return (token_ids != pad_id)[:, None, None, :]  # (B, 1, 1, T)


def check_attention_mask(mask: torch.Tensor | None, q: torch.Tensor, k: torch.Tensor) -> None:
    """Check that ``mask`` is boolean and broadcasts to (B, H, T_q, T_k) for queries q and keys k."""
    if mask is None:
        return
    expected = (q.size(0), q.size(1), q.size(2), k.size(2))  # (B, H, T_q, T_k)
    wanted = f"a boolean tensor broadcastable to (B, H, T_q, T_k) = {expected}"
    fix = "True means 'may attend'. Build one with causal_mask(T_q, T_k) or padding_mask(token_ids, pad_id)."
    if mask.dtype != torch.bool:
        fail("mask", wanted, f"dtype {mask.dtype}", fix)
    trailing = expected[len(expected) - mask.dim() :] if mask.dim() <= 4 else None
    if trailing is None or any(m not in (1, e) for m, e in zip(mask.shape, trailing)):
        fail("mask", wanted, f"shape {tuple(mask.shape)}", fix)


# ---------------------------------------------------------------------------------------------------------------
# Scaled dot-product attention, written out
# ---------------------------------------------------------------------------------------------------------------


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    """q (B, H, T_q, D), k (B, H, T_k, D) and v (B, H, T_k, D_v) must agree on the shared dimensions."""
    fix = "Queries, keys and values come from the same heads: reshape each to (B, H, T, D)."
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        check_shape(name, tensor, ("B", "H", "T", "D"), fix)
    check_same_size("k", k.size(0), "q", q.size(0), "batch size B (dim 0)", fix)
    check_same_size("v", v.size(0), "q", q.size(0), "batch size B (dim 0)", fix)
    check_same_size("k", k.size(1), "q", q.size(1), "number of heads H (dim 1)", fix)
    check_same_size("v", v.size(1), "q", q.size(1), "number of heads H (dim 1)", fix)
    check_same_size(
        "k", k.size(3), "q", q.size(3), "head size D (dim 3)", "q and k are compared by a dot product."
    )
    check_same_size(
        "v",
        v.size(2),
        "k",
        k.size(2),
        "number of key positions T_k (dim 2)",
        "Every key needs exactly one value.",
    )


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T / sqrt(D)) V, written out so the attention weights can be looked at.

    Args:
        q: queries (B, H, T_q, D).
        k: keys (B, H, T_k, D).
        v: values (B, H, T_k, D_v).
        mask: boolean, True = may attend, broadcastable to (B, H, T_q, T_k).
        dropout_p: probability of dropping an attention weight (use 0.0 outside training).

    Returns:
        output (B, H, T_q, D_v) and the attention weights (B, H, T_q, T_k) before dropout
        (each row sums to 1, masked entries are 0; a row whose keys are all masked is all 0).
    """
    _check_qkv(q, k, v)
    check_attention_mask(mask, q, k)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # a masked key gets weight exp(-inf) = 0
    weights = scores.softmax(dim=-1)  # (B, H, T_q, T_k)
    if mask is not None:  # a query that may attend to nothing would get 0/0 = NaN: give it all-zero weights
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)  # as torch's fused kernel does
    output = F.dropout(weights, p=dropout_p) @ v  # (B, H, T_q, D_v)
    return output, weights


# ---------------------------------------------------------------------------------------------------------------
# Multi-head attention
# ---------------------------------------------------------------------------------------------------------------


class MultiHeadAttention(nn.Module):
    """Multi-head attention: self-attention (``context=None``) or cross-attention over ``context``.

    Queries come from x (B, T, C); keys and values come from x itself or from context (B, S, C).
    """

    def __init__(self, n_embd: int, n_head: int, bias: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        if n_embd % n_head != 0:
            fail(
                "n_embd",
                f"divisible by n_head={n_head}",
                n_embd,
                "Every head gets n_embd // n_head dimensions.",
            )
        self.n_embd = n_embd
        self.n_head = n_head
        self.head_dim = n_embd // n_head
        self.dropout = dropout  # dropout on the attention weights (training only)
        self.q_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.k_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.v_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.out_proj = nn.Linear(n_embd, n_embd, bias=bias)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, H, T, D): head h gets channels h*D .. (h+1)*D - 1."""
        B, T, _ = x.shape
        return x.view(B, T, self.n_head, self.head_dim).transpose(1, 2)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, T, D) -> (B, T, C): the inverse of ``split_heads``."""
        B, _, T, _ = x.shape
        return x.transpose(1, 2).reshape(B, T, self.n_embd)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        layer: int = 0,
        rotary: RotaryEmbedding | None = None,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from x to itself (self-attention) or to ``context`` (cross-attention).

        Args:
            x: (B, T, C) the positions asking (queries).
            context: (B, S, C) the positions answered from (keys, values); None means x itself.
            mask: boolean, True = may attend, broadcastable to (B, H, T, T_k) where T_k = S, or the
                number of cached plus new positions when a cache is used.
            cache: a KV cache (self-attention only): this call's keys and values are appended to it and
                attention runs over all stored positions. The caller calls ``cache.advance`` afterwards.
            layer: which layer's slot of the cache to use.
            rotary: rotary position embedding applied to queries and keys (self-attention only).
            return_weights: also return the attention weights (uses the written-out attention).

        Returns:
            output (B, T, C) and weights (B, H, T, T_k) or None.
        """
        self._check_inputs(x, context, cache, rotary)
        source = x if context is None else context  # keys and values come from here: (B, S, C)
        q = self.split_heads(self.q_proj(x))  # (B, H, T, D)
        k = self.split_heads(self.k_proj(source))  # (B, H, S, D)
        v = self.split_heads(self.v_proj(source))  # (B, H, S, D)
        if rotary is not None:
            start = 0 if cache is None else cache.length  # the new tokens' first position
            q, k = rotary(q, start), rotary(k, start)
        if cache is not None:
            k, v = cache.update(layer, k, v)  # (B, H, length + T, D): earlier positions first
        check_attention_mask(mask, q, k)
        dropout_p = self.dropout if self.training else 0.0
        if return_weights:
            y, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p)  # (B, H, T, D)
        else:  # torch's fused kernel: same numbers, faster, no weights
            y, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p), None
        return self.out_proj(self.merge_heads(y)), weights  # (B, T, C)

    def _check_inputs(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None,
        cache: KVCache | None,
        rotary: RotaryEmbedding | None,
    ) -> None:
        check_shape("x", x, ("B", "T", self.n_embd), f"The last dimension must be n_embd={self.n_embd}.")
        if context is None:
            return
        check_shape(
            "context", context, ("B", "S", self.n_embd), f"The last dimension must be n_embd={self.n_embd}."
        )
        check_same_size(
            "context", context.size(0), "x", x.size(0), "batch size B", "Pair each sequence with its context."
        )
        if cache is not None or rotary is not None:
            fail(
                "cache and rotary",
                "None for cross-attention (context given)",
                "a cache or rotary",
                "They belong to self-attention; cross-attention recomputes keys and values from the context.",
            )
