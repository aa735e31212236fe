"""Three transformer language models built from the same parts.

- ``DecoderOnlyLM``    (GPT):      causal self-attention; predicts token t+1 from tokens 0..t.
- ``EncoderOnlyLM``    (BERT):     bidirectional self-attention; predicts masked-out tokens.
- ``EncoderDecoderLM`` (T5/BART):  an encoder reads the source, a decoder writes the target while
                                   cross-attending to the encoder's output ("memory").

Each model: token ids (B, T) -> embeddings (B, T, C) -> a stack of blocks -> logits (B, T, V).
The output layer shares its weight matrix with the token embedding (``config.tie_weights``).
Weights start like GPT-2's: normal(0, 0.02), with the projections that write into the residual stream
scaled down by 1/sqrt(2 * n_layer) so the stream does not grow with depth.

Shapes: B = batch, T = positions, S = source positions, C = n_embd, V = vocab_size, H = heads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.attention import attention_weights_kept
from course_lib.blocks import DecoderStack, EncoderStack, make_activation, make_layer_norm
from course_lib.configs import (
    DecoderOnlyConfig,
    EncoderDecoderConfig,
    EncoderOnlyConfig,
    TransformerConfig,
    gpt2_config,
)
from course_lib.kv_cache import KVCache
from course_lib.positional import RotaryEmbedding, make_positional
from course_lib.validation import check_shape, check_token_ids, fail


@dataclass
class LMOutput:
    """What every model returns."""

    logits: torch.Tensor  # (B, T, V)
    loss: torch.Tensor | None = None  # mean cross-entropy when targets are given (ignore_index=-100)
    attentions: list[torch.Tensor] | None = None  # per layer (B, H, T_q, T_k) when return_attention=True
    cross_attentions: list[torch.Tensor] | None = (
        None  # per decoder layer (B, H, T, S) (encoder-decoder only)
    )
    encoder_attentions: list[torch.Tensor] | None = (
        None  # per encoder layer (B, H, S, S) (encoder-decoder only)
    )


# ------------------------------------------------------------------------------------------------------------
# Shared parts
# ------------------------------------------------------------------------------------------------------------


class Embeddings(nn.Module):
    """Token ids (B, T) -> vectors (B, T, C): token embedding + position information + dropout.

    Rotary positions add nothing here: attention rotates queries and keys with ``self.rotary`` instead.
    Sinusoidal positions have entries of size about 1, while token embeddings start at size 0.02 (GPT-2's
    initialisation): as in the original Transformer, the token embeddings are multiplied by sqrt(C) so the
    positions do not drown them. Learned positions start at the tokens' size and need no scale.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.token = nn.Embedding(config.vocab_size, config.n_embd)
        self.positions = make_positional(config.positional, config.block_size, config.n_embd, config.n_head)
        self.token_scale = math.sqrt(config.n_embd) if config.positional == "sinusoidal" else 1.0
        self.drop = nn.Dropout(config.dropout)

    @property
    def rotary(self) -> RotaryEmbedding | None:
        """The rotary embedding to hand to self-attention, or None for the additive kinds."""
        return self.positions if isinstance(self.positions, RotaryEmbedding) else None

    def forward(self, idx: torch.Tensor, start: int = 0) -> torch.Tensor:
        x = self.token(idx) * self.token_scale  # (B, T, C)
        if self.rotary is None:
            x = self.positions(x, start)  # (B, T, C): positions start .. start + T - 1
        return self.drop(x)


def check_model_input(
    argument: str, idx: torch.Tensor, config: TransformerConfig, cache: KVCache | None
) -> None:
    """idx must be token ids (B, T) below vocab_size, at most block_size new tokens, that fit after the
    positions a fixed KV cache already holds (a sliding-window cache always has room)."""
    check_token_ids(argument, idx, vocab_size=config.vocab_size)
    length, block_size = idx.size(1), config.block_size
    if length > block_size:
        fix = f"Crop it to the last block_size tokens: {argument}[:, -{block_size}:]."
        fail(argument, f"at most block_size={block_size} tokens long", f"{length} tokens", fix)
    if cache is not None and cache.window is None and cache.length + length > block_size:
        room = f"at most {block_size - cache.length} new tokens long"
        why = f"(block_size={block_size}, the KV cache already holds {cache.length})"
        fix = "Crop the sequence to its last block_size tokens and start a fresh cache (model.new_cache)."
        fail(argument, f"{room} {why}", f"{length} tokens", fix)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor | None:
    """Mean cross-entropy of logits (B, T, V) against targets (B, T); targets of -100 are ignored."""
    if targets is None:
        return None
    if (
        not isinstance(targets, torch.Tensor)
        or targets.dtype != torch.long
        or targets.shape != logits.shape[:2]
    ):
        given = (
            f"{type(targets).__name__} {getattr(targets, 'dtype', '')} {tuple(getattr(targets, 'shape', ()))}"
        )
        fix = "Targets are the input ids shifted by one; use -100 for positions without a target."
        fail("targets", f"a LongTensor of shape (B, T) = {tuple(logits.shape[:2])}", given, fix)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)


