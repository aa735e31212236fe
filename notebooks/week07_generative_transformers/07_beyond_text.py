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
# # Week 7 · 07 — Beyond text: images, music, and why high resolution is hard
#
# Notebooks 04–06 generated text one token at a time. Nothing in that machinery knows it is reading text:
# cut an image or a tune into tokens and the same decoder, the same sampling and the same KV cache
# generate pictures and music. This notebook does exactly that on data that ships with installed
# packages, and then measures what stops the idea from scaling to high-resolution images and video.
#
# **Time:** about 35 minutes.
#
# **By the end of this notebook you will be able to**
# 1. turn images into tokens two ways (a token per pixel, a learned codebook of patches) and weigh
#    tokens per image against reconstruction error, as DALL·E's and Parti's tokenizers do at scale;
# 2. train a class-conditional "mini DALL·E" and judge its drawings with a classifier trained on real digits;
# 3. compare raster-order generation with MaskGIT's parallel rounds on speed, accuracy and variety;
# 4. generate folk tunes with a small GPT, hear them, and measure their musical correctness honestly;
# 5. explain, with measurements from this machine, why attention's cost makes high-resolution images and
#    video hard, and what real systems do about it (discussion prompt 2).

# %% [markdown]
# ## 1. Images: everything is tokens
#
# A transformer reads and writes token ids. Give it images as token ids and it can draw. This is the
# idea behind DALL·E (text tokens followed by image tokens, written one by one), Parti (the same, with a
# better image tokenizer) and MaskGIT (image tokens filled in many at a time). We try all three ideas on
# the smallest real images there are: scikit-learn's handwritten digits, 8×8 pixels with grey levels
# 0 to 16. They ship with scikit-learn, so nothing is downloaded.

# %%
import time

import numpy as np
import torch

from course_lib import images
from course_lib.models import build_model, count_parameters
from course_lib.viz.digits import plot_digits
from course_lib.widgets import ImageGenerationWidget

torch.manual_seed(0)
torch.set_num_threads(1)  # tiny models: one thread is fastest, even on a busy machine
split = images.load_digit_images()  # 80% train, 20% test, each digit in both
print(f"{len(split.train_images)} training and {len(split.test_images)} test images")
print("image shape:", split.train_images.shape[1:])
print("grey levels:", np.unique(split.train_images).tolist())

# %%
# Check: 1,797 digits in all, 17 grey levels, 10 classes.
assert len(split.train_images) + len(split.test_images) == 1797
assert np.unique(split.train_images).tolist() == list(range(17))
assert sorted(set(split.train_labels)) == list(range(10))

# %%
plot_digits(split.train_images[:20], [f"label {d}" for d in split.train_labels[:20]], title="Real digits")

# %% [markdown]
# ### Two tokenizers
#
# **One token per pixel.** With 17 grey levels the pixel's value *is* its token id: 64 tokens per image,
# and nothing is lost. Reading them row by row is "raster order".

# %%
n_train = len(split.train_images)
pixel_ids = torch.tensor(split.train_images).reshape(n_train, 64)  # (N, 64): row by row
print("the first image's first two rows as tokens:", pixel_ids[0, :16].tolist())

# %%
# Check: course_lib's pixel_tokens does the same, and turning tokens back into pixels is exact.
assert torch.equal(pixel_ids, images.pixel_tokens(split.train_images))
assert np.array_equal(images.images_from_tokens(pixel_ids), split.train_images)

# %% [markdown]
# **A learned codebook over patches.** Real images have far too many pixels for one token each (a
# 256×256 photo has 65,536). DALL·E's dVAE and Parti's ViT-VQGAN cut the image into patches and give each
# patch the id of the closest entry in a learned *codebook*. Our version: cut each digit into 2×2
# patches (16 per image) and let k-means (course_lib's `PatchCodebook`, which calls scikit-learn's
# `KMeans`) find 64 typical patches. Encoding from scratch: cut the patches out, and give each one the
# index of its nearest centroid.

# %%
codebook = images.PatchCodebook(split.train_images, patch=2, size=64, seed=0)  # k-means: 64 typical patches
patches = split.train_images.reshape(n_train, 4, 2, 4, 2).transpose(0, 1, 3, 2, 4).reshape(n_train, 16, 4)
distances = ((patches[:, :, None, :] - codebook.centroids[None, None]) ** 2).sum(-1)  # (N, 16, 64)
codes = distances.argmin(-1)  # (N, 16): 16 tokens per image
print("the first image as 16 codebook tokens:", codes[0].tolist())

# %%
# Check: PatchCodebook.encode gives the same 16 tokens per image (scikit-learn's nearest centroid).
assert np.array_equal(codes, codebook.encode(split.train_images))
assert codebook.tokens_per_image == 16

