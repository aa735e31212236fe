# %% [markdown]
# ## Images: everything is tokens
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
# Our generators below use the lossless pixel tokens: 8×8 is small enough. At DALL·E's scale (256×256
# pixels became 32×32 = 1,024 tokens from a codebook of 8,192) the codebook is what makes it possible.
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
# class token (ids 17 to 26 for the digits 0 to 9) and the image is 64 pixel tokens in raster order:
# a sequence of 65 tokens. The model is course_lib's `DecoderOnlyLM`, trained to predict the next token.
# Generation: start from the class token and sample 64 pixels, one forward pass each.

# %%
seqs = images.sequences(split.train_images, split.train_labels)  # (N, 65): [class] + 64 pixels
print("a training sequence as text:", images.digit_tokenizer().decode(seqs[0]))
torch.manual_seed(0)
live = build_model(images.image_model_config("raster"))  # 2 layers, 64 dims
print(f"{count_parameters(live):,} parameters")

# %% tags=["nbval-ignore-output"]
LIVE_STEPS = 250  # about 10 s on one core of a laptop
start = time.perf_counter()
live_losses = images.train_image_model(live, seqs, steps=LIVE_STEPS, final_lr_fraction=1.0, seed=0)
live_seconds = time.perf_counter() - start
print(f"{LIVE_STEPS} steps in {live_seconds:.1f} s")
print(f"loss {live_losses[0]:.2f} -> {np.mean(live_losses[-20:]):.2f}")


# %% [markdown]
# Sampling from scratch: feed the whole sequence so far, keep the logits of the 17 grey levels only,
# sample one, append it. (course_lib's `generate_raster` does the same with a KV cache, so each step
# feeds only the newest token.)

# %% tags=["nbval-ignore-output"]
@torch.no_grad()
def draw_raster(model, digits, *, temperature=1.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    seq = images.class_tokens(digits)  # (B, 1): the "prompt"
    for _ in range(64):
        logits = model(seq).logits[:, -1, :17] / temperature  # (B, 17): grey levels only
        pixel = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)  # (B, 1)
        seq = torch.cat([seq, pixel], dim=1)
    return seq[:, 1:]  # (B, 64)


requests = images.requested_digits(10)  # ten of each digit
live_tokens = draw_raster(live, requests)
live_accuracy = images.conditional_accuracy(judge, images.images_from_tokens(live_tokens), requests)
print(f"after {LIVE_STEPS} steps the judge reads {live_accuracy:.0%} of 100 samples as the requested digit")

# %%
# Check: the cached generate_raster draws the same pixels; after 10 s at least half the samples are
# drawn as requested (chance: 10%).
assert torch.equal(live_tokens, images.generate_raster(live, requests))
assert live_accuracy >= 0.5

# %% [markdown]
# Ten seconds of training already draw more than half the digits as requested. The shipped model was
# trained the same way for a few minutes (`make checkpoints`: 3,000 steps, with dropout 0.1 against
# overfitting). We also check for **memorisation**: a sample that equals a training image pixel for
# pixel was copied, not drawn.

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
