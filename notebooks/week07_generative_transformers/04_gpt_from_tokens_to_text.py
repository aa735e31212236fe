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
# # Week 7 · 04 — Decoder-only: a GPT from tokens to text
#
# Notebook 03 wired blocks into a GPT. Here it learns to write. The whole recipe fits in one sentence:
# cut text into tokens, train the model to guess each next token, then let it guess one token, append the
# guess to the text, and guess again. We follow that recipe with the course's small character-level GPT,
# from the first token to readable text, and then make generation fast with a KV cache.
#
# **Time:** about 45 minutes.
#
# **By the end of this notebook you will be able to**
# 1. compare character and byte-pair (BPE) tokenizers: vocabulary size, sequence length and what they do
#    to the cost of a context window;
# 2. build the next-token training pairs (targets = inputs shifted by one), predict the loss of an
#    untrained model ($\ln V$) and read a loss in bits per character;
# 3. run (and interrupt) a training run and read its loss curve;
# 4. write autoregressive generation by hand, token by token, and check it against `course_lib`;
# 5. explain what a KV cache stores, how much memory it needs and how much time it saves.

# %%
import math
import statistics

import matplotlib.pyplot as plt
import torch

from course_lib import architecture, configs, viz
from course_lib.checkpoints import load_checkpoint
from course_lib.data import DATA_DIR, encode_corpus, get_batch, load_corpus, split_train_val
from course_lib.decoding import generate
from course_lib.models import build_model
from course_lib.tokenizers import SPLIT_PATTERN, BPETokenizer, CharTokenizer

torch.manual_seed(0)
torch.set_num_threads(1)  # models this small run as fast on one thread, and other programs slow it down less
text = load_corpus("python-docs")  # Python's own reference documentation, shipped with the course
print(f"{len(text):,} characters. A sample:\n{text[1000:1200]}")

# %% [markdown]
# ## 1. Tokens: characters or byte pairs?
#
# A model reads integers, not text. A **tokenizer** cuts text into pieces (tokens) and numbers them. The
# simplest one takes every character as a token: the vocabulary is the set of characters that occur.

# %%
chars = sorted(set(text))  # the vocabulary: every distinct character, in a fixed order
stoi = {ch: i for i, ch in enumerate(chars)}  # character -> id


def char_encode(s: str) -> list[int]:
    return [stoi[ch] for ch in s]


def char_decode(ids: list[int]) -> str:
    return "".join(chars[i] for i in ids)


print(len(chars), "characters in the vocabulary;", "'print(x)' ->", char_encode("print(x)"))

# %%
# Check: our character tokenizer is course_lib's CharTokenizer, and decoding gives the text back.
char_tokenizer = CharTokenizer.from_text(text)
assert char_tokenizer.chars == chars and char_tokenizer.encode(text[:500]) == char_encode(text[:500])
assert char_decode(char_encode(text)) == text
print(f"CharTokenizer: vocab_size {char_tokenizer.vocab_size}, same ids, lossless round trip.")

# %% [markdown]
# Characters make long sequences: a 64-token context holds only 64 characters, about a dozen words.
# **Byte-pair encoding** (BPE, the idea behind GPT-2's tokenizer) starts from the 256 bytes and
# repeatedly glues the most frequent pair of neighbouring tokens into a new token, so frequent words end up
# as single tokens. (Text is first cut into word-like chunks so that a merge never spans two words.)
# Here is the first merge, found by hand on the first 100,000 characters:

# %%
import re
from collections import Counter
from itertools import pairwise

sample = text[:100_000]
pair_counts = Counter()
for chunk in re.findall(SPLIT_PATTERN, sample):  # words with their leading space, numbers, punctuation
    pair_counts.update(pairwise(chunk.encode("utf-8")))  # neighbouring bytes inside the chunk
first_pair, count = pair_counts.most_common(1)[0]
print(f"most frequent pair: {bytes(first_pair)!r}, {count:,} times: it becomes token 256")
print("(two spaces: the documentation indents its code examples)")

