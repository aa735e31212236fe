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
# # Week 7 · 06 — Sampling strategies
#
# A language model never writes text. All it gives back is a score (a logit) for every token that could
# come **next**. Something else has to turn those scores into one chosen token, append it and ask again:
# the **decoding strategy**. The same trained model can sound dull, creative or broken depending on that
# choice, and this notebook shows why, on one prompt and one model throughout.
#
# **Time:** about 35 minutes.
#
# **By the end of this notebook you will be able to**
# 1. write greedy decoding and temperature sampling, and explain why greedy text falls into loops;
# 2. write the three truncation filters (top-k, top-p, min-p) and say when each keeps many or few tokens;
# 3. apply a repetition penalty the way Hugging Face does, and use it (or sampling) to break a loop;
# 4. measure the trade-off between quality (log-likelihood) and diversity (distinct-n);
# 5. run beam search, read its tree, and see what the length penalty changes.
#
# Everything you write is checked against `course_lib.decoding` and against Hugging Face's own
# *logits processors*, so what you learn here is what `model.generate(...)` does in `transformers`.

# %%
import itertools

import matplotlib.pyplot as plt
import torch
from transformers.generation.logits_process import (
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from course_lib import decoding, viz
from course_lib.checkpoints import load_checkpoint
from course_lib.data import DATA_DIR

torch.manual_seed(0)
torch.set_num_threads(1)  # a model this small runs as fast on one thread, and other programs slow it less
checkpoint = load_checkpoint(DATA_DIR / "checkpoints" / "char_gpt_python_docs")
model, tokenizer = checkpoint.model.eval(), checkpoint.tokenizer
PROMPT = "The function "
prompt_ids = torch.tensor([tokenizer.encode(PROMPT)])  # (1, T)
N_NEW = 50  # characters to generate: prompt + 50 fit the model's 64-character context
N_LONG = 100  # a longer run, to see where greedy decoding ends up
print(f"{model.config.vocab_size} characters, context {model.config.block_size}, prompt {PROMPT!r}")

# %% [markdown]
# ## 1. One distribution, many ways to choose
#
# This is notebook 04's character GPT, trained on Python's documentation. Its vocabulary has 103
# characters, so after our prompt it returns 103 logits; a softmax turns them into probabilities.

# %%
with torch.no_grad():
    logits = model(prompt_ids).logits[0, -1]  # (V,) scores for the character after the prompt
probs = logits.softmax(dim=-1)  # (V,)
favourites = {tokenizer.chars[i]: round(probs[i].item(), 3) for i in probs.topk(5).indices.tolist()}
print("most likely next characters:", favourites)
viz.plot_distribution(probs, tokenizer.chars, top=15, title=f"after {PROMPT!r}")

# %% [markdown]
# No character is a sure thing: the favourite, `o` (as in "object"), has about a quarter of the mass.
# Every strategy below reads this same distribution and decides differently.

# %%
# Check: a probability distribution over the whole vocabulary, with no single dominant character.
torch.testing.assert_close(probs.sum(), torch.tensor(1.0))
assert tokenizer.chars[probs.argmax()] == "o" and 0.15 < probs.max() < 0.35
print(f"top character 'o' holds {probs.max():.0%}; {(probs > 0.01).sum().item()} characters hold over 1%")

# %% [markdown]
# ## 2. Greedy decoding
#
# The simplest rule: always take the most likely token (the *argmax*), append it, run the model again.
# Here it is, written without any of course_lib's machinery:

# %%
def greedy(ids: torch.Tensor, n_new: int) -> torch.Tensor:
    """ids (1, T) -> (1, T + n_new), always appending the most likely next token."""
    for _ in range(n_new):
        with torch.no_grad():
            next_logits = model(ids[:, -model.config.block_size :]).logits[:, -1]  # (1, V); reads <= 64
        next_id = next_logits.argmax(dim=-1, keepdim=True)  # (1, 1)
        ids = torch.cat([ids, next_id], dim=1)
    return ids


greedy_ids = greedy(prompt_ids, N_LONG)
greedy_text = tokenizer.decode(greedy_ids[0])
print(repr(greedy_text))

# %%
# Check: our loop = course_lib's generate, with the KV cache of notebook 04 (the same characters while
# the text fits the 64-character context) and without it (the last 64 characters, as ours).
uncached = decoding.generate(model, prompt_ids, N_LONG, strategy="greedy", use_cache=False)
assert torch.equal(greedy_ids, uncached)
greedy_50 = greedy_ids[:, : len(PROMPT) + N_NEW]  # (1, 63): the part that fits the context
assert torch.equal(greedy_50, decoding.generate(model, prompt_ids, N_NEW, strategy="greedy"))
print("From-scratch greedy = decoding.generate(strategy='greedy'), with and without the cache.")

# %% [markdown]
# ## 3. The repetition trap
#
# Greedy text starts well and then goes round in circles: "the same as the same as ...". After
# "the same as " the most likely next characters spell "the same as " again, and greedy decoding can only
# follow them. It has no way out: the same context always gives the same choice, so once the model's
# 64-character window holds nothing but the loop, the loop repeats for as long as we let it run.
#
# A number for this: **distinct-n**, the share of a text's n-grams (runs of n characters) that are
# different. A text that never repeats itself scores 1; a text stuck in a loop scores low.

# %%
def distinct(texts: list[str], n: int) -> float:
    """Distinct n-grams / all n-grams, the n-grams of each text taken within that text."""
    grams = [text[i : i + n] for text in texts for i in range(len(text) - n + 1)]
    return len(set(grams)) / len(grams)


new_text = greedy_text[len(PROMPT) :]
print(f"greedy's {N_LONG} new characters: distinct-4 = {distinct([new_text], 4):.2f}")
print(f"'the same as' occurs {new_text.count('the same as')} times")

# %%
# Check: equal to course_lib's distinct_n, and greedy is stuck (distinct-4 < 0.6, the phrase 3+ times).
from course_lib.widgets.sampling_playground import distinct_n

assert distinct([new_text], 4) == distinct_n([new_text], 4)
assert distinct([new_text], 4) < 0.6 and new_text.count("the same as") >= 3
print("Greedy decoding loops. Sections 4 and 8 get out of the loop.")

# %% [markdown]
# ## 4. Temperature and sampling
#
# Instead of always taking the favourite, **draw** the next token at random with the model's
# probabilities. Before the softmax, divide the logits by a **temperature** T (notebook 00): T < 1
# sharpens the distribution towards the favourite, T > 1 flattens it, T = 1 keeps the model's own.

# %%
def with_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """logits (B, V) -> logits (B, V) divided by the temperature."""
    return logits / temperature


batch = logits[None]  # (1, V): the filters work on a batch of rows
for temperature in (0.5, 1.0, 2.0):
    p = with_temperature(batch, temperature).softmax(dim=-1)[0]
    print(f"T = {temperature}: top character {p.max():.0%}, {(p > 0.01).sum().item()} characters above 1%")

# %%
# Check: ours = course_lib's apply_temperature = Hugging Face's TemperatureLogitsWarper, and the top
# character's share falls as the temperature rises.
top_share = [with_temperature(batch, t).softmax(dim=-1).max().item() for t in (0.5, 1.0, 2.0)]
assert top_share[0] > top_share[1] > top_share[2]
for temperature in (0.5, 1.0, 2.0):
    ours = with_temperature(batch, temperature)
    torch.testing.assert_close(ours, decoding.apply_temperature(batch, temperature))
    torch.testing.assert_close(ours, TemperatureLogitsWarper(temperature)(prompt_ids, batch.clone()))
print("Temperature: ours = course_lib = Hugging Face.")

# %% [markdown]
# A sampling loop is the greedy loop with one line changed: `torch.multinomial` draws a token instead of
# `argmax` taking one. A seeded `torch.Generator` makes the draws repeatable.

# %%
def sample(ids: torch.Tensor, n_new: int, *, temperature: float, seed: int) -> torch.Tensor:
    """ids (B, T) -> (B, T + n_new), drawing each token from softmax(logits / temperature)."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(n_new):
        with torch.no_grad():
            next_logits = model(ids).logits[:, -1]  # (B, V)
        next_probs = with_temperature(next_logits, temperature).softmax(dim=-1)
        next_id = torch.multinomial(next_probs, num_samples=1, generator=generator)  # (B, 1)
        ids = torch.cat([ids, next_id], dim=1)
    return ids


sampled = sample(prompt_ids.repeat(3, 1), N_NEW, temperature=0.8, seed=0)
for row in sampled:
    print(repr(tokenizer.decode(row)))

# %%
# Check: our loop draws the same characters as course_lib's generate with the same seed; the three rows
# differ, and each is more varied than greedy's text of the same length.
course_sampled = decoding.generate(model, prompt_ids.repeat(3, 1), N_NEW, temperature=0.8, seed=0)
assert torch.equal(sampled, course_sampled)
texts = [tokenizer.decode(row[len(PROMPT) :]) for row in sampled]
greedy_50_text = greedy_text[len(PROMPT) : len(PROMPT) + N_NEW]
assert len(set(texts)) == 3 and all(distinct([t], 4) > distinct([greedy_50_text], 4) for t in texts)
print("From-scratch sampling = decoding.generate(seed=0); every row is more varied than greedy.")

# %% [markdown]
# **Edge case: temperature 0.** Dividing by 0 is undefined, but the limit is clear: as T shrinks, all the
# mass moves to the favourite. course_lib reads T = 0 as exactly that, so it is greedy decoding again.
# (Hugging Face refuses T = 0 and asks for `do_sample=False`, which is the same thing.)

# %%
# Check: temperature 0 puts all mass on the argmax, and sampling at T = 0 reproduces greedy's text.
cold = decoding.next_token_distribution(batch, temperature=0.0)[0]
assert cold.max() == 1.0 and cold.argmax() == logits.argmax()
assert torch.equal(decoding.generate(model, prompt_ids, N_NEW, temperature=0.0, seed=3), greedy_50)
print("Temperature 0 = greedy.")

# %% [markdown]
# ## 5. Top-k: keep the k best
#
# Pure sampling has a weakness of its own: the 90-odd unlikely characters each have a small chance, but
# *together* they have a real one, and one bad draw derails the text. **Truncation** removes the tail
# before drawing: removed tokens get the logit −∞ (probability 0), and the softmax renormalises what is
# left. The first and simplest truncation is **top-k** (Fan et al., 2018): keep the k most likely tokens.

# %%
def top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """logits (B, V) -> (B, V) with everything below each row's k-th largest logit set to -inf."""
    kth_largest = logits.topk(k, dim=-1).values[:, -1:]  # (B, 1)
    return logits.masked_fill(logits < kth_largest, float("-inf"))


kept = top_k(batch, 10).softmax(dim=-1)[0]  # (V,)
print(f"top-10 keeps {(kept > 0).sum().item()} characters; they held {probs[kept > 0].sum():.0%} of the mass")
viz.plot_distribution(kept, tokenizer.chars, top=15, reference=probs, title="top-k = 10")

# %%
# Check: ours = course_lib's top_k_filter = Hugging Face's TopKLogitsWarper, on a batch of random rows too;
# the tail that top-10 removes held more than 10% of the mass.
assert probs[kept == 0].sum() > 0.10
rows = torch.cat([batch, torch.randn(4, 103, generator=torch.Generator().manual_seed(1))])  # (5, V)
for k in (1, 5, 10, 50):
    ours = top_k(rows, k)
    torch.testing.assert_close(ours, decoding.top_k_filter(rows, k))
    torch.testing.assert_close(ours, TopKLogitsWarper(top_k=k)(prompt_ids, rows.clone()))
print("Top-k: ours = course_lib = Hugging Face (k = 1, 5, 10, 50).")

# %% [markdown]
# **Edge case: top-k = 1** keeps only the favourite, so sampling becomes greedy whatever the temperature.

# %%
# Check: top-k 1 sampling = greedy.
assert torch.equal(decoding.generate(model, prompt_ids, N_NEW, top_k=1, temperature=1.5, seed=7), greedy_50)
print("Top-k 1 = greedy, even at temperature 1.5.")

# %% [markdown]
# The trouble with top-k is that **k is fixed** while the model's confidence is not. Compare two
# positions: after `"The function "` many characters are plausible; after `"The functio"` almost only
# `n` is. Top-10 cuts good options in the first case and keeps nine bad ones in the second.

# %%
def next_probs(text: str) -> torch.Tensor:
    """(V,) the model's next-character probabilities after ``text``."""
    with torch.no_grad():
        return model(torch.tensor([tokenizer.encode(text)])).logits[0, -1].softmax(dim=-1)


def tokens_for_mass(p: torch.Tensor, mass: float) -> int:
    """How many of the most likely tokens it takes to hold ``mass`` of the probability."""
    return int((p.sort(descending=True).values.cumsum(0) < mass).sum().item()) + 1


positions = {"flat": next_probs("The function "), "peaked": next_probs("The functio")}
for name, p in positions.items():
    print(f"{name:>6}: top character {p.max():.0%}, {tokens_for_mass(p, 0.9)} characters needed for 90%")

# %%
# Check: the flat position needs more than 10 characters for 90% of the mass, the peaked one needs 1.
assert tokens_for_mass(positions["flat"], 0.9) > 10 and tokens_for_mass(positions["peaked"], 0.9) == 1
print("One k cannot suit both positions.")

# %% [markdown]
# ## 6. Top-p (nucleus sampling)
#
# **Top-p** (Holtzman et al., 2019) fixes the *mass* instead of the count: keep the fewest most likely
# tokens whose probabilities add up to at least p. A confident model keeps one or two tokens, an unsure
# one keeps many. By hand, on five tokens with p = 0.7:

# %%
example = torch.tensor([0.1, 0.45, 0.05, 0.3, 0.1])  # (V,) in vocabulary order
sorted_p, order = example.sort(descending=True)  # most likely first
mass_before = sorted_p.cumsum(0) - sorted_p  # mass of the tokens ranked above each one
keep_sorted = mass_before < 0.7  # keep while the nucleus has not yet reached p
print("sorted:     ", [round(x, 2) for x in sorted_p.tolist()])
print("mass before:", [round(m, 2) for m in mass_before.tolist()])
print("kept:       ", keep_sorted.tolist())
nucleus = torch.zeros(5).scatter(0, order, sorted_p * keep_sorted)  # back to vocabulary order
print("renormalised, in vocabulary order:", [round(x, 3) for x in (nucleus / nucleus.sum()).tolist()])

# %% [markdown]
# The 0.45 token alone is short of 0.7, so the 0.3 token that **crosses** p is kept too, and the nucleus
# holds 0.75. Note the three details that are easy to get wrong: sort *most likely first*, keep the
# crossing token, and put the result back in *vocabulary order* before renormalising.
#
# ### Exercise 1: top-p
#
# Write `top_p(probs, p)`: `probs` is a (V,) probability vector in vocabulary order; return a (V,) vector
# in the same order where the tokens outside the nucleus are 0 and the kept ones are renormalised to sum
# to 1. The most likely token is always kept.

# %%
def top_p(probs: torch.Tensor, p: float) -> torch.Tensor:
    """probs (V,) -> (V,): the nucleus renormalised, every other token 0."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.sampling import check_top_p

check_top_p(top_p)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def top_p(probs, p):
#     sorted_probs, order = probs.sort(descending=True)
#     keep = sorted_probs.cumsum(0) - sorted_probs < p  # mass before each token still below p
#     kept = torch.zeros_like(probs).scatter(0, order, sorted_probs * keep)
#     return kept / kept.sum()
# ```
# The first token's mass before it is 0 < p, so the most likely token is always kept.
# </details>

# %% [markdown]
# course_lib and Hugging Face write the same rule from the other end, on logits: sort *ascending*, and
# remove every token whose running sum (it and all less likely ones) stays at or below 1 − p.

# %%
# Check: course_lib's top_p_filter = Hugging Face's TopPLogitsWarper, and on the example above it keeps
# exactly our hand-made nucleus.
for p in (0.1, 0.5, 0.9, 0.99):
    ours = decoding.top_p_filter(rows, p)
    torch.testing.assert_close(ours, TopPLogitsWarper(top_p=p)(prompt_ids, rows.clone()))
course_nucleus = decoding.top_p_filter(example.log()[None], 0.7).softmax(dim=-1)[0]
torch.testing.assert_close(course_nucleus, nucleus / nucleus.sum())
adaptive = {
    name: (decoding.top_p_filter(p.log()[None], 0.9) > -torch.inf).sum().item()
    for name, p in positions.items()
}
print("top-p 0.9 keeps", adaptive, "characters")
assert adaptive["flat"] > 10 and adaptive["peaked"] == 1

# %% [markdown]
# **Edge case: top-p = 1** asks for all of the mass, so every token with a non-zero probability stays:
# the filter is off.

# %%
# Check: top-p 1 changes nothing.
assert torch.equal(decoding.top_p_filter(batch, 1.0), batch)
assert torch.equal(decoding.next_token_distribution(batch, top_p=1.0), probs[None])
print("Top-p 1 keeps all 103 characters.")

# %% [markdown]
# ## 7. Min-p
#
# **Min-p** (Nguyen et al., 2024) is a newer and even simpler adaptive rule: keep every token whose
# probability is at least `min_p` times the favourite's. With min-p = 0.1, a favourite at 90% sets the bar
# at 9%; a favourite at 20% sets it at 2%, letting many more tokens through.

# %%
def min_p(logits: torch.Tensor, threshold: float) -> torch.Tensor:
    """logits (B, V) -> (B, V), removing tokens less likely than threshold x each row's top probability."""
    probs = logits.softmax(dim=-1)  # (B, V)
    too_unlikely = probs < threshold * probs.amax(dim=-1, keepdim=True)
    return logits.masked_fill(too_unlikely, float("-inf"))


for name, p in positions.items():
    print(f"min-p 0.1, {name:>6} position: keeps {(min_p(p.log()[None], 0.1) > -torch.inf).sum().item()}")

# %%
# Check: ours = course_lib's min_p_filter = Hugging Face's MinPLogitsWarper; min-p 0 keeps everything.
for threshold in (0.0, 0.05, 0.1, 0.5):
    ours = min_p(rows, threshold)
    torch.testing.assert_close(ours, decoding.min_p_filter(rows, threshold))
    if threshold > 0:  # Hugging Face asks for min_p > 0
        torch.testing.assert_close(ours, MinPLogitsWarper(min_p=threshold)(prompt_ids, rows.clone()))
assert torch.equal(decoding.min_p_filter(batch, 0.0), batch)
kept_by_min_p = {name: (min_p(p.log()[None], 0.1) > -torch.inf).sum().item() for name, p in positions.items()}
assert kept_by_min_p["peaked"] == 1 and kept_by_min_p["flat"] > 5
print("Min-p: ours = course_lib = Hugging Face; min-p 0 keeps all 103; it adapts:", kept_by_min_p)

# %% [markdown]
# (Our three-line `min_p` can never remove the favourite: its probability is always ≥ threshold × itself.
# course_lib and Hugging Face also guard against rounding with an explicit "keep at least one token".)
#
# ## 8. The repetition penalty
#
# Sampling escapes loops by chance. A more direct fix (Keskar et al., 2019, for the CTRL model) lowers the
# logit of every token that **already occurs** in the text, so the model is nudged towards something new.
# Hugging Face's rule, with a penalty > 1:
#
# - a seen token with a **positive** logit is **divided** by the penalty (it moves towards 0);
# - a seen token with a **negative** logit is **multiplied** by it (it moves further below 0);
# - each seen token is penalised **once**, however often it occurred; unseen tokens are untouched.
#
# Both moves lower the logit. Dividing a negative logit would *raise* it, the classic mistake.
#
# ### Exercise 2: the repetition penalty
#
# Write `repetition_penalty(logits, previous_ids, penalty)`: `logits` is (V,), `previous_ids` (T,) the
# token ids generated so far. Return new logits (V,) and leave the input unchanged.

# %%
def repetition_penalty(logits: torch.Tensor, previous_ids: torch.Tensor, penalty: float) -> torch.Tensor:
    """logits (V,), previous_ids (T,) -> logits (V,) with every token in previous_ids penalised once."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.sampling import check_repetition_penalty

check_repetition_penalty(repetition_penalty)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def repetition_penalty(logits, previous_ids, penalty):
#     seen = logits[previous_ids]  # a token that occurs twice is read twice, but written the same value
#     penalised = torch.where(seen < 0, seen * penalty, seen / penalty)
#     out = logits.clone()
#     out[previous_ids] = penalised
#     return out
# ```
# </details>

# %%
# Check: course_lib's apply_repetition_penalty = Hugging Face's RepetitionPenaltyLogitsProcessor on the
# model's logits, with the greedy text as the context.
context = greedy_ids  # (1, T) everything written so far
for penalty in (1.2, 1.5, 0.8):
    ours = decoding.apply_repetition_penalty(batch, context, penalty)
    torch.testing.assert_close(ours, RepetitionPenaltyLogitsProcessor(penalty)(context, batch.clone()))
seen = torch.zeros(103, dtype=torch.bool).index_fill(0, context[0], True)
penalised = decoding.apply_repetition_penalty(batch, context, 1.5)  # (1, V)
assert (penalised[0, seen] < batch[0, seen]).all() and torch.equal(penalised[0, ~seen], batch[0, ~seen])
print(f"Penalty: course_lib = Hugging Face; all {seen.sum().item()} seen characters lose, the others stay.")

# %% [markdown]
# Now the fix. The same greedy decoding, with a penalty of 1.3; and plain sampling (temperature 0.8,
# top-p 0.9) for comparison:

# %%
fixes = {
    "greedy": greedy_ids,
    "greedy + penalty 1.3": decoding.generate(
        model, prompt_ids, N_LONG, strategy="greedy", repetition_penalty=1.3
    ),
    "sample T=0.8, top-p 0.9": decoding.generate(
        model, prompt_ids, N_LONG, temperature=0.8, top_p=0.9, seed=0
    ),
}
diversity = {}
for name, ids in fixes.items():
    text = tokenizer.decode(ids[0, len(PROMPT) :])
    diversity[name] = distinct([text], 4)
    print(f"{name:<24} distinct-4 {diversity[name]:.2f}  {text!r}")

# %%
# Check: both fixes leave the loop: much more varied text than greedy's.
assert diversity["greedy + penalty 1.3"] > diversity["greedy"] + 0.2
assert diversity["sample T=0.8, top-p 0.9"] > diversity["greedy"] + 0.2
print("The penalty and sampling both break greedy's loop.")

# %% [markdown]
# The penalty is a blunt tool for a character model: every character already written is penalised in
# every word that follows, so ordinary letters get pushed down too. The stronger the penalty, the less
# likely the model finds its own text:

# %%
# Check: greedy's log-likelihood per character (40 characters) falls as the penalty grows.
from course_lib.widgets.sampling_playground import sample_continuations

per_char = {}
for penalty in (1.0, 1.3, 2.0):
    drawn = sample_continuations(model, tokenizer, PROMPT, n=1, strategy="greedy", repetition_penalty=penalty)
    per_char[penalty] = round(drawn.log_likelihood.item() / 40, 2)
assert per_char[1.0] > per_char[1.3] > per_char[2.0]
print("log-likelihood per character by penalty:", per_char)

# %% [markdown]
# So keep it mild: 1.1 to 1.3 is the usual range. For word or sub-word models it is more selective.
#
# ## 9. All together, in Hugging Face's order
#
# Real decoders chain the filters. Hugging Face applies them in a fixed order: repetition penalty, then
# temperature, then top-k, top-p, min-p, then softmax and draw. Our pieces, chained in that order, give
# course_lib's `next_token_distribution` and Hugging Face's `LogitsProcessorList`:

# %%
settings = {"penalty": 1.2, "temperature": 0.7, "k": 20, "p": 0.9, "min_p": 0.05}
ours = decoding.apply_repetition_penalty(batch, prompt_ids, settings["penalty"])  # (1, V)
ours = with_temperature(ours, settings["temperature"])
ours = top_k(ours, settings["k"])
ours = decoding.top_p_filter(ours, settings["p"])  # your top_p works on probabilities; this one on logits
ours = min_p(ours, settings["min_p"]).softmax(dim=-1)  # (1, V)
processors = LogitsProcessorList(
    [
        RepetitionPenaltyLogitsProcessor(settings["penalty"]),
        TemperatureLogitsWarper(settings["temperature"]),
        TopKLogitsWarper(settings["k"]),
        TopPLogitsWarper(settings["p"]),
        MinPLogitsWarper(settings["min_p"]),
    ]
)
print(f"{(ours > 0).sum().item()} characters left after all five steps")

# %%
# Check: the chain = course_lib's next_token_distribution = Hugging Face's LogitsProcessorList.
course = decoding.next_token_distribution(
    batch, temperature=0.7, top_k=20, top_p=0.9, min_p=0.05, repetition_penalty=1.2, previous_ids=prompt_ids
)
torch.testing.assert_close(ours, course)
torch.testing.assert_close(ours, processors(prompt_ids, batch.clone()).softmax(dim=-1))
print("Chained filters: ours = course_lib = Hugging Face.")

# %% [markdown]
# ## 10. Quality against diversity
#
# Every knob above trades two things. **Quality**: how likely the model itself finds the text (its
# log-likelihood, the sum of the log-probabilities of the chosen tokens under the unfiltered model: close
# to 0 is "very typical text"). **Diversity**: how different the texts are from each other and within
# themselves (distinct-2 over a batch). The log-likelihood of a continuation, from scratch:

# %%
def log_likelihood(ids: torch.Tensor, prompt_length: int) -> torch.Tensor:
    """ids (B, T) -> (B,) the sum of log p(token | everything before it) over the tokens after the prompt."""
    with torch.no_grad():
        log_probs = model(ids).logits.log_softmax(dim=-1)  # (B, T, V); position t predicts token t + 1
    picked = log_probs[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1)  # (B, T - 1)
    return picked[:, prompt_length - 1 :].sum(dim=-1)


print(f"greedy: log-likelihood {log_likelihood(greedy_50, len(PROMPT)).item():.1f} over {N_NEW} characters")

# %%
# Check: equal to course_lib's continuation_log_likelihood (used by the playground below).
from course_lib.widgets.sampling_playground import continuation_log_likelihood

from_scratch = log_likelihood(sampled, len(PROMPT))  # (3,)
torch.testing.assert_close(from_scratch, continuation_log_likelihood(model, sampled, len(PROMPT)))
print("From-scratch log-likelihood = course_lib's.")

# %% [markdown]
# Now 32 continuations of 40 characters for each of several settings. Each setting gives one dot:

# %%
sweep = {f"T={t}": {"temperature": t} for t in (0.5, 0.8, 1.0, 1.3)}
sweep |= {"T=1, top-p 0.8": {"top_p": 0.8}, "T=1, min-p 0.1": {"min_p": 0.1}}
sweep["greedy"] = {"strategy": "greedy"}
points = {}
for name, options in sweep.items():
    drawn = sample_continuations(model, tokenizer, PROMPT, n=32, seed=0, **options)
    points[name] = (drawn.log_likelihood.mean().item() / 40, distinct_n(drawn.texts, 2))
    print(f"{name:<15} log-likelihood per character {points[name][0]:6.2f}  distinct-2 {points[name][1]:.2f}")

# %%
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
left = {"T=0.8", "T=1, top-p 0.8"}  # these labels go left of their dot, so that none overlap
below = {"T=1, top-p 0.8", "T=0.5"}
for name, (quality, variety) in points.items():
    ax.scatter(quality, variety, color="#d62728" if name == "greedy" else viz.KEPT_COLOR)
    offset = (-6 if name in left else 6, -12 if name in below else 5)
    ha = "right" if name in left else "left"
    ax.annotate(name, (quality, variety), textcoords="offset points", xytext=offset, ha=ha, fontsize=9)
ax.set(xlabel="quality: mean log-likelihood per character", ylabel="diversity: distinct-2 of 32 texts")
ax.set_title("Each setting trades quality for diversity")
ax.margins(x=0.15, y=0.12)
plt.show()

# %%
# Check: raising the temperature raises diversity and lowers quality at every step; truncation (top-p,
# min-p) buys quality back compared with plain T = 1; greedy is the most "likely" and the least diverse.
temperatures = [points[f"T={t}"] for t in (0.5, 0.8, 1.0, 1.3)]
pairs = itertools.pairwise(temperatures)  # (colder, warmer) neighbours
assert all(colder[0] > warmer[0] and colder[1] < warmer[1] for colder, warmer in pairs)
assert points["T=1, top-p 0.8"][0] > points["T=1.0"][0] and points["T=1, min-p 0.1"][0] > points["T=1.0"][0]
assert points["greedy"][1] == min(v for _, v in points.values())
print("The trade-off holds: more randomness, more diversity, less likely text.")

# %% [markdown]
# ## 11. The sampling playground
#
# Now try every knob at once. Type a prompt (then Enter), pick a strategy and move the sliders. The bars
# show the next character's **full distribution** (grey), which characters **survive truncation** (struck
# through: removed) and their **renormalised** probabilities (blue). Below are four continuations drawn
# with your settings and their log-likelihoods. **"sample many"** draws 32 continuations (slower than a
# slider: it prints how long it took) and adds a dot to a quality/diversity picture like the one above.
# Try:
#
# - temperature 0, then top-k 1: why are all four continuations identical?
# - strategy "greedy", then raise the repetition penalty until the loop breaks;
# - "sample many" at temperature 0.5, 1.0 and 1.5, then at 1.5 with top-p 0.8: where does each dot land?
# - the prompt `The functio`: how many characters does top-p 0.9 keep there?

# %% tags=["nbval-ignore-output"]
# A live widget: its view is drawn by your browser, so the tests check it in a real browser instead.
from course_lib.widgets import SamplingPlayground

playground = SamplingPlayground(model, tokenizer, temperature=0.8, top_p=0.9)
playground

# %% [markdown]
# Without a running kernel the widget cannot react; here is one state of it as a picture (top-k 10 at
# temperature 1.2, after pressing "sample many" once):

# %%
picture = SamplingPlayground(model, tokenizer, temperature=1.2, top_k=10)
picture.sample_many.click()
picture.static_figure()

# %%
# Check: the playground shows the same distribution as next_token_distribution, and its edge cases behave.
expected = decoding.next_token_distribution(batch, temperature=1.2, top_k=10)  # (1, V)
torch.testing.assert_close(picture.probs[None], expected)
assert picture.kept == 10 and len(picture.points) == 1
picture.temperature.value = 0.0
assert picture.kept == 1 and len(set(picture.continuations.texts)) == 1
picture.temperature.value, picture.top_k.value, picture.top_p.value, picture.min_p.value = 1.0, 0, 1.0, 0.0
assert picture.kept == 103
print("Playground: T=0 -> 1 character and identical texts; every filter off -> all 103 characters.")

# %% [markdown]
# ## 12. Beam search
#
# Greedy decoding is *myopic*: it commits to the best next token even when a slightly worse one leads to
# a more likely text overall.
# **Beam search** keeps the `num_beams` best partial texts instead of one. At every step it extends each
# beam by every token, scores each extension by its **cumulative log-probability** (the sum of its tokens'
# log-probabilities), and keeps the best `num_beams` of them all. From scratch:

# %%
def beam(ids: torch.Tensor, n_new: int, num_beams: int) -> list[tuple[torch.Tensor, float]]:
    """ids (1, T) -> the num_beams best (sequence (T + n_new,), log-probability) pairs, best first."""
    beams = [(ids[0], 0.0)]
    for _ in range(n_new):
        candidates = []
        for seq, score in beams:
            with torch.no_grad():
                log_probs = model(seq[None]).logits[0, -1].log_softmax(dim=-1)  # (V,)
            best = log_probs.topk(num_beams)  # only these can make the overall top num_beams
            for log_p, token in zip(best.values.tolist(), best.indices.tolist(), strict=True):
                candidates.append((torch.cat([seq, torch.tensor([token])]), score + log_p))
        beams = sorted(candidates, key=lambda candidate: candidate[1], reverse=True)[:num_beams]
    return beams


beams = beam(prompt_ids, 12, num_beams=3)
for seq, score in beams:
    print(f"{score:7.2f}  {tokenizer.decode(seq)!r}")
greedy_12 = greedy_ids[:, : len(PROMPT) + 12]  # greedy's first 12 characters, for comparison
greedy_score = log_likelihood(greedy_12, len(PROMPT)).item()
print(f"{greedy_score:7.2f}  {tokenizer.decode(greedy_12[0])!r}  (greedy)")

# %%
# Check: the same beams and scores as course_lib's beam_search (no end token, no length penalty), and
# the best beam is more likely than greedy's text although it took a less likely character on the way.
assert beams[0][1] > greedy_score and not torch.equal(beams[0][0], greedy_12[0])
result = decoding.beam_search(model, prompt_ids, 12, num_beams=3, length_penalty=0.0)
assert torch.equal(result.sequence[0], beams[0][0])
for (seq, score), hypothesis in zip(beams, result.finished, strict=True):
    assert torch.equal(seq, hypothesis.tokens) and abs(score - hypothesis.log_prob) < 1e-4
print("From-scratch beam search = decoding.beam_search.")

# %% [markdown]
# ### Reading the beam tree, and the length penalty
#
# Let the beams stop at a space: `eos_id` is the space character, so each beam is a guess at the **next
# word** and finishes when the word ends. Short words finish with a higher (less negative) sum, since
# every extra character adds a negative log-probability, so raw sums favour short words. The **length
# penalty** divides the sum by `length ** length_penalty`: 0 keeps the raw sum, 1 compares the average
# per character. Same search, same tree; only the ranking of the finished beams changes:

# %%
space = tokenizer.stoi[" "]
by_penalty = {
    lp: decoding.beam_search(model, prompt_ids, 10, num_beams=4, length_penalty=lp, eos_id=space)
    for lp in (0.0, 1.0)
}
for lp, res in by_penalty.items():
    ranked = [
        (tokenizer.decode(h.tokens[len(PROMPT) :]), round(h.log_prob, 2), round(h.score, 2))
        for h in res.finished
    ]
    print(f"length_penalty {lp}: (word, log-prob, score) best first: {ranked}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")
for ax, (lp, res) in zip(axes, by_penalty.items(), strict=True):
    best_word = tokenizer.decode(res.sequence[0, len(PROMPT) :])
    viz.plot_beam_tree(
        res.trace,
        tokenizer.chars,
        best=res.sequence[0, len(PROMPT) :],
        prompt="function ",  # the prompt's end: the box has room for a few characters
        ax=ax,
        title=f"length_penalty = {lp}: best = {best_word!r} (bold path)",
    )
plt.show()

# %% [markdown]
# In the tree, every box is a beam kept at that step with its cumulative log-probability; green boxes
# ended with a space (a finished word), grey boxes were dropped at the next step because four better
# extensions existed. With the raw sum the shortest word wins; averaged per character, a longer one does
# (the check below names both).

# %%
# Check: the trees are identical; the raw sum picks the shortest word, the per-character average a longer one.
raw, average = (tokenizer.decode(r.sequence[0, len(PROMPT) :]) for r in by_penalty.values())
assert [[(n.parent, n.token) for n in step] for step in by_penalty[0.0].trace] == [
    [(n.parent, n.token) for n in step] for step in by_penalty[1.0].trace
]
assert len(raw) == min(len(tokenizer.decode(h.tokens[len(PROMPT) :])) for h in by_penalty[0.0].finished)
assert len(average) > len(raw)
print(f"length_penalty 0 -> {raw!r}, length_penalty 1 -> {average!r}")

# %% [markdown]
# Beam search suits tasks with one right answer (translation, summarisation, notebook 05's
# encoder-decoder tasks): it finds *likely* text. For open-ended writing, likely text is exactly the
# dull, looping text of section 3, which is why chat models sample.
#
# ## Summary
#
# - A model gives next-token **probabilities**; a **decoding strategy** picks the token. Same model,
#   different strategy, very different text.
# - **Greedy** takes the argmax: repeatable, but it falls into **loops** it cannot leave.
# - **Sampling** draws from the distribution; **temperature** sharpens (T < 1) or flattens (T > 1) it,
#   and T = 0 is greedy again.
# - **Truncation** removes the unreliable tail before drawing: **top-k** keeps a fixed count, **top-p**
#   a fixed mass (the nucleus, crossing token included), **min-p** everything within a factor of the
#   favourite. Top-p and min-p adapt to the model's confidence; top-k 1 is greedy, top-p 1 and min-p 0
#   are off.
# - The **repetition penalty** divides positive and multiplies negative logits of seen tokens, once each.
# - More randomness buys **diversity** (distinct-n) and costs **likelihood**; truncation buys some back.
# - **Beam search** keeps several candidates and ranks finished ones by log-probability, divided by
#   `length ** length_penalty`.
# - course_lib's filters are Hugging Face's logits processors, checked value for value.
#
# **Next:** notebook 07, *Beyond text*, uses the same next-token machinery to generate images, music
# and video.
