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
# # Week 7 · 01 — Self-attention
#
# Read *"She put the cup on the table because it was wobbly"*. To understand **it** you look back and pick
# the word that matters (*table*, not *cup*). Self-attention is that move written as arithmetic: every
# position scores every position it may see, turns the scores into weights, and takes a weighted average
# of what it finds there.
#
# **Time:** about 40 minutes.
#
# **By the end of this notebook you will be able to**
# 1. compute attention by hand: similarity scores, softmax weights, a weighted sum of values;
# 2. write scaled dot-product attention for a whole batch in a few lines, and explain the $1/\sqrt{d_k}$;
# 3. build padding and causal masks and apply them at the right moment;
# 4. split attention into several heads and merge them again;
# 5. read the attention of a trained character-level GPT with an interactive explorer;
# 6. measure why long contexts are expensive: time and memory grow with the square of the length.

# %%
import itertools
import math

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_printoptions(precision=2, sci_mode=False)

# %% [markdown]
# ## 1. Which earlier words matter for this word?
#
# Each word gets three vectors (in a real model they are computed from the word; here we write them by hand):
#
# - a **query** $q$: what this word is looking for;
# - a **key** $k$: what this word offers to those who look;
# - a **value** $v$: what this word hands over when it is chosen.
#
# How well word $j$ answers word $i$'s question is the dot product $q_i \cdot k_j$: large when the two
# vectors point the same way. Our three-number vectors mean roughly *(is a thing, can wobble, is an action)*.

# %%
words = ["she", "put", "cup", "on", "table", "it"]
keys = torch.tensor(
    [  # one row per word: (is a thing, can wobble, is an action)
        [0.2, 0.0, 0.0],  # she
        [0.0, 0.0, 1.0],  # put
        [1.0, 0.2, 0.0],  # cup
        [0.0, 0.0, 0.3],  # on
        [1.0, 1.0, 0.0],  # table
        [0.5, 0.0, 0.0],  # it
    ]
)
values = torch.eye(6)  # each word hands over its own one-hot label, so the result is easy to read
query_it = torch.tensor([2.0, 2.0, 0.0])  # "it ... was wobbly": a thing that can wobble

scores = keys @ query_it  # (6,): one dot product per word
print("  ".join(f"{word}: {score:.1f}" for word, score in zip(words, scores.tolist(), strict=True)))

# %% [markdown]
# Scores can be any size and sign. The **softmax** turns them into weights that are positive and sum to 1:
# $w_j = e^{s_j} / \sum_{j'} e^{s_{j'}}$. The output for *it* is the weighted sum of the values,
# $\sum_j w_j v_j$: here, a mixture of the words' labels.

# %%
weights = torch.exp(scores) / torch.exp(scores).sum()  # (6,)
output = weights @ values  # (6,) = sum_j weights[j] * values[j]
for word, weight in zip(words, weights.tolist(), strict=True):
    print(f"{word:>6} {weight:.2f} {'#' * round(40 * weight)}")

# %%
# Check: the weights are a probability distribution, "it" looks mostly at "table", and the output is the
# weighted sum of the values (with one-hot values it equals the weights themselves).
assert torch.isclose(weights.sum(), torch.tensor(1.0)) and (weights > 0).all()
assert words[weights.argmax()] == "table" and weights.max() > 0.5
assert torch.allclose(weights, torch.softmax(scores, dim=0)) and torch.allclose(output, weights)
print(f"'it' gives {weights.max():.0%} of its attention to 'table'.")

# %% [markdown]
# ## 2. Every query at once: scaled dot-product attention
#
# Stack the queries of all $T_q$ positions into a matrix $Q$ (shape $T_q \times d_k$), the keys into $K$
# ($T_k \times d_k$) and the values into $V$ ($T_k \times d_v$). Then one matrix product gives every score,
# a softmax along each row gives every weight, and one more product gives every output:
#
# $$\text{Attention}(Q, K, V) = \text{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V$$
#
# Rows are queries, columns are keys, so the softmax runs over the **last** axis: each query shares out one
# unit of attention among the keys. (The $\sqrt{d_k}$ is explained in section 3.) The same lines work with
# any number of leading dimensions, such as a batch $B$ and heads $H$: shapes $(B, H, T, d_k)$.
#
# Notice what the formula does **not** contain: positions. Shuffle the keys together with their values and
# every output stays exactly the same (the check below tries it). Notebook 02 fixes that.

