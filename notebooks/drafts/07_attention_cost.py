# %% [markdown]
# ## The attention-cost lab: why high resolution and video are hard
#
# The second discussion prompt of the week asks: *what challenges arise when using transformers for
# high-resolution image or video generation?* This section answers it with evidence from your own laptop.
# The plan:
#
# 1. turn pixels into tokens and count them;
# 2. write out full attention and two cheaper kinds (windowed and axial) and check them against PyTorch;
# 3. measure time and memory of one attention layer as the image grows, and fit the growth;
# 4. predict where this laptop runs out of memory, and confirm the prediction safely, at small sizes;
# 5. do the arithmetic for the tricks real systems use (bigger patches, a latent tokenizer, MaskGIT) and
#    for a few seconds of video;
# 6. explore it all in a widget, then write your answer.

# %% [markdown]
# ### Pixels become tokens
#
# A vision transformer cuts an image into square **patches** and makes each patch one token. An image of
# `side` x `side` pixels cut into patches of `patch` pixels is a board of `side / patch` tokens per edge,
# so it holds $(\text{side}/\text{patch})^2$ tokens. Doubling the resolution at a fixed patch gives four
# times the tokens.

# %%
def tokens_per_image(side, patch):
    grid = side // patch  # tokens along one edge
    return grid * grid


for side in (64, 256, 1024):
    print(f"{side:>5} px:", {patch: tokens_per_image(side, patch) for patch in (1, 8, 16)}, "tokens by patch")

# %%
# Check: our count matches course_lib's, and twice the side means four times the tokens.
from course_lib import attention_cost as cost

for side in (64, 256, 1024):
    for patch in (1, 8, 16):
        assert tokens_per_image(side, patch) == cost.grid_side(side, patch) ** 2
assert tokens_per_image(512, 8) == 4 * tokens_per_image(256, 8)
print("token counts agree with course_lib.attention_cost.grid_side")

# %% [markdown]
# ### Three ways to attend
#
# **Full attention** lets every token score every other token: $T$ keys per query, $T^2$ (query, key)
# pairs per head. Written out, it keeps two $T \times T$ tables in memory at the same moment (the scores
# and their softmax). Two cheaper kinds, both used by real image models:
#
# - **windowed** (local) attention: cut the board into `window` x `window` blocks and let each token look
#   only inside its block: $w^2$ keys per query, so the pairs grow like $T$;
# - **axial** attention: look along your row, then along your column: $2\sqrt{T}$ keys per query, pairs
#   growing like $T^{1.5}$. After both passes, information from any token has reached any other.
#
# Full attention in three lines (q, k, v have shape (B, H, T, D)):

# %%
import torch
import torch.nn.functional as F


def full_attention(q, k, v):
    scores = q @ k.transpose(-2, -1) * q.size(-1) ** -0.5  # (B, H, T, T): table 1
    weights = scores.softmax(dim=-1)  # (B, H, T, T): table 2, alive at the same time as table 1
    return weights @ v  # (B, H, T, D)


torch.manual_seed(0)
grid = 8
q, k, v = (torch.randn(1, 2, grid * grid, 16) for _ in range(3))

# %%
# Check: ours matches course_lib's and PyTorch's fused kernel; windowed and axial attention match PyTorch's
# attention with a "same block" mask, and a "same row" pass followed by a "same column" pass.
from course_lib.attention import attention_with_weights

torch.testing.assert_close(full_attention(q, k, v), cost.full_attention(q, k, v))
torch.testing.assert_close(full_attention(q, k, v), F.scaled_dot_product_attention(q, k, v))
torch.testing.assert_close(full_attention(q, k, v), attention_with_weights(q, k, v)[0])