# %%
# Check: course_lib's BPETokenizer makes the same first merge; trained to 512 tokens it learns 256 merges.
assert tuple(BPETokenizer().train(sample, vocab_size=257).merges[0]) == first_pair
bpe_tokenizer = BPETokenizer().train(sample, vocab_size=512)
assert bpe_tokenizer.vocab_size == 512 and bpe_tokenizer.decode(bpe_tokenizer.encode(text)) == text
line = "The for statement is used to iterate over the elements of a sequence"
pieces = [bpe_tokenizer.decode([i]) for i in bpe_tokenizer.encode(line)]
print("|".join(pieces))

# %% [markdown]
# The two tokenizers on the whole corpus: BPE has a 5× larger vocabulary and needs about half as many
# tokens for the same text.

# %%
counts = {"characters": len(char_tokenizer.encode(text)), "BPE (512)": len(bpe_tokenizer.encode(text))}
vocab = {"characters": char_tokenizer.vocab_size, "BPE (512)": bpe_tokenizer.vocab_size}
print(f"{'tokenizer':<11} {'vocabulary':>10} {'tokens':>9} {'characters per token':>21}")
for name, n_tokens in counts.items():
    print(f"{name:<11} {vocab[name]:>10} {n_tokens:>9,} {len(text) / n_tokens:>21.2f}")
shrink = counts["characters"] / counts["BPE (512)"]

# %% [markdown]
# What this does to a **context window** of T tokens: attention compares every pair of tokens, $T^2$ of
# them (notebook 01). With BPE the same 64 tokens hold about twice as much text; put the other way, the
# same text needs half the tokens and a quarter of the attention pairs. The price is a bigger vocabulary:
# the embedding table and the output layer grow with $V$ (V × C numbers each), and rare pieces are seen
# less often in training.

# %%
# Check: BPE needs about half as many tokens (1.8x to 2.5x fewer), so the same text costs shrink² fewer pairs.
assert 1.8 < shrink < 2.5 and vocab["BPE (512)"] > 4 * vocab["characters"]
pairs_ratio = counts["characters"] ** 2 / counts["BPE (512)"] ** 2
assert math.isclose(pairs_ratio, shrink**2)
print(f"Same text: {shrink:.1f}x fewer tokens with BPE, so {pairs_ratio:.1f}x fewer attention pairs.")

# %% [markdown]
# The course's GPT uses characters: a 103-token vocabulary keeps the model tiny and every piece frequent,
# which suits a few seconds of training on a laptop. The published models of notebook 03 use subword
# vocabularies (BPE and its cousins) of 30,000 to 50,000 tokens:

# %%
# Check: every published model in course_lib's presets has a vocabulary of 30,000 to 51,000 subwords.
published_vocabularies = {
    name: p.architecture.vocab_size for name, p in architecture.PRESETS.items() if p.published is not None
}
assert all(30_000 <= v <= 51_000 for v in published_vocabularies.values())
print(published_vocabularies)

# %% [markdown]
# ## 2. The next-token objective
#
# A GPT is trained to predict, at **every** position, the token that comes next. Cut a window of
# `block_size + 1` tokens out of the text: the first `block_size` are the **inputs**, and the same window
# shifted one to the left gives the **targets**. One window thus holds `block_size` training examples,
# each with a different amount of context (the causal mask stops a position from seeing its own target).

# %%
ids = encode_corpus(text, char_tokenizer)  # (N,) the whole corpus as token ids
train_ids, val_ids = split_train_val(ids, val_fraction=0.1)  # the last 10% is held out
block_size, start = 8, text.index('The "for" statement')
x, y = ids[start : start + block_size], ids[start + 1 : start + 1 + block_size]  # (T,), (T,)
for t in range(block_size):
    context, target = char_decode(x[: t + 1].tolist()), char_decode([y[t].item()])
    print(f"{context!r:>12} -> {target!r}")

# %%
# Check: course_lib's get_batch makes windows the same way: targets are the inputs shifted by one.
xb, yb = get_batch(train_ids, block_size=64, batch_size=4, generator=torch.Generator().manual_seed(0))
assert xb.shape == yb.shape == (4, 64) and torch.equal(xb[:, 1:], yb[:, :-1])
print("get_batch: inputs (B, T) and targets (B, T), with targets[:, t] = inputs[:, t + 1].")

# %% [markdown]
# **The first check of any language model: the loss of a uniform guess.** The loss is the cross-entropy,
# $-\ln p(\text{target})$ averaged over positions. A fresh model knows nothing, so it spreads its bets
# evenly over the $V$ tokens: $p = 1/V$ and the loss is $\ln V$. If a freshly built model starts far
# from $\ln V$, something is wrong (the initialisation, the targets, the loss).

