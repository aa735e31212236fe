"""Model configurations: every size and switch of a model in one dataclass.

One config class per model family, so ``build_model(config)`` knows what to build:

- ``DecoderOnlyConfig``   -> ``DecoderOnlyLM``    (GPT: predict the next token)
- ``EncoderOnlyConfig``   -> ``EncoderOnlyLM``    (BERT: fill in masked tokens)
- ``EncoderDecoderConfig``-> ``EncoderDecoderLM`` (T5/BART: read a source, write a target)

Presets: ``gpt2_config`` (the Hugging Face GPT-2 layout), ``baby_gpt_reference`` (the classic small
character-level GPT for CPUs) and ``course_default`` (this course's default character-level GPT).
Configs are checked when created: a bad value fails at once with a message that says what to change.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from course_lib.validation import check_int, check_number, fail

POSITIONAL_KINDS = ("sinusoidal", "learned", "rotary", "none")
ACTIVATIONS = ("gelu", "gelu_tanh", "relu")


@dataclass
class TransformerConfig:
    """Sizes and switches shared by every model family (use one of the subclasses)."""

    vocab_size: int
    block_size: int  # longest context the model accepts
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True  # biases in Linear and LayerNorm layers
    positional: str = "learned"  # "sinusoidal" | "learned" | "rotary" | "none"
    activation: str = "gelu"  # "gelu" | "gelu_tanh" | "relu"
    norm_first: bool = True  # pre-LayerNorm (GPT-2) vs post-LayerNorm (original Transformer)
    tie_weights: bool = True  # the output layer reuses the token embedding matrix
    layer_norm_eps: float = 1e-5
    pad_id: int | None = None

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            check_int(name, getattr(self, name), minimum=1)
        for name in ("bias", "norm_first", "tie_weights"):
            if not isinstance(getattr(self, name), bool):
                fail(name, "True or False", repr(getattr(self, name)), f"Pass a bool, e.g. {name}=True.")
        if self.n_embd % self.n_head != 0:
            suggestion = self.n_head * max(1, self.n_embd // self.n_head)
            fail(
                "n_embd",
                f"divisible by n_head={self.n_head}",
                self.n_embd,
                f"Every head gets n_embd // n_head dimensions: use e.g. n_embd={suggestion}.",
            )
        check_number(
            "dropout", self.dropout, low=0.0, high=1.0, high_inclusive=False, fix="Use 0.0 (off) to 0.2."
        )
        check_number("layer_norm_eps", self.layer_norm_eps, low=0.0, low_inclusive=False, fix="Use 1e-5.")
        self._check_choice("positional", POSITIONAL_KINDS)
        self._check_choice("activation", ACTIVATIONS)
        if self.positional == "rotary" and self.head_dim % 2 != 0:
            fail(
                "n_embd // n_head (the head size)",
                "even for rotary positions",
                self.head_dim,
                "Rotary positions rotate pairs of channels: choose n_embd and n_head so the head size is "
                "even.",
            )
        if self.pad_id is not None:
            check_int("pad_id", self.pad_id, minimum=0, fix="Use None (no padding) or a token id.")
            if self.pad_id >= self.vocab_size:
                fail(
                    "pad_id",
                    f"a token id below vocab_size={self.vocab_size}",
                    self.pad_id,
                    "Use the tokenizer's pad id.",
                )

    def _check_choice(self, name: str, choices: tuple[str, ...]) -> None:
        if getattr(self, name) not in choices:
            fail(name, f"one of {choices}", repr(getattr(self, name)), "Pick one of the listed names.")

    @property
    def head_dim(self) -> int:
        """D: the size of one attention head."""
        return self.n_embd // self.n_head

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain (JSON-ready) dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TransformerConfig:
        """Rebuild a config from ``to_dict()`` output; unknown or missing keys fail with a clear message."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(known))
        if unknown:
            fail(
                f"the keys of a {cls.__name__} dict",
                f"among {known}",
                f"unknown keys {unknown}",
                "Remove them, or check that the dict was written by the same config class (to_dict()).",
            )
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        missing = [name for name in required if name not in d]
        if missing:
            fail(
                f"a {cls.__name__} dict",
                f"a dict with the keys {required}",
                f"one without {missing}",
                "Add them (every model needs vocab_size and block_size).",
            )
        return cls(**d)


@dataclass
class DecoderOnlyConfig(TransformerConfig):
    """A GPT: causal self-attention blocks predicting the next token."""


@dataclass
class EncoderOnlyConfig(TransformerConfig):
    """A BERT-style encoder: bidirectional self-attention with a masked-language-model head."""


@dataclass
class EncoderDecoderConfig(TransformerConfig):
    """A T5/BART-style encoder-decoder: n_layer encoder blocks, n_decoder_layer decoder blocks."""

    n_decoder_layer: int | None = None  # None -> same as n_layer

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_decoder_layer is not None:
            check_int(
                "n_decoder_layer", self.n_decoder_layer, minimum=1, fix="Use None for as many as n_layer."
            )

    @property
    def decoder_layers(self) -> int:
        """The number of decoder blocks."""
        return self.n_layer if self.n_decoder_layer is None else self.n_decoder_layer


# ------------------------------------------------------------------------------------------------------------
# Presets
# ------------------------------------------------------------------------------------------------------------


def gpt2_config(
    vocab_size: int = 50257,
    block_size: int = 1024,
    n_layer: int = 12,
    n_head: int = 12,
    n_embd: int = 768,
    dropout: float = 0.0,
) -> DecoderOnlyConfig:
    """The Hugging Face GPT-2 layout: learned positions, tanh-GELU, biases, pre-LN, tied embeddings.

    The defaults are GPT-2 small (124M parameters); ``load_hf_gpt2_state`` copies weights of this layout.
    """
    return DecoderOnlyConfig(
        vocab_size=vocab_size,
        block_size=block_size,
        n_layer=n_layer,
        n_head=n_head,
        n_embd=n_embd,
        dropout=dropout,
        bias=True,
        positional="learned",
        activation="gelu_tanh",
        norm_first=True,
        tie_weights=True,
        layer_norm_eps=1e-5,
    )


def baby_gpt_reference(vocab_size: int) -> DecoderOnlyConfig:
    """The classic CPU "baby GPT": 4 layers, 4 heads, 128 dims, 64 characters of context, no dropout.

    About 0.8M parameters with a 65-character vocabulary (Shakespeare's).
    """
    return DecoderOnlyConfig(
        vocab_size=vocab_size, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0
    )


def course_default(vocab_size: int) -> DecoderOnlyConfig:
    """The course's default character-level GPT, shaped to train fast on a laptop CPU.

    About 0.9M parameters, like the baby GPT, but 2 wider layers (192 dims) instead of 4 narrow ones (fewer,
    larger matrix multiplies per token), and rotary positions. ``make bench`` measures its time to the baby
    GPT's final loss on both shipped corpora, and its final loss with rotary positions against the same
    model with a learned position table (benchmarks/results.md).
    """
    return DecoderOnlyConfig(
        vocab_size=vocab_size,
        block_size=64,
        n_layer=2,
        n_head=4,
        n_embd=192,
        dropout=0.0,
        positional="rotary",
    )