# %% [markdown]
# Fewer tokens cost detail. The table measures the reconstruction error on the test digits (mean
# absolute error in grey levels) for pixel tokens, 2×2 patches and 4×4 patches, with a small and a
# larger codebook.

# %%
books = {(2, 64): codebook}
for patch, size in [(2, 16), (4, 16), (4, 64)]:
    books[(patch, size)] = images.PatchCodebook(split.train_images, patch=patch, size=size)
trade_off = {("pixels", 17): (64, 0.0)}  # 64 tokens, lossless
for (patch, size), book in sorted(books.items()):
    error = images.reconstruction_error(split.test_images, book.decode(book.encode(split.test_images)))
    trade_off[(f"{patch}x{patch} patches", size)] = (book.tokens_per_image, error)
print(f"{'tokenizer':<14}{'codebook':>9}{'tokens/image':>14}{'error':>8}")
for (name, size), (tokens, error) in trade_off.items():
    print(f"{name:<14}{size:>9}{tokens:>14}{error:>8.2f}")

# %%
# Check: fewer tokens per image -> larger error (same codebook size); a bigger codebook -> smaller error.
error = {(name[0], size): value[1] for (name, size), value in trade_off.items()}  # ("2", 64) -> error
for size in (16, 64):
    assert error[("2", size)] < error[("4", size)]  # 16 tokens beat 4 tokens
for patch in ("2", "4"):
    assert error[(patch, 64)] < error[(patch, 16)]  # 64 codebook entries beat 16

# %%
originals = split.test_images[:8]
decoded = [books[key].decode(books[key].encode(originals)) for key in [(2, 64), (4, 16)]]
shown = np.concatenate([originals, *decoded])
titles = ["64 tokens"] * 8 + ["16 tokens"] * 8 + ["4 tokens"] * 8
plot_digits(shown, titles, columns=8, title="Pixels; 2x2 patches, 64 entries; 4x4 patches, 16 entries")

# %% [markdown]
# The codebook also buys speed. A transformer's work grows with the length of the sequence, and a digit
# is 16 codebook tokens instead of 64 pixel tokens. At DALL·E's scale (256×256 pixels became 32×32 = 1,024
# tokens from a codebook of 8,192) the codebook is what makes training possible at all; here it makes a
# training step cheaper, measured below on two untrained models of the same size (a class token plus the
# image: 17 tokens against 65).

# %% tags=["nbval-ignore-output"]
def seconds_per_step(model, sequences, steps=5):
    images.train_image_model(model, sequences, steps=1, seed=0)  # warm-up: the first step pays set-up costs
    start = time.perf_counter()
    images.train_image_model(model, sequences, steps=steps, seed=0)
    return (time.perf_counter() - start) / steps


pixel_seqs = images.sequences(split.train_images, split.train_labels)  # (N, 65): [class] + 64 pixels
code_seqs = images.codebook_sequences(codebook, split.train_images, split.train_labels)  # (N, 17)
torch.manual_seed(0)
step_pixels = seconds_per_step(build_model(images.image_model_config("raster")), pixel_seqs)
step_codes = seconds_per_step(build_model(images.codebook_model_config(codebook)), code_seqs)
print(f"one training step: {1000 * step_pixels:.0f} ms on pixel tokens, {1000 * step_codes:.0f} ms on codes")

# %%
# Check: a step over 17 tokens is faster than a step over 65 tokens.
assert step_codes < step_pixels

# %% [markdown]
# So the model we train live below writes codebook tokens, and learns in seconds. The shipped models
# (trained for minutes by `make checkpoints`), MaskGIT and the widget use the lossless pixel tokens:
# 8×8 is small enough for that, and the pictures are sharper.
#
# ### The judge
#
# How do we know whether a generated "7" is a seven? We ask a classifier trained on the real digits:
# a logistic regression on the 64 pixels. First we check that it is a trustworthy judge on real test digits.

# %%
judge = images.train_judge(split)
judge_accuracy = images.conditional_accuracy(judge, split.test_images, list(split.test_labels))
print(f"the judge labels {judge_accuracy:.1%} of the real test digits correctly")

# %%
# Check: the judge is right on at least 95% of real digits it has never seen.
assert judge_accuracy >= 0.95

# %% [markdown]
# ### A mini DALL·E
#
# DALL·E wrote text tokens, then image tokens, with one decoder-only transformer. Our "text" is one
# class token and the image is the 16 codebook tokens in raster order (patch by patch, row by row): a
# sequence of 17 tokens. The codes keep their ids 0 to 63, so the class tokens of the digits 0 to 9
# get the next ids, 64 to 73. From scratch:

