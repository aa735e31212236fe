# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Week 7 (transformers)
#     language: python
#     name: week07-transformers
# ---

# %% [markdown]
# # Week 7 · 03 — Blocks and the three families
#
# Notebooks 01 and 02 gave us attention and positions. A transformer is those parts wired into a
# **block** that is repeated many times. Wire the same block in three slightly different ways and you get
# the three families of text models: **encoder-only** (BERT), **decoder-only** (GPT) and
# **encoder-decoder** (T5, BART).
#
# **Time:** about 40 minutes.
#
# **By the end of this notebook you will be able to**
# 1. write a residual connection, a LayerNorm and the feed-forward layer (MLP) from scratch;
# 2. assemble them into a pre-LN decoder block, and say how a post-LN block differs and why pre-LN is
#    the usual choice for deep models;
# 3. explain cross-attention: who asks (queries) and who answers (keys and values);
# 4. build BERT-, GPT- and T5-style models from the same parts and draw their three attention masks;
# 5. count a model's parameters, FLOPs per token and memory, and check them against published figures.

# %%
import inspect
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import architecture, blocks, configs, models, viz
from course_lib.attention import MultiHeadAttention, attention_weights_kept
from course_lib.viz.masks import mask_patterns, plot_mask_patterns

torch.manual_seed(0)
B, T, C, H = 2, 5, 16, 4  # batch, positions, channels (n_embd), heads
config = configs.DecoderOnlyConfig(vocab_size=11, block_size=8, n_layer=2, n_head=H, n_embd=C)

# %% [markdown]
# ## 1. The residual stream
#
# Think of a block as an editor that reads a draft and writes *corrections in the margin*, instead of
# rewriting the whole text. In code, a sub-layer `f` (attention or the MLP) is used as
#
# ```python
# x = x + f(x)        # a residual (skip) connection
# ```
#
# The vector `x` that flows from block to block is called the **residual stream**. Two consequences:
# - a block that has learned nothing useful yet can leave `x` almost unchanged, so a deep stack of fresh
#   blocks starts close to the identity instead of scrambling its input;
# - the derivative of `x + f(x)` is `1 + f'(x)`: the `1` carries the gradient straight down to earlier
#   layers, however many blocks sit on top.
#
# The course's models start their sub-layers small (GPT-2's initialisation), so a fresh block changes the
# stream very little:

# %%
gpt = models.DecoderOnlyLM(config)  # a tiny GPT with GPT-2's initialisation
first_block = gpt.decoder.blocks[0]
x = torch.randn(B, T, C)  # a residual stream: B sequences of T positions with C channels
with torch.no_grad():
    change = (first_block(x) - x).norm() / x.norm()
print(f"A fresh block changes the residual stream by {change:.1%} of its size.")

# %%
# Check: at initialisation a block is close to the identity (it changes the stream by less than 10%).
assert change < 0.10, change
print("A fresh block starts near the identity.")

# %% [markdown]
# ## 2. Layer normalisation
#
# As the stream passes through many blocks its numbers can drift to large or tiny sizes. **LayerNorm**
# rescales each position's vector of C numbers to mean 0 and variance 1, then applies a learned scale
# (`weight`) and shift (`bias`) per channel. Every position is normalised on its own, with no batch
# statistics, so it behaves the same in training and in generation.

# %%
def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """x (B, T, C) -> (B, T, C): each position's C numbers get mean 0 and variance 1, then scale and shift."""
    mean = x.mean(dim=-1, keepdim=True)  # (B, T, 1)
    variance = x.var(dim=-1, keepdim=True, unbiased=False)  # (B, T, 1): divide by C, not C - 1
    return weight * (x - mean) / torch.sqrt(variance + eps) + bias  # (B, T, C)


# %%
# Check: our LayerNorm equals torch's and course_lib's (with random scale and shift, not just 1 and 0).
norm = blocks.make_layer_norm(config)  # the LayerNorm course_lib's blocks use: nn.LayerNorm(C)
with torch.no_grad():
    norm.weight.normal_(), norm.bias.normal_()
