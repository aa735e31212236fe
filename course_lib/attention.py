"""Attention: every position looks at other positions and takes a weighted average of what it finds.

The story in the order notebook 01 tells it:

1. ``attention_with_weights``: scaled dot-product attention written out, for queries Q, keys K, values V::

       weights = softmax(Q K^T / sqrt(D))      # (T_q, T_k): how much query i looks at key j; rows sum to 1
       output  = weights V                      # (T_q, D):   a weighted average of the values

2. Masks (boolean, **True = may attend**, as in torch's ``F.scaled_dot_product_attention``): ``causal_mask``
   hides the future, ``padding_mask`` hides padding. A mask broadcasts to (B, H, T_q, T_k).
3. ``MultiHeadAttention``: H attentions side by side, each on its own D = C / H slice of the projected
   queries, keys and values, mixed by one output projection. With ``context`` it is cross-attention.

Then the additions that later notebooks introduce, each in its own place:

4. ``SelfAttention``: what the models use. It adds a causal switch, rotary positions (notebook 02) and a
   KV cache (notebook 04) around the same projections and the same attention.
5. ``keep_attention_weights``: torch's fused kernel is faster but does not hand out the weights; a layer
   told to keep them runs the written-out version and stores them in ``.weights`` for plots and widgets.

Shapes: B = batch, H = heads, T_q = query positions, T_k = key positions, D = head size, C = n_embd.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.validation import check_int, check_same_size, check_shape, fail

if TYPE_CHECKING:  # imported for type hints only
    from course_lib.kv_cache import KVCache
    from course_lib.positional import RotaryEmbedding


# ------------------------------------------------------------------------------------------------------------
# 1. Scaled dot-product attention, written out
# ------------------------------------------------------------------------------------------------------------


def attention_with_weights(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T / sqrt(D)) V, written out so the attention weights can be looked at.

    Computes what ``torch.nn.functional.scaled_dot_product_attention`` computes, and also returns the weights.

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
    check_qkv(q, k, v)
    check_attention_mask(mask, (q.size(0), q.size(1), q.size(2), k.size(2)))
    return _attention_with_weights(q, k, v, mask, dropout_p)


def _attention_with_weights(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, dropout_p: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The computation of ``attention_with_weights``, for callers that have checked their inputs."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))  # a masked key gets weight exp(-inf) = 0
    weights = scores.softmax(dim=-1)  # (B, H, T_q, T_k)
    if mask is not None:  # a query that may attend to nothing would get 0/0 = NaN: give it all-zero weights
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)  # as torch's fused kernel does
    output = F.dropout(weights, p=dropout_p) @ v  # (B, H, T_q, D_v)
    return output, weights


def check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    """q (B, H, T_q, D), k (B, H, T_k, D) and v (B, H, T_k, D_v) must agree on the shared dimensions."""
    fix = "Queries, keys and values come from the same heads: reshape each to (B, H, T, D)."
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        check_shape(name, tensor, ("B", "H", "T", "D"), fix)
    for name, tensor in (("k", k), ("v", v)):
        check_same_size(name, tensor.size(0), "q", q.size(0), "batch size B (dim 0)", fix)
        check_same_size(name, tensor.size(1), "q", q.size(1), "number of heads H (dim 1)", fix)
    check_same_size(
        "k", k.size(3), "q", q.size(3), "head size D (dim 3)", "q and k are compared by a dot product."
    )
    check_same_size(
        "v", v.size(2), "k", k.size(2), "number of key positions T_k (dim 2)", "Every key needs a value."
    )


# ------------------------------------------------------------------------------------------------------------
# 2. Masks (True = may attend)
# ------------------------------------------------------------------------------------------------------------


def causal_mask(
    t_q: int, t_k: int | None = None, *, window: int | None = None, device: torch.device | str | None = None
) -> torch.Tensor:
    """Causal mask (T_q, T_k): query i may see key j iff j <= i + (T_k - T_q).

    With T_k == T_q this is the usual lower triangle (a position sees itself and the past). With a KV
    cache the T_k - T_q cached keys come first, so the T_q new queries also see all of them. With a
    ``window`` (a sliding-window cache) a query sees only its last ``window`` positions, itself included.
    """
    t_k = t_q if t_k is None else t_k
    check_int("t_q", t_q, minimum=1, fix="Pass the number of query positions.")
    check_int(
        "t_k", t_k, minimum=t_q, fix="Keys include every query position (and any cached ones before them)."
    )
    mask = torch.ones(t_q, t_k, dtype=torch.bool, device=device).tril(diagonal=t_k - t_q)  # (T_q, T_k)
    if window is not None:
        check_int("window", window, minimum=1, fix="Pass the number of positions a query may see.")
        mask = mask.triu(diagonal=t_k - t_q - window + 1)  # forget keys more than window - 1 positions back
    return mask


def padding_mask(token_ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Padding mask (B, 1, 1, T) from token ids (B, T): True at real tokens, False at ``pad_id``.

    The two singleton dimensions broadcast over heads and query positions: nobody attends to padding.
    """
    check_shape("token_ids", token_ids, ("B", "T"), "Pass a batch of token ids, e.g. ids.unsqueeze(0).")
    return (token_ids != pad_id)[:, None, None, :]  # (B, 1, 1, T)


