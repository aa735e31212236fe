"""Transformer blocks, and stacks of them.

A block is two (encoder) or three (decoder) residual sub-layers, each wrapped in a LayerNorm:

- self-attention: positions exchange information (a decoder's is causal: no peeking ahead);
- cross-attention (decoder with an encoder only): target positions read the encoder's output ("memory");
- MLP: each position thinks on its own, (B, T, C) -> (B, T, 4C) -> (B, T, C).

Where the LayerNorm sits is ``config.norm_first``:

- pre-LN  (GPT-2, most modern models):        x = x + sublayer(norm(x))
- post-LN (the original Transformer, 2017):   x = norm(x + sublayer(x))

A stack is n_layer blocks; in pre-LN mode it ends with one more LayerNorm (``ln_f``), because the
residual stream itself is never normalised inside the blocks. The stacks compute exactly what
``torch.nn.TransformerEncoder`` / ``TransformerDecoder`` compute (see ``tests/test_models.py``).

Shapes: B = batch, T = target positions, S = source (memory) positions, C = n_embd.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.attention import MultiHeadAttention
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


class ResidualBlock(nn.Module):
    """What encoder and decoder blocks share: the residual connection around each sub-layer."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.norm_first = config.norm_first
        self.drop = nn.Dropout(config.dropout)

    def sublayer_input(self, x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
        """What a sub-layer reads: norm(x) in pre-LN, x itself in post-LN."""
        return norm(x) if self.norm_first else x

    def add_residual(self, x: torch.Tensor, out: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
        """x + out in pre-LN, norm(x + out) in post-LN (out = the sub-layer's output, dropped out)."""
        x = x + self.drop(out)
        return x if self.norm_first else norm(x)


class EncoderBlock(ResidualBlock):
    """Bidirectional self-attention + MLP: (B, S, C) -> (B, S, C)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__(config)
        self.ln_attn = make_layer_norm(config)
        self.attn = MultiHeadAttention(config.n_embd, config.n_head, config.bias, config.dropout)
        self.ln_mlp = make_layer_norm(config)
        self.mlp = MLP(config)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        rotary: RotaryEmbedding | None = None,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, S, C), mask broadcastable to (B, H, S, S) -> x (B, S, C), weights (B, H, S, S) or None."""
        out, weights = self.attn(
            self.sublayer_input(x, self.ln_attn), mask=mask, rotary=rotary, return_weights=return_weights
        )
        x = self.add_residual(x, out, self.ln_attn)
        x = self.add_residual(x, self.mlp(self.sublayer_input(x, self.ln_mlp)), self.ln_mlp)
        return x, weights


class DecoderBlock(ResidualBlock):
    """Causal self-attention (+ cross-attention over an encoder's memory) + MLP: (B, T, C) -> (B, T, C)."""

    def __init__(self, config: TransformerConfig, cross_attention: bool = False) -> None:
        super().__init__(config)
        self.ln_attn = make_layer_norm(config)
        self.attn = MultiHeadAttention(config.n_embd, config.n_head, config.bias, config.dropout)
        self.cross_attention = cross_attention
        if cross_attention:
            self.ln_cross = make_layer_norm(config)
            self.cross_attn = MultiHeadAttention(config.n_embd, config.n_head, config.bias, config.dropout)
        self.ln_mlp = make_layer_norm(config)
        self.mlp = MLP(config)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        self_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        layer: int = 0,
        rotary: RotaryEmbedding | None = None,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """One decoder block.

        Args:
            x: (B, T, C) target positions.
            memory: (B, S, C) the encoder's output; required if and only if the block has cross-attention.
            self_mask: broadcastable to (B, H, T, T_k), normally causal_mask(T, T_k).
            memory_mask: broadcastable to (B, H, T, S), normally padding_mask(src, pad_id).
            cache, layer: KV cache for the self-attention and this block's index in it.
            rotary: rotary positions for the self-attention.
            return_weights: also return the attention weights.

        Returns:
            x (B, T, C), self-attention weights (B, H, T, T_k) or None, cross-attention weights (B, H, T, S) or None.
        """
        if (memory is not None) != self.cross_attention:
            fail(
                "memory",
                "given exactly when the block has cross-attention",
                f"memory={'a tensor' if memory is not None else 'None'} with cross_attention={self.cross_attention}",
                "Decoder-only blocks read no memory; encoder-decoder blocks need the encoder output.",
            )
        out, self_weights = self.attn(
            self.sublayer_input(x, self.ln_attn),
            mask=self_mask,
            cache=cache,
            layer=layer,
            rotary=rotary,
            return_weights=return_weights,
        )
        x = self.add_residual(x, out, self.ln_attn)
        cross_weights = None
        if self.cross_attention:
            out, cross_weights = self.cross_attn(
                self.sublayer_input(x, self.ln_cross),
                context=memory,
                mask=memory_mask,
                return_weights=return_weights,
            )
            x = self.add_residual(x, out, self.ln_cross)
        x = self.add_residual(x, self.mlp(self.sublayer_input(x, self.ln_mlp)), self.ln_mlp)
        return x, self_weights, cross_weights


def make_final_norm(config: TransformerConfig) -> nn.Module:
    """Pre-LN stacks end with a LayerNorm; post-LN blocks already end with one, so nothing is added."""
    return make_layer_norm(config) if config.norm_first else nn.Identity()


class EncoderStack(nn.Module):
    """n_layer encoder blocks (+ the final LayerNorm in pre-LN mode): (B, S, C) -> (B, S, C)."""

    def __init__(self, config: TransformerConfig, n_layer: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([EncoderBlock(config) for _ in range(n_layer)])
        self.ln_f = make_final_norm(config)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        rotary: RotaryEmbedding | None = None,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """x (B, S, C) -> x (B, S, C) and, with return_weights, one (B, H, S, S) weight tensor per layer."""
        attentions = []
        for block in self.blocks:
            x, weights = block(x, mask=mask, rotary=rotary, return_weights=return_weights)
            attentions.append(weights)
        return self.ln_f(x), (attentions if return_weights else None)


class DecoderStack(nn.Module):
    """n_layer decoder blocks (+ the final LayerNorm in pre-LN mode): (B, T, C) -> (B, T, C)."""

    def __init__(self, config: TransformerConfig, n_layer: int, cross_attention: bool = False) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([DecoderBlock(config, cross_attention) for _ in range(n_layer)])
        self.ln_f = make_final_norm(config)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor | None = None,
        self_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        rotary: RotaryEmbedding | None = None,
        return_weights: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor] | None, list[torch.Tensor] | None]:
        """x (B, T, C) -> x (B, T, C), per-layer self- and cross-attention weights (or None).

        With a cache, every block appends its keys and values, then the cache advances by T positions.
        """
        self_attentions, cross_attentions = [], []
        for layer, block in enumerate(self.blocks):
            x, self_weights, cross_weights = block(
                x, memory, self_mask, memory_mask, cache, layer, rotary, return_weights
            )
            self_attentions.append(self_weights)
            cross_attentions.append(cross_weights)
        if cache is not None:
            cache.advance(x.size(1))
        if not return_weights:
            return self.ln_f(x), None, None
        return self.ln_f(x), self_attentions, (cross_attentions if memory is not None else None)
