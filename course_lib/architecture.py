"""How big a transformer is and what it costs, from its configuration alone (no weights needed).

An ``Architecture`` lists what decides the count: the family, layers, heads (and key/value heads for
grouped-query attention), widths, vocabulary, context, and the small switches in which published models
differ (MLP with 2 or 3 matrices, LayerNorm or RMSNorm, biases, how positions are encoded, tied
embeddings, BERT's segment table and pooler). From it:

- ``parameter_count``           parameters by part: embeddings, attention, MLP, norms, head
- ``forward_flops_per_token``   2 x (parameters that multiply activations) + the attention term
- ``weight_bytes``              memory of the weights at fp32 / bf16 / int8
- ``kv_cache_bytes_per_token``  and ``kv_cache_bytes``: what generation keeps for every past token

``PRESETS`` holds published models (GPT-2 small, BERT-base, T5-base, BART-base, LLaMA-2-7B, Mistral-7B,
SmolLM2-135M, all-MiniLM-L6-v2) and the course's own character GPTs, each with its published parameter
count and the counting convention that reproduces it. ``tests/test_architecture.py`` checks every count
against the Hugging Face implementation (built locally with random weights) and against
``course_lib.models``.

Sizes use decimal units (1 GB = 10^9 bytes, 1M = 10^6 parameters), as model cards do.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from course_lib.configs import DecoderOnlyConfig, baby_gpt_reference, course_default
from course_lib.validation import check_int, fail

FAMILIES = ("encoder-only", "decoder-only", "encoder-decoder")
MLP_MATRICES = {"gelu": 2, "relu": 2, "swiglu": 3, "geglu": 3}  # gated (3): gate and up, then down
NORMS = ("layernorm", "rmsnorm")
POSITIONS = ("learned", "sinusoidal", "relative", "rotary", "none")
DTYPE_BYTES = {"fp32": 4, "bf16": 2, "int8": 1}
RELATIVE_BUCKETS = 32  # T5: one learned bias per (bucket of distances, head), in each stack's first layer
COURSE_CHAR_VOCAB = 103  # characters of the shipped character GPT (data/checkpoints/char_gpt_python_docs)


@dataclass(frozen=True)
class Architecture:
    """The sizes and switches that decide a transformer's parameter count and cost.

    For an encoder-decoder, ``n_layer`` counts encoder blocks and ``n_decoder_layer`` decoder blocks
    (None: as many as the encoder). Every head has ``d_model // n_head`` dimensions.
    """

    family: str  # "encoder-only" | "decoder-only" | "encoder-decoder"
    n_layer: int
    n_head: int
    d_model: int
    d_ff: int  # hidden width of the MLP
    vocab_size: int
    context: int  # longest input in tokens (rows of a learned position table)
    n_kv_head: int | None = None  # key/value heads (grouped-query attention); None: n_head
    n_decoder_layer: int | None = None  # encoder-decoder only
    mlp: str = "gelu"  # "gelu" | "relu" (2 matrices) | "swiglu" | "geglu" (gated: 3 matrices)
    norm: str = "layernorm"  # "layernorm" (weight, + bias when ``bias``) | "rmsnorm" (weight only)
    norm_first: bool = True  # pre-norm: every stack ends with a final norm; post-norm (BERT, BART): none
    bias: bool = True  # biases in the attention and MLP projections and in LayerNorms
    positions: str = "learned"  # "learned" | "sinusoidal" | "relative" (T5 buckets) | "rotary" | "none"
    tied_embeddings: bool = True  # the output layer reuses the token embedding matrix
    lm_head: bool = True  # an output layer to the vocabulary (False: a bare encoder such as BertModel)
    embedding_norm: bool = False  # a norm right after the embeddings, in every stack (BERT, BART)
    n_segment: int = 0  # rows of BERT's segment (token type) table
    pooler: bool = False  # BERT's pooler: a d_model x d_model layer (with bias) on the first token
    position_offset: int = 0  # extra rows in every learned position table (BART reserves 2)
    sliding_window: int | None = None  # attend to (and cache) at most this many positions (Mistral)

    def __post_init__(self) -> None:
        for name in ("n_layer", "n_head", "d_model", "d_ff", "vocab_size", "context"):
            check_int(name, getattr(self, name), minimum=1, fix=f"A transformer needs {name} >= 1.")
        for name in ("n_kv_head", "n_decoder_layer", "sliding_window"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), minimum=1, fix=f"Use None or a positive {name}.")
        for name in ("n_segment", "position_offset"):
            check_int(name, getattr(self, name), minimum=0, fix=f"Use 0 for no {name}.")
        choices = {"family": FAMILIES, "mlp": tuple(MLP_MATRICES), "norm": NORMS, "positions": POSITIONS}
        for name, allowed in choices.items():
            _check_choice(name, getattr(self, name), allowed)
        for name in ("norm_first", "bias", "tied_embeddings", "lm_head", "embedding_norm", "pooler"):
            if not isinstance(getattr(self, name), bool):
                fail(name, "True or False", repr(getattr(self, name)), f"Pass a bool, e.g. {name}=True.")
        self._check_heads()
        if self.n_decoder_layer is not None and self.family != "encoder-decoder":
            fail(
                "n_decoder_layer",
                "None for an encoder-only or decoder-only model",
                self.n_decoder_layer,
                "Only an encoder-decoder has a separate decoder stack: use n_layer.",
            )

    def _check_heads(self) -> None:
        if self.d_model % self.n_head:
            fail(
                "d_model",
                f"divisible by n_head={self.n_head}",
                self.d_model,
                f"Every head gets d_model // n_head dimensions: use e.g. d_model="
                f"{self.n_head * max(1, round(self.d_model / self.n_head))}.",
            )
        if self.n_head % self.kv_heads:
            fail(
                "n_kv_head",
                f"a divisor of n_head={self.n_head}",
                self.n_kv_head,
                "Each key/value head serves n_head // n_kv_head query heads: use e.g. n_kv_head=1 "
                "or None (one per query head).",
            )
        if self.positions == "rotary" and self.head_dim % 2:
            fail(
                "d_model // n_head (the head size)",
                "even for rotary positions",
                self.head_dim,
                "Rotary positions rotate pairs of channels: choose d_model and n_head so the head size is "
                "even.",
            )

    @property
    def head_dim(self) -> int:
        """Dimensions of one attention head."""
        return self.d_model // self.n_head

    @property
    def kv_heads(self) -> int:
        """Key/value heads (n_head unless grouped-query attention shares them)."""
        return self.n_head if self.n_kv_head is None else self.n_kv_head

    @property
    def decoder_layers(self) -> int:
        """Blocks that generate (and keep a KV cache): the decoder's; 0 for an encoder-only model."""
        if self.family == "encoder-only":
            return 0
        if self.family == "decoder-only" or self.n_decoder_layer is None:
            return self.n_layer
        return self.n_decoder_layer

    def stacks(self) -> list[tuple[int, bool]]:
        """(blocks, has cross-attention) for each stack: the encoder and/or the decoder."""
        if self.family == "encoder-decoder":
            return [(self.n_layer, False), (self.decoder_layers, True)]
        return [(self.n_layer, False)]