# %%
def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """q (..., T_q, D), k (..., T_k, D), v (..., T_k, D_v) -> output (..., T_q, D_v), weights."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., T_q, T_k)
    weights = scores.softmax(dim=-1)  # each query's row sums to 1
    return weights @ v, weights


q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)  # B=2, H=3, D=8, D_v=4
output, weights = attention(q, k, v)
print("output", tuple(output.shape), " weights", tuple(weights.shape))

# %% [markdown]
# `course_lib.attention.attention_with_weights` is the course's version of the same function (with masks,
# see section 4). PyTorch ships a fused one, `F.scaled_dot_product_attention`, which computes the output
# without ever handing out the weights.

# %%
# Check: the from-scratch attention equals course_lib's and PyTorch's.
from course_lib.attention import attention_with_weights

lib_output, lib_weights = attention_with_weights(q, k, v)
assert torch.allclose(output, lib_output, atol=1e-6) and torch.allclose(weights, lib_weights, atol=1e-6)
assert torch.allclose(output, F.scaled_dot_product_attention(q, k, v), atol=1e-5)
assert torch.allclose(weights.sum(dim=-1), torch.ones(2, 3, 5))
shuffle = torch.randperm(7)  # a new order for the 7 keys and their values
assert torch.allclose(attention(q, k[..., shuffle, :], v[..., shuffle, :])[0], output, atol=1e-6)
print("From scratch = course_lib = PyTorch; rows sum to 1; shuffling the keys and values changes nothing.")

# %% [markdown]
# ## 3. Why divide by $\sqrt{d_k}$?
#
# A dot product adds up $d_k$ products. If the entries of $q$ and $k$ are roughly independent with variance
# 1, the score has variance $d_k$: its typical size grows like $\sqrt{d_k}$. Large scores push the softmax
# towards a one-hot vector (all the weight on one key). Such a softmax barely changes when the scores move,
# so its gradient is almost zero and the layer learns slowly. Dividing by $\sqrt{d_k}$ brings the scores
# back to size about 1 whatever the head size. Let us measure it: random queries against 16 random keys.

# %%
def softmax_gradient_size(weights: torch.Tensor) -> torch.Tensor:
    """Mean size (Frobenius norm) of the softmax Jacobian diag(w) - w w^T over rows of weights (N, T)."""
    jacobian = torch.diag_embed(weights) - weights[:, :, None] * weights[:, None, :]  # (N, T, T)
    return jacobian.norm(dim=(1, 2)).mean()


head_sizes = (4, 16, 64, 256, 1024)
saturation = {}  # d_k -> (score std, max weight, gradient size) without and with the scale
print(" d_k | score std: raw scaled | max weight: raw scaled | gradient: raw scaled")
for d_k in head_sizes:
    generator = torch.Generator().manual_seed(d_k)
    random_q, random_k = torch.randn(512, d_k, generator=generator), torch.randn(16, d_k, generator=generator)
    raw = random_q @ random_k.T  # (512, 16) scores, not scaled
    rows = []
    for scores in (raw, raw / math.sqrt(d_k)):
        weights = scores.softmax(dim=-1)
        rows.append((scores.std(), weights.max(dim=-1).values.mean(), softmax_gradient_size(weights)))
    saturation[d_k] = rows
    (s0, m0, g0), (s1, m1, g1) = rows
    print(f"{d_k:>4} |      {s0:5.1f}  {s1:5.2f} |        {m0:5.2f}  {m1:5.2f} |     {g0:5.2f}  {g1:5.2f}")

# %%
# Check: without the scale the scores grow like sqrt(d_k), the softmax saturates (max weight -> 1) and its
# gradient vanishes; with the scale all three stay about the same at every head size.
raw_max = [saturation[d][0][1] for d in head_sizes]
scaled_max = [saturation[d][1][1] for d in head_sizes]
assert all(a < b for a, b in itertools.pairwise(raw_max)) and raw_max[-1] > 0.9
assert all(0.15 < m < 0.35 for m in scaled_max)
assert saturation[1024][0][2] < 0.2 * saturation[1024][1][2]
assert all(0.8 < saturation[d][1][0] < 1.2 for d in head_sizes)
print(f"At d_k = 1024: max weight {raw_max[-1]:.2f} unscaled vs {scaled_max[-1]:.2f} scaled.")

# %% [markdown]
# ## 4. Masks: who may look at whom
#
# Two situations forbid some (query, key) pairs:
#
# - **Padding.** Sentences of different lengths are batched by filling the short ones with a padding token.
#   Nobody should attend to padding: a **padding mask** hides those keys.
# - **The future.** A generator predicts token $t+1$ from tokens $0..t$. During training it sees the whole
#   sentence at once, so it must be stopped from peeking ahead: a **causal mask** lets query $i$ see keys
#   $j \le i$ only, a lower triangle.
#
# The course (like PyTorch) writes masks as booleans where **True means "may attend"**.

# %%
T = 5
positions = torch.arange(T)
causal = positions[None, :] <= positions[:, None]  # (T_q, T_k): key j <= query i
print(causal.int())

token_ids = torch.tensor([[5, 7, 9, 2, 4], [8, 3, 0, 0, 0]])  # (B, T); the second sentence is padded with 0
padding = (token_ids != 0)[:, None, None, :]  # (B, 1, 1, T): broadcasts over heads and queries
print(padding[:, 0, 0].int())

# %%
# Check: both masks equal course_lib's.
from course_lib.attention import causal_mask, padding_mask

assert torch.equal(causal, causal_mask(T))
assert torch.equal(padding, padding_mask(token_ids, pad_id=0))
print("causal_mask and padding_mask agree with the from-scratch masks.")

# %% [markdown]
# **When** to apply a mask matters. Set the hidden scores to $-\infty$ **before** the softmax:
# $e^{-\infty} = 0$, so hidden keys get weight exactly 0 and the visible ones still share all of the
# attention. (Zeroing the weights after the softmax would leave rows that no longer sum to 1.)

# %%
def masked_attention(q, k, v, mask):
    """attention() with a boolean mask (True = may attend) broadcastable to (..., T_q, T_k)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    scores = scores.masked_fill(~mask, float("-inf"))  # hidden: exp(-inf) = 0 after the softmax
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