def init_gpt2_weights(model: nn.Module, n_layer: int) -> None:
    """GPT-2's initialisation: Linear and Embedding weights ~ normal(0, 0.02), biases 0, LayerNorms (1, 0);
    the residual projections (attention ``out_proj``, MLP ``proj``) ~ normal(0, 0.02 / sqrt(2 * n_layer))."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
    for name, parameter in model.named_parameters():
        if name.endswith(("out_proj.weight", "mlp.proj.weight")):
            nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))


def make_lm_head(config: TransformerConfig, embeddings: Embeddings) -> nn.Linear:
    """The output layer (B, T, C) -> (B, T, V), sharing the token embedding matrix when tie_weights."""
    lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
    if config.tie_weights:
        lm_head.weight = embeddings.token.weight  # (V, C): one matrix reads tokens in and writes them out
    return lm_head


def new_kv_cache(config: TransformerConfig, *, n_layer: int, batch_size: int, like: torch.Tensor) -> KVCache:
    """An empty cache for ``n_layer`` self-attentions, on the device and dtype of ``like``.

    Sliding-window when attention depends only on distances (rotary positions or none), so generation
    stays one position of work per token past block_size; fixed (block_size positions) otherwise.
    """
    return KVCache(
        n_layer,
        batch_size,
        config.n_head,
        config.head_dim,
        config.block_size,
        sliding_window=config.positional in ("rotary", "none"),
        device=like.device,
        dtype=like.dtype,
    )


def _check_config(config: TransformerConfig, cls: type) -> None:
    if not isinstance(config, cls):
        fix = f"Build one with {cls.__name__}(vocab_size=..., block_size=...)."
        fail("config", f"of type {cls.__name__}", type(config).__name__, fix)


# ------------------------------------------------------------------------------------------------------------
# The three models
# ------------------------------------------------------------------------------------------------------------


class DecoderOnlyLM(nn.Module):
    """GPT: token ids (B, T) -> next-token logits (B, T, V); position t sees tokens 0..t only."""

    def __init__(self, config: DecoderOnlyConfig) -> None:
        super().__init__()
        _check_config(config, DecoderOnlyConfig)
        self.config = config
        self.embed = Embeddings(config)
        self.decoder = DecoderStack(config, n_layer=config.n_layer, rotary=self.embed.rotary)
        self.lm_head = make_lm_head(config, self.embed)
        init_gpt2_weights(self, config.n_layer)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        cache: KVCache | None = None,
        return_attention: bool = False,
    ) -> LMOutput:
        """idx (B, T) -> LMOutput(logits (B, T, V), loss, attentions: per layer (B, H, T, T_k)).

        With a cache, idx holds only the new tokens; their positions continue from ``cache.length``.
        """
        check_model_input("idx", idx, self.config, cache)
        with attention_weights_kept(self, enabled=return_attention):
            logits = self.compute_logits(idx, cache=cache)  # (B, T, V)
            attentions = self.decoder.attention_weights() if return_attention else None
        return LMOutput(logits, lm_loss(logits, targets), attentions)

    def compute_logits(self, idx: torch.Tensor, *, cache: KVCache | None = None) -> torch.Tensor:
        """idx (B, T) -> logits (B, T, V), without checking idx: for loops (generation) that checked their
        input once already. Call the model itself otherwise."""
        x = self.embed(idx, 0 if cache is None else cache.length)  # (B, T, C)
        x = self.decoder(x, cache=cache)  # (B, T, C)
        return self.lm_head(x)  # (B, T, V)

    def new_cache(self, batch_size: int) -> KVCache:
        """An empty KV cache for generating ``batch_size`` sequences (see ``new_kv_cache``)."""
        return new_kv_cache(
            self.config, n_layer=self.config.n_layer, batch_size=batch_size, like=self.lm_head.weight
        )


class EncoderOnlyLM(nn.Module):
    """BERT-style masked language model: token ids (B, T) -> logits (B, T, V), every position sees all."""

    def __init__(self, config: EncoderOnlyConfig) -> None:
        super().__init__()
        _check_config(config, EncoderOnlyConfig)
        self.config = config
        self.embed = Embeddings(config)
        self.encoder = EncoderStack(config, n_layer=config.n_layer, rotary=self.embed.rotary)
        self.mlm_transform = nn.Sequential(  # BERT's prediction head: Linear -> activation -> LayerNorm
            nn.Linear(config.n_embd, config.n_embd, bias=config.bias),
            make_activation(config.activation),
            make_layer_norm(config),
        )
        self.lm_head = make_lm_head(config, self.embed)
        init_gpt2_weights(self, config.n_layer)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        padding_mask: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> LMOutput:
        """idx (B, T), padding_mask (B, 1, 1, T) (``attention.padding_mask``) -> LMOutput(logits (B, T, V)).

        For masked-language-model training, targets are the original ids at masked positions, -100 elsewhere.
        """
        check_model_input("idx", idx, self.config, cache=None)
        with attention_weights_kept(self, enabled=return_attention):
            x = self.encoder(self.embed(idx), mask=padding_mask)  # (B, T, C)
            attentions = self.encoder.attention_weights() if return_attention else None
        logits = self.lm_head(self.mlm_transform(x))  # (B, T, V)
        return LMOutput(logits, lm_loss(logits, targets), attentions)


class EncoderDecoderLM(nn.Module):
    """T5/BART-style: source ids (B, S) and target ids (B, T) -> next-target-token logits (B, T, V).

    Source and target share one embedding (and the output layer, when tie_weights).
    """

    def __init__(self, config: EncoderDecoderConfig) -> None:
        super().__init__()
        _check_config(config, EncoderDecoderConfig)
        self.config = config
        self.embed = Embeddings(config)
        self.encoder = EncoderStack(config, n_layer=config.n_layer, rotary=self.embed.rotary)
        self.decoder = DecoderStack(
            config, n_layer=config.decoder_layers, cross_attention=True, rotary=self.embed.rotary
        )
        self.lm_head = make_lm_head(config, self.embed)
        init_gpt2_weights(self, config.n_layer)

    def encode(self, src: torch.Tensor, *, src_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """src (B, S), src_padding_mask (B, 1, 1, S) -> memory (B, S, C)."""
        check_model_input("src", src, self.config, cache=None)
        return self.encoder(self.embed(src), mask=src_padding_mask)  # (B, S, C)

    def decode(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        *,
        src_padding_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> LMOutput:
        """tgt (B, T), memory (B, S, C) -> LMOutput(logits (B, T, V)).

        With a cache, tgt holds only the new tokens; their positions continue from ``cache.length``.
        """
        check_model_input("tgt", tgt, self.config, cache)
        check_shape("memory", memory, ("B", "S", self.config.n_embd), "Pass the output of model.encode(src).")
        return LMOutput(self.compute_logits(tgt, memory, src_padding_mask=src_padding_mask, cache=cache))

    def compute_logits(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        *,
        src_padding_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """tgt (B, T), memory (B, S, C) -> logits (B, T, V), without checking the inputs: for loops
        (generation) that checked them once already. Call ``decode`` otherwise."""
        x = self.embed(tgt, 0 if cache is None else cache.length)  # (B, T, C)
        x = self.decoder(x, memory, memory_mask=src_padding_mask, cache=cache)  # (B, T, C)
        return self.lm_head(x)  # (B, T, V)

    def forward(
        self,
        src: torch.Tensor,
        tgt: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        src_padding_mask: torch.Tensor | None = None,
        return_attention: bool = False,
    ) -> LMOutput:
        """Encode src (B, S), decode tgt (B, T) -> LMOutput(logits (B, T, V), loss, and with return_attention
        the decoder's self- and cross-attention and the encoder's attention, per layer)."""
        with attention_weights_kept(self, enabled=return_attention):
            memory = self.encode(src, src_padding_mask=src_padding_mask)  # (B, S, C)
            out = self.decode(tgt, memory, src_padding_mask=src_padding_mask)
            if return_attention:
                out.attentions = self.decoder.attention_weights()  # per layer (B, H, T, T)
                out.cross_attentions = self.decoder.cross_attention_weights()  # per layer (B, H, T, S)
                out.encoder_attentions = self.encoder.attention_weights()  # per layer (B, H, S, S)
        out.loss = lm_loss(out.logits, targets)
        return out

    def new_cache(self, batch_size: int) -> KVCache:
        """An empty KV cache for the decoder's self-attention (cross-attention re-reads the memory)."""
        return new_kv_cache(
            self.config, n_layer=self.config.decoder_layers, batch_size=batch_size, like=self.lm_head.weight
        )