row, column = torch.arange(grid * grid) // grid, torch.arange(grid * grid) % grid
block = (row // 4) * grid + column // 4  # which 4 x 4 block each token is in
same_block = block[:, None] == block[None, :]  # (T, T) True = may attend
masked = F.scaled_dot_product_attention(q, k, v, attn_mask=same_block)
torch.testing.assert_close(cost.window_attention(q, k, v, grid=grid, window=4), masked)
along_rows = F.scaled_dot_product_attention(q, k, v, attn_mask=row[:, None] == row[None, :])
along_columns = F.scaled_dot_product_attention(q, k, along_rows, attn_mask=column[:, None] == column[None, :])
torch.testing.assert_close(cost.axial_attention(q, k, v, grid=grid), along_columns)
print("full, windowed and axial attention agree with PyTorch")

# %% [markdown]
# ### Measured: one attention layer as the image grows
#
# Now the cost on this machine, for one head of size 64, on images of 128 to 256 pixels cut into 4-pixel
# patches (1,024 to 4,096 tokens). Time is the fastest of 7 runs on one CPU thread (other programs only
# ever add time, and they disturb a single thread's clock less), with PyTorch's fused kernel
# `F.scaled_dot_product_attention` as the attention inside each kind, as real systems run it. The windowed
# kind uses 8 x 8 blocks (64 keys per query).

# %%
sides, patch = [128, 160, 192, 224, 256], 4
grids = [cost.grid_side(side, patch) for side in sides]
tokens = [g * g for g in grids]
seconds, pairs = {}, {}
for kind in cost.ATTENTION_KINDS:  # one head of 64; windows of 8 x 8 tokens
    seconds[kind] = [cost.time_attention(kind, grid=g, window=8) for g in grids]
    pairs[kind] = [cost.score_pairs(kind, grid=g, window=8) for g in grids]

# %% tags=["nbval-ignore-output"]
# Timings differ from machine to machine and from run to run, so this table is not compared by the tests.
print("tokens |" + "|".join(f"{kind:>12} ms" for kind in cost.ATTENTION_KINDS))
for i, t in enumerate(tokens):
    print(f"{t:>6} |" + "|".join(f"{1000 * seconds[kind][i]:>15.2f}" for kind in cost.ATTENTION_KINDS))

# %% [markdown]
# A power law $y = c\,T^p$ is a straight line of slope $p$ on a log-log plot; a line fitted to
# $(\log T, \log y)$ gives the exponent. The pair counts (and with them the memory of written-out
# attention) have exact exponents 2, 1 and 1.5. The measured times wobble with whatever else the machine
# is doing, and full attention's tends to come out a little steeper than 2: as the table outgrows the
# processor's caches, each number costs more to fetch.

# %%
import matplotlib.pyplot as plt
import numpy as np

colors = {"full": "#d62728", "window": "#1f77b4", "axial": "#2ca02c"}
fig, (pairs_ax, time_ax) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
for kind, color in colors.items():
    pair_slope = cost.fitted_exponent(tokens, pairs[kind])
    time_slope = cost.fitted_exponent(tokens, seconds[kind])
    pairs_ax.loglog(tokens, pairs[kind], "o-", color=color, label=f"{kind} (slope {pair_slope:.1f})")
    milliseconds = 1000 * np.array(seconds[kind])
    time_ax.loglog(tokens, milliseconds, "o-", color=color, label=f"{kind} (slope {time_slope:.1f})")
panels = [(pairs_ax, "(query, key) pairs, one head", "work"), (time_ax, "time, one thread (ms)", "time")]
for ax, label, title in panels:
    ax.set(xlabel="tokens T", ylabel=label, title=title)
    ax.set_xticks(tokens, [str(t) for t in tokens])
    ax.minorticks_off()
    ax.legend(fontsize=9)
plt.show()

# %%
# Check: pairs grow exactly as T^2, T and T^1.5; full attention's time roughly as T^2 (a loose band from 1.5
# to 3: a shared machine's clock is noisy), and at 4,096 tokens both cheaper kinds are over 3 times faster.
for kind, exponent in (("full", 2.0), ("window", 1.0), ("axial", 1.5)):
    assert abs(cost.fitted_exponent(tokens, pairs[kind]) - exponent) < 1e-9
full_time_exponent = cost.fitted_exponent(tokens, seconds["full"])
assert 1.5 < full_time_exponent < 3, f"time exponent {full_time_exponent:.2f}: rerun on a quieter machine"
assert seconds["full"][-1] > 3 * max(seconds["window"][-1], seconds["axial"][-1])
print("pair exponents 2, 1, 1.5; full attention's time exponent in 1.5..3; cheaper kinds > 3x faster")

# %% [markdown]
# ### Memory: predict, then confirm safely
#
# Written-out full attention keeps two float32 tables of $T^2$ numbers alive at once, so its peak memory
# should be $2 \times 4 \times T^2$ bytes per head. We confirm the formula by measuring, at sizes far below
# any limit (at most 128 MiB), the peak memory of a **fresh Python process** that runs one attention
# (`measure_peak_bytes`; a fresh process, because this notebook's earlier cells have already raised this
# kernel's high-water mark). The same for PyTorch's fused kernel, which computes the softmax block by block.

# %%
def predicted_peak(tokens, heads=1):
    return 2 * 4 * heads * tokens * tokens  # two float32 tables of T x T per head


sizes = [2048, 3072, 4096]
peaks = cost.measure_peak_bytes(sizes)  # in a fresh process: both kinds, smallest size first
measured, measured_fused = peaks["written out"], peaks["fused"]

# %% tags=["nbval-ignore-output"]
# Measured memory varies by a few hundred kilobytes from run to run: not compared by the tests.
for t, peak, fused in zip(sizes, measured, measured_fused, strict=True):
    print(f"T = {t}: predicted {predicted_peak(t) / 2**20:.0f} MiB, "
          f"written-out peak {peak / 2**20:.0f} MiB, fused peak {fused / 2**20:.0f} MiB")

# %%
# Check: the prediction matches course_lib's and the measured peaks within 10%; the measured exponent is 2;
# the fused kernel stays under a tenth of the written-out peak (it never stores the table).
for t, peak, fused in zip(sizes, measured, measured_fused, strict=True):
    assert predicted_peak(t) == cost.predicted_peak_bytes(t * t)
    assert abs(peak / predicted_peak(t) - 1) < 0.1
    assert fused < 0.1 * predicted_peak(t)
assert abs(cost.fitted_exponent(sizes, measured) - 2) < 0.1
print("measured peaks within 10% of 2 x 4 x T^2 bytes; fused kernel under 10% of that")

# %% [markdown]
# The fused kernel removes the memory wall but not the time: it still visits every (query, key) pair.
# Where is the wall for written-out attention on this laptop? We ask the operating system, through
# `psutil.virtual_memory().available`, how much memory it can hand out right now without swapping (free
# memory plus caches it can drop at once), and solve $2 \cdot 4 \cdot H \cdot T^2 \le$ available for $T$.

# %%
import math

available = cost.available_memory_bytes()  # psutil's "available" figure, in bytes
heads = 8
max_tokens = math.isqrt(available // (2 * 4 * heads))
largest_side = {patch: math.isqrt(max_tokens) * patch for patch in (1, 8, 16)}

# %% tags=["nbval-ignore-output"]
# These numbers depend on this machine's memory (and on what else runs): not compared by the tests.
print(f"available now: {available / 2**30:.1f} GiB; one {heads}-head layer fits up to {max_tokens:,} tokens")
print("largest square image (pixels per side) by patch size:", largest_side)

# %%
# Check: max_tokens is the largest size that fits (course_lib agrees), and what we allocated to confirm the
# formula stayed under 1% of the available memory: the limit itself was predicted, never approached.
assert max_tokens == cost.max_full_attention_tokens(available, n_head=heads)
assert predicted_peak(max_tokens, heads) <= available < predicted_peak(max_tokens + 1, heads)
assert max(measured) < 0.01 * available
print("the limit is predicted from the formula confirmed at small sizes")

# %% [markdown]
# ### How real systems cut the cost
#
# - **Bigger patches, or a latent tokenizer.** Every doubling of the patch divides the tokens by 4 and the
#   pairs by 16. A learned tokenizer goes further: the VQGAN used by MaskGIT and Parti turns a 256 x 256
#   image into a 16 x 16 board of codebook tokens (one token per 16 x 16 pixels, but far better than a
#   plain patch, because the codebook is trained to rebuild the image), as the mini DALL·E above did
#   on 8 x 8 digits.
# - **Windowed and axial attention** change the exponent itself, as measured above.
#
# One 8-head layer over a 256 x 256 image, written out in float32:

# %%
rows = []
for label, patch, kind in [
    ("pixels as tokens, full", 1, "full"),
    ("pixels as tokens, window 8x8", 1, "window"),
    ("pixels as tokens, axial", 1, "axial"),
    ("8-px patches, full", 8, "full"),
    ("16x16 latent (VQGAN), full", 16, "full"),
]:
    grid = cost.grid_side(256, patch)
    layer_pairs = cost.score_pairs(kind, grid=grid, window=8, n_head=heads)
    rows.append((label, grid * grid, layer_pairs, cost.predicted_peak_bytes(layer_pairs)))
print(f"{'256 x 256 image':<30}{'tokens':>8}{'pairs':>16}{'peak memory':>14}")
for label, n_tokens, layer_pairs, peak in rows:
    print(f"{label:<30}{n_tokens:>8,}{layer_pairs:>16,}{peak / 2**20:>10,.0f} MiB")

# %%
# Check: pixel tokens with full attention do not fit here, a latent tokenizer needs a few MiB; each doubling
# of the patch divides the pairs by 16.
assert rows[0][3] > available and rows[-1][3] < 2**23
assert cost.score_pairs("full", grid=32, n_head=8) == 16 * cost.score_pairs("full", grid=16, n_head=8)
print("pixels as tokens: out of memory; 16x16 latent: under 8 MiB")

# %% [markdown]
# **MaskGIT's fewer decoding steps**, as arithmetic. Raster order makes one token per forward pass: $T$
# passes in a row. With a KV cache, pass $t$ scores one query against $t$ keys, $T(T+1)/2$ pairs in all.
# MaskGIT commits many tokens per round, $K$ rounds in all, but each round is a bidirectional pass over all
# $T$ tokens: $K T^2$ pairs. It wins on the number of **sequential** steps (latency for one image), not on
# the total work: that is why, for a batch of images on a CPU, raster order with a KV cache can be faster.

# %%
board = 16 * 16  # a 256 x 256 image through a 16x16 latent tokenizer
generation = {
    "raster, no cache": cost.generation_cost("raster, no cache", board),
    "raster, KV cache": cost.generation_cost("raster, KV cache", board),
    **{f"MaskGIT, K = {k}": cost.generation_cost("MaskGIT", board, steps=k) for k in (8, 16)},
}
for method, work in generation.items():
    print(f"{method:<18} {work['passes']:>4} sequential passes {work['pairs']:>12,} pairs per layer")

# %%
# Check: MaskGIT needs 32 times fewer sequential passes than raster order, but with K = 8 scores more pairs
# than raster order with a KV cache (and fewer than raster order without one).
maskgit, cached = generation["MaskGIT, K = 8"], generation["raster, KV cache"]
assert cached["passes"] == 32 * maskgit["passes"]
assert cached["pairs"] < maskgit["pairs"] < generation["raster, no cache"]["pairs"]
print(f"MaskGIT K = 8: {cached['passes'] // maskgit['passes']}x fewer passes, "
      f"{maskgit['pairs'] / cached['pairs']:.0f}x more pairs than raster order with a KV cache")

# %% [markdown]
# ### Video: frames times tokens
#
# A video is a stack of frames, and a transformer that attends across time sees them all at once:
# tokens = frames x tokens per frame. Two modest clips, with the 16x16 latent tokenizer per frame:
# 4 seconds at 8 frames per second of 256 x 256, and 10 seconds at 24 frames per second of 512 x 512.
# We extrapolate one layer's attention time from the measured full-attention time (seconds per pair, one
# thread, at 4,096 tokens), and add the **KV cache**: generating frame after frame keeps a key and a value
# for every past token in every layer (here a 24-layer model of width 1,024 in bfloat16).

# %%
seconds_per_pair = seconds["full"][-1] / tokens[-1] ** 2  # measured, one head of 64, one thread
videos = {"4 s, 8 fps, 256 px": (4 * 8, 256), "10 s, 24 fps, 512 px": (10 * 24, 512)}
video_rows = {}
for name, (frames, side) in videos.items():
    grid = cost.grid_side(side, 16)
    video_tokens = frames * grid * grid
    layer_pairs = cost.score_pairs("full", grid=grid, frames=frames, n_head=heads)
    video_rows[name] = {
        "tokens": video_tokens,
        "peak": cost.predicted_peak_bytes(layer_pairs),
        "seconds": seconds_per_pair * layer_pairs,
        "kv_cache": cost.kv_cache_bytes(video_tokens, n_layer=24, d_model=1024),
    }
for name, row in video_rows.items():
    print(f"{name}: {row['tokens']:,} tokens, peak {row['peak'] / 2**30:,.0f} GiB per layer, "
          f"KV cache {row['kv_cache'] / 2**30:.1f} GiB")

# %% tags=["nbval-ignore-output"]
# Extrapolated from this machine's timing: not compared by the tests.
for name, row in video_rows.items():
    print(f"{name}: about {row['seconds']:,.1f} s of attention per layer on one thread")

# %%
# Check: tokens are frames x tokens per frame; the long clip's layer does not fit in this laptop's memory,
# and its KV cache alone needs gigabytes.
assert video_rows["4 s, 8 fps, 256 px"]["tokens"] == 32 * 256
assert video_rows["10 s, 24 fps, 512 px"]["peak"] > available
assert video_rows["10 s, 24 fps, 512 px"]["kv_cache"] > 2**30
print("video: tokens multiply by frames, and attention's cost by frames squared")

# %% [markdown]
# ### Explore it: the attention-cost widget
#
# Choose an image side, a patch size, a number of frames and an attention kind: the widget shows the tokens,
# the FLOPs and the peak memory of one 8-head layer, and draws the memory against the tokens with this
# machine's available memory (dashed) and the largest full-attention layer that fits (dotted). Try: how many
# frames of 256 x 256 with 16-pixel patches fit with full attention? With windowed attention?

# %% tags=["nbval-ignore-output"]
# The view shows this machine's memory and timing: not compared by the tests.
from course_lib.widgets import AttentionCostExplorer

explorer = AttentionCostExplorer(
    side=256, patch=16, frames=8, available_bytes=available, seconds_per_pair=seconds_per_pair
)
explorer

# %% [markdown]
# The same picture as a static figure, for a reader without a running kernel:

# %%
explorer.static_figure()

# %%
# Check: the widget's limit is the one computed above, and it reports what the arithmetic says.
assert explorer.max_tokens == max_tokens
assert explorer.numbers()["tokens"] == 8 * 16 * 16
explorer.frames.value = 256
assert explorer.numbers()["tokens"] == 256 * 256
assert explorer.fits() == (predicted_peak(256 * 256, heads) <= available)
explorer.frames.value = 8
print("widget agrees with the arithmetic")

# %% [markdown]
# ### Discussion prompt 2, with evidence
#
# *What challenges arise when using transformers for high-resolution image or video generation?*
# The evidence this section gathered, summarised by code:

# %%
long_clip = video_rows["10 s, 24 fps, 512 px"]
evidence = {
    "full attention's pairs grow as T^p, p =": round(cost.fitted_exponent(tokens, pairs["full"]), 2),
    "full attention's measured time grows as T^p, p > 1.5": full_time_exponent > 1.5,
    "written-out peak memory / (2 x 4 x T^2 bytes), T = 4096": round(measured[-1] / predicted_peak(4096), 1),
    "256 x 256 with one token per pixel fits in memory here": rows[0][3] <= available,
    "MaskGIT K = 8, sequential passes saved vs raster": f"{cached['passes'] // maskgit['passes']}x",
    "10 s of 512 px video, tokens": long_clip["tokens"],
    "10 s of 512 px video, one full layer fits in memory here": long_clip["peak"] <= available,
    "10 s of 512 px video, KV cache (GiB, 24 layers)": round(long_clip["kv_cache"] / 2**30, 1),
}
for claim, value in evidence.items():
    print(f"{claim:<68} {value}")

# %% [markdown]
# **Your answer** (a few sentences: which costs grow fastest, which fixes trade what away, what a video adds;
# notebook 09 collects and saves the answers). Write it in the string below.

# %%
# Your answer: edit the text between the triple quotes.
answer_prompt_2 = """
...
"""