q, k, v = (torch.randn(2, 1, T, 8) for _ in range(3))  # B=2 sentences, one head
output, weights = masked_attention(q, k, v, causal & padding)  # the two masks combine with "and"
print(weights[1, 0])  # the padded sentence: upper triangle and padding columns are 0

# %%
# Check: masked entries get weight 0, rows still sum to 1, and course_lib and PyTorch agree.
both = causal & padding
assert (weights.masked_select(~both.expand_as(weights)) == 0).all()
assert torch.allclose(weights.sum(dim=-1), torch.ones(2, 1, T))
lib_output, lib_weights = attention_with_weights(q, k, v, both)
assert torch.allclose(output, lib_output, atol=1e-6) and torch.allclose(weights, lib_weights, atol=1e-6)
assert torch.allclose(output, F.scaled_dot_product_attention(q, k, v, attn_mask=both), atol=1e-5)
print("Masked attention: hidden weights are 0, rows sum to 1, same as course_lib and PyTorch.")

# %% [markdown]
# ## 5. Exercise: scaled dot-product attention, with a mask
#
# Write `scaled_dot_product_attention(q, k, v, mask=None)` yourself, **without** looking at the cells above
# if you can: scores, scale, mask (only when one is given), softmax over the keys, weighted sum of the
# values. Return only the output. The self-check recognises the usual slips and says which one you made.

# %%
def scaled_dot_product_attention(q, k, v, mask=None):
    """q (..., T_q, D), k (..., T_k, D), v (..., T_k, D_v), mask (True = may attend) -> (..., T_q, D_v)."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.self_attention import check_scaled_dot_product_attention

check_scaled_dot_product_attention(scaled_dot_product_attention)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def scaled_dot_product_attention(q, k, v, mask=None):
#     scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., T_q, T_k)
#     if mask is not None:
#         scores = scores.masked_fill(~mask, float("-inf"))    # before the softmax
#     return scores.softmax(dim=-1) @ v                         # rows: one query's weights over the keys
# ```
# </details>

# %% [markdown]
# ## 6. Exercise: a sliding-window mask
#
# Long documents make full attention expensive (section 9 measures how much). Some models (Mistral,
# Longformer) let each position see only the last `window` positions: itself and the `window - 1` before
# it. Write `sliding_window_mask(t, window)` returning a boolean `(t, t)` mask, True where query `i` may
# attend to key `j`. For `t=5, window=2` row 3 is `[F, F, T, T, F]`.

# %%
def sliding_window_mask(t, window):
    """(t, t) boolean mask: True where key j is in query i's window (i - window < j <= i)."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.self_attention import check_sliding_window_mask