def _check_choice(argument: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        fail(argument, f"one of {choices}", repr(value), "Pick one of the listed names.")


# ---------------------------------------------------------------- parameters


@dataclass(frozen=True)
class ParameterCount:
    """Parameters by part of the model; a matrix used in two places (tied, shared) is counted once."""

    embeddings: int  # token table, position tables (or T5's relative buckets), segment table
    attention: int  # query, key, value and output projections (self and cross), with biases
    mlp: int  # feed-forward matrices with biases
    norms: int  # LayerNorm / RMSNorm parameters, including final and embedding norms
    head: int  # an untied output layer and BERT's pooler (a tied output layer adds nothing)

    @property
    def total(self) -> int:
        """All parameters."""
        return self.embeddings + self.attention + self.mlp + self.norms + self.head

    @property
    def non_embedding(self) -> int:
        """The blocks' parameters (attention + MLP + norms): what grows with depth."""
        return self.attention + self.mlp + self.norms

    def parts(self) -> dict[str, int]:
        """The five parts by name, in a fixed order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _attention_weights(arch: Architecture) -> int:
    """Weights of one attention layer: query and output d x d, key and value d x (kv heads x head_dim)."""
    kv_width = arch.kv_heads * arch.head_dim
    return 2 * arch.d_model * arch.d_model + 2 * arch.d_model * kv_width


def _attention_parameters(arch: Architecture) -> int:
    """Weights and biases of one attention layer."""
    biases = 2 * arch.d_model + 2 * arch.kv_heads * arch.head_dim if arch.bias else 0
    return _attention_weights(arch) + biases


def _mlp_parameters(arch: Architecture) -> int:
    """Weights and biases of one MLP: 2 or 3 matrices; biases on the hidden side(s) and the output."""
    matrices = MLP_MATRICES[arch.mlp]
    biases = (matrices - 1) * arch.d_ff + arch.d_model if arch.bias else 0
    return matrices * arch.d_model * arch.d_ff + biases


def _norm_parameters(arch: Architecture) -> int:
    """One norm: a scale per channel, plus a shift per channel for a LayerNorm with bias."""
    return arch.d_model * (2 if arch.norm == "layernorm" and arch.bias else 1)


def _position_parameters(arch: Architecture) -> int:
    """Position parameters of one stack (sinusoidal and rotary positions are computed, not learned)."""
    if arch.positions == "learned":
        return (arch.context + arch.position_offset) * arch.d_model
    if arch.positions == "relative":
        return RELATIVE_BUCKETS * arch.n_head
    return 0


def parameter_count(arch: Architecture) -> ParameterCount:
    """Count the parameters of ``arch`` by part (exact for the conventions described on ``Architecture``)."""
    norm = _norm_parameters(arch)
    attention = mlp = norms = positions = 0
    for n_layer, cross in arch.stacks():
        attention += n_layer * _attention_parameters(arch) * (2 if cross else 1)
        mlp += n_layer * _mlp_parameters(arch)
        norms += n_layer * norm * (3 if cross else 2) + norm * (arch.norm_first + arch.embedding_norm)
        positions += _position_parameters(arch)
    embeddings = (arch.vocab_size + arch.n_segment) * arch.d_model + positions
    head = arch.vocab_size * arch.d_model if arch.lm_head and not arch.tied_embeddings else 0
    head += arch.d_model * arch.d_model + arch.d_model if arch.pooler else 0
    return ParameterCount(embeddings=embeddings, attention=attention, mlp=mlp, norms=norms, head=head)


# ---------------------------------------------------------------- compute and memory


def _check_context(arch: Architecture, context: int | None) -> int:
    """The context to cost (default: the architecture's own), checked against what the model reads."""
    if context is None:
        return arch.context
    check_int(
        "context",
        context,
        minimum=1,
        maximum=arch.context,
        fix="A model reads at most its own context: build a longer one with dataclasses.replace(arch, "
        "context=...).",
    )
    return context


def _check_dtype(dtype: str) -> int:
    """Bytes per number of ``dtype``."""
    if dtype not in DTYPE_BYTES:
        fail("dtype", f"one of {tuple(DTYPE_BYTES)}", repr(dtype), "bf16 is what most models are served in.")
    return DTYPE_BYTES[dtype]


def matmul_parameters(arch: Architecture) -> int:
    """Weights that multiply a token's activations once per token: the attention projections, the MLP
    matrices and the output layer (tied or not). Embedding look-ups, biases, norms and the pooler cost
    next to nothing and are left out, as in Kaplan et al. (2020)."""
    per_block = _attention_weights(arch) + MLP_MATRICES[arch.mlp] * arch.d_model * arch.d_ff
    blocks = sum(
        n_layer * (per_block + (_attention_weights(arch) if cross else 0)) for n_layer, cross in arch.stacks()
    )
    return blocks + (arch.vocab_size * arch.d_model if arch.lm_head else 0)


def forward_flops_per_token(arch: Architecture, context: int | None = None) -> int:
    """Forward-pass FLOPs (multiply and add counted separately) for one token that attends to ``context``
    positions: the last token of a ``context``-long input, or one generation step with a full KV cache.

    = 2 x ``matmul_parameters`` (one multiply-add per weight)
      + 4 x d_model x attended positions per attention layer (scores q.k and the weighted sum of values).

    A sliding window caps the attended positions. For an encoder-decoder this is one source token
    through the encoder plus one target token through the decoder, source and target ``context`` long.
    """
    context = _check_context(arch, context)
    attended = min(context, arch.sliding_window or context)
    keys = sum(n_layer * (attended + (context if cross else 0)) for n_layer, cross in arch.stacks())
    return 2 * matmul_parameters(arch) + 4 * arch.d_model * keys


def weight_bytes(arch: Architecture, dtype: str = "bf16") -> int:
    """Memory of the weights: parameters x bytes per number (fp32 4, bf16 2, int8 1)."""
    return parameter_count(arch).total * _check_dtype(dtype)


def kv_cache_bytes_per_token(arch: Architecture, dtype: str = "bf16") -> int:
    """Bytes the KV cache keeps per token: 2 (key and value) x decoder layers x kv heads x head_dim x bytes.

    0 for an encoder-only model: it reads its input at once and generates nothing.
    """
    return 2 * arch.decoder_layers * arch.kv_heads * arch.head_dim * _check_dtype(dtype)


def kv_cache_bytes(arch: Architecture, context: int | None = None, *, dtype: str = "bf16") -> int:
    """Bytes of the KV cache of one sequence of ``context`` tokens (default: the full context).

    Decoder-only: the cache of every past token (at most ``sliding_window`` of them). Encoder-decoder:
    the decoder's self-attention cache for ``context`` target tokens plus the cross-attention keys and
    values of a ``context``-token source, computed once from the encoder's output.
    """
    context = _check_context(arch, context)
    stored = min(context, arch.sliding_window or context)
    source = context if arch.family == "encoder-decoder" else 0
    return kv_cache_bytes_per_token(arch, dtype) * (stored + source)


# ---------------------------------------------------------------- presets


def from_course_config(config: DecoderOnlyConfig) -> Architecture:
    """The Architecture of a course GPT (``course_lib.models.build_model(config)`` has exactly this count)."""
    if not isinstance(config, DecoderOnlyConfig):
        fail(
            "config",
            "a DecoderOnlyConfig",
            type(config).__name__,
            "Use course_default(vocab_size), baby_gpt_reference(vocab_size) or gpt2_config().",
        )
    return Architecture(
        family="decoder-only",
        n_layer=config.n_layer,
        n_head=config.n_head,
        d_model=config.n_embd,
        d_ff=4 * config.n_embd,  # course_lib.blocks.MLP
        vocab_size=config.vocab_size,
        context=config.block_size,
        mlp="relu" if config.activation == "relu" else "gelu",
        norm_first=config.norm_first,
        bias=config.bias,
        positions=config.positional,
        tied_embeddings=config.tie_weights,
    )


@dataclass(frozen=True)
class Preset:
    """A named architecture with its published parameter count and the convention that reproduces it."""

    name: str
    architecture: Architecture
    published: str | None  # the headline figure as published, e.g. "124M"; None for the course's models
    convention: str  # what the published figure counts, and where it comes from

    def published_bounds(self) -> tuple[float, float]:
        """The counts that round to the published figure at the digits it shows.

        "124M" -> (123.5M, 124.5M); "6.74B" -> (6.735B, 6.745B); trailing zeros of a whole number are
        read as rounding: "110M" -> (105M, 115M).
        """
        if self.published is None:
            fail(
                "published",
                "a figure such as '124M'",
                None,
                "The course's own models have no published count.",
            )
        number, unit = self.published[:-1], {"K": 1e3, "M": 1e6, "B": 1e9}[self.published[-1]]
        if "." in number:
            step = 10.0 ** -len(number.split(".")[1])
        else:
            step = 10.0 ** (len(number) - len(number.rstrip("0")))
        return (float(number) - step / 2) * unit, (float(number) + step / 2) * unit


_BERT_BASE = {"family": "encoder-only", "n_layer": 12, "n_head": 12, "d_model": 768, "d_ff": 3072}
_BERT_SWITCHES = {
    "vocab_size": 30522,
    "context": 512,
    "norm_first": False,
    "lm_head": False,
    "embedding_norm": True,
    "n_segment": 2,
    "pooler": True,
}
_LLAMA_SWITCHES = {
    "family": "decoder-only",
    "mlp": "swiglu",
    "norm": "rmsnorm",
    "bias": False,
    "positions": "rotary",
}

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "GPT-2 small",
            Architecture(
                family="decoder-only",
                n_layer=12,
                n_head=12,
                d_model=768,
                d_ff=3072,
                vocab_size=50257,
                context=1024,
            ),
            "124M",
            "Hugging Face GPT2LMHeadModel: the token table counted once (the output layer reuses it), "
            "plus the 1024-row position table. The GPT-2 paper's 117M was a miscount, corrected to 124M by "
            "OpenAI.",
        ),
        Preset(
            "BERT-base",
            Architecture(**_BERT_BASE, **_BERT_SWITCHES),
            "110M",
            "BERT paper (Devlin et al., 2018), = Hugging Face BertModel: token, position (512) and segment "
            "(2) tables, embedding LayerNorm, 12 post-norm layers and the pooler; no pre-training heads.",
        ),
        Preset(
            "T5-base",
            Architecture(
                family="encoder-decoder",
                n_layer=12,
                n_head=12,
                d_model=768,
                d_ff=3072,
                vocab_size=32128,
                context=512,
                mlp="relu",
                norm="rmsnorm",
                bias=False,
                positions="relative",
            ),
            "220M",
            "T5 paper (Raffel et al., 2020), = Hugging Face T5ForConditionalGeneration (v1.0): one "
            "embedding (32128 rows, padded from 32100) shared by encoder, decoder and output layer; 32 "
            "relative-position buckets per stack. T5 v1.1 checkpoints untie the output layer (+24.7M; "
            "transformers 5 ties it anyway) and use a 3-matrix gated-GELU MLP.",
        ),
        Preset(
            "BART-base",
            Architecture(
                family="encoder-decoder",
                n_layer=6,
                n_head=12,
                d_model=768,
                d_ff=3072,
                vocab_size=50265,
                context=1024,
                norm_first=False,
                embedding_norm=True,
                position_offset=2,
            ),
            "140M",
            "fairseq's BART model list (bart.base), = Hugging Face BartForConditionalGeneration: one shared "
            "embedding, tied output layer, separate 1026-row position tables for encoder and decoder (2 rows "
            "reserved); final_logits_bias is a buffer, not a parameter.",
        ),
        Preset(
            "LLaMA-2-7B",
            Architecture(
                **_LLAMA_SWITCHES,
                n_layer=32,
                n_head=32,
                d_model=4096,
                d_ff=11008,
                vocab_size=32000,
                context=4096,
                tied_embeddings=False,
            ),
            "6.74B",
            "Hugging Face model page (the paper rounds to 7B), = LlamaForCausalLM: untied output layer "
            "(32000 x 4096 counted separately), no biases, RMSNorm scales only, rotary positions (no "
            "parameters).",
        ),
        Preset(
            "Mistral-7B",
            Architecture(
                **_LLAMA_SWITCHES,
                n_layer=32,
                n_head=32,
                n_kv_head=8,
                d_model=4096,
                d_ff=14336,
                vocab_size=32000,
                context=32768,
                tied_embeddings=False,
                sliding_window=4096,
            ),
            "7.24B",
            "Hugging Face model page of Mistral-7B-v0.1, = MistralForCausalLM: LLaMA's layout with 8 "
            "key/value heads for 32 query heads and a 4096-token sliding window. (Mistral's announcement "
            "says 7.3B.)",
        ),
        Preset(
            "SmolLM2-135M",
            Architecture(
                **_LLAMA_SWITCHES,
                n_layer=30,
                n_head=9,
                n_kv_head=3,
                d_model=576,
                d_ff=1536,
                vocab_size=49152,
                context=8192,
            ),
            "135M",
            "The model's name and Hugging Face page, = LlamaForCausalLM with tied embeddings (134.5M): the "
            "output layer reuses the token table, 3 key/value heads for 9 query heads.",
        ),
        Preset(
            "all-MiniLM-L6-v2",
            Architecture(
                family="encoder-only", n_layer=6, n_head=12, d_model=384, d_ff=1536, **_BERT_SWITCHES
            ),
            "22.7M",
            "Hugging Face model page (sentence-transformers), = BertModel including the pooler, which "
            "sentence embeddings (mean pooling) do not use.",
        ),
        Preset(
            "course default (char GPT)",
            from_course_config(course_default(COURSE_CHAR_VOCAB)),
            None,
            f"course_lib.configs.course_default({COURSE_CHAR_VOCAB}), the shipped character GPT: "
            "= course_lib.models.count_parameters(build_model(config)); rotary positions, tied embeddings.",
        ),
        Preset(
            "baby GPT (reference)",
            from_course_config(baby_gpt_reference(COURSE_CHAR_VOCAB)),
            None,
            f"course_lib.configs.baby_gpt_reference({COURSE_CHAR_VOCAB}): "
            "= count_parameters(build_model(config)); a learned 64-row position table, tied embeddings.",
        ),
    )
}


