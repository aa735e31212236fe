"""Configs: validation with clear messages, dict round trips, presets."""

import json

import pytest

from course_lib.configs import (
    DecoderOnlyConfig,
    EncoderDecoderConfig,
    EncoderOnlyConfig,
    baby_gpt_reference,
    course_default,
    gpt2_config,
)
from course_lib.models import build_model, count_parameters
from course_lib.validation import CourseInputError


@pytest.mark.parametrize("cls", [DecoderOnlyConfig, EncoderOnlyConfig, EncoderDecoderConfig])
def test_to_dict_from_dict_round_trip_through_json(cls):
    config = cls(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=8, positional="rotary", pad_id=0)
    again = cls.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and type(again) is cls


def test_encoder_decoder_layers_default_to_n_layer():
    assert EncoderDecoderConfig(vocab_size=10, block_size=8, n_layer=3).decoder_layers == 3
    assert EncoderDecoderConfig(vocab_size=10, block_size=8, n_layer=3, n_decoder_layer=1).decoder_layers == 1


def test_from_dict_names_unknown_keys():
    d = DecoderOnlyConfig(vocab_size=10, block_size=8).to_dict() | {"n_decoder_layer": 2, "heads": 4}
    with pytest.raises(CourseInputError, match=r"unknown keys \['heads', 'n_decoder_layer'\]"):
        DecoderOnlyConfig.from_dict(d)


def test_from_dict_names_missing_keys():
    with pytest.raises(CourseInputError, match=r"one without \['block_size'\]"):
        DecoderOnlyConfig.from_dict({"vocab_size": 10})


def test_n_embd_must_be_divisible_by_n_head():
    with pytest.raises(CourseInputError, match=r"n_embd must be divisible by n_head=3, got 10\. .*n_embd=9"):
        DecoderOnlyConfig(vocab_size=10, block_size=8, n_head=3, n_embd=10)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "positional",
            "alibi",
            r"positional must be one of \('sinusoidal', 'learned', 'rotary', 'none'\), got 'alibi'",
        ),
        ("activation", "swish", r"activation must be one of \('gelu', 'gelu_tanh', 'relu'\), got 'swish'"),
        ("dropout", 1.0, r"dropout must be in \[0.0, 1.0\), got 1.0"),
        ("n_layer", 0, r"n_layer must be an integer >= 1, got 0"),
        ("block_size", 8.0, r"block_size must be an integer, got 8.0 \(float\)"),
        ("pad_id", 10, r"pad_id must be a token id below vocab_size=10, got 10"),
        ("norm_first", "yes", r"norm_first must be True or False, got 'yes'"),
        ("layer_norm_eps", 0.0, r"layer_norm_eps must be in \(0.0, inf\], got 0.0"),
    ],
)
def test_bad_values_fail_with_a_clear_message(field, value, message):
    kwargs = {"vocab_size": 10, "block_size": 8, field: value}
    with pytest.raises(CourseInputError, match=message):
        DecoderOnlyConfig(**kwargs)


def test_rotary_needs_an_even_head_size():
    with pytest.raises(CourseInputError, match=r"the head size\) must be even for rotary positions, got 3"):
        DecoderOnlyConfig(vocab_size=10, block_size=8, n_head=2, n_embd=6, positional="rotary")


def test_n_decoder_layer_is_checked():
    with pytest.raises(CourseInputError, match="n_decoder_layer must be an integer >= 1, got 0"):
        EncoderDecoderConfig(vocab_size=10, block_size=8, n_decoder_layer=0)


def test_gpt2_config_has_the_hugging_face_gpt2_layout():
    config = gpt2_config()
    assert (config.vocab_size, config.block_size, config.n_layer, config.n_head, config.n_embd) == (
        50257,
        1024,
        12,
        12,
        768,
    )
    assert (config.positional, config.activation, config.bias, config.norm_first, config.tie_weights) == (
        "learned",
        "gelu_tanh",
        True,
        True,
        True,
    )
    assert type(config) is DecoderOnlyConfig


def test_baby_gpt_reference_has_about_0_8m_parameters_with_65_characters():
    config = baby_gpt_reference(65)
    assert (config.n_layer, config.n_head, config.n_embd, config.block_size, config.dropout) == (
        4,
        4,
        128,
        64,
        0.0,
    )
    # 4 blocks of 12 C^2 + 13 C weights and biases, + 2 final-LN vectors,
    # + token (65 x C) and position (64 x C) tables
    assert count_parameters(build_model(config)) == 4 * (12 * 128**2 + 13 * 128) + 2 * 128 + (65 + 64) * 128


def test_course_default_is_a_plain_decoder_only_config():
    config = course_default(65)
    assert type(config) is DecoderOnlyConfig and config.vocab_size == 65
    assert 0.1e6 < count_parameters(build_model(config)) < 5e6  # trains in minutes on a laptop CPU
