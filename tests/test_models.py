"""Models: against Hugging Face GPT-2 and torch.nn.Transformer, causality, positions, init, errors."""

import math

import pytest
import torch
import torch.nn.functional as F
from test_blocks import copy_decoder_layer, copy_encoder_layer, randomize
from torch import nn

from course_lib.attention import causal_mask, keep_attention_weights, padding_mask
from course_lib.configs import (
    DecoderOnlyConfig,
    EncoderDecoderConfig,
    EncoderOnlyConfig,
    TransformerConfig,
    gpt2_config,
)
from course_lib.models import (
    DecoderOnlyLM,
    EncoderDecoderLM,
    EncoderOnlyLM,
    build_model,
    count_parameters,
    load_hf_gpt2_state,
)
from course_lib.validation import CourseInputError

KINDS = ["sinusoidal", "learned", "rotary", "none"]
V, BLOCK = 23, 16


def tiny(cls=DecoderOnlyConfig, **kwargs) -> TransformerConfig:
    return cls(**({"vocab_size": V, "block_size": BLOCK, "n_layer": 2, "n_head": 2, "n_embd": 16} | kwargs))


def ids(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(1, V, shape, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------------------------------------------
# The same numbers as reference implementations
# ------------------------------------------------------------------------------------------------------------


def test_decoder_only_lm_equals_hugging_face_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    hf_config = GPT2Config(
        vocab_size=97,
        n_positions=32,
        n_embd=32,
        n_layer=2,
        n_head=2,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
        attn_implementation="eager",
    )
    hf_model = GPT2LMHeadModel(hf_config).eval()
    with torch.no_grad():  # Hugging Face starts biases at 0 and LayerNorms at (1, 0): make every weight count
        for p in hf_model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model = DecoderOnlyLM(gpt2_config(vocab_size=97, block_size=32, n_layer=2, n_head=2, n_embd=32)).eval()
    load_hf_gpt2_state(model, hf_model)
    idx = torch.randint(0, 97, (2, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = hf_model(idx).logits
        torch.testing.assert_close(model(idx).logits, expected, atol=1e-5, rtol=0)
        torch.testing.assert_close(model(idx, return_attention=True).logits, expected, atol=1e-5, rtol=0)


def test_load_hf_gpt2_state_rejects_another_layout():
    from transformers import GPT2Config, GPT2LMHeadModel

    hf_model = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=97, n_positions=32, n_embd=32, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0
        )
    )
    model = DecoderOnlyLM(tiny(vocab_size=97, block_size=32, n_embd=32))  # activation "gelu", not "gelu_tanh"
    with pytest.raises(
        CourseInputError,
        match=r"model.config must be the GPT-2 layout .* got different values \{'activation': 'gelu'\}",
    ):
        load_hf_gpt2_state(model, hf_model)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor")
@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_decoder_stacks_equal_torch_transformer(norm_first):
    config = tiny(EncoderDecoderConfig, n_layer=2, n_decoder_layer=3, norm_first=norm_first)
    model = EncoderDecoderLM(config).eval()
    theirs = nn.Transformer(
        config.n_embd,
        config.n_head,
        2,
        3,
        4 * config.n_embd,
        dropout=0.0,
        activation="gelu",
        batch_first=True,
        norm_first=norm_first,
    )
    randomize(theirs)
    for ours_block, their_layer in zip(model.encoder.blocks, theirs.encoder.layers, strict=False):
        copy_encoder_layer(ours_block, their_layer)
    for ours_block, their_layer in zip(model.decoder.blocks, theirs.decoder.layers, strict=False):
        copy_decoder_layer(ours_block, their_layer)
    if norm_first:  # pre-LN stacks end with a LayerNorm
        model.encoder.ln_f.load_state_dict(theirs.encoder.norm.state_dict())
        model.decoder.ln_f.load_state_dict(theirs.decoder.norm.state_dict())
    else:  # post-LN blocks end with a LayerNorm; the 2017 Transformer adds none, torch adds one anyway
        theirs.encoder.norm = theirs.decoder.norm = None

    src, tgt = ids(2, 7, seed=1), ids(2, 5, seed=2)
    src[0, -3:] = 0
    src_mask = padding_mask(src, pad_id=0)  # (B, 1, 1, S), True = real token
    src_x, tgt_x = model.embed(src), model.embed(tgt)  # the same embedded inputs for both
    expected = theirs(
        src_x,
        tgt_x,
        tgt_mask=~causal_mask(5),
        src_key_padding_mask=src == 0,
        memory_key_padding_mask=src == 0,
    )  # torch's boolean masks: True = may NOT attend
    memory = model.encoder(src_x, mask=src_mask)
    got = model.decoder(tgt_x, memory, memory_mask=src_mask)  # the decoder's self-attention is causal itself
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    logits = model(src, tgt, src_padding_mask=src_mask).logits
    torch.testing.assert_close(logits, model.lm_head(expected), atol=1e-5, rtol=0)


# ------------------------------------------------------------------------------------------------------------
# Causality and positions
# ------------------------------------------------------------------------------------------------------------


def assert_causal(run, tgt: torch.Tensor) -> None:
    """Changing token t+1 never changes outputs at positions <= t, and does change position t+1."""
    before = run(tgt)
    for t in range(tgt.size(1) - 1):
        changed = tgt.clone()
        changed[:, t + 1] = (changed[:, t + 1] + 1) % V
        after = run(changed)
        torch.testing.assert_close(after[:, : t + 1], before[:, : t + 1], atol=1e-6, rtol=0)
        assert not torch.allclose(after[:, t + 1], before[:, t + 1], atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_decoder_only_lm_is_causal(kind):
    torch.manual_seed(0)
    model = DecoderOnlyLM(tiny(positional=kind)).eval()
    assert_causal(lambda idx: model(idx).logits, ids(2, 8))


@pytest.mark.parametrize("kind", KINDS)
def test_encoder_decoder_decoder_is_causal(kind):
    torch.manual_seed(0)
    model = EncoderDecoderLM(tiny(EncoderDecoderConfig, positional=kind)).eval()
    src = ids(2, 6, seed=1)
    assert_causal(lambda tgt: model(src, tgt).logits, ids(2, 8))


@pytest.mark.parametrize("kind", KINDS)
def test_no_positions_make_the_encoder_permutation_equivariant(kind):
    """Without positions a shuffled input gives the same outputs, shuffled: attention sees a set, not a
    sequence."""
    torch.manual_seed(0)
    model = EncoderOnlyLM(tiny(EncoderOnlyConfig, positional=kind)).eval()
    idx, perm = ids(2, 10), torch.randperm(10)
    shuffled_then_run, run_then_shuffled = model(idx[:, perm]).logits, model(idx).logits[:, perm]
    equivariant = torch.allclose(shuffled_then_run, run_then_shuffled, atol=1e-5)
    assert equivariant == (kind == "none")


def test_encoder_sees_in_both_directions():
    torch.manual_seed(0)
    model = EncoderOnlyLM(tiny(EncoderOnlyConfig)).eval()
    idx = ids(1, 8)
    changed = idx.clone()
    changed[0, -1] = (changed[0, -1] + 1) % V
    assert not torch.allclose(model(idx).logits[:, 0], model(changed).logits[:, 0], atol=1e-4)


def test_padding_tokens_do_not_change_the_real_positions():
    torch.manual_seed(0)
    encoder = EncoderOnlyLM(tiny(EncoderOnlyConfig)).eval()
    seq2seq = EncoderDecoderLM(tiny(EncoderDecoderConfig)).eval()
    a = ids(2, 8)
    a[0, -3:] = 0
    b = a.clone()
    b[0, -3:] = 5  # other tokens at the padded positions
    mask = padding_mask(a, pad_id=0)
    torch.testing.assert_close(
        encoder(b, padding_mask=mask).logits[0, :5], encoder(a, padding_mask=mask).logits[0, :5]
    )
    tgt = ids(2, 4, seed=3)
    torch.testing.assert_close(
        seq2seq(b, tgt, src_padding_mask=mask).logits, seq2seq(a, tgt, src_padding_mask=mask).logits
    )
    assert not torch.allclose(
        seq2seq(b, tgt).logits, seq2seq(a, tgt).logits
    )  # without the mask the pads leak in


# ------------------------------------------------------------------------------------------------------------
# Outputs, loss, attention maps
# ------------------------------------------------------------------------------------------------------------


def test_loss_is_mean_cross_entropy_ignoring_minus_100():
    torch.manual_seed(0)
    model = DecoderOnlyLM(tiny())
    idx, targets = ids(2, 6), ids(2, 6, seed=1)
    targets[1, 3:] = -100
    out = model(idx, targets=targets)
    keep = targets != -100
    expected = F.cross_entropy(out.logits[keep], targets[keep])
    torch.testing.assert_close(out.loss, expected)
    assert model(idx).loss is None


def test_untrained_loss_is_close_to_log_vocab_size():
    """GPT-2's small init gives nearly uniform predictions: loss ~ ln(V) at step 0."""
    torch.manual_seed(0)
    loss = DecoderOnlyLM(tiny()).eval()(ids(4, 16), targets=ids(4, 16, seed=1)).loss
    assert abs(loss.item() - math.log(V)) < 0.1


def test_attention_maps_have_one_tensor_per_layer():
    torch.manual_seed(0)
    model = EncoderDecoderLM(tiny(EncoderDecoderConfig, n_decoder_layer=3)).eval()
    src, tgt = ids(2, 7), ids(2, 5)
    out = model(src, tgt, return_attention=True)
    assert [a.shape for a in out.encoder_attentions] == [(2, 2, 7, 7)] * 2
    assert [a.shape for a in out.attentions] == [(2, 2, 5, 5)] * 3
    assert [a.shape for a in out.cross_attentions] == [(2, 2, 5, 7)] * 3
    assert torch.all(out.attentions[0][..., ~causal_mask(5)] == 0)
    torch.testing.assert_close(out.logits, model(src, tgt).logits, atol=1e-6, rtol=0)  # fused == written out
    keep_attention_weights(model)  # what return_attention does: encode alone keeps its weights too
    memory = model.encode(src)
    assert [a.shape for a in model.encoder.attention_weights()] == [(2, 2, 7, 7)] * 2
    keep_attention_weights(model, False)
    torch.testing.assert_close(memory, model.encode(src))
    assert model(src, tgt).attentions is None


def test_decoder_only_attention_maps():
    torch.manual_seed(0)
    model = DecoderOnlyLM(tiny(n_layer=3)).eval()
    out = model(ids(2, 6), return_attention=True)
    assert (
        len(out.attentions) == 3 and out.attentions[0].shape == (2, 2, 6, 6) and out.cross_attentions is None
    )
    torch.testing.assert_close(out.attentions[2].sum(-1), torch.ones(2, 2, 6))


# ------------------------------------------------------------------------------------------------------------
# Weights: initialisation, tying, counting
# ------------------------------------------------------------------------------------------------------------


def test_gpt2_initialisation():
    torch.manual_seed(0)
    model = DecoderOnlyLM(tiny(n_layer=4, n_embd=64, n_head=4))
    weights = dict(model.named_parameters())
    residual = torch.cat(
        [
            weights[f"decoder.blocks.{i}.{name}.weight"].flatten()
            for i in range(4)
            for name in ("attn.out_proj", "mlp.proj")
        ]
    )
    others = torch.cat(
        [
            weights[f"decoder.blocks.{i}.{name}.weight"].flatten()
            for i in range(4)
            for name in ("attn.q_proj", "attn.k_proj", "attn.v_proj", "mlp.fc")
        ]
    )
    assert abs(residual.std().item() - 0.02 / math.sqrt(2 * 4)) < 0.0005
    assert abs(others.std().item() - 0.02) < 0.001
    assert abs(weights["embed.token.weight"].std().item() - 0.02) < 0.002
    assert all(
        p.abs().sum() == 0 for name, p in weights.items() if name.endswith("bias") and "ln" not in name
    )
    assert torch.equal(weights["decoder.ln_f.weight"], torch.ones(64))


def test_tied_weights_share_one_matrix_and_count_once():
    tied, untied = DecoderOnlyLM(tiny()), DecoderOnlyLM(tiny(tie_weights=False))
    assert tied.lm_head.weight is tied.embed.token.weight
    assert untied.lm_head.weight is not untied.embed.token.weight
    assert count_parameters(untied) - count_parameters(tied) == V * 16


def test_count_parameters_skips_frozen_ones_when_asked():
    model = DecoderOnlyLM(tiny())
    total = count_parameters(model)
    assert total == sum(p.numel() for p in set(model.parameters()))
    model.embed.requires_grad_(False)
    assert count_parameters(model) == total - (V + BLOCK) * 16
    assert count_parameters(model, trainable_only=False) == total


@pytest.mark.parametrize(
    ("cls", "model_cls"),
    [
        (DecoderOnlyConfig, DecoderOnlyLM),
        (EncoderOnlyConfig, EncoderOnlyLM),
        (EncoderDecoderConfig, EncoderDecoderLM),
    ],
)
def test_build_model_picks_the_class_from_the_config(cls, model_cls):
    model = build_model(tiny(cls))
    assert type(model) is model_cls and model.config == tiny(cls)


# ------------------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------------------


def test_too_long_input_says_to_crop():
    model = DecoderOnlyLM(tiny())
    with pytest.raises(
        CourseInputError,
        match=r"idx must be at most block_size=16 tokens long, got 17 tokens\. "
        r"Crop it to the last block_size tokens: idx\[:, -16:\]",
    ):
        model(ids(1, 17))
    with pytest.raises(CourseInputError, match=r"src must be at most block_size=16 tokens long"):
        EncoderDecoderLM(tiny(EncoderDecoderConfig))(ids(1, 17), ids(1, 3))


def test_idx_must_be_a_2d_long_tensor():
    model = DecoderOnlyLM(tiny())
    with pytest.raises(
        CourseInputError,
        match=r"idx must be a LongTensor \(torch.long\) of token ids, got dtype torch.float32",
    ):
        model(ids(1, 4).float())
    with pytest.raises(CourseInputError, match=r"idx must be a LongTensor .* got list"):
        model([[1, 2, 3]])
    with pytest.raises(
        CourseInputError, match=r"idx must be a 2-D tensor of shape \(B, T\), got shape \(4,\)\. Add a batch"
    ):
        model(ids(4))


def test_token_ids_outside_the_vocabulary_are_named():
    model = DecoderOnlyLM(tiny())
    vocab_size = model.config.vocab_size
    with pytest.raises(
        CourseInputError,
        match=rf"idx must be token ids from 0 to vocab_size - 1 = {vocab_size - 1}, "
        rf"got id {vocab_size}\. Encode text with the tokenizer",
    ):
        model(torch.tensor([[1, vocab_size, 2]]))
    with pytest.raises(CourseInputError, match=r"tgt must be token ids from 0 .* got id -1"):
        seq2seq = EncoderDecoderLM(tiny(EncoderDecoderConfig))
        seq2seq(ids(1, 3), torch.tensor([[0, -1]]))


def test_targets_must_match_idx():
    with pytest.raises(CourseInputError, match=r"targets must be a LongTensor of shape \(B, T\) = \(1, 4\)"):
        DecoderOnlyLM(tiny())(ids(1, 4), targets=ids(1, 3))


def test_models_check_their_config_type():
    with pytest.raises(
        CourseInputError,
        match="config must be a DecoderOnlyConfig, EncoderOnlyConfig or EncoderDecoderConfig, "
        "got TransformerConfig",
    ):
        build_model(tiny(TransformerConfig))
    with pytest.raises(
        CourseInputError, match="config must be of type EncoderDecoderConfig, got DecoderOnlyConfig"
    ):
        EncoderDecoderLM(tiny())


@pytest.mark.parametrize("kind", KINDS)
def test_sinusoidal_positions_do_not_drown_the_tokens(kind):
    """Vaswani et al.'s sqrt(C) scale on the token embeddings, for the fixed sinusoidal table only."""
    torch.manual_seed(0)
    config = DecoderOnlyConfig(vocab_size=30, block_size=16, n_embd=64, n_head=4, positional=kind)
    embed = DecoderOnlyLM(config).eval().embed
    tokens = ids(2, 16) % 30
    token_part = embed.token(tokens) * (math.sqrt(64) if kind == "sinusoidal" else 1.0)
    position_part = embed(tokens) - token_part  # (B, T, C): zero for rotary and none
    torch.testing.assert_close(embed(tokens), token_part + position_part)
    if kind == "sinusoidal":
        assert 0.1 < token_part.std() / position_part.std() < 10  # same order of size: neither drowns
    elif kind in ("rotary", "none"):
        assert position_part.abs().max() == 0
