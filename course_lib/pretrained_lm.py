"""A real pretrained language model behind the course's own decoding functions and widgets (notebook 08).

``course_lib.decoding`` and the generation widgets were written for the course's ``DecoderOnlyLM`` and its
``CharTokenizer``. They need very little from a model: ``config`` (vocab_size, block_size, n_layer,
n_head), ``compute_logits(idx, cache=...)`` for logits (B, T, V), ``new_cache(batch_size)`` for a KV cache
with ``length``, ``window`` and ``reorder(rows)``, and ``model(idx, return_attention=True)`` for attention
maps. ``PretrainedLM`` gives exactly that over a ``transformers`` causal LM, and ``PretrainedTokenizer``
gives a tokenizer's ``encode``, ``decode``, ``vocab_size`` and how each token is shown:

    model, tokenizer = load_smollm2()                       # SmolLM2-135M-Instruct, offline
    ids = torch.tensor([tokenizer.encode("The capital of France is")])
    out = generate(model, ids, 20, strategy="greedy")       # course_lib.decoding.generate
    tokenizer.decode(out[0])                                # the same tokens as model.hf.generate(...)

The KV cache is ``transformers``' own ``DynamicCache`` (keys and values (B, H_kv, T, D) per layer, grown
by concatenation), wrapped in ``PretrainedCache`` so that generation and beam search use it as they use
``course_lib.kv_cache.KVCache``.

Shapes: B = batch, T = positions, V = vocab_size, C = n_embd, H = query heads, H_kv = key/value heads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

from course_lib.models import LMOutput, check_model_input, lm_loss
from course_lib.pretrained import load_decoder
from course_lib.validation import check_ids_in_vocab, check_int, check_shape, fail


@dataclass(frozen=True)
class PretrainedConfig:
    """A transformers model's sizes under the names the course uses (``DecoderOnlyConfig``'s)."""

    vocab_size: int  # V
    block_size: int  # the longest context: max_position_embeddings
    n_layer: int
    n_head: int  # query heads H
    n_kv_head: int  # key/value heads H_kv (grouped-query attention: H_kv < H)
    n_embd: int  # C
    head_dim: int  # D

    @classmethod
    def from_hf(cls, hf_config: object) -> PretrainedConfig:
        """Read the sizes from a transformers ``PretrainedConfig`` (LLaMA-style names)."""
        n_head = hf_config.num_attention_heads
        return cls(
            vocab_size=hf_config.vocab_size,
            block_size=hf_config.max_position_embeddings,
            n_layer=hf_config.num_hidden_layers,
            n_head=n_head,
            n_kv_head=getattr(hf_config, "num_key_value_heads", None) or n_head,
            n_embd=hf_config.hidden_size,
            head_dim=getattr(hf_config, "head_dim", None) or hf_config.hidden_size // n_head,
        )


class PretrainedCache:
    """transformers' ``DynamicCache`` with the interface of ``course_lib.kv_cache.KVCache`` that generation
    and beam search use: ``length``, ``window`` and ``reorder(rows)``.

    The model itself stores each layer's keys and values (B, H_kv, T, D) in ``hf`` during a forward pass.
    """

    window = None  # every position sees the whole past (no sliding window), up to block_size positions

    def __init__(self, hf_config: object) -> None:
        from transformers import DynamicCache  # imported here: transformers takes seconds to import

        self.hf = DynamicCache(config=hf_config)

    @property
    def length(self) -> int:
        """Positions seen so far (the position of the next new token)."""
        return self.hf.get_seq_length()

    def reorder(self, rows: torch.Tensor) -> None:
        """Keep batch rows ``rows`` (B',) in that order (beam search copies and drops beams)."""
        check_shape(
            "rows", rows, ("B'",), "Pass a 1-D LongTensor of batch rows, e.g. torch.tensor([0, 0, 1])."
        )
        self.hf.reorder_cache(rows)


class PretrainedLM(nn.Module):
    """A transformers causal LM (e.g. ``LlamaForCausalLM``) used like the course's ``DecoderOnlyLM``.

    ``hf`` is the wrapped model: load it with ``attn_implementation="eager"`` so that it can return its
    attention maps. Its weights are the module's weights (``parameters()`` are ``hf``'s).
    """

    def __init__(self, hf_model: nn.Module) -> None:
        super().__init__()
        if not isinstance(hf_model, nn.Module) or not hasattr(hf_model, "config"):
            fix = "Pass a transformers causal LM, e.g. load_decoder()[0], or use load_smollm2()."
            fail(
                "hf_model", "a transformers model (an nn.Module with a config)", type(hf_model).__name__, fix
            )
        self.hf = hf_model
        self.config = PretrainedConfig.from_hf(hf_model.config)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        cache: PretrainedCache | None = None,
        return_attention: bool = False,
    ) -> LMOutput:
        """idx (B, T) -> LMOutput(logits (B, T, V), loss, attentions: per layer (B, H, T, T_k)).

        With a cache, idx holds only the new tokens; their positions continue from ``cache.length``.
        """
        check_model_input("idx", idx, self.config, cache)
        if return_attention and self.hf.config._attn_implementation != "eager":
            fix = "Load the model with attn_implementation='eager' (load_smollm2() does)."
            fail("return_attention", "used with eager attention", self.hf.config._attn_implementation, fix)
        out = self._run(idx, cache, return_attention=return_attention)
        return LMOutput(out.logits, lm_loss(out.logits, targets), list(out.attentions or []) or None)

    def compute_logits(self, idx: torch.Tensor, *, cache: PretrainedCache | None = None) -> torch.Tensor:
        """idx (B, T) -> logits (B, T, V), without checking idx: for loops (generation) that checked their
        input once already. Call the model itself otherwise."""
        return self._run(idx, cache, return_attention=False).logits

    def new_cache(self, batch_size: int) -> PretrainedCache:
        """An empty KV cache for generating ``batch_size`` sequences (it grows as tokens are fed)."""
        check_int("batch_size", batch_size, minimum=1, fix="Use the number of rows of idx.")
        return PretrainedCache(self.hf.config)

    def _run(self, idx: torch.Tensor, cache: PretrainedCache | None, *, return_attention: bool) -> object:
        return self.hf(
            input_ids=idx,
            cache=None if cache is None else cache.hf,  # transformers 5 renamed past_key_values to cache
            use_cache=cache is not None,
            output_attentions=return_attention,
        )