# %%
seqs = torch.cat([torch.tensor(split.train_labels)[:, None] + 64, torch.tensor(codes)], dim=1)  # (N, 17)
print("the first training sequence:", seqs[0].tolist())

# %%
# Check: course_lib's codebook_sequences builds the same sequences.
assert torch.equal(seqs, images.codebook_sequences(codebook, split.train_images, split.train_labels))

# %% [markdown]
# The model is course_lib's `DecoderOnlyLM` (2 layers, 64 dimensions, no dropout), trained to predict
# the next token for 1,000 steps of 64 sequences, with a learning rate that falls from 0.003 to 0.0003.

# %%
torch.manual_seed(0)
live = build_model(images.codebook_model_config(codebook))  # 74 token ids, 17 positions
print(f"{count_parameters(live):,} parameters")

# %% tags=["nbval-ignore-output"]
LIVE_STEPS = 1000  # about 12 s on one core of a laptop
start = time.perf_counter()
live_losses = images.train_image_model(live, seqs, steps=LIVE_STEPS, learning_rate=3e-3, seed=0)
live_seconds = time.perf_counter() - start
print(f"{LIVE_STEPS} steps in {live_seconds:.1f} s")
print(f"loss {live_losses[0]:.2f} -> {np.mean(live_losses[-20:]):.2f}")


# %% [markdown]
# Sampling from scratch: feed the whole sequence so far, keep the logits of the 64 codes only (never a
# class token), sample one, append it; after 16 codes the codebook turns the tokens back into pixels.
# (course_lib's `generate_codes` does the same with a KV cache, so each step feeds only the newest token.)

# %% tags=["nbval-ignore-output"]
@torch.no_grad()
def draw_codes(model, digits, *, temperature=1.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    seq = torch.tensor(digits)[:, None] + 64  # (B, 1): the "prompt"
    for _ in range(16):
        logits = model(seq).logits[:, -1, :64] / temperature  # (B, 64): codes only
        code = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)  # (B, 1)
        seq = torch.cat([seq, code], dim=1)
    return seq[:, 1:]  # (B, 16)


requests = images.requested_digits(50)  # 500 samples: 50 of each digit
live_codes = draw_codes(live, requests)
live_images = codebook.decode(live_codes)  # (500, 8, 8)
live_accuracy = images.conditional_accuracy(judge, live_images, requests)
print(f"after {LIVE_STEPS} steps the judge reads {live_accuracy:.1%} of 500 samples as the requested digit")

# %%
# Check: the cached generate_codes draws the same codes; the live run draws at least 85% of the digits
# as requested (chance: 10%).
assert torch.equal(live_codes, images.generate_codes(live, codebook, requests))
assert live_accuracy >= 0.85

# %%
plot_digits(live_images[::50], [f"asked {d}" for d in requests[::50]], title="The live mini DALL-E (codes)")

# %% [markdown]
# The shipped model is the pixel version: 64 pixel tokens per image, trained by `make checkpoints` for
# 3,000 steps (a few minutes), with dropout 0.1. Its pixels are not limited to the codebook's 64 patches
# (the reconstruction error above).

# %%
raster, maskgit = images.load_shipped_models()
many_requests = images.requested_digits(50)  # 500 samples: 50 of each digit
raster_images = images.generate_images(raster, many_requests, seed=0)
raster_accuracy = images.conditional_accuracy(judge, raster_images, many_requests)
raster_copies = images.exact_copies(raster_images, split.train_images)
print(f"shipped mini DALL-E: {raster_accuracy:.1%} of 500 samples labelled as requested")
print(f"{raster_copies} of 500 samples are exact copies of a training image")
plot_digits(raster_images[::25], [f"asked {d}" for d in many_requests[::25]], title="The shipped mini DALL-E")

# %%
# Check: at least 97% as requested, and (almost) no sample is a copy of a training image.
assert raster_accuracy >= 0.97
assert raster_copies <= 5

# %% [markdown]
# ### Drawing or copying?
#
# A generator could please the judge by handing back its training images: every copy is a real digit.
# So we count **memorised copies**: samples whose 16 codes are exactly the codes of some training image
# (a copy in token space). A model without dropout that sees the same few images again and again learns
# them by heart. Below, the live recipe (no dropout) is trained again, on only 10 images per digit.

# %%
few = np.concatenate([np.flatnonzero(split.train_labels == d)[:10] for d in range(10)])  # 100 images
torch.manual_seed(0)
copier = build_model(images.codebook_model_config(codebook))
COPIER_STEPS = 400
images.train_image_model(copier, seqs[few], steps=COPIER_STEPS, learning_rate=3e-3, seed=0)
print(f"each of the {len(few)} images seen about {COPIER_STEPS * 64 // len(few)} times")
copier_codes = images.generate_codes(copier, codebook, requests)
copier_accuracy = images.conditional_accuracy(judge, codebook.decode(copier_codes), requests)

