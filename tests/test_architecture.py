"""Tests for course_lib.architecture: counts against real implementations, costs against hand sums."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import transformers
from torch.utils.flop_counter import FlopCounterMode

from course_lib.architecture import (
    COURSE_CHAR_VOCAB,
    PRESETS,
    Architecture,
    format_bytes,
    format_count,
    format_flops,
    forward_flops_per_token,
    from_course_config,
    kv_cache_bytes,
    kv_cache_bytes_per_token,
    matmul_parameters,
    parameter_count,
    preset,
    weight_bytes,
)
from course_lib.configs import (
    DecoderOnlyConfig,
    EncoderOnlyConfig,
    baby_gpt_reference,
    course_default,
    gpt2_config,
)
from course_lib.models import build_model, count_parameters
from course_lib.validation import CourseInputError

ROOT = Path(__file__).resolve().parent.parent

# Each published model built by Hugging Face from its published config.json sizes (written out, so a
# change of transformers' defaults cannot move them). Built on the meta device: shapes, no memory.
HF_MODELS = {
    "GPT-2 small": lambda: transformers.GPT2LMHeadModel(
        transformers.GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12)
    ),
    "BERT-base": lambda: transformers.BertModel(
        transformers.BertConfig(
            vocab_size=30522,
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
            max_position_embeddings=512,
            type_vocab_size=2,
        )
    ),
    "T5-base": lambda: transformers.T5ForConditionalGeneration(
        transformers.T5Config(
            vocab_size=32128,
            d_model=768,
            d_kv=64,
            d_ff=3072,
            num_layers=12,
            num_heads=12,
            relative_attention_num_buckets=32,
            feed_forward_proj="relu",
            tie_word_embeddings=True,
        )
    ),
    "BART-base": lambda: transformers.BartForConditionalGeneration(
        transformers.BartConfig(
            vocab_size=50265,
            d_model=768,
            encoder_layers=6,
            decoder_layers=6,
            encoder_attention_heads=12,
            decoder_attention_heads=12,
            encoder_ffn_dim=3072,
            decoder_ffn_dim=3072,
            max_position_embeddings=1024,
        )
    ),
    "LLaMA-2-7B": lambda: transformers.LlamaForCausalLM(
        transformers.LlamaConfig(
            vocab_size=32000,
            hidden_size=4096,
            intermediate_size=11008,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=32,
            max_position_embeddings=4096,
            tie_word_embeddings=False,
        )
    ),
    "Mistral-7B": lambda: transformers.MistralForCausalLM(
        transformers.MistralConfig(
            vocab_size=32000,
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            max_position_embeddings=32768,
            sliding_window=4096,
            tie_word_embeddings=False,
        )
    ),
    "SmolLM2-135M": lambda: transformers.LlamaForCausalLM(
        transformers.LlamaConfig(
            vocab_size=49152,
            hidden_size=576,
            intermediate_size=1536,
            num_hidden_layers=30,
            num_attention_heads=9,
            num_key_value_heads=3,
            max_position_embeddings=8192,
            tie_word_embeddings=True,
        )
    ),
    "all-MiniLM-L6-v2": lambda: transformers.BertModel(
        transformers.BertConfig(
            vocab_size=30522,
            hidden_size=384,
            num_hidden_layers=6,
            num_attention_heads=12,
            intermediate_size=1536,
            max_position_embeddings=512,
            type_vocab_size=2,
        )
    ),
}

# What each part is called in Hugging Face's parameter names (checked in this order).
HF_PART_KEYS = (
    ("norms", ("norm", "ln_")),
    ("embeddings", ("embed", "wte", "wpe", "shared", "relative_attention_bias", "embeddings.")),
    ("attention", ("attn", "attention")),
    ("mlp", ("mlp", "intermediate", "output.dense", "densereludense", "fc1", "fc2")),
    ("head", ("lm_head", "pooler")),
)


def build_on_meta(make) -> torch.nn.Module:
    with torch.device("meta"):
        return make()


def hf_parts(model: torch.nn.Module) -> dict[str, int]:
    """A Hugging Face model's parameters (each shared one once) summed by part, from their names."""
    parts = dict.fromkeys(["embeddings", "attention", "mlp", "norms", "head"], 0)
    for name, parameter in model.named_parameters():
        part = next(part for part, keys in HF_PART_KEYS if any(key in name.lower() for key in keys))
        parts[part] += parameter.numel()
    return parts