# %%
vocab_size = char_tokenizer.vocab_size
fresh = build_model(configs.course_default(vocab_size))  # 2 layers, 4 heads, width 192, context 64
with torch.no_grad():
    start_loss = fresh(xb, targets=yb).loss.item()
print(f"fresh model: loss {start_loss:.3f}; uniform guess: ln {vocab_size} = {math.log(vocab_size):.3f}")

# %%
# Check: a fresh model's loss is within 0.1 of ln V.
assert abs(start_loss - math.log(vocab_size)) < 0.1
print("The untrained model is (almost exactly) a uniform guess.")

# %% [markdown]
# **Bits per character.** Losses in these notebooks are in *nats* (natural log). Divided by $\ln 2$ they
# become *bits*: for a character model, the average number of yes/no questions the model still needs to
# pin down each next character. A uniform guess over 103 characters needs $\log_2 103 \approx 6.7$ bits;
# every bit a model saves halves the number of equally likely guesses left.

# %%
def bits_per_character(loss_in_nats: float) -> float:
    return loss_in_nats / math.log(2)


print(f"uniform guess: {bits_per_character(math.log(vocab_size)):.2f} bits per character")
assert math.isclose(bits_per_character(math.log(vocab_size)), math.log2(vocab_size))

# %% [markdown]
# ## 3. Exercise: the training pairs
#
# Write `make_training_pairs(ids, block_size)`: from a 1-D tensor of ids, return `(inputs, targets)`,
# two tensors of shape `(M, block_size)` with **one row per possible start**, in order (start 0, 1, 2, ...).
# Use every start whose window still has a target for its last input. The self-check recognises the
# usual slips and says which one you made.