ours = layer_norm(x, norm.weight, norm.bias)
torch.testing.assert_close(ours, norm(x))
torch.testing.assert_close(ours, F.layer_norm(x, (C,), norm.weight, norm.bias, eps=1e-5))
plain = layer_norm(x, torch.ones(C), torch.zeros(C))
torch.testing.assert_close(plain.mean(-1), torch.zeros(B, T), atol=1e-6, rtol=0)
torch.testing.assert_close(plain.var(-1, unbiased=False), torch.ones(B, T), atol=1e-3, rtol=0)
torch.testing.assert_close(norm(x[:1]), norm(x)[:1])  # no batch statistics: alone = in a batch
print("From-scratch LayerNorm = nn.LayerNorm = F.layer_norm; each position gets mean 0, variance 1.")

# %% [markdown]
# ## 3. The feed-forward layer (MLP)
#
# Attention moves information *between* positions. The **MLP** then lets each position think on its own:
# widen to 4C channels, apply a non-linearity (GELU), and project back to C.

# %%
class FeedForward(nn.Module):
    """(B, T, C) -> (B, T, 4C) -> (B, T, C), the same weights at every position."""

    def __init__(self, n_embd: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.gelu(self.c_fc(x)))


# %%
# Check: our MLP equals course_lib's blocks.MLP with the same weights, and works position by position.
mlp, course_mlp = FeedForward(C), blocks.MLP(config)
mlp.c_fc.load_state_dict(course_mlp.fc.state_dict())
mlp.c_proj.load_state_dict(course_mlp.proj.state_dict())
with torch.no_grad():
    torch.testing.assert_close(mlp(x), course_mlp(x))
    one_at_a_time = torch.cat([mlp(x[:, t : t + 1]) for t in range(T)], dim=1)  # each position alone
    torch.testing.assert_close(one_at_a_time, mlp(x))
print(f"MLP = course_lib's MLP; {sum(p.numel() for p in mlp.parameters()):,} parameters = 8C² + 5C.")
assert sum(p.numel() for p in mlp.parameters()) == 8 * C * C + 5 * C

# %% [markdown]
# ## 4. A decoder block, from scratch
#
# A GPT block is two residual sub-layers, each reading a **normalised copy** of the stream
# (this layout is called **pre-LN**; nanoGPT and GPT-2 use it):
#
# ```python
# x = x + attn(ln_1(x))   # positions exchange information (causal: only with earlier positions)
# x = x + mlp(ln_2(x))    # each position processes what it gathered
# ```
#
# Here is causal self-attention in nanoGPT's style: one matrix makes queries, keys and values at once.

# %%
class CausalSelfAttention(nn.Module):
    """(B, T, C) -> (B, T, C): H heads, position t attends to positions 0..t."""

    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)  # queries, keys and values in one matrix
        self.c_proj = nn.Linear(n_embd, n_embd)  # mixes the heads' outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)  # each (B, T, C)
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, D)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)


# %%
class Block(nn.Module):
    """A pre-LN decoder block: (B, T, C) -> (B, T, C)."""

    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = FeedForward(n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


# %% [markdown]
# course_lib's `DecoderBlock` keeps separate query, key and value matrices (`q_proj`, `k_proj`, `v_proj`)
# and calls its norms `ln_attn` and `ln_mlp`. Stacking its three matrices gives nanoGPT's `c_attn`:

# %%
def copy_weights(ours: Block, course_block: blocks.DecoderBlock) -> None:
    """Load a course_lib DecoderBlock's weights into our nanoGPT-style Block."""
    attn = course_block.attn
    with torch.no_grad():
        ours.attn.c_attn.weight.copy_(torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]))
        ours.attn.c_attn.bias.copy_(torch.cat([attn.q_proj.bias, attn.k_proj.bias, attn.v_proj.bias]))
    ours.attn.c_proj.load_state_dict(attn.out_proj.state_dict())
    ours.ln_1.load_state_dict(course_block.ln_attn.state_dict())
    ours.ln_2.load_state_dict(course_block.ln_mlp.state_dict())
    ours.mlp.c_fc.load_state_dict(course_block.mlp.fc.state_dict())
    ours.mlp.c_proj.load_state_dict(course_block.mlp.proj.state_dict())


# %%
# Check: our Block equals course_lib's DecoderBlock (pre-LN) with the same weights.
course_block = blocks.DecoderBlock(config).eval()
block = Block(C, H)
copy_weights(block, course_block)
with torch.no_grad():
    torch.testing.assert_close(block(x), course_block(x))