# %% tags=["nbval-ignore-output"]
train_codes = codebook.encode(split.train_images)  # (N, 16): every training image in token space
copies = {
    "live, codes, all images": images.exact_copies(live_codes, train_codes),
    "copier, codes, 10 per digit": images.exact_copies(copier_codes, train_codes),
    "shipped, pixels (in codes)": images.exact_copies(codebook.encode(raster_images), train_codes),
}
for name, count in copies.items():
    print(f"{name:<30}{count:>4} of 500 samples are copies of a training image")
print(f"the judge reads {copier_accuracy:.0%} of the copier's samples as the requested digit")

# %%
# Check: most of the copier's samples are copies, yet the judge still reads at least 80% of them as the
# requested digit; the live model and the shipped model copy (almost) nothing.
assert copies["copier, codes, 10 per digit"] > 250
assert copier_accuracy >= 0.8
assert copies["live, codes, all images"] <= 5 and copies["shipped, pixels (in codes)"] <= 5

# %% [markdown]
# Accuracy alone cannot tell drawing from copying, so a generator's report needs a memorisation count
# too. Copying comes from seeing the same images too often: a small data set, or a long training run
# without dropout (the shipped pixel model trained with dropout 0.1). Try it: train `live` for another
# 2,000 steps (`images.train_image_model(live, seqs, steps=2000)`), draw again, and count its copies.

# %% [markdown]
# ### MaskGIT: many tokens per forward pass
#
# Raster order needs 64 forward passes for 64 pixels. MaskGIT uses a bidirectional transformer (here
# course_lib's `EncoderOnlyLM`) trained like BERT to fill in masked tokens, with a masking ratio drawn
# from a cosine schedule (sometimes almost everything is masked, sometimes little). To generate, it
# starts from 64 [MASK] tokens and runs K rounds; each round predicts every masked pixel and keeps the
# most confident ones, so that after round k only 64·cos(π/2 · k/K) pixels are still masked.

# %%
K = 8
print("still masked after each round:", [images.maskgit_still_masked(k, K) for k in range(K + 1)])

# %%
# Check: the schedule starts with every pixel masked and ends with none.
assert images.maskgit_still_masked(0, K) == 64 and images.maskgit_still_masked(K, K) == 0

# %% [markdown]
# ### Exercise: MaskGIT's unmasking schedule
#
# Write `still_masked(step, steps)`: how many of the 64 pixels are still masked after round `step` of
# `steps` (round 0 is the all-[MASK] start): 64·cos(π/2 · step/steps), rounded down to a whole pixel.
# Why down? The cell below shows what floating point makes of the last round; what would rounding up give?
#
# <details><summary>Solution</summary>
#
# ```python
# def still_masked(step, steps):
#     return math.floor(64 * math.cos(math.pi / 2 * step / steps))
# ```
# </details>

# %%
import math

print("64 cos(pi/2 K/K) in floating point:", 64 * math.cos(math.pi / 2))  # not exactly 0


# %%
def still_masked(step, steps):
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.images import check_maskgit_schedule

check_maskgit_schedule(still_masked)

# %%
canvases = []
images.generate_maskgit(maskgit, [4], steps=K, seed=0, on_step=canvases.append)
frames = np.concatenate([np.full((1, 8, 8), -1)] + [images.images_from_tokens(c) for c in canvases])
titles = [f"round {k}" for k in range(K + 1)]
plot_digits(frames, titles, columns=K + 1, title="MaskGIT drawing a 4 (blue: still masked)")

# %% [markdown]
# ### Raster order against MaskGIT
#
# The same data, the same judge, a batch of 100 requests (10 per digit) per setting, and the wall time
# for one image and for the batch of 100 on this machine. Diversity is the mean absolute difference
# between two samples of the same digit (real training digits: printed below); a generator that always
# draws the same "4" scores 0.

# %% tags=["nbval-ignore-output"]
rows = images.compare_generators(raster, maskgit, judge, split, maskgit_steps=(4, 8, 16), per_class=10)
print(images.comparison_table(rows))

# %% tags=["nbval-ignore-output"]
# Check: MaskGIT needs K forward passes instead of 64, and for one image that makes it faster.
by_name = {row.method: row for row in rows}
raster_row, maskgit_8 = by_name["raster"], by_name["maskgit K=8"]
assert maskgit_8.forward_passes == 8 and raster_row.forward_passes == 64
assert maskgit_8.seconds_one < raster_row.seconds_one
speedup = raster_row.seconds_one / maskgit_8.seconds_one
print(f"one image: MaskGIT K=8 is {speedup:.0f}x faster than raster order")
batch_maskgit_wins = maskgit_8.seconds_batch < raster_row.seconds_batch
batch_winner = "MaskGIT K=8" if batch_maskgit_wins else "raster order (KV cache)"
print(f"batch of 100: {batch_winner} is faster on this machine")