# %%
def make_training_pairs(ids: torch.Tensor, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ids (N,) -> inputs (M, block_size), targets (M, block_size): every window, in order of its start."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.gpt import check_training_pairs

check_training_pairs(make_training_pairs)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def make_training_pairs(ids, block_size):
#     starts = range(len(ids) - block_size)  # the last start still has a target: ids[-1]
#     inputs = torch.stack([ids[s : s + block_size] for s in starts])
#     targets = torch.stack([ids[s + 1 : s + 1 + block_size] for s in starts])
#     return inputs, targets
# ```
# </details>

# %% [markdown]
# ## 4. Training, live
#
# `course_lib.train.train` runs the classic loop: a random batch of windows, the loss, a backward pass, an
# AdamW step, and every few steps the loss on training and held-out data. It draws a progress bar.
#
# **You can stop it.** Press the kernel's stop button (■) while it runs: `train` catches the interrupt
# (`KeyboardInterrupt`) and returns the model and the loss curve so far. So that this notebook runs the
# same for everyone, the cell below presses "stop" itself after 15 seconds, from a timer
# (`_thread.interrupt_main` is what the stop button does). We ask for the shipped model's recipe, 1,000
# steps: far more than a laptop takes in 15 seconds.

# %% tags=["nbval-ignore-output"]
# The progress bar shows training numbers, which differ from machine to machine: not compared by the tests.
import _thread
import threading
from dataclasses import replace

from course_lib.train import course_default_training, train

torch.manual_seed(0)
model = build_model(configs.course_default(vocab_size))
settings = replace(course_default_training(), max_steps=1000, eval_interval=25, eval_iters=4)  # batch 32
stop_button = threading.Timer(15.0, _thread.interrupt_main)  # "press stop" after 15 s
stop_button.start()
try:
    history = train(model, train_ids, val_ids, settings)
finally:
    stop_button.cancel()  # a fast machine that finished first: no interrupt left pending

# %% tags=["nbval-ignore-output"]
# Training numbers differ from machine to machine (the step reached in 15 s), so this is not compared.
final = history.final
print(f"stopped by: {final['stopped_by']}, after {final['steps']} steps")
print(f"validation loss {final['val_loss']:.2f} = {bits_per_character(final['val_loss']):.2f} bits/char")
viz.plot_training_history(history, title="a live run, stopped after 15 s")

# %%
# Check: the interrupted run kept its model and its curve, and the loss fell well below ln V.
assert final["stopped_by"] == "interrupted" and 0 < final["steps"] < settings.max_steps
assert history.step[-1] == final["steps"] and len(history.val_loss) == len(history.step) >= 2
assert final["val_loss"] < math.log(vocab_size) - 0.5
print("Interrupted, not lost: the model and the loss curve up to the last step are kept.")

# %% [markdown]
# What does 15 seconds of training write? (Generation is section 5; here we just call `generate`.)

# %% tags=["nbval-ignore-output"]
# The text depends on how far training got on this machine, so it is not compared by the tests.
live_sample = generate(model, torch.tensor([char_encode("The ")]), 150, strategy="sample", seed=0)
print(char_decode(live_sample[0].tolist()))

# %% [markdown]
# Compare it with the shipped model's text in section 5. The course ships the same model trained longer
# (1,000 steps of the same recipe), saved as a checkpoint: safetensors weights plus a JSON file with the
# config, the tokenizer and checksums.

# %%
from course_lib.train import estimate_loss

checkpoint = load_checkpoint(DATA_DIR / "checkpoints" / "char_gpt_python_docs")
gpt, tokenizer = checkpoint.model, checkpoint.tokenizer
shipped_loss = estimate_loss(gpt, val_ids, batch_size=32, eval_iters=20, seed=1)  # the batches it reported
print(f"shipped GPT: validation loss {shipped_loss:.3f} = {bits_per_character(shipped_loss):.2f} bits/char")

# %%
# Check: same tokenizer as ours; the loss we measure is the one the checkpoint reports, far below a uniform
# guess (6.7 bits) and below our 15-second run.
assert tokenizer.chars == chars and checkpoint.metadata["metrics"]["steps"] == settings.max_steps
assert math.isclose(shipped_loss, checkpoint.metadata["metrics"]["val_loss"], abs_tol=1e-3)
assert bits_per_character(shipped_loss) < 2 and shipped_loss < final["val_loss"]
print(f"{bits_per_character(shipped_loss):.2f} bits per character instead of 6.69.")

# %% [markdown]
# ## 5. Generation, one token at a time
#
# The model gives, at every position, logits for the next token. To **generate** we only need the last
# position's: pick a token, append it, run again. Three details matter:
#
# 1. the model accepts at most `block_size` tokens, so feed it only the **last** `block_size`;
# 2. take the logits of the **last** position, `logits[:, -1, :]`;
# 3. pick: here **greedy**, the most likely token (notebook 06 is about better ways to pick).

# %%
def greedy_generate(model, idx: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """idx (B, T) -> (B, T + max_new_tokens), always taking the most likely next token."""
    for _ in range(max_new_tokens):
        context = idx[:, -model.config.block_size :]  # (B, <= block_size): what the model can read
        with torch.no_grad():
            logits = model(context).logits[:, -1, :]  # (B, V): the next token's scores
        next_id = logits.argmax(dim=-1, keepdim=True)  # (B, 1)
        idx = torch.cat([idx, next_id], dim=1)  # (B, T + 1)
    return idx


prompt = torch.tensor([tokenizer.encode("The for statement ")])  # (1, 18)
ours = greedy_generate(gpt, prompt, max_new_tokens=80)
print(tokenizer.decode(ours[0]))

# %%
# Check: course_lib's generate (greedy, without a cache) gives exactly the same tokens.
library = generate(gpt, prompt, max_new_tokens=80, strategy="greedy", use_cache=False)
assert torch.equal(ours, library)
continuation = tokenizer.decode(ours[0, prompt.size(1) :])  # greedy loops: a 12-character piece recurs
assert max(continuation.count(continuation[i : i + 12]) for i in range(len(continuation) - 12)) >= 3
assert ours.size(1) > gpt.config.block_size  # longer than the model's context: the crop mattered
print(f"greedy_generate = course_lib.decoding.generate, token for token ({ours.size(1)} tokens).")

# %% [markdown]
# Greedy text soon repeats itself (the check above finds a 12-character piece three times or more):
# always taking the single most likely character leads into loops. **Sampling**, drawing the next token
# at random with the model's probabilities, gives livelier text. A seeded random generator makes the
# draw repeatable:

# %%
sampled = generate(gpt, prompt, max_new_tokens=200, strategy="sample", seed=0, use_cache=False)
print(tokenizer.decode(sampled[0]))

# %% [markdown]
# ## 6. Exercise: the sampling loop
#
# Write `sample_tokens(model, idx, max_new_tokens, generator)`: like `greedy_generate`, but draw each token
# from the model's probabilities, `torch.multinomial(probs, num_samples=1, generator=generator)`. The
# self-check runs your loop on two prompts of 60 characters for 8 tokens (past the 64-character context)
# and compares with `generate(..., strategy="sample", seed=...)`.

# %%
def sample_tokens(model, idx: torch.Tensor, max_new_tokens: int, generator: torch.Generator) -> torch.Tensor:
    """idx (B, T) -> (B, T + max_new_tokens), each new token drawn from softmax(last position's logits)."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.gpt import check_sampling_loop

check_sampling_loop(sample_tokens)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def sample_tokens(model, idx, max_new_tokens, generator):
#     for _ in range(max_new_tokens):
#         logits = model(idx[:, -model.config.block_size :]).logits[:, -1, :]  # (B, V)
#         probs = logits.softmax(dim=-1)                                       # over the vocabulary
#         next_id = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
#         idx = torch.cat([idx, next_id], dim=1)
#     return idx
# ```
# </details>

# %% [markdown]
# ## 7. Step through generation
#
# The widget below runs the same greedy loop one click at a time. Each **next token ▶** shows
#
# - the text so far, coloured by where the **newest** token looks (its attention over the context, for
#   the layer and head you pick; the newest token is outlined in red, generated tokens are underlined);
# - the model's **next-token distribution** (the 8 most likely characters as bars);
# - the token **greedy** decoding picks (the most likely), which the next click appends.
#
# **◀ back** undoes a token. Type your own prompt (then Enter). Try: step until the text passes 64
# characters (the oldest ones turn grey: the model no longer sees them); find a head that looks at the
# previous character; type a prompt that ends in the middle of a word and watch the distribution narrow.

# %% tags=["nbval-ignore-output"]
# A live widget: its view is drawn by your browser, so the tests check it in a real browser instead.
from course_lib.widgets import StepThroughGenerator

stepper = StepThroughGenerator(gpt, tokenizer, prompt="The for statement ", steps=4, layer=1, head=2)
stepper

# %% [markdown]
# Without a running kernel the widget above cannot react; here is the same view as a picture.

# %%
stepper.static_figure()

# %%
# Check: the widget's steps are greedy_generate's tokens, and its bars are the model's distribution.
assert stepper.text == tokenizer.decode(greedy_generate(gpt, prompt, 4)[0])
with torch.no_grad():
    probs = gpt(torch.tensor([stepper.step.ids])).logits[0, -1].softmax(dim=-1)
torch.testing.assert_close(stepper.step.probs, probs)
print(f"After 4 steps: {stepper.text!r}; greedy picks {tokenizer.chars[stepper.step.choice]!r} next.")

# %% [markdown]
# ## 8. The KV cache
#
# Look at what `greedy_generate` repeats. At every step it runs the model on the whole context, although
# only one token is new. In a causal model an earlier position never sees a later one, so the **keys and
# values** of the earlier positions, in every layer, come out the same every time. A **KV cache** stores
# them: each step then computes queries, keys and values for the new token only and attends over the
# stored keys and values. Per token it keeps 2 (key and value) × layers × heads × head size numbers.

# %%
cache = gpt.new_cache(batch_size=1)
with torch.no_grad():
    gpt(prompt, cache=cache)  # the prompt's keys and values go into the cache
print("keys:", tuple(cache.keys.shape), "= (layers, B, heads, positions, head size)")
print(cache.length, "positions stored: the prompt")
c = gpt.config
bytes_per_token = 2 * c.n_layer * c.n_head * c.head_dim * cache.keys.element_size()  # float32: 4 bytes
print(f"{bytes_per_token:,} bytes per token for our GPT")

# %%
# Check: our count equals course_lib.architecture's formula for this model (in float32).
ours_arch = architecture.from_course_config(gpt.config)
assert bytes_per_token == architecture.kv_cache_bytes_per_token(ours_arch, dtype="fp32") == 3072
print("2 x layers x heads x head size x 4 bytes = kv_cache_bytes_per_token.")

# %% [markdown]
# For the published models of notebook 03 (16-bit numbers, as they are served), and for one sequence
# filling each model's whole context (Mistral's sliding window keeps at most 4,096 tokens of it):

# %%
print(f"{'model':<14}{'per token':>11}{'context':>9}{'full context':>14}")
for name in ("GPT-2 small", "SmolLM2-135M", "LLaMA-2-7B", "Mistral-7B"):
    arch = architecture.preset(name)
    per_token = architecture.kv_cache_bytes_per_token(arch)
    full = architecture.kv_cache_bytes(arch)
    print(f"{name:<14}{architecture.format_bytes(per_token):>11}{arch.context:>9,}"
          f"{architecture.format_bytes(full):>14}")

# %%
# Check: LLaMA-2-7B keeps 2 x 32 layers x 32 heads x 128 x 2 bytes = 512 KiB per token, 2 GiB (2.15 GB) at
# 4,096 tokens; Mistral-7B's shared key/value heads (8 instead of 32) keep a quarter of that.
llama, mistral = architecture.preset("LLaMA-2-7B"), architecture.preset("Mistral-7B")
assert architecture.kv_cache_bytes_per_token(llama) == 2 * 32 * 32 * 128 * 2 == 512 * 1024
assert architecture.kv_cache_bytes(llama) == 2 * 2**30
assert architecture.kv_cache_bytes_per_token(llama) == 4 * architecture.kv_cache_bytes_per_token(mistral)
cache_size, weights_size = architecture.kv_cache_bytes(llama), architecture.weight_bytes(llama)
assert weights_size < 10 * cache_size  # ten long chats at once: more memory for caches than for weights
print(f"One 4,096-token chat with LLaMA-2-7B: {architecture.format_bytes(cache_size)} of cache beside "
      f"{architecture.format_bytes(weights_size)} of weights; ten such chats need more cache than weights.")

# %% [markdown]
# ### Same logits, step by step
#
# Let us run the cache by hand: feed a sequence one token at a time through the cache, and compare each
# step's logits with a full run (no cache) on the last `block_size` tokens. Our model uses rotary
# positions, whose attention depends only on distances, so its cache is a **sliding window**: past 64
# tokens, the oldest entry is dropped for each new one. Up to 64 tokens the two must agree exactly.

# %%
sequence = generate(gpt, prompt, max_new_tokens=110, strategy="sample", seed=0)  # (1, 128)
cache = gpt.new_cache(batch_size=1)
differences = []  # per position: largest |cached - full| over the logits
with torch.no_grad():
    for t in range(sequence.size(1)):
        cached = gpt(sequence[:, t : t + 1], cache=cache).logits[0, -1]  # one new token
        full = gpt(sequence[:, max(0, t + 1 - 64) : t + 1]).logits[0, -1]  # the whole window again
        differences.append((cached - full).abs().max().item())
fig, ax = plt.subplots(figsize=(8, 2.8), layout="constrained")
ax.semilogy(range(1, len(differences) + 1), [max(d, 1e-7) for d in differences], ".")
ax.axvline(64, color="k", linestyle=":", label="the window fills (64 tokens)")
ax.set(xlabel="sequence length", ylabel="largest logit difference", title="cached vs full run")
ax.legend()
plt.show()

# %%
# Check: identical logits (to float rounding) while the sequence fits in the window; different after.
assert max(differences[:64]) < 1e-4
assert statistics.mean(differences[64:]) > 1e-3
before, after = max(differences[:64]), statistics.mean(differences[64:])
print(f"up to 64 tokens: at most {before:.0e}; after: {after:.2f} on average")

# %% [markdown]
# Why do they differ after 64? In the full run the window's first token sees nothing before it. In the
# cached run, the stored keys of layer 1 were computed when *their* positions could still look 64 tokens
# further back through layer 0: through its layers, the cached model sees further back than one window.
# (A model with a learned position table cannot slide; `generate` then re-runs the last window at every
# step, like the uncached path.) For the tokens this means: the same tokens until the window fills.

# %%
# Check: cached and uncached generation pick the same tokens while prompt + output fit in 64 tokens.
fits = 64 - prompt.size(1)  # new tokens that still fit in the window
with_cache = generate(gpt, prompt, max_new_tokens=fits, strategy="sample", seed=1, use_cache=True)
without = generate(gpt, prompt, max_new_tokens=fits, strategy="sample", seed=1, use_cache=False)
assert torch.equal(with_cache, without)
print(f"{fits} sampled tokens, the same with and without the cache.")

# %% [markdown]
# ### How much faster?
#
# Without a cache each step runs the model on up to 64 tokens; with it, on one. We time both for 64, 256
# and 512 new tokens (best of 2 runs, on the one CPU thread set at the top).

# %%
from course_lib.timing import best_seconds  # the fastest of a few runs: others' work only adds time

timings = {}  # new tokens -> (seconds without cache, seconds with cache)
for n in (64, 256, 512):
    timings[n] = tuple(
        best_seconds(
            lambda n=n, cached=cached: generate(gpt, prompt, n, strategy="greedy", use_cache=cached),
            repeats=2,
            warmup=False,
        )
        for cached in (False, True)
    )

# %% tags=["nbval-ignore-output"]
# Timings differ from machine to machine (and from run to run), so this table is not compared by the tests.
print("new tokens | no cache (ms) | cache (ms) | speed-up")
for n, (slow, fast) in timings.items():
    print(f"{n:>10} | {1000 * slow:>13.0f} | {1000 * fast:>10.0f} | {slow / fast:>7.1f}x")

# %%
# Check: at 512 new tokens, far past the 64-token context, the cache is more than 1.5x faster (`make bench`
# measures it on a quiet machine; the rest of each step, the MLPs and the output layer, runs once per token
# either way).
speedup = timings[512][0] / timings[512][1]
assert speedup > 1.5, f"speed-up {speedup:.2f}: rerun on a quieter machine"
print("The KV cache makes long generations at least 1.5x faster.")

# %% [markdown]
# ## 9. The model's attention, with bertviz
#
# bertviz draws attention as lines between tokens: the **head view** shows one layer (pick heads by
# clicking the coloured squares; hover over a character to see where it looks), the **model view** every
# layer and head as thumbnails (click one to enlarge it). The course draws both without any network
# access. Each view adds about 70 KB to the saved notebook (the first one also about 320 KB of drawing
# libraries), so we use a short line of code.

# %%
from course_lib import bertviz_offline

code = "for x in xs: print(x)"
with torch.no_grad():
    attentions = gpt(torch.tensor([tokenizer.encode(code)]), return_attention=True).attentions
bertviz_offline.head_view(attentions, list(code), layer=1)

# %%
bertviz_offline.model_view(attentions, list(code))

# %%
# Check: what the views draw is the model's causal attention: 2 layers of 4 heads, nothing above the
# diagonal, and inside the brackets layer 1, head 2 looks at the opening bracket (as in notebook 01).
assert len(attentions) == 2 and attentions[1].shape == (1, 4, len(code), len(code))
assert all((layer[0].triu(diagonal=1) == 0).all() for layer in attentions)
bracket = code.index("(")
assert attentions[1][0, 2, bracket + 1, bracket] > 0.5
print("Two layers, four heads, causal; layer 1 head 2 finds the '('.")

# %% [markdown]
# ## Summary
#
# - A **tokenizer** turns text into ids. Characters give a tiny vocabulary and long sequences; BPE merges
#   frequent pairs into a larger vocabulary and about half as many tokens here, so a context window holds
#   more text and attention (which grows with $T^2$) costs less for the same text.
# - A GPT learns from (input, target) windows where the **targets are the inputs shifted by one**. An
#   untrained model's loss is $\ln V$; dividing a loss by $\ln 2$ gives **bits per character** (6.7 for a
#   uniform guess, under 2 for the shipped model).
# - `train` can be interrupted: the model and the curve so far are kept.
# - **Generation** repeats: crop to the last `block_size` tokens, take the last position's logits, pick,
#   append.
# - A **KV cache** stores every layer's keys and values so each step computes one token, not the whole
#   context: the same tokens while the window is not full, and over 1.5× faster here (about 2.5× on a
#   quiet machine). Its memory, 2 × layers × kv heads × head size per token, is what limits long chats
#   with large models.
#
# **Next:** notebook 05, *Encoder-decoder vs decoder-only*, puts an encoder in front of the decoder and
# compares the two families on the same tasks.