# ------------------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------------------


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters (shared ones, like tied embeddings, counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def is_encoder_decoder(model: nn.Module) -> bool:
    """True for models that read a source with an encoder (generate them with ``generate_seq2seq``)."""
    return isinstance(model, EncoderDecoderLM)


def build_model(config: TransformerConfig) -> nn.Module:
    """The model class that matches the config class (DecoderOnlyConfig -> DecoderOnlyLM, ...)."""
    classes = {
        DecoderOnlyConfig: DecoderOnlyLM,
        EncoderOnlyConfig: EncoderOnlyLM,
        EncoderDecoderConfig: EncoderDecoderLM,
    }
    if type(config) not in classes:
        fail(
            "config",
            "a DecoderOnlyConfig, EncoderOnlyConfig or EncoderDecoderConfig",
            type(config).__name__,
            "Build one of those (or use a preset such as course_default(vocab_size)).",
        )
    return classes[type(config)](config)


def load_hf_gpt2_state(model: DecoderOnlyLM, hf_model: nn.Module) -> None:
    """Copy the weights of a Hugging Face ``GPT2LMHeadModel`` into ``model`` (built from ``gpt2_config``).

    Two differences in layout: Hugging Face's ``Conv1D`` stores its weight as (in, out), the transpose of
    ``nn.Linear``'s (out, in); and its ``c_attn`` holds the query, key and value projections side by side.
    """
    hf_config = hf_model.config
    expected = gpt2_config(
        vocab_size=hf_config.vocab_size,
        block_size=hf_config.n_positions,
        n_layer=hf_config.n_layer,
        n_head=hf_config.n_head,
        n_embd=hf_config.n_embd,
        dropout=model.config.dropout,
    )
    expected.layer_norm_eps = hf_config.layer_norm_epsilon
    different = {k: v for k, v in model.config.to_dict().items() if expected.to_dict()[k] != v}
    if different:
        fail(
            "model.config",
            f"the GPT-2 layout of the Hugging Face model, {expected}",
            f"different values {different}",
            "Build the model from gpt2_config(...) with the sizes of hf_model.config.",
        )
    hf = hf_model.state_dict()
    state = {
        "embed.token.weight": hf["transformer.wte.weight"],
        "embed.positions.embedding.weight": hf["transformer.wpe.weight"],
        "decoder.ln_f.weight": hf["transformer.ln_f.weight"],
        "decoder.ln_f.bias": hf["transformer.ln_f.bias"],
        "lm_head.weight": hf["lm_head.weight"],
    }
    for i in range(hf_config.n_layer):
        h, o = f"transformer.h.{i}.", f"decoder.blocks.{i}."  # Hugging Face's and our prefix
        q, k, v = hf[h + "attn.c_attn.weight"].t().chunk(3, dim=0)  # (3C, C) -> three (C, C)
        q_bias, k_bias, v_bias = hf[h + "attn.c_attn.bias"].chunk(3)
        for name, weight, bias in (("q_proj", q, q_bias), ("k_proj", k, k_bias), ("v_proj", v, v_bias)):
            state[o + f"attn.{name}.weight"], state[o + f"attn.{name}.bias"] = weight, bias
        pairs = {
            "ln_attn": "ln_1",
            "ln_mlp": "ln_2",
            "attn.out_proj": "attn.c_proj",
            "mlp.fc": "mlp.c_fc",
            "mlp.proj": "mlp.c_proj",
        }
        for our_name, hf_name in pairs.items():
            weight = hf[h + hf_name + ".weight"]
            state[o + our_name + ".weight"] = weight if our_name.startswith("ln") else weight.t()
            state[o + our_name + ".bias"] = hf[h + hf_name + ".bias"]
    model.load_state_dict(state)