def tiny(**changes) -> Architecture:
    """A hand-countable decoder: 1 layer, 1 head, d_model 2, MLP 4, vocabulary 3, context 5."""
    sizes = {"family": "decoder-only", "n_layer": 1, "n_head": 1, "d_model": 2, "d_ff": 4, "vocab_size": 3}
    return Architecture(**{**sizes, "context": 5, **changes})


# ---------------------------------------------------------------- parameter counts


@pytest.mark.parametrize("name", list(HF_MODELS))
def test_count_and_breakdown_equal_the_hugging_face_model(name):
    model = build_on_meta(HF_MODELS[name])
    counts = parameter_count(preset(name))
    assert counts.total == sum(p.numel() for p in model.parameters())
    assert counts.parts() == hf_parts(model)


def test_t5_v1_1_gates_the_mlp():
    model = build_on_meta(
        lambda: transformers.T5ForConditionalGeneration(
            transformers.T5Config(
                d_model=768,
                d_kv=64,
                d_ff=2048,
                num_layers=12,
                num_heads=12,
                feed_forward_proj="gated-gelu",
            )
        )
    )
    v1_1 = replace(preset("T5-base"), d_ff=2048, mlp="geglu")
    assert parameter_count(v1_1).parts() == hf_parts(model)
    # The v1.1 checkpoints keep a separate output layer (t5-v1_1-base: 247.6M); transformers 5 ties it
    # to the embedding whatever the config says, so only the formula can show the difference.
    untied = parameter_count(replace(v1_1, tied_embeddings=False))
    assert (
        untied.total - parameter_count(v1_1).total == 32128 * 768 and format_count(untied.total) == "247.6M"
    )


@pytest.mark.parametrize("name", [name for name, p in PRESETS.items() if p.published])
def test_counts_round_to_the_published_figure(name):
    low, high = PRESETS[name].published_bounds()
    assert low <= parameter_count(preset(name)).total <= high, PRESETS[name].published


def test_published_bounds_read_the_digits_shown():
    gpt2 = PRESETS["GPT-2 small"]
    assert gpt2.published_bounds() == pytest.approx((123.5e6, 124.5e6))
    assert replace(gpt2, published="110M").published_bounds() == pytest.approx((105e6, 115e6))
    assert replace(gpt2, published="6.74B").published_bounds() == pytest.approx((6.735e9, 6.745e9))
    with pytest.raises(CourseInputError, match="published must be a figure such as '124M', got None"):
        PRESETS["course default (char GPT)"].published_bounds()


COURSE_CONFIGS = {
    "course default": course_default(COURSE_CHAR_VOCAB),
    "baby GPT": baby_gpt_reference(COURSE_CHAR_VOCAB),
    "sinusoidal, untied": DecoderOnlyConfig(
        vocab_size=50,
        block_size=16,
        n_layer=3,
        n_head=2,
        n_embd=32,
        positional="sinusoidal",
        tie_weights=False,
    ),
    "no bias, post-norm, relu": DecoderOnlyConfig(
        vocab_size=50,
        block_size=16,
        n_layer=2,
        n_head=4,
        n_embd=32,
        bias=False,
        norm_first=False,
        activation="relu",
    ),
}


@pytest.mark.parametrize("name", list(COURSE_CONFIGS))
def test_course_models_count_exactly(name):
    config = COURSE_CONFIGS[name]
    assert parameter_count(from_course_config(config)).total == count_parameters(build_model(config))