check_sliding_window_mask(sliding_window_mask)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def sliding_window_mask(t, window):
#     i = torch.arange(t)[:, None]  # query positions, as a column
#     j = torch.arange(t)[None, :]  # key positions, as a row
#     return (j <= i) & (j > i - window)
# ```
# `course_lib.attention.causal_mask(t, window=window)` builds the same mask.
# </details>

# %% [markdown]
# ## 7. Several heads
#
# One attention layer computes one kind of relation ("which earlier noun?"). A transformer runs several
# **heads** side by side, each free to learn its own relation ("the previous character", "the matching
# bracket"...). With model width $C$ and $H$ heads:
#
# 1. project the input $x$ $(B, T, C)$ to queries, keys and values with three learned matrices;
# 2. cut each into $H$ slices of $D = C/H$ channels: shape $(B, H, T, D)$;
# 3. run attention in every head at once (the batch-of-heads shapes of section 2);
# 4. glue the heads back together $(B, T, C)$ and mix them with an output matrix.
#
# The heads share out the channels rather than add new ones: $H$ heads of $C/H$ channels compute
# $H \cdot T^2 \cdot C/H = T^2 C$ score products, as many as a single head of width $C$.

# %%
def multi_head_attention(x, w_q, w_k, w_v, w_o, n_head):
    """x (B, T, C), weight matrices (C, C) as nn.Linear stores them (out, in) -> (B, T, C)."""
    B, T, C = x.shape

    def split_heads(t):  # (B, T, C) -> (B, H, T, D): head h gets channels h*D .. (h+1)*D - 1
        return t.view(B, T, n_head, C // n_head).transpose(1, 2)

    q, k, v = (split_heads(x @ w.T) for w in (w_q, w_k, w_v))  # (B, H, T, D) each
    heads, _ = attention(q, k, v)  # (B, H, T, D)
    merged = heads.transpose(1, 2).reshape(B, T, C)  # (B, T, C): the heads side by side again
    return merged @ w_o.T


C, H = 12, 3
x = torch.randn(2, 6, C)
w_q, w_k, w_v, w_o = (torch.randn(C, C) / math.sqrt(C) for _ in range(4))
print(tuple(multi_head_attention(x, w_q, w_k, w_v, w_o, n_head=H).shape))

# %%
# Check: with the same weights copied in, course_lib's MultiHeadAttention gives the same output.
from course_lib.attention import MultiHeadAttention

mha = MultiHeadAttention(C, H, bias=False)
with torch.no_grad():
    for projection, w in ((mha.q_proj, w_q), (mha.k_proj, w_k), (mha.v_proj, w_v), (mha.out_proj, w_o)):
        projection.weight.copy_(w)
    assert torch.allclose(multi_head_attention(x, w_q, w_k, w_v, w_o, n_head=H), mha(x), atol=1e-5)
print("From-scratch multi-head attention = course_lib.attention.MultiHeadAttention.")

# %% [markdown]
# ## 8. Real attention: a trained character-level GPT
#
# The course ships a small GPT (2 layers, 4 heads per layer, a 64-character context) trained on Python's
# documentation. It reads one **character** at a time, so its attention is over characters. Its layers
# are course_lib's attention, plus *rotary positions* (notebook 02), which let a query tell how far
# back a key is. Here are the four heads of layer 0 on a line of code; a row is one character looking back.

# %%
from course_lib import viz
from course_lib.checkpoints import load_checkpoint
from course_lib.data import DATA_DIR

checkpoint = load_checkpoint(DATA_DIR / "checkpoints" / "char_gpt_python_docs")
model, tokenizer = checkpoint.model, checkpoint.tokenizer
code = "x = max(a, b)"
with torch.no_grad():
    out = model(torch.tensor([tokenizer.encode(code)]), return_attention=True)
print(f"{len(out.attentions)} layers, weights of shape {tuple(out.attentions[0].shape)} = (B, H, T, T)")
viz.plot_attention_heads(out.attentions[0][0], list(code), title="layer 0: where each character looks")

# %%
# Check: the model is as described, its attention is causal (nothing above the diagonal) and rows sum to 1.
assert (model.config.n_layer, model.config.n_head, model.config.block_size) == (2, 4, 64)
for layer_weights in out.attentions:
    assert (layer_weights[0].triu(diagonal=1) == 0).all()
    assert torch.allclose(layer_weights.sum(dim=-1), torch.ones(1, 4, len(code)))
print("Every head of both layers is causal and its rows sum to 1.")

# %% [markdown]
# ### The attention explorer
#
# Type your own text (one line, then press Enter), choose a layer and a head, and move the **query
# position**: the heatmap outlines that query's row, and the text is coloured by how much the query looks
# at each character (greyed characters lie in the future, which a GPT cannot see). The **softmax temperature**
# divides the model's scores before the softmax, as in notebook 00: below 1 the attention sharpens, above 1
# it spreads out. It opens on layer 1, head 2, with the query inside the brackets of `print(item)`. Try:
#
# - Move the query along `item` inside the brackets: where does this head look? (The check below says.)
# - Layer 0, head 2: where does most of each character's attention go?
# - Look for a head whose attention is spread thin, then sharpen it with the temperature.
# - Type a character the model never saw (an `é`), or a text longer than 64 characters.

# %% tags=["nbval-ignore-output"]
# A live widget: its view is drawn by your browser, so the tests check it in a real browser instead.
from course_lib.widgets import AttentionExplorer

explorer = AttentionExplorer(model, tokenizer, layer=1, head=2, query=27)
explorer

# %% [markdown]
# Without a running kernel the widget above cannot react; here is the same view as a picture.

# %%
explorer.static_figure()

# %%
# Check: at temperature 1 the explorer shows the model's own weights, and lower temperature sharpens them.
text = explorer.text.value
with torch.no_grad():
    own = model(torch.tensor([tokenizer.encode(text)]), return_attention=True).attentions  # per layer
assert torch.allclose(explorer.current_map(), own[1][0, 2], atol=1e-5)
peaks = {}
for temperature in (0.25, 1.0, 3.0):
    explorer.temperature.value = temperature
    peaks[temperature] = explorer.query_weights().max().item()
explorer.temperature.value = 1.0
assert peaks[0.25] > peaks[1.0] > peaks[3.0]
print("query 27's largest weight at temperature 0.25, 1, 3:", [round(p, 2) for p in peaks.values()])

# %%
# Check: what the two heads named above do. Layer 1, head 2: from inside "print(item)" every character
# looks at the opening bracket. Layer 0, head 2: most characters look hardest at the one just before.
bracket = text.index("(")
inside = range(bracket + 1, text.index(")"))
assert all(own[1][0, 2, i, bracket] > 0.9 for i in inside)
previous_share = (own[0][0, 2, 1:].argmax(dim=-1) == torch.arange(len(text) - 1)).float().mean().item()
assert previous_share > 0.6
print(f"Layer 1, head 2: over 90% on '(' from inside the brackets. Layer 0, head 2: "
      f"{previous_share:.0%} of characters look hardest at the previous one.")

# %% [markdown]
# ## 9. The price: attention grows with the square of the length
#
# Every query scores every key, so a sequence of $T$ tokens has a $T \times T$ table of weights per head:
# twice the length, four times the table. Computing it takes about $T^2 d_k$ multiply-adds for the scores
# and as many again for the weighted sum. Fused kernels in the style of FlashAttention (which
# `F.scaled_dot_product_attention` uses where it can) compute the softmax block by block and never store
# the whole table, but they still visit every (query, key) pair. Let us measure both costs on this
# machine, for one head of size 64, at lengths where the $T^2$ terms dwarf everything else:
#
# - **memory**: the bytes of the weights table that `attention_with_weights` builds;
# - **time**: the fused `F.scaled_dot_product_attention`, the median of 7 runs on one CPU thread (other
#   programs disturb a single thread's clock less).

# %%
import statistics
import time


def median_seconds(function, repeats=7):
    """Median wall-clock time of function() over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


lengths = [512, 1024, 2048, 4096]
threads = torch.get_num_threads()
torch.set_num_threads(1)
seconds, weight_bytes = [], []
for length in lengths:
    q, k, v = (torch.randn(1, 1, length, 64) for _ in range(3))
    _, weights = attention_with_weights(q, k, v)  # the (1, 1, T, T) table of weights
    weight_bytes.append(weights.element_size() * weights.nelement())
    seconds.append(median_seconds(lambda q=q, k=k, v=v: F.scaled_dot_product_attention(q, k, v)))
torch.set_num_threads(threads)

# %% tags=["nbval-ignore-output"]
# Timings differ from machine to machine (and from run to run), so this table is not compared by the tests.
print("     T | weights (MiB) | fused time (ms)")
for length, size, duration in zip(lengths, weight_bytes, seconds, strict=True):
    print(f"{length:>6} | {size / 2**20:>13.0f} | {1000 * duration:>15.1f}")

# %% [markdown]
# On a log-log plot a power law $y = c\,T^p$ is a straight line of slope $p$. Fitting a line to
# $(\log T, \log y)$ gives the exponent: memory's is exactly 2 (it is a byte count); time's is measured,
# so it wobbles with whatever else the machine is doing, but it lands near 2.

# %%
import matplotlib.pyplot as plt
import numpy as np


def fitted_exponent(xs, ys):
    """Slope p of the straight line through (log x, log y): y ~ c * x**p."""
    return float(np.polyfit(np.log(xs), np.log(ys), deg=1)[0])


memory_exponent, time_exponent = fitted_exponent(lengths, weight_bytes), fitted_exponent(lengths, seconds)
t = np.array(lengths)
fig, (memory_ax, time_ax) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
panels = [
    (memory_ax, np.array(weight_bytes) / 2**20, "weights table (MiB)", memory_exponent),
    (time_ax, 1000 * np.array(seconds), "fused kernel time (ms)", time_exponent),
]
for ax, measured, label, exponent in panels:
    ax.loglog(t, measured, "o-", label=f"measured (slope {exponent:.1f})")
    ax.loglog(t, measured[-1] * (t / t[-1]) ** 2, "k:", label="$T^2$ (slope 2)")
    ax.set(xlabel="sequence length T", ylabel=label, title=label.split(" (")[0])
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.minorticks_off()
    ax.legend()
plt.show()

# %%
# Check: memory grows exactly as T^2; time roughly as T^2, even for the fused kernel that stores no table
# (a loose band: a shared machine's clock is noisy).
assert abs(memory_exponent - 2) < 1e-6
assert 1.5 < time_exponent < 2.5, f"time exponent {time_exponent:.2f}: rerun on a quieter machine"
print(f"memory exponent {memory_exponent:.2f}; time exponent between 1.5 and 2.5")

# %% [markdown]
# What the square means in practice: a model reading a whole book at once, 128 000 tokens, would need
# per head and per layer a table of weights this big (16-bit numbers, as large models use):

# %%
book = 128_000
table_gib = book**2 * 2 / 2**30
print(f"{table_gib:.1f} GiB for one head of one layer")
assert table_gib > 30  # more than a laptop's whole memory, for one head

# %% [markdown]
# So long-context models do not store that table (they use fused kernels), and some also cut the work:
# with a sliding window (your exercise 6) each query visits only `window` keys, $T \times \text{window}$
# pairs instead of $T^2$. Notebook 07 meets the same cost again: an image cut into tokens is a very long
# sequence.

# %% [markdown]
# ## Summary
#
# - Attention lets each position decide how much of every other position to use: scores $q_i \cdot k_j$,
#   softmax weights, weighted sum of values. In matrix form: $\text{softmax}(QK^\top/\sqrt{d_k})\,V$.
# - Without the $1/\sqrt{d_k}$ scores grow with the head size, the softmax saturates and its gradient
#   vanishes; with it, the weights behave the same at every head size.
# - Masks say who may look at whom (True = may attend): padding masks hide filler tokens, causal masks
#   hide the future. They go on the scores, as $-\infty$, **before** the softmax.
# - Several heads split the channels and attend in parallel, each free to learn its own relation.
# - A trained GPT's heads look at recognisable places; temperature sharpens or spreads them.
# - Time and memory grow with $T^2$: the main obstacle to very long contexts.
#
# **Next:** `02_positional_encoding.ipynb`. Attention on its own has no idea of order (shuffling the keys
# and values together changed nothing in section 2); notebook 02 gives it positions.