class PretrainedTokenizer:
    """A transformers tokenizer with the course tokenizers' interface: ``encode``, ``decode``,
    ``vocab_size`` and ``token_strings`` (how each token id is shown in widgets and plots)."""

    def __init__(self, hf_tokenizer: object) -> None:
        if not callable(getattr(hf_tokenizer, "encode", None)) or not callable(
            getattr(hf_tokenizer, "decode", None)
        ):
            fix = "Pass a transformers tokenizer, e.g. load_decoder()[1], or use load_smollm2()."
            fail("hf_tokenizer", "a transformers tokenizer", type(hf_tokenizer).__name__, fix)
        self.hf = hf_tokenizer

    @property
    def vocab_size(self) -> int:
        """Number of token ids, special tokens included (the model's vocab_size)."""
        return len(self.hf)

    def encode(self, text: str) -> list[int]:
        """The token ids of ``text``, with no special tokens added (type them, e.g. "<|im_start|>")."""
        if not isinstance(text, str):
            fix = "Pass the text itself, e.g. tokenizer.encode('The capital of France is')."
            fail("text", "a string", type(text).__name__, fix)
        return self.hf.encode(text, add_special_tokens=False)

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """The text of token ids (a list or a 1-D tensor); special tokens are shown as they are."""
        if isinstance(ids, torch.Tensor):
            check_shape("ids", ids, ("T",), "Decode one row at a time, e.g. tokenizer.decode(out[0]).")
            ids = ids.tolist()
        if not isinstance(ids, (list, tuple)) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in ids
        ):
            fail("ids", "a list of integer token ids", type(ids).__name__, "Pass e.g. [504, 3575].")
        check_ids_in_vocab("ids", ids, vocab_size=self.vocab_size)
        return self.hf.decode(list(ids))

    @cached_property
    def token_strings(self) -> list[str]:
        """Each token id's own text (V strings): byte-level BPE's "Ġthe" is shown as " the".

        A token holding only part of a character's UTF-8 bytes is shown as "\\ufffd" (�).
        Decoding all of them once takes about half a second.
        """
        return [self.hf.decode([token_id]) for token_id in range(self.vocab_size)]


def load_smollm2(*, dtype: torch.dtype = torch.float32) -> tuple[PretrainedLM, PretrainedTokenizer]:
    """SmolLM2-135M-Instruct (eager attention, eval mode) and its tokenizer, offline (``load_decoder``)."""
    hf_model, hf_tokenizer = load_decoder(dtype=dtype)
    return PretrainedLM(hf_model).eval(), PretrainedTokenizer(hf_tokenizer)
