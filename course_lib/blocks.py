"""Transformer blocks, and stacks of them.

A block is two (encoder) or three (decoder) residual sub-layers, each with a LayerNorm:

- self-attention: positions exchange information (a decoder's is causal: no peeking ahead);
- cross-attention (decoder with an encoder only): target positions read the encoder's output ("memory");
- MLP: each position thinks on its own, (B, T, C) -> (B, T, 4C) -> (B, T, C).

Where the LayerNorm sits is ``config.norm_first``:

- pre-LN  (GPT-2, most modern models):        x = x + sublayer(norm(x))
- post-LN (the original Transformer, 2017):   x = norm(x + sublayer(x))

A stack is n_layer blocks; in pre-LN mode it ends with one more LayerNorm (``ln_f``), because the
residual stream itself is never normalised inside the blocks. The stacks compute exactly what
``torch.nn.TransformerEncoder`` / ``TransformerDecoder`` compute (see ``tests/test_blocks.py``).

Shapes: B = batch, T = target positions, S = source (memory) positions, C = n_embd.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.attention import MultiHeadAttention, SelfAttention
from course_lib.configs import ACTIVATIONS, TransformerConfig
from course_lib.kv_cache import KVCache
from course_lib.positional import RotaryEmbedding
from course_lib.validation import fail


def make_activation(name: str) -> nn.Module:
    """The MLP's non-linearity: "gelu" (exact), "gelu_tanh" (GPT-2's tanh approximation) or "relu"."""
    if name == "gelu":
        return nn.GELU()
    if name == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    if name == "relu":
        return nn.ReLU()
    fail("activation", f"one of {ACTIVATIONS}", repr(name), "Pick one of the listed names.")


def make_layer_norm(config: TransformerConfig) -> nn.LayerNorm:
    """A LayerNorm over the C channels of every position."""
    return nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)


class MLP(nn.Module):
    """Position-wise feed-forward network: (B, T, C) -> (B, T, 4C) -> (B, T, C)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.act = make_activation(config.activation)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.act(self.fc(x)))  # (B, T, C)


def self_attention(
    config: TransformerConfig, *, causal: bool, rotary: RotaryEmbedding | None, layer_index: int
) -> SelfAttention:
    """The self-attention sub-layer of block ``layer_index``, sized and switched by ``config``."""
    return SelfAttention(
        config.n_embd,
        config.n_head,
        causal=causal,
        bias=config.bias,
        dropout=config.dropout,
        rotary=rotary,
        layer_index=layer_index,
    )


