"""Blocks: encoder and decoder blocks against torch.nn.TransformerEncoderLayer / TransformerDecoderLayer."""

import pytest
import torch
import torch.nn.functional as F
from test_attention import copy_from_torch as copy_attention
from torch import nn

from course_lib.attention import causal_mask, keep_attention_weights, padding_mask
from course_lib.blocks import MLP, DecoderBlock, EncoderBlock, make_activation
from course_lib.configs import DecoderOnlyConfig
from course_lib.validation import CourseInputError

B, T, S, C, H = 2, 5, 6, 16, 4

TORCH_ACTIVATIONS = {"gelu": "gelu", "relu": "relu", "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}


def config(**kwargs) -> DecoderOnlyConfig:
    return DecoderOnlyConfig(**({"vocab_size": 10, "block_size": 16, "n_head": H, "n_embd": C} | kwargs))


def randomize(module: nn.Module) -> None:
    """torch starts LayerNorms at (1, 0) and attention biases at 0: make every parameter count."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))


def copy_linear(ours: nn.Linear, theirs: nn.Linear) -> None:
    ours.load_state_dict(theirs.state_dict())


def copy_encoder_layer(ours: EncoderBlock, theirs: nn.TransformerEncoderLayer) -> None:
    """torch's names -> ours: self_attn -> attn, linear1/2 -> mlp.fc/proj, norm1/2 -> ln_attn/ln_mlp."""
    copy_attention(ours.attn, theirs.self_attn)
    for our, their in (
        (ours.mlp.fc, theirs.linear1),
        (ours.mlp.proj, theirs.linear2),
        (ours.ln_attn, theirs.norm1),
        (ours.ln_mlp, theirs.norm2),
    ):
        copy_linear(our, their)


def copy_decoder_layer(ours: DecoderBlock, theirs: nn.TransformerDecoderLayer) -> None:
    """As for the encoder, plus multihead_attn -> cross_attn and norm2/3 -> ln_cross/ln_mlp."""
    copy_attention(ours.attn, theirs.self_attn)
    copy_attention(ours.cross_attn, theirs.multihead_attn)
    for our, their in (
        (ours.mlp.fc, theirs.linear1),
        (ours.mlp.proj, theirs.linear2),
        (ours.ln_attn, theirs.norm1),
        (ours.ln_cross, theirs.norm2),
        (ours.ln_mlp, theirs.norm3),
    ):
        copy_linear(our, their)


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "relu"])
def test_mlp_applies_the_named_activation(name):
    torch.manual_seed(0)
    mlp = MLP(config(activation=name))
    x = 3 * torch.randn(B, T, C)
    function = {"gelu": F.gelu, "gelu_tanh": lambda h: F.gelu(h, approximate="tanh"), "relu": F.relu}[name]
    torch.testing.assert_close(mlp(x), mlp.proj(function(mlp.fc(x))), atol=1e-6, rtol=0)
    assert mlp.fc.out_features == 4 * C


def test_unknown_activation_is_rejected():
    with pytest.raises(
        CourseInputError, match=r"activation must be one of \('gelu', 'gelu_tanh', 'relu'\), got 'tanh'"
    ):
        make_activation("tanh")


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("activation", ["gelu", "gelu_tanh", "relu"])
def test_encoder_block_equals_torch_encoder_layer(norm_first, activation):
    theirs = nn.TransformerEncoderLayer(
        C,
        H,
        4 * C,
        dropout=0.0,
        activation=TORCH_ACTIVATIONS[activation],
        batch_first=True,
        norm_first=norm_first,
    )
    randomize(theirs)
    ours = EncoderBlock(config(norm_first=norm_first, activation=activation))
    copy_encoder_layer(ours, theirs)
    x = torch.randn(B, S, C)
    ids = torch.ones(B, S, dtype=torch.long)
    ids[0, -2:] = 0
    expected = theirs(x, src_key_padding_mask=ids == 0)  # torch: True = padding (may NOT attend)
    got = ours(x, mask=padding_mask(ids, 0))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert ours.attn.weights is None  # kept only when asked (keep_attention_weights)


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_block_equals_torch_decoder_layer(norm_first):
    theirs = nn.TransformerDecoderLayer(
        C, H, 4 * C, dropout=0.0, activation="gelu", batch_first=True, norm_first=norm_first
    )
    randomize(theirs)
    ours = DecoderBlock(config(norm_first=norm_first), cross_attention=True)
    keep_attention_weights(ours)
    copy_decoder_layer(ours, theirs)
    x, memory = torch.randn(B, T, C), torch.randn(B, S, C)
    src = torch.ones(B, S, dtype=torch.long)
    src[1, -3:] = 0
    expected = theirs(x, memory, tgt_mask=~causal_mask(T), memory_key_padding_mask=src == 0)
    got = ours(x, memory, memory_mask=padding_mask(src, 0))  # the block's self-attention is causal itself
    self_weights, cross_weights = ours.attn.weights, ours.cross_attn.weights
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert self_weights.shape == (B, H, T, T) and cross_weights.shape == (B, H, T, S)
    assert (cross_weights[1, :, :, -3:] == 0).all()  # nobody reads the source padding


def test_pre_ln_and_post_ln_blocks_differ():
    torch.manual_seed(0)
    pre = EncoderBlock(config(norm_first=True))
    post = EncoderBlock(config(norm_first=False))
    post.load_state_dict(pre.state_dict())
    x = torch.randn(B, T, C)
    out_pre, out_post = pre(x), post(x)
    assert not torch.allclose(out_pre, out_post, atol=1e-3)
    # post-LN output is freshly normalised: mean 0, variance 1 over channels (LayerNorm at its (1, 0) start)
    torch.testing.assert_close(out_post.mean(-1), torch.zeros(B, T), atol=1e-5, rtol=0)


def test_decoder_only_block_has_no_cross_attention():
    block = DecoderBlock(config())
    assert not hasattr(block, "cross_attn")
    with pytest.raises(
        CourseInputError, match="memory must be given exactly when the block has cross-attention"
    ):
        block(torch.randn(B, T, C), memory=torch.randn(B, S, C))
    with pytest.raises(CourseInputError, match="with cross_attention=True"):
        DecoderBlock(config(), cross_attention=True)(torch.randn(B, T, C))


def test_bias_false_removes_every_bias():
    block = DecoderBlock(config(bias=False), cross_attention=True)
    assert not [name for name, _ in block.named_parameters() if name.endswith("bias")]
    assert [
        name
        for name, _ in DecoderBlock(config(), cross_attention=True).named_parameters()
        if name.endswith("bias")
    ]