def check_preset_name(argument: str, name: str) -> None:
    """Fail unless ``name`` is a key of ``PRESETS``; the message names ``argument``."""
    if name not in PRESETS:
        fail(argument, f"one of {list(PRESETS)}", repr(name), "Pick a name from architecture.PRESETS.")


def preset(name: str) -> Architecture:
    """The architecture of a preset, e.g. ``preset("GPT-2 small")``."""
    check_preset_name("name", name)
    return PRESETS[name].architecture


# ---------------------------------------------------------------- numbers for people


def _scaled(value: float, units: tuple[str, ...]) -> str:
    """``value`` with 3 significant digits in the largest unit (steps of 1000) that keeps it >= 1."""
    step = 0
    while abs(value) >= 1000 and step < len(units) - 1:
        value, step = value / 1000, step + 1
    digits = 0 if step == 0 or abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:.{digits}f} {units[step]}".strip()


def format_count(n: int) -> str:
    """A parameter count as model cards write it: 124439808 -> "124.4M", 6738415616 -> "6.74B"."""
    for size, unit, digits in ((1e9, "B", 2), (1e6, "M", 1), (1e3, "K", 1)):
        if n >= size:
            return f"{n / size:.{digits}f}{unit}"
    return str(n)


def format_bytes(n: int) -> str:
    """Bytes in decimal units with 3 significant digits: 13476831232 -> "13.5 GB"."""
    return _scaled(n, ("B", "kB", "MB", "GB", "TB"))


def format_flops(n: int) -> str:
    """A FLOP count with 3 significant digits: 248910336 -> "249 MFLOP"."""
    return _scaled(n, ("FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP"))