def test_the_course_gpt2_layout_counts_like_hugging_face_gpt2():
    with torch.device("meta"):
        model = build_model(gpt2_config())
    assert from_course_config(gpt2_config()) == preset("GPT-2 small")
    assert count_parameters(model) == parameter_count(preset("GPT-2 small")).total


def test_course_presets_use_the_shipped_character_vocabulary():
    checkpoint = json.loads((ROOT / "data/checkpoints/char_gpt_python_docs/checkpoint.json").read_text())
    assert checkpoint["config"]["vocab_size"] == COURSE_CHAR_VOCAB
    assert preset("course default (char GPT)") == from_course_config(course_default(COURSE_CHAR_VOCAB))


def test_hand_counted_parts():
    counts = parameter_count(tiny())
    # token table 3x2, position table 5x2; q, k, v, o 2x2 + biases 2 each; MLP 2x4 + 4, 4x2 + 2;
    # two LayerNorms in the block and a final one, 2 + 2 each; the output layer is tied.
    assert counts.parts() == {
        "embeddings": 6 + 10,
        "attention": 4 * (4 + 2),
        "mlp": 12 + 10,
        "norms": 3 * 4,
        "head": 0,
    }
    assert counts.total == 74 and counts.non_embedding == 58
    untied = parameter_count(tiny(tied_embeddings=False, bias=False, norm="rmsnorm", positions="rotary"))
    assert untied.parts() == {"embeddings": 6, "attention": 16, "mlp": 16, "norms": 3 * 2, "head": 6}
    grouped = parameter_count(tiny(n_head=4, n_kv_head=2, d_model=8, bias=False))  # head_dim 2, k and v 8x4
    assert grouped.attention == 2 * 8 * 8 + 2 * 8 * 4


# ---------------------------------------------------------------- FLOPs


def test_flops_hand_computed():
    # multiplying weights: attention 4 x (2x2) + MLP 2x4 + 4x2 + output layer 3x2 = 38 -> 76 FLOPs,
    # plus per attended position 4 x d_model = 8 FLOPs (scores and weighted values).
    assert matmul_parameters(tiny()) == 38
    assert forward_flops_per_token(tiny()) == 76 + 8 * 5
    assert forward_flops_per_token(tiny(), context=1) == 76 + 8
    assert forward_flops_per_token(tiny(sliding_window=2)) == 76 + 8 * 2
    # encoder-decoder: encoder 32 + decoder 32 + cross-attention 16 + output layer 6 = 86 weights;
    # encoder self, decoder self and cross-attention each attend to 5 positions.
    seq2seq = tiny(family="encoder-decoder")
    assert matmul_parameters(seq2seq) == 86
    assert forward_flops_per_token(seq2seq) == 2 * 86 + 8 * (5 + 5 + 5)


def test_flops_equal_torch_flop_counter_on_a_course_model():
    config = DecoderOnlyConfig(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32)
    model = build_model(config).eval()
    idx = torch.randint(0, 50, (1, 16))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(idx, return_attention=True)  # explicit matmuls for the scores (the fused kernel is not counted)
    # Without a causal saving every query scores all 16 keys, like the last one: the per-token formula.
    assert counter.get_total_flops() == 16 * forward_flops_per_token(from_course_config(config))


def test_flops_are_about_twice_the_parameters_for_short_contexts():
    llama = preset("LLaMA-2-7B")
    ratio = forward_flops_per_token(llama, context=128) / parameter_count(llama).total
    assert 1.95 < ratio < 2.05


# ---------------------------------------------------------------- memory


def test_weight_bytes():
    gpt2 = preset("GPT-2 small")
    assert weight_bytes(gpt2, "fp32") == 4 * 124_439_808
    assert weight_bytes(gpt2) == 2 * 124_439_808  # bf16 by default
    assert weight_bytes(gpt2, "int8") == 124_439_808