class EncoderBlock(nn.Module):
    """Bidirectional self-attention + MLP: (B, S, C) -> (B, S, C)."""

    def __init__(self, config: TransformerConfig, *, rotary: RotaryEmbedding | None = None) -> None:
        super().__init__()
        self.norm_first = config.norm_first
        self.ln_attn = make_layer_norm(config)
        self.attn = self_attention(config, causal=False, rotary=rotary, layer_index=0)
        self.ln_mlp = make_layer_norm(config)
        self.mlp = MLP(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, S, C), mask broadcastable to (B, H, S, S) (padding) -> (B, S, C)."""
        if self.norm_first:  # pre-LN
            x = x + self.drop(self.attn(self.ln_attn(x), mask=mask))
            return x + self.drop(self.mlp(self.ln_mlp(x)))
        x = self.ln_attn(x + self.drop(self.attn(x, mask=mask)))  # post-LN
        return self.ln_mlp(x + self.drop(self.mlp(x)))


class DecoderBlock(nn.Module):
    """Causal self-attention (+ cross-attention over an encoder's memory) + MLP: (B, T, C) -> (B, T, C)."""

    def __init__(
        self,
        config: TransformerConfig,
        *,
        cross_attention: bool = False,
        rotary: RotaryEmbedding | None = None,
        layer_index: int = 0,
    ) -> None:
        super().__init__()
        self.norm_first = config.norm_first
        self.ln_attn = make_layer_norm(config)
        self.attn = self_attention(config, causal=True, rotary=rotary, layer_index=layer_index)
        self.cross_attention = cross_attention
        if cross_attention:
            self.ln_cross = make_layer_norm(config)
            self.cross_attn = MultiHeadAttention(
                config.n_embd, config.n_head, bias=config.bias, dropout=config.dropout
            )
        self.ln_mlp = make_layer_norm(config)
        self.mlp = MLP(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        *,
        memory_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """x (B, T, C) -> (B, T, C).

        Args:
            x: (B, T, C) target positions (only the new ones when a KV cache holds the earlier ones).
            memory: (B, S, C) the encoder's output; required if and only if the block has cross-attention.
            memory_mask: broadcastable to (B, H, T, S), normally padding_mask(src, pad_id).
            cache: KV cache for the self-attention (this block uses its slot ``layer_index``).
        """
        if (memory is not None) != self.cross_attention:
            memory_given = "None" if memory is None else "a tensor"
            given = f"memory={memory_given} with cross_attention={self.cross_attention}"
            fix = "Decoder-only blocks read no memory; encoder-decoder blocks need the encoder output."
            fail("memory", "given exactly when the block has cross-attention", given, fix)
        if self.norm_first:  # pre-LN
            x = x + self.drop(self.attn(self.ln_attn(x), cache=cache))
            if self.cross_attention:
                x = x + self.drop(self.cross_attn(self.ln_cross(x), context=memory, mask=memory_mask))
            return x + self.drop(self.mlp(self.ln_mlp(x)))
        x = self.ln_attn(x + self.drop(self.attn(x, cache=cache)))  # post-LN
        if self.cross_attention:
            x = self.ln_cross(x + self.drop(self.cross_attn(x, context=memory, mask=memory_mask)))
        return self.ln_mlp(x + self.drop(self.mlp(x)))


def make_final_norm(config: TransformerConfig) -> nn.Module:
    """Pre-LN stacks end with a LayerNorm; post-LN blocks already end with one, so nothing is added."""
    return make_layer_norm(config) if config.norm_first else nn.Identity()


class EncoderStack(nn.Module):
    """n_layer encoder blocks (+ the final LayerNorm in pre-LN mode): (B, S, C) -> (B, S, C)."""

    def __init__(
        self, config: TransformerConfig, *, n_layer: int, rotary: RotaryEmbedding | None = None
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([EncoderBlock(config, rotary=rotary) for _ in range(n_layer)])
        self.ln_f = make_final_norm(config)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, S, C), padding mask broadcastable to (B, H, S, S) -> (B, S, C)."""
        for block in self.blocks:
            x = block(x, mask=mask)
        return self.ln_f(x)

    def attention_weights(self) -> list[torch.Tensor]:
        """Per layer (B, H, S, S), kept by the last forward (see ``attention.keep_attention_weights``)."""
        return [block.attn.weights for block in self.blocks]


class DecoderStack(nn.Module):
    """n_layer decoder blocks (+ the final LayerNorm in pre-LN mode): (B, T, C) -> (B, T, C)."""

    def __init__(
        self,
        config: TransformerConfig,
        *,
        n_layer: int,
        cross_attention: bool = False,
        rotary: RotaryEmbedding | None = None,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [
                DecoderBlock(config, cross_attention=cross_attention, rotary=rotary, layer_index=i)
                for i in range(n_layer)
            ]
        )
        self.ln_f = make_final_norm(config)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        *,
        memory_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """x (B, T, C), memory (B, S, C) or None -> (B, T, C).

        With a cache, every block stores its keys and values, then the cache advances by T positions.
        """
        for block in self.blocks:
            x = block(x, memory, memory_mask=memory_mask, cache=cache)
        if cache is not None:
            cache.advance(x.size(1))
        return self.ln_f(x)

    def attention_weights(self) -> list[torch.Tensor]:
        """Per layer (B, H, T, T_k) self-attention weights, kept by the last forward."""
        return [block.attn.weights for block in self.blocks]

    def cross_attention_weights(self) -> list[torch.Tensor]:
        """Per layer (B, H, T, S) cross-attention weights, kept by the last forward."""
        return [block.cross_attn.weights for block in self.blocks]