print("From-scratch pre-LN block = course_lib DecoderBlock. course_lib's two pre-LN lines:")
source = inspect.getsource(blocks.DecoderBlock.forward).splitlines()
print("\n".join(line for line in source if "self.ln_attn(x)" in line or "self.ln_mlp(x)" in line))

# %% [markdown]
# ## 5. Pre-LN or post-LN?
#
# The original Transformer (2017) put the LayerNorm **after** the residual add (**post-LN**):
#
# ```python
# x = ln_1(x + attn(x))
# x = ln_2(x + mlp(x))
# ```
#
# The difference looks cosmetic, but in post-LN the residual stream itself passes through a LayerNorm in
# every sub-layer, so the "straight path" of section 1 is rescaled 2 × n_layer times. In pre-LN the
# stream is only ever *added to*; the norms sit on the side branches (and one final `ln_f` closes the
# stack). course_lib switches between the two with `config.norm_first`:

# %%
# Check: the post-LN formula above, with our block's parts, equals course_lib's post-LN DecoderBlock.
post_config = configs.DecoderOnlyConfig(**{**config.to_dict(), "norm_first": False})
course_post = blocks.DecoderBlock(post_config).eval()
course_post.load_state_dict(course_block.state_dict())  # same parts, same weights, another wiring
with torch.no_grad():
    h = block.ln_1(x + block.attn(x))
    post_ln = block.ln_2(h + block.mlp(h))
    torch.testing.assert_close(post_ln, course_post(x))
    assert not torch.allclose(post_ln, block(x))
print("Post-LN formula = course_lib DecoderBlock(norm_first=False); it differs from pre-LN.")

# %% [markdown]
# **Why pre-LN trains more easily.** Training uses one learning rate for every layer, so it goes best when
# every layer receives gradients of similar size. Let us measure that: build a 24-block GPT each way, run
# one batch of random characters through it, and take the size (norm) of each block's gradient.

# %%
def gradient_norm_per_block(*, norm_first: bool, n_layer: int = 24, seed: int = 0) -> torch.Tensor:
    """(n_layer,) the gradient norm of each block's parameters after one loss.backward() at init."""
    torch.manual_seed(seed)
    deep = configs.DecoderOnlyConfig(
        vocab_size=65, block_size=32, n_layer=n_layer, n_head=4, n_embd=64, norm_first=norm_first
    )
    model = models.DecoderOnlyLM(deep)
    ids = torch.randint(0, 65, (8, 33))
    model(ids[:, :-1], targets=ids[:, 1:]).loss.backward()
    return torch.stack(
        [torch.cat([p.grad.flatten() for p in b.parameters()]).norm() for b in model.decoder.blocks]
    )


pre_norms, post_norms = gradient_norm_per_block(norm_first=True), gradient_norm_per_block(norm_first=False)
spread = {name: (g.max() / g.min()).item() for name, g in (("pre-LN", pre_norms), ("post-LN", post_norms))}
print({name: f"largest / smallest = {ratio:.1f}x" for name, ratio in spread.items()})

# %%
fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
ax.semilogy(range(1, 25), pre_norms, "o-", label="pre-LN: x = x + f(ln(x))")
ax.semilogy(range(1, 25), post_norms, "s-", label="post-LN: x = ln(x + f(x))")
ax.set(xlabel="block (1 = next to the embeddings)", ylabel="gradient norm (log scale)")
ax.set_title("Gradient per block of a fresh 24-block GPT")
ax.legend()
plt.show()

# %%
# Check: pre-LN's blocks get gradients within a factor 2 of each other; post-LN's differ by over 5x.
assert spread["pre-LN"] < 2 and spread["post-LN"] > 5, spread
print("Pre-LN: even gradients across depth. Post-LN: very uneven.")

# %% [markdown]
# In the post-LN stack the block next to the embeddings gets far more gradient than all the others, while in
# the pre-LN stack all 24 blocks get nearly the same. A learning rate that suits the many is then too large
# for the one. Unevenness of this kind is one reason the literature gives for post-LN's reputation: it needs
# a slow learning-rate **warm-up**, and deep post-LN models can fail to train without one (Xiong et al.,
# 2020, *On Layer Normalization in the Transformer Architecture*). This is one measurement at
# initialisation, not the whole story: a few seconds of training on a laptop are too short and too small
# to show the failure itself. The price of pre-LN: the stream is never normalised inside the stack, hence
# the final `ln_f`. The layouts of the published models in this notebook:

# %%
# Check: the modern decoder-only models are pre-LN; BERT and BART (2018-2019) are post-LN.
layouts = {name: architecture.preset(name).norm_first for name in architecture.PRESETS}
print("pre-LN: ", [name for name, first in layouts.items() if first])
print("post-LN:", [name for name, first in layouts.items() if not first])
assert all(layouts[n] for n in ("GPT-2 small", "LLaMA-2-7B", "Mistral-7B", "SmolLM2-135M"))
assert not layouts["BERT-base"] and not layouts["BART-base"]

# %% [markdown]
# ## 6. The encoder block
#
# An **encoder block** is the same two sub-layers with one switch flipped: its self-attention is not
# causal, so every position sees the whole input, before and after it. That suits *reading* (BERT
# classifies, tags and fills gaps in text it sees whole) but not *writing*: a generator must not see the
# tokens it is about to produce. We can check the switch by changing the **last** input position and
# watching which outputs move.

# %%
encoder_block = blocks.EncoderBlock(config).eval()
encoder_block.load_state_dict(course_block.state_dict())  # the same weights as the decoder block
x_edited = x.clone()
x_edited[:, -1] = torch.randn(B, C)  # change only the last position
with torch.no_grad():
    moved = {
        name: ((layer(x_edited) - layer(x)).abs().amax(dim=(0, 2)) > 1e-6).tolist()  # (T,) per position
        for name, layer in (("encoder", encoder_block), ("decoder", course_block))
    }
for name, flags in moved.items():
    print(f"{name} block, outputs that changed: {['yes' if f else 'no' for f in flags]}")

# %%
# Check: the encoder's every output depends on the last position; the decoder's earlier outputs do not.
assert all(moved["encoder"]) and moved["decoder"] == [False] * (T - 1) + [True]
print("Encoder: bidirectional. Decoder: causal.")

# %% [markdown]
# ## 7. Cross-attention: the decoder reads the encoder
#
# An encoder-decoder (T5, BART, the 2017 Transformer) reads a **source** (say, an English sentence) with an
# encoder and writes a **target** (its French translation) with a decoder. The encoder's output, one vector
# per source token, is called the **memory**. Each decoder block gets a third sub-layer between its
# self-attention and its MLP, **cross-attention**:
#
# - the **queries** come from the decoder's stream: "what do I need to write the next word?" (T of them);
# - the **keys and values** come from the memory: "here is what the source says" (S of them).
#
# So the attention weights form a (T, S) table, one row per target position. course_lib's
# `MultiHeadAttention` does cross-attention when it gets `context=memory`:

# %%
S = 7  # source positions (the target has T = 5)
memory = torch.randn(B, S, C)  # what an encoder would hand over: (B, S, C)
cross_attention = MultiHeadAttention(C, H).eval()
with torch.no_grad(), attention_weights_kept(cross_attention):
    out = cross_attention(x, context=memory)  # queries from x (B, T, C), keys and values from memory
    weights = cross_attention.weights  # (B, H, T, S)
print(f"x {tuple(x.shape)} reads memory {tuple(memory.shape)} -> output {tuple(out.shape)}")
print(f"attention weights {tuple(weights.shape)} = (B, H, T, S): one row per target position")

# %% [markdown]
# Written out, cross-attention is self-attention whose keys and values are computed from another tensor:

# %%
with torch.no_grad():
    split = cross_attention.split_heads  # (B, L, C) -> (B, H, L, D)
    q = split(cross_attention.q_proj(x))  # (B, H, T, D): from the decoder
    k, v = split(cross_attention.k_proj(memory)), split(cross_attention.v_proj(memory))  # (B, H, S, D)
    scores = q @ k.transpose(-2, -1) / math.sqrt(C // H)  # (B, H, T, S)
    by_hand = cross_attention.out_proj(cross_attention.merge_heads(scores.softmax(-1) @ v))  # (B, T, C)

# %%
# Check: shapes (queries T from the decoder, keys/values S from the memory) and values agree with course_lib.
assert out.shape == (B, T, C) and weights.shape == (B, H, T, S) and scores.shape == (B, H, T, S)
torch.testing.assert_close(by_hand, out)
torch.testing.assert_close(scores.softmax(-1), weights)
torch.testing.assert_close(weights.sum(-1), torch.ones(B, H, T))  # every target row is a distribution
print("Cross-attention by hand = course_lib's MultiHeadAttention(context=memory); weights are (T, S).")

# %% [markdown]
# Now a whole tiny encoder-decoder model, `models.EncoderDecoderLM`. Two properties make it a proper
# generator of targets from sources: each target position may use the **whole source** but only the
# **earlier target** positions.

# %%
seq2seq_config = configs.EncoderDecoderConfig(vocab_size=11, block_size=8, n_layer=2, n_head=H, n_embd=C)
seq2seq = models.EncoderDecoderLM(seq2seq_config).eval()
src, tgt = torch.randint(0, 11, (1, S)), torch.randint(0, 11, (1, T))
tgt_new_future, src_new = tgt.clone(), src.clone()
tgt_new_future[0, 3:] = (tgt[0, 3:] + 1) % 11  # change target positions 3 and 4
src_new[0, -1] = (src[0, -1] + 1) % 11  # change the last source token only
with torch.no_grad():
    logits = seq2seq(src, tgt).logits  # (1, T, V)
    logits_future = seq2seq(src, tgt_new_future).logits
    logits_source = seq2seq(src_new, tgt).logits
per_position = {
    "future target changed": (logits_future - logits).abs().amax(dim=(0, 2)),  # (T,)
    "last source token changed": (logits_source - logits).abs().amax(dim=(0, 2)),
}
for what, change in per_position.items():
    print(f"{what:>26}: largest logit change per target position {[round(c, 3) for c in change.tolist()]}")

# %%
# Check: causality (positions 0-2 ignore targets 3-4) and the source reaching every target position.
future, source_change = per_position.values()
assert (future[:3] < 1e-6).all() and (future[3:] > 1e-4).all()
assert (source_change > 1e-4).all()
print("Targets see only their past; every target position reads the whole source.")

# %% [markdown]
# ## 8. Exercise: a decoder block with cross-attention
#
# Complete the forward pass of a **pre-LN decoder block with cross-attention**, using the parts of
# course_lib's `DecoderBlock(config, cross_attention=True)`:
#
# | norm | sub-layer | how to call it |
# |---|---|---|
# | `block.ln_attn` | causal self-attention | `block.attn(h)` |
# | `block.ln_cross` | cross-attention | `block.cross_attn(h, context=memory)` |
# | `block.ln_mlp` | MLP | `block.mlp(h)` |
#
# Three residual sub-layers, in the order self-attention, cross-attention, MLP, each reading a normalised
# copy of the stream. `x` is (B, T, C), `memory` is (B, S, C), and the result must be (B, T, C).

# %%
def cross_attention_block(x: torch.Tensor, memory: torch.Tensor, block: blocks.DecoderBlock) -> torch.Tensor:
    """x (B, T, C), memory (B, S, C) -> (B, T, C): what block(x, memory) computes."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.blocks import check_cross_attention_block

check_cross_attention_block(cross_attention_block)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def cross_attention_block(x, memory, block):
#     x = x + block.attn(block.ln_attn(x))
#     x = x + block.cross_attn(block.ln_cross(x), context=memory)
#     return x + block.mlp(block.ln_mlp(x))
# ```
# The memory goes in as `context` untouched: it is already normalised by the encoder's final `ln_f`.
# </details>

# %% [markdown]
# ## 9. Three families from the same parts
#
# | family | examples | blocks | attention | trained to |
# |---|---|---|---|---|
# | encoder-only | BERT | encoder | all-visible self-attention | fill in masked-out tokens |
# | decoder-only | GPT, LLaMA, Mistral, PaLM | decoder | causal self-attention | predict the next token |
# | encoder-decoder | T5, BART | encoder + decoder | all three (+ cross-attention) | map source to target |
#
# Only the decoder-only and encoder-decoder families **generate** text token by token; BERT understands
# text but has no causal way to write it. course_lib builds all three from `EncoderBlock` and
# `DecoderBlock`:

# %%
sizes = {"vocab_size": 11, "block_size": 8, "n_head": H, "n_embd": C}  # n_layer: 4 by default
family_configs = {
    "encoder-only (BERT-style)": configs.EncoderOnlyConfig(**sizes),
    "decoder-only (GPT-style)": configs.DecoderOnlyConfig(**sizes),
    "encoder-decoder (T5-style)": configs.EncoderDecoderConfig(**sizes),
}
family_models = {name: models.build_model(c) for name, c in family_configs.items()}
kinds = (blocks.EncoderBlock, blocks.DecoderBlock)
for name, model in family_models.items():
    count = {kind.__name__: sum(isinstance(m, kind) for m in model.modules()) for kind in kinds}
    crossing = sum(isinstance(m, blocks.DecoderBlock) and m.cross_attention for m in model.modules())
    n_params = models.count_parameters(model)
    print(f"{name:<27} {count}, with cross-attention: {crossing}, {n_params:,} parameters")

# %%
# Check: the same parts, three wirings (4 layers each by default).
encoder_only, decoder_only, encoder_decoder = family_models.values()
assert isinstance(encoder_only.encoder.blocks[0], blocks.EncoderBlock)
assert not hasattr(encoder_only, "decoder")
assert not decoder_only.decoder.blocks[0].cross_attention and not hasattr(decoder_only, "encoder")
assert encoder_decoder.decoder.blocks[0].cross_attention and len(encoder_decoder.encoder.blocks) == 4
print("BERT-style: encoder blocks. GPT-style: decoder blocks. T5-style: both, joined by cross-attention.")

# %% [markdown]
# Each kind of attention has its own **mask** (True = may attend, rows are queries, columns keys). Here
# are the three patterns for the source "I am happy" and the target `<s> je suis heureux` (`<s>` marks
# the start; the decoder is trained to predict "je" there):

# %%
plot_mask_patterns(["I", "am", "happy"], ["<s>", "je", "suis", "heureux"])

# %% [markdown]
# ## 10. Exercise: the three masks
#
# Write `three_masks(source_length, target_length)` returning boolean masks (True = may attend):
# the encoder's self-attention mask (S, S), the decoder's self-attention mask (T, T) and the
# cross-attention mask (T, S), with rows for queries and columns for keys.

# %%
def three_masks(source_length: int, target_length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """-> encoder mask (S, S), decoder mask (T, T), cross-attention mask (T, S); True = may attend."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.blocks import check_mask_patterns

check_mask_patterns(three_masks)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def three_masks(source_length, target_length):
#     encoder = torch.ones(source_length, source_length, dtype=torch.bool)
#     decoder = torch.ones(target_length, target_length, dtype=torch.bool).tril()
#     cross = torch.ones(target_length, source_length, dtype=torch.bool)
#     return encoder, decoder, cross
# ```
# </details>

# %%
# Check: course_lib's patterns agree with PyTorch's causal mask (torch marks hidden entries with -inf).
patterns = mask_patterns(source_length=S, target_length=T)
hidden_by_torch = nn.Transformer.generate_square_subsequent_mask(T) == float("-inf")  # (T, T)
assert torch.equal(patterns["decoder self-attention"], ~hidden_by_torch)
assert patterns["encoder self-attention"].all() and patterns["cross-attention"].shape == (T, S)
print({name: tuple(mask.shape) for name, mask in patterns.items()})

# %% [markdown]
# ## 11. Counting parameters
#
# A block's size follows from its parts. For a GPT with width C (biases and LayerNorms included):
#
# - attention: 4 matrices C×C (queries, keys, values, output) + 4C biases;
# - MLP: C×4C and 4C×C + 4C + C biases, i.e. 8C² + 5C;
# - two LayerNorms: 2 × (C scales + C shifts).
#
# The whole model adds the token table (V×C, which the output layer reuses: *tied* embeddings), a
# learned position table (context × C, if positions are learned) and the final LayerNorm.

# %%
def gpt_parameters(*, n_layer: int, n_embd: int, vocab_size: int, position_rows: int) -> int:
    """Parameters of a GPT-2-style model with tied embeddings (position_rows = 0 for rotary positions)."""
    C = n_embd
    per_block = (4 * C * C + 4 * C) + (8 * C * C + 5 * C) + 2 * (2 * C)  # attention, MLP, two LayerNorms
    return vocab_size * C + position_rows * C + n_layer * per_block + 2 * C  # + ln_f


# %% [markdown]
# The course's two small GPTs (notebook 04 trains them) are built below as real torch modules, and their
# parameters counted one tensor at a time. GPT-2 small is built on PyTorch's `meta` device: the modules get
# their shapes but no memory, so even 124 million parameters cost nothing to count.

# %%
built = {
    "course default (char GPT)": models.build_model(configs.course_default(architecture.COURSE_CHAR_VOCAB)),
    "baby GPT (reference)": models.build_model(configs.baby_gpt_reference(architecture.COURSE_CHAR_VOCAB)),
}
with torch.device("meta"):  # shapes only, no numbers
    built["GPT-2 small"] = models.build_model(configs.gpt2_config())
for name, model in built.items():
    c = model.config
    rows = c.block_size if c.positional == "learned" else 0
    counts = (
        models.count_parameters(model),  # counted from the torch modules
        gpt_parameters(n_layer=c.n_layer, n_embd=c.n_embd, vocab_size=c.vocab_size, position_rows=rows),
        architecture.parameter_count(architecture.preset(name)).total,  # course_lib's formula
    )
    print(f"{name:<26} modules {counts[0]:>11,}  our formula {counts[1]:>11,}  course_lib {counts[2]:>11,}")
    assert len(set(counts)) == 1, counts

# %%
# Check: the three counts agreed for every model (asserted above); GPT-2 small is the published 124M.
gpt2_count = models.count_parameters(built["GPT-2 small"])
low, high = architecture.PRESETS["GPT-2 small"].published_bounds()
assert low <= gpt2_count <= high
print(f"GPT-2 small: {gpt2_count:,} = {architecture.format_count(gpt2_count)} (published: 124M)")

# %% [markdown]
# ## 12. The published models, counted
#
# The same arithmetic, extended with the switches in which real models differ (gated MLPs with 3
# matrices, RMSNorm, no biases, rotary or relative positions, shared key/value heads), is
# `course_lib.architecture`. Published counts follow different **conventions**: is the output layer
# counted separately or shared with the token table? Does BERT's count include its pooler? Each preset
# records the convention that reproduces its published figure.

# %%
published = {name: p for name, p in architecture.PRESETS.items() if p.published is not None}
print(f"{'model':<18}{'family':<17}{'course_lib':>12}{'published':>11}")
for name, preset in published.items():
    total = architecture.parameter_count(preset.architecture).total
    print(f"{name:<18}{preset.architecture.family:<17}{architecture.format_count(total):>12}{preset.published:>11}")

# %%
# Check: every course_lib count rounds to the published figure at the digits it was published with.
for name, preset in published.items():
    low, high = preset.published_bounds()
    assert low <= architecture.parameter_count(preset.architecture).total <= high, name
print(f"All {len(published)} published counts reproduced. The conventions:")
for name in ("GPT-2 small", "BERT-base", "T5-base", "LLaMA-2-7B"):
    print(f"- {name}: {published[name].convention}")

# %% [markdown]
# **PaLM** (Google, 2022) is in the lecture's table too, but its weights were never released, so no
# library can load it and no one can count it from a file. What we can do is count it from the
# configuration its paper publishes: 118 layers, width 18,432, 48 heads of 256 dimensions with **one**
# shared key/value head (multi-query attention), a SwiGLU MLP of width 4 × 18,432 (3 matrices), no
# biases, a 256k vocabulary shared by input and output. Its heads (48 × 256 = 12,288) are narrower than
# its width, which `course_lib.architecture` cannot express (it assumes head size = width / heads), so we
# count it by hand:

# %%
def palm_parameters(*, n_layer: int, d_model: int, n_head: int, head_dim: int = 256, vocab: int = 256000):
    """PaLM's parameter count: multi-query attention, SwiGLU MLP, no biases, shared embeddings, no norms."""
    attention = 2 * d_model * n_head * head_dim + 2 * d_model * head_dim  # q and out; one shared k and v
    mlp = 3 * d_model * 4 * d_model
    return vocab * d_model + n_layer * (attention + mlp)


palm_540b = palm_parameters(n_layer=118, d_model=18_432, n_head=48)
print(f"PaLM 540B from its paper's configuration: {palm_540b:,} (the paper's table says 540.35B)")

# %%
# Check: the hand count reproduces the paper's 540.35B (the LayerNorm scales, 2.2M, change no digit shown).
assert round(palm_540b / 1e9, 2) == 540.35
print("PaLM is described and counted from its paper, not loaded.")

# %% [markdown]
# ## 13. Architecture explorer
#
# Pick a model, or move the sliders to change its depth, heads, width and context, and watch four costs:
#
# - **parameters**, split into embeddings, attention, MLP, norms and head;
# - **FLOPs per token**: the arithmetic of one forward step, about 2 per weight (a multiply and an add)
#   plus the attention over the context;
# - **memory for the weights** at 4, 2 or 1 byte per number (fp32, bf16, int8);
# - **memory for the KV cache**: what a generating model keeps for every past token (notebook 04).
#
# Try: GPT-2 small at 24 layers (does the count double?), BERT-base (why no KV cache?), Mistral-7B with the
# context slider past 4,096 tokens (what does the sliding window do?), and the course's own tiny models.

# %% tags=["nbval-ignore-output"]
# A live widget: its view is drawn by your browser, so the tests check it in a real browser instead.
from course_lib.widgets import ArchitectureExplorer

explorer = ArchitectureExplorer("GPT-2 small")
explorer

# %% [markdown]
# The same numbers as a picture, for LLaMA-2-7B (this one shows even without a running kernel):

# %%
viz.plot_architecture_costs(architecture.preset("LLaMA-2-7B"), title="LLaMA-2-7B")

# %% [markdown]
# ## 14. What the numbers say
#
# Three rules of thumb the explorer shows, checked here:
#
# 1. **A forward pass costs about 2 FLOPs per parameter per token** at short contexts; attention adds
#    4 × width FLOPs per layer for every position in the context.
# 2. **Grouped-query attention shrinks the KV cache**: Mistral-7B shares each key/value head among 4 query
#    heads (8 instead of 32), so it stores a quarter of LLaMA-2-7B's cache per token.
# 3. **A sliding window caps the cache**: Mistral attends to at most 4,096 past tokens, so its cache stops
#    growing there, however long the context.

# %%
gpt2, llama, mistral = (architecture.preset(n) for n in ("GPT-2 small", "LLaMA-2-7B", "Mistral-7B"))
flops = architecture.forward_flops_per_token
short = flops(gpt2, context=16) / (2 * architecture.parameter_count(gpt2).total)
per_position = flops(gpt2, context=1024) - flops(gpt2, context=1023)
kv_ratio = architecture.kv_cache_bytes_per_token(llama) / architecture.kv_cache_bytes_per_token(mistral)
window_cache = {n: architecture.kv_cache_bytes(mistral, n) for n in (4096, 32768)}
print(f"1. GPT-2 small at 16 tokens: FLOPs per token = {short:.2f} x 2 x parameters; "
      f"+{per_position:,} FLOPs per extra position")
print(f"2. KV cache per token: LLaMA-2-7B / Mistral-7B = {kv_ratio:.0f}")
print(f"3. Mistral's KV cache (bf16): {[architecture.format_bytes(b) for b in window_cache.values()]} "
      "at 4,096 and 32,768 tokens")

# %%
# Check: the three rules hold for course_lib's numbers.
assert 0.95 < short < 1.05
assert per_position == 4 * gpt2.d_model * gpt2.n_layer
assert kv_ratio == 4
assert window_cache[4096] == window_cache[32768]
print("2 FLOPs per parameter; GQA: 4x smaller cache; the sliding window caps it.")

# %% [markdown]
# ## Summary
#
# - A block is a few **residual** sub-layers, `x = x + f(norm(x))`: attention lets positions exchange
#   information, the **MLP** processes each position on its own, and **LayerNorm** keeps the numbers in
#   range. The residual stream gives gradients a straight path through the stack.
# - **Pre-LN** (norm inside the branch) gives every block of a deep stack a similar gradient;
#   **post-LN** (norm after the add, the 2017 layout) gives very uneven ones and, as the literature
#   reports, needs a careful learning-rate warm-up.
# - An **encoder block** sees the whole input; a **decoder block** is causal and, in an encoder-decoder,
#   adds **cross-attention**: queries from the target, keys and values from the encoder's memory.
# - **BERT** (encoder-only) understands, **GPT/LLaMA/Mistral/PaLM** (decoder-only) continue text, and
#   **T5/BART** (encoder-decoder) turn a source into a target; all are built from the same two blocks.
# - Parameters, FLOPs and memory follow from the configuration alone; published counts differ mainly
#   in what they count (tied output layers, poolers).
#
# **Next:** `04_gpt_from_tokens_to_text.ipynb` trains a decoder-only model, the course's character GPT,
# and makes it write text one token at a time.