def check_attention_mask(mask: torch.Tensor | None, expected: tuple[int, int, int, int]) -> None:
    """Check that ``mask`` is None, or boolean and broadcastable to ``expected`` = (B, H, T_q, T_k)."""
    if mask is None:
        return
    wanted = f"a boolean tensor broadcastable to (B, H, T_q, T_k) = {expected}"
    fix = "True means 'may attend'. Build one with causal_mask(T_q, T_k) or padding_mask(token_ids, pad_id)."
    if mask.dtype != torch.bool:
        fail("mask", wanted, f"dtype {mask.dtype}", fix)
    trailing = expected[len(expected) - mask.dim() :] if mask.dim() <= 4 else None
    if trailing is None or any(m not in (1, e) for m, e in zip(mask.shape, trailing, strict=True)):
        fail("mask", wanted, f"shape {tuple(mask.shape)}", fix)


# ------------------------------------------------------------------------------------------------------------
# 3. Multi-head attention
# ------------------------------------------------------------------------------------------------------------


class MultiHeadAttention(nn.Module):
    """Multi-head attention: x (B, T, C) attends over itself, or over ``context`` (B, S, C):
    cross-attention."""

    def __init__(self, n_embd: int, n_head: int, *, bias: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        if n_embd % n_head != 0:
            fail(
                "n_embd",
                f"divisible by n_head={n_head}",
                n_embd,
                "Every head gets n_embd // n_head dimensions.",
            )
        self.n_embd, self.n_head, self.head_dim = n_embd, n_head, n_embd // n_head
        self.dropout = dropout  # dropout on the attention weights (training only)
        self.q_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.k_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.v_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.out_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.keep_weights = False  # see keep_attention_weights
        self.weights: torch.Tensor | None = None  # (B, H, T_q, T_k) of the last call, when keep_weights

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x (B, T, C), context (B, S, C) (None: x itself), mask broadcastable to (B, H, T, S) -> (B, T,
        C)."""
        self.check_input(x, context, mask)
        source = x if context is None else context  # keys and values come from here: (B, S, C)
        q = self.split_heads(self.q_proj(x))  # (B, H, T, D)
        k = self.split_heads(self.k_proj(source))  # (B, H, S, D)
        v = self.split_heads(self.v_proj(source))  # (B, H, S, D)
        y = self.attend(q, k, v, mask=mask)  # (B, H, T, D)
        return self.out_proj(self.merge_heads(y))  # (B, T, C)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, H, T, D): head h gets channels h*D .. (h+1)*D - 1."""
        B, T, _ = x.shape
        return x.view(B, T, self.n_head, self.head_dim).transpose(1, 2)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, T, D) -> (B, T, C): the inverse of ``split_heads``."""
        B, _, T, _ = x.shape
        return x.transpose(1, 2).reshape(B, T, self.n_embd)

    def attend(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        *,
        mask: torch.Tensor | None,
        is_causal: bool = False,
    ) -> torch.Tensor:
        """Attention of q (B, H, T_q, D) over k, v (B, H, T_k, D) -> (B, H, T_q, D).

        ``is_causal=True`` (with T_q == T_k) stands for ``causal_mask(T_q)``: the fused kernel needs no mask.
        """
        dropout_p = self.dropout if self.training else 0.0
        if not self.keep_weights:  # torch's fused kernel: the same numbers, faster, no weights
            return F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal
            )
        if is_causal:
            mask = causal_mask(q.size(2), k.size(2), device=q.device)
        y, self.weights = _attention_with_weights(q, k, v, mask, dropout_p)
        return y

    def check_input(self, x: torch.Tensor, context: torch.Tensor | None, mask: torch.Tensor | None) -> None:
        """x (B, T, C), context (B, S, C) or None, mask broadcastable to (B, H, T, S) or None."""
        fix = f"The last dimension must be n_embd={self.n_embd}."
        check_shape("x", x, ("B", "T", self.n_embd), fix)
        if context is not None:
            check_shape("context", context, ("B", "S", self.n_embd), fix)
            check_same_size(
                "context", context.size(0), "x", x.size(0), "batch size B", "Pair each x with its context."
            )
        t_k = x.size(1) if context is None else context.size(1)
        check_attention_mask(mask, (x.size(0), self.n_head, x.size(1), t_k))


# ------------------------------------------------------------------------------------------------------------
# 4. Self-attention as the models use it: causal switch, rotary positions, KV cache
# ------------------------------------------------------------------------------------------------------------


class SelfAttention(MultiHeadAttention):
    """Self-attention x (B, T, C) -> (B, T, C) with the additions the models need.

    - ``causal``: position t sees positions 0..t only (a decoder); otherwise every position (an encoder).
    - ``rotary`` (notebook 02): queries and keys are rotated by their positions before the scores.
    - a KV cache (notebook 04): keys and values of earlier positions are stored in slot ``layer_index`` of
      the cache passed to ``forward``; x then holds only the new positions.
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        *,
        causal: bool,
        bias: bool = True,
        dropout: float = 0.0,
        rotary: RotaryEmbedding | None = None,
        layer_index: int = 0,
    ) -> None:
        super().__init__(n_embd, n_head, bias=bias, dropout=dropout)
        self.causal = causal
        self.rotary = rotary  # shared by every layer; it holds no weights
        self.layer_index = layer_index

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, cache: KVCache | None = None
    ) -> torch.Tensor:
        """x (B, T, C) -> (B, T, C). ``mask`` (an encoder's padding) broadcasts to (B, H, T, T)."""
        q = self.split_heads(self.q_proj(x))  # (B, H, T, D)
        k = self.split_heads(self.k_proj(x))  # (B, H, T, D)
        v = self.split_heads(self.v_proj(x))  # (B, H, T, D)
        start = 0 if cache is None else cache.length  # position of x's first token
        if self.rotary is not None:  # notebook 02: rotate queries and keys by their positions
            q, k = self.rotary.rotate_queries_and_keys(q, k, start)
        if cache is not None:  # notebook 04: store the new keys and values, attend over every stored one too
            k, v = cache.update(self.layer_index, k, v)  # (B, H, T_k, D), the stored positions first
        is_causal = False
        if self.causal:  # hide later positions (and, with a sliding-window cache, those out of the window)
            mask, is_causal = self.causal_mask_for(q.size(2), k.size(2), cache)
        y = self.attend(q, k, v, mask=mask, is_causal=is_causal)  # (B, H, T, D)
        return self.out_proj(self.merge_heads(y))  # (B, T, C)

    @staticmethod
    def causal_mask_for(t_q: int, t_k: int, cache: KVCache | None) -> tuple[torch.Tensor | None, bool]:
        """(mask, is_causal) for T_q new queries over T_k keys, the new positions last.

        One new query may see every key it is given (no mask); with T_q == T_k the fused kernel's
        ``is_causal`` stands for the lower triangle; otherwise the cached keys come first (``causal_mask``).
        """
        if t_q == 1:
            return None, False
        if t_q == t_k:
            return None, True
        return causal_mask(t_q, t_k, window=None if cache is None else cache.window), False


@contextmanager
def attention_weights_kept(model: nn.Module, enabled: bool = True) -> Iterator[None]:
    """Inside the ``with`` block the attention layers of ``model`` keep their weights (when ``enabled``);
    afterwards they run the fused kernel again. Disabled, it costs nothing (generation's hot path)."""
    if not enabled:
        yield
        return
    keep_attention_weights(model)
    try:
        yield
    finally:
        keep_attention_weights(model, False)


def keep_attention_weights(model: nn.Module, keep: bool = True) -> None:
    """Make every attention layer inside ``model`` keep its weights (B, H, T_q, T_k) in ``.weights``, or stop.

    Keeping them runs the written-out attention (slower, same outputs) instead of torch's fused kernel.
    """
    for module in model.modules():
        if isinstance(module, MultiHeadAttention):
            module.keep_weights, module.weights = keep, None