# %%
# Check: every setting draws at least 90% of the digits as requested, but MaskGIT pays in variety: for
# every K its samples of one digit are more alike than raster order's, which come closest to real digits.
real = images.real_diversity(split)
maskgit_rows = [row for row in rows if row.method.startswith("maskgit")]
assert all(row.accuracy >= 0.9 for row in rows)
assert all(row.diversity < raster_row.diversity for row in maskgit_rows)
assert abs(raster_row.diversity - real) < min(abs(row.diversity - real) for row in maskgit_rows)
maskgit_diversity = ", ".join(f"{row.diversity:.2f}" for row in maskgit_rows)
print(f"diversity: raster {raster_row.diversity:.2f}, MaskGIT (K = 4, 8, 16) {maskgit_diversity}")
print(f"real digits: {real:.2f}")

# %% [markdown]
# What the table says. For one image MaskGIT wins clearly: K passes instead of 64. For a batch of 100
# the picture changes: each MaskGIT pass re-reads all 65 positions of every image, while raster order
# with a KV cache feeds one new position per pass, so raster order does less arithmetic in all (64
# positions per image against 8 × 65 = 520 for K = 8). Once a batch keeps the CPU busy, arithmetic
# rather than the number of passes decides (the line above says which was faster on this machine).
# And MaskGIT's accuracy is bought partly with variety: its samples of one digit are more alike than
# raster order's (the diversity column), closer to an "average" digit, which a judge finds easy to label.
#
# ### Watch it draw
#
# Pick a digit and a method, move **step** (or press **next step**) to replay the drawing, and press
# **sample 20** for a grid with the judge's verdicts (green: labelled as requested). Try MaskGIT with
# K = 1 (everything at once) and K = 16, and a temperature of 1.5.

# %% tags=["nbval-ignore-output"]
view = ImageGenerationWidget(raster, maskgit, judge, digit=4, method="maskgit", steps=8)
view

# %%
view.static_figure()

# %% [markdown]
# ### The road not taken here: diffusion
#
# Imagen (and Stable Diffusion, DALL·E 2 and 3) generate images differently: they start from pure noise
# and remove a little of it in each of many steps, with a network guided by a frozen language model's
# reading of the prompt. The pixels (or latents) are continuous, not tokens, and a good sample needs
# tens to hundreds of passes of a large U-Net or transformer, which is why this course shows
# token-based generation on a CPU. The idea "a text encoder conditions an image generator" is the same
# one our class token plays in miniature.

# %% [markdown]
# ## 2. Music and audio: sound is tokens too
#
# *About 15 minutes.* In this section you will
# 1. turn folk tunes written in ABC notation into tokens and train a small GPT on them;
# 2. measure whether its tunes are *musically* right, not just whether they parse;
# 3. draw a generated tune as a piano roll and listen to it, synthesised with numpy;
# 4. count what it costs to model raw audio instead of notes, and place FastSpeech, SpeechT5, CLIP,
#    Flamingo and Gato on that map.
#
# Music Transformer (Huang et al., 2018) and folk-rnn (Sturm et al., 2016) generated music with the same
# next-token recipe as a text GPT. The only new piece is the tokenizer.

# %%
import time

import numpy as np
import torch
from IPython.display import Audio, display

from course_lib import music
from course_lib.viz.piano_roll import plot_piano_roll

torch.manual_seed(0)
torch.set_num_threads(1)  # models this small run as fast on one thread, and other programs slow them less

# %% [markdown]
# ### A tune corpus that ships with music21
#
# The music21 library bundles O'Neill's *Music of Ireland* (1850) in ABC notation, a plain-text way of
# writing tunes. `make data` keeps the headers that matter (`M:` metre, `L:` unit note length, `K:` key)
# and the notes, and writes one tune per line. Here is the start of the first one.

# %%
tunes = music.load_tunes()
print(f"{len(tunes):,} tunes")
print(tunes[0][:120], "...")

# %% [markdown]
# ### Tokens: one per musical symbol
#
# A pitch like `^c'` (C sharp, an octave up) is one symbol; its length `3/2` is another; a bar line `|`
# another. Cutting the body of a tune into such symbols takes one regular expression, tried at each
# position in turn:

# %%
import re