def test_kv_cache_hand_computed():
    arch = tiny(n_layer=2, n_head=4, n_kv_head=2, d_model=16, context=10)  # head_dim 4
    assert (
        kv_cache_bytes_per_token(arch) == 2 * 2 * 2 * 4 * 2
    )  # key and value x layers x kv heads x dim x bf16
    assert kv_cache_bytes(arch, dtype="fp32") == 2 * 64 * 10
    assert kv_cache_bytes(replace(arch, sliding_window=4)) == 64 * 4
    seq2seq = replace(arch, family="encoder-decoder", n_decoder_layer=3)
    assert kv_cache_bytes_per_token(seq2seq) == 2 * 3 * 2 * 4 * 2
    assert kv_cache_bytes(seq2seq, context=6) == 96 * (6 + 6)  # self-attention cache + source keys and values
    assert kv_cache_bytes(preset("BERT-base")) == 0  # an encoder generates nothing


def test_kv_cache_of_published_models():
    assert kv_cache_bytes_per_token(preset("LLaMA-2-7B")) == 512 * 1024  # the well-known 0.5 MiB per token
    assert kv_cache_bytes(preset("LLaMA-2-7B")) == 2 * 1024**3  # 2 GiB at 4096 tokens
    mistral = preset("Mistral-7B")
    assert kv_cache_bytes_per_token(mistral) == 128 * 1024  # 8 kv heads: 4x smaller
    assert kv_cache_bytes(mistral) == 4096 * 128 * 1024  # the sliding window caps it


# ---------------------------------------------------------------- numbers for people


def test_formats():
    assert format_count(124_439_808) == "124.4M"
    assert format_count(6_738_415_616) == "6.74B"
    assert format_count(909_888) == "909.9K"
    assert format_count(74) == "74"
    assert format_bytes(13_476_831_232) == "13.5 GB"
    assert format_bytes(524_288) == "524 kB"
    assert format_bytes(512) == "512 B"
    assert format_flops(76) == "76 FLOP"
    assert format_flops(15_400_000_000) == "15.4 GFLOP"


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_layer": -2}, r"n_layer must be an integer >= 1, got -2"),
        ({"n_head": 3}, r"d_model must be divisible by n_head=3, got 2\. Every head gets"),
        ({"n_head": 2, "d_model": 4, "n_kv_head": 3}, r"n_kv_head must be a divisor of n_head=2, got 3"),
        (
            {"family": "decoder"},
            r"family must be one of \('encoder-only', 'decoder-only', 'encoder-decoder'\)",
        ),
        ({"mlp": "silu"}, r"mlp must be one of"),
        ({"bias": 1}, r"bias must be True or False, got 1"),
        ({"n_decoder_layer": 2}, r"n_decoder_layer must be None for an encoder-only or decoder-only model"),
        (
            {"positions": "rotary", "n_head": 2, "d_model": 6},
            r"head size\) must be even for rotary positions",
        ),
    ],
)
def test_bad_architectures_name_the_argument(changes, message):
    with pytest.raises(CourseInputError, match=message):
        tiny(**changes)


def test_bad_arguments_name_the_argument():
    with pytest.raises(CourseInputError, match=r"name must be one of \['GPT-2 small', .*\], got 'GPT-5'"):
        preset("GPT-5")
    with pytest.raises(CourseInputError, match=r"dtype must be one of \('fp32', 'bf16', 'int8'\), got 'fp8'"):
        weight_bytes(tiny(), "fp8")
    with pytest.raises(CourseInputError, match=r"context must be an integer from 1 to 5, got 6"):
        forward_flops_per_token(tiny(), context=6)
    with pytest.raises(CourseInputError, match=r"config must be a DecoderOnlyConfig, got EncoderOnlyConfig"):
        from_course_config(EncoderOnlyConfig(vocab_size=10, block_size=8))