BAR = r":\|[12]?|\|:|\|\||\|\]|::|\|[12]?|\[[12]"  # |  ||  |:  :|  |1  :|2 ...
NOTE = r"[_^=]*[A-Ga-g][,']*|z"  # accidentals, a letter, octave marks; z is a rest
LENGTH = r"\d*/+\d*|\d+"  # 2  /2  3/2  //
SYMBOL = re.compile("|".join([BAR, r"\(3", NOTE, LENGTH, r">+|<+|-"]))


def split_body(body):
    return SYMBOL.findall(body)


body = "d2B G2D|(3ABc ^c'3/2 z/2:|"
print(split_body(body))

# %%
# Check: the from-scratch split matches course_lib.music.split_abc_body, token for token.
assert split_body(body) == music.split_abc_body(body)
tokenizer = music.TuneTokenizer.from_tunes(tunes)
ids = tokenizer.encode(tunes[0])
assert tokenizer.decode(ids) == tunes[0]
n_tokens = np.mean([len(music.tune_tokens(t)) for t in tunes])
n_chars = np.mean([len(t.replace(" ", "")) for t in tunes])
print(f"vocabulary: {tokenizer.vocab_size} tokens")
print(f"an average tune: {n_tokens:.0f} tokens or {n_chars:.0f} characters")
assert tokenizer.vocab_size < 128 and n_tokens < n_chars

# %% [markdown]
# ### The honest metric: do the bars add up?
#
# A lenient ABC reader accepts almost anything, so "the tune parses" tells us little. Here music21 reads a
# string of bar lines, ties and stray lengths without complaint:

# %%
garbage = "M:6/8 L:1/8 K:G | | 2 2 :| > A - - |"
print("garbage parses:", music.parses_with_music21(garbage))
# Check: the weak test passes on garbage.
assert music.parses_with_music21(garbage)

# %% [markdown]
# A stricter test is rhythm. In `M:6/8` with `L:1/8` every full bar holds six eighths: `G2A B2c` is
# 2 + 1 + 2 + 1. A triplet `(3ABC` squeezes three notes into the time of two. Summing one bar by hand:

# %%
from fractions import Fraction


def bar_length(symbols):
    lengths, triplet = [], 0  # one length per note or rest, in units of L
    for s in symbols:
        if s == "(3":
            triplet = 3
        elif re.fullmatch(NOTE, s):  # a note or rest: 1 unit, 2/3 in a triplet
            lengths.append(Fraction(2, 3) if triplet else Fraction(1))
            triplet = max(triplet - 1, 0)
        elif re.fullmatch(LENGTH, s):  # a length multiplies the note before it
            lengths[-1] *= music.length_value(s)
    return sum(lengths)


print(bar_length(split_body("G2A B2c")), bar_length(split_body("(3ABc d3")))

# %% [markdown]
# `bar_accuracy` does this for every complete bar (between two bar lines) of many tunes and counts the
# bars that hold exactly what the metre asks for. Real tunes do not score 100%: a section often starts with
# a pickup and ends with the rest of that bar.

# %%
# Check: the hand sums match course_lib's, and real tunes fill most of their bars.
jig = "M:6/8 L:1/8 K:G D | G 2 A B 2 c | (3 A B c d 3 |"
assert [bar_length(split_body(b)) for b in ("G2A B2c", "(3ABc d3")] == music.bar_sums(jig)[0]
train_tunes, val_tunes = music.split_tunes(tunes)
real_accuracy = music.bar_accuracy(val_tunes)
print(f"real tunes (validation split): {real_accuracy:.0%} of bars have the right length")
assert 0.8 < real_accuracy < 0.95

# %% [markdown]
# ### Exercise: how many units does a bar hold?
#
# Write `bar_units(metre, unit)`: given the metre (`"6/8"`) and the unit note length (`"1/8"`) as strings,
# return how many units of `L` one full bar holds (6 here; `"2/4"` with `"1/16"` gives 8).
# `fractions.Fraction("6/8")` reads such a string exactly.
#
# <details><summary>Solution</summary>
#
# ```python
# def bar_units(metre, unit):
#     return Fraction(metre) / Fraction(unit)
# ```
# </details>

# %%
def bar_units(metre, unit):
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.music import check_bar_units

check_bar_units(bar_units)

# %% [markdown]
# ### Train a tune GPT for a few seconds
#
# The model is the course's `DecoderOnlyLM` (2 layers, 64 dimensions here), trained on one long stream of
# tunes, each wrapped in `<tune>` ... `</tune>`. Generation starts from `<tune>` and stops at `</tune>`.

# %% tags=["nbval-ignore-output"]
start = time.perf_counter()  # (the time printed differs between machines)
live_model, _, history = music.train_tune_model(tunes, n_layer=2, n_embd=64, steps=100, seed=0)
live_seconds = time.perf_counter() - start
live_tunes = music.generate_tunes(live_model, tokenizer, count=40, seed=0)
live_accuracy = music.bar_accuracy(live_tunes)
print(f"trained for {live_seconds:.0f} s; validation loss {history.final['val_loss']:.1f} nats/token")
print(f"bars of the right length: {live_accuracy:.0%}")

# %% [markdown]
# Compare the checkpoint trained by `make checkpoints` (3 layers, 96 dimensions, 1,200 steps, a few
# minutes on one CPU core). Its recorded bar accuracy is re-measured here on 100 fresh samples.

# %%
shipped = music.load_tune_model()
shipped_tunes = music.generate_tunes(shipped.model, shipped.tokenizer, count=100, seed=0)
shipped_accuracy = music.bar_accuracy(shipped_tunes)
parse_rate = np.mean([music.parses_with_music21(t) for t in shipped_tunes[:20]])
for name, value in [("real tunes", real_accuracy), ("shipped model", shipped_accuracy),
                    ("live model", live_accuracy)]:  # fmt: skip
    print(f"{name:>14}: {value:5.0%} of bars right")
print(f"shipped model's tunes that music21 parses: {parse_rate:.0%}")

# %%
# Check: the ranking the table shows, and the shipped model's recorded figure (with a margin).
recorded = shipped.metadata["metrics"]["bar_accuracy"]
assert abs(shipped_accuracy - recorded) < 0.03
assert live_accuracy < shipped_accuracy < real_accuracy
assert parse_rate >= 0.9 and parse_rate > shipped_accuracy  # parsing is the easy test

# %% [markdown]
# ### See and hear a generated tune
#
# `tune_notes` turns tokens into notes: the key signature (`K:D` sharpens every F and C) and accidentals
# (which last until the bar line) give the pitch, the lengths give the timing. A piano roll draws each note
# as a bar.

# %%
def tokenizes(tune):
    try:
        music.tune_tokens(tune)
    except ValueError:  # e.g. a header token in the middle of a tune
        return False
    return True


tune = next(t for t in shipped_tunes if tokenizes(t))  # the first sample that is readable ABC
notes = music.tune_notes(tune)
print(tune[:100], "...")
fig = plot_piano_roll(notes[:48], title="A generated tune (first 48 notes)")
fig

# %% [markdown]
# To hear it, add a few sine waves per note (a fundamental and two overtones) under a fast attack and an
# exponential decay. The browser plays the array; nothing starts until you press play.

# %%
rate = 8000
wave = music.synthesize(notes, sample_rate=rate, max_seconds=8.0)
display(Audio(wave, rate=rate))

# %%
# Check: the first note sounds at its pitch's frequency (440 Hz * 2^((pitch - 69) / 12)).
first = notes[0]
segment = wave[: int(first.length * rate)]
frequencies = np.fft.rfftfreq(len(segment), 1 / rate)
peak = frequencies[np.abs(np.fft.rfft(segment)).argmax()]
expected = music.midi_frequency(first.pitch)
print(f"first note: MIDI {first.pitch}, expected {expected:.0f} Hz, loudest {peak:.0f} Hz")
assert abs(peak - expected) < 1 / first.length + 1
assert music.key_accidentals("K:D") == {"F": 1, "C": 1}  # the key signature the text describes

# %% [markdown]
# ### Exercise: the frequency of a pitch
#
# MIDI numbers pitches in semitones; A4 = 69 sounds at 440 Hz, and 12 semitones up (an octave) doubles
# the frequency. Write `midi_to_hz(pitch)`.
#
# <details><summary>Solution</summary>
#
# ```python
# def midi_to_hz(pitch):
#     return 440.0 * 2 ** ((pitch - 69) / 12)
# ```
# </details>

# %%
def midi_to_hz(pitch):
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.music import check_midi_frequency

check_midi_frequency(midi_to_hz)

# %% [markdown]
# ### Raw audio as tokens: the arithmetic
#
# The tune above is a few tokens per second. The waveform that plays it is `rate` numbers per second.
# WaveNet (2016) modelled raw audio by squashing each sample into one of 256 levels (mu-law) and predicting
# the next sample: one token per sample. Neural codecs (SoundStream, EnCodec) instead compress audio
# into a few frames per second, each a handful of codebook tokens: EnCodec at 24 kHz and 6 kbit/s gives
# 75 frames per second with 8 codebooks of 1,024 entries (8 x 10 bits x 75 = 6,000 bits per second).

# %%
tune_seconds = notes[-1].start + notes[-1].length
symbolic = len(music.tune_tokens(tune)) / tune_seconds  # ABC tokens per second of music
samples = music.mu_law_tokens(wave)
codec_frames, codec_books, codec_bits = 75, 8, 10
costs = {"ABC tokens": symbolic, "codec tokens": codec_frames * codec_books, "mu-law samples": rate}
for name, per_second in costs.items():
    print(f"{name:>15}: {per_second:8,.0f} tokens per second, {per_second * 30:9,.0f} for 30 s")
print(f"codec bit rate: {codec_frames * codec_books * codec_bits:,} bits/s")

# %%
# Check: mu-law tokens are 256 levels, and each representation costs far more than the one before.
assert samples.min() >= 0 and samples.max() <= 255 and len(samples) == len(wave)
assert costs["ABC tokens"] * 10 < costs["codec tokens"] < costs["mu-law samples"] / 10
assert codec_frames * codec_books * codec_bits == 6000

# %% [markdown]
# Attention cost grows with the square of the sequence length, so 30 s of raw 8 kHz audio (240,000
# tokens) is out of reach for a plain transformer, while the codec's 18,000 tokens are merely expensive
# and the notes' few hundred are easy. That is why audio models work on compressed tokens:
#
# - **Speech synthesis.** *FastSpeech* (2019) maps text to a mel spectrogram (about 80 numbers per 10 ms
#   frame) in parallel rather than token by token, with a duration predictor saying how many frames each
#   phoneme lasts; a separate vocoder turns the spectrogram into samples. *SpeechT5* (2021) uses one
#   encoder-decoder with small pre- and post-nets per modality, so the same model does text-to-speech,
#   speech recognition and voice conversion. Codec-token models (VALL-E, AudioLM) go one step further and
#   generate audio tokens with a decoder-only model, as this section generated ABC tokens.
# - **Music.** Music Transformer generated MIDI-like event tokens with relative attention; Jukebox
#   generated raw audio through three levels of learned codes, at great cost.
#
# ### Multimodal models: several modalities in one model
#
# *CLIP* (2021) trains an image encoder and a text encoder so that matching image-caption pairs get
# similar vectors; it generates nothing itself but judges and guides image generators. *Flamingo* (2022)
# feeds features of images into a frozen language model through cross-attention layers, so the model
# writes text about pictures. *Gato* (2022) serialises text, images, game screens and robot actions into
# one token stream for one decoder-only transformer. The mini DALL·E earlier in this notebook already did
# this on a small scale: a class token (the "text") and image tokens in one sequence; this section's tunes
# are one more kind of token the same model can read.

# %% [markdown]
# **Summary.** Music becomes tokens with a tokenizer that respects its symbols; the course's GPT learns
# them in minutes. Checking rhythm (bars that add up) is a meaningful test where "it parses" is not.
# Audio can be tokens too, but samples are so many per second that real systems model compressed codec
# tokens or spectrograms instead.

# %% [markdown]
# ## 3. The attention-cost lab: why high resolution and video are hard
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

# %% tags=["nbval-ignore-output"]
# Kept next to your answers (answers/evidence/), for notebook 09 and your hand-in file.
from course_lib import evidence as course_evidence
from course_lib.discussion import AnswerBox

course_evidence.save_notebook_evidence("07-high-resolution", evidence, notebook="07")

# %% [markdown]
# **Your answer.** A few sentences: which costs grow fastest, which fixes trade what away, what a video
# adds. Type in the box: it is saved as you type (in the course's `answers/` folder, with earlier versions
# kept) and comes back when you reopen the notebook. Notebook 09 shows it again and writes the file you
# hand in.

# %% tags=["nbval-ignore-output"]
AnswerBox("07-high-resolution")

# %% [markdown]
# ## Summary
#
# - Anything cut into tokens can be generated with the decoder of notebook 04: a class token followed by
#   pixel tokens is a mini DALL·E, a tune in ABC symbols is a language. The tokenizer decides the length of
#   the sequence, and with it the cost (64 pixel tokens vs 16 codebook tokens per digit: the live mini
#   DALL·E trains on codes because each step is cheaper).
# - A judge's accuracy cannot tell drawing from copying: count the samples that are exact copies of
#   training images (a model without dropout trained on 10 images per digit copied most of them).
# - MaskGIT fills many tokens per pass: far fewer sequential passes than raster order for one image, but
#   each pass reads the whole canvas, and its samples were less varied here.
# - "It parses" is a weak test for generated music; the share of bars with the right length is a real one,
#   and it shows how far a small model is from real tunes.
# - Attention's time and memory grow with the square of the token count; images and especially video
#   multiply the token count, so real systems shrink the sequence (patches, latent tokenizers) or the
#   attention pattern (windows, axial), or take fewer sequential steps (MaskGIT).
#
# **Next:** notebook 08 puts two real pretrained models, a BERT-family encoder and a LLaMA-family decoder,
# next to the tiny ones you built.
