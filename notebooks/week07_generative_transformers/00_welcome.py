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
# # Week 7 · 00 — Welcome and environment check
#
# **Transformers for Generative Tasks.** This week you build, piece by piece, the machinery behind
# text generators such as GPT, T5 and BART, and then look at how the same ideas generate images and audio.
#
# **Time:** about 15 minutes.
#
# **By the end of this notebook you will be able to**
# 1. say in one sentence what a transformer is and why it suits generation;
# 2. find your way around the week: the order of the notebooks, the widgets, the exercises and the
#    discussion prompts;
# 3. confirm that your laptop is ready (no GPU and no internet connection needed);
# 4. turn a model's scores (logits) into next-token probabilities at a chosen temperature.

# %% [markdown]
# ## How to use this course
#
# - **Run the cells in order**, top to bottom (`Shift+Enter`, or *Run ▸ Run All Cells*). Later cells use
#   what earlier cells computed, and later notebooks use what earlier notebooks built.
# - **Each idea is built twice.** First from scratch, in a few lines you can read; then the notebook imports
#   the finished, tested version from `course_lib` (the course's small library) and checks that both agree.
# - **Check cells** start with `# Check:`. They assert what the text claims ("matches PyTorch",
#   "sums to 1"), so a claim that stops being true stops the notebook.
# - **Widgets** (sliders, text boxes) let you move a setting and see the effect at once.
# - **Exercises** end with a self-check that tells you *what* is wrong, not just that something is.
# - **Discussion prompts** come at the end of the week; your answers are saved to a file as you type.
#
# Stuck? Every error the course library raises says which argument was wrong and what to do.

# %% [markdown]
# ## The week at a glance
#
# A **transformer** is a neural network built from *self-attention*: every position of a sequence looks at
# every other position and decides, with learned weights, how much of each to use. Vaswani et al. introduced
# it in 2017 ("Attention Is All You Need") for translation. Unlike a recurrent network it reads a whole
# sequence at once, so training runs in parallel on modern hardware, and any two positions are one step
# apart, so long-range dependencies are easy to learn.
#
# For **generation** those properties matter because generators are trained on huge amounts of data
# (parallel training makes that affordable), must keep track of context written long ago, and grow better
# with size. Once text, pixels or sound are cut into *tokens*, the same architecture models all of them.
#
# | Notebook | Topic | Time |
# |---|---|---|
# | 00 | Welcome and environment check (this one) | 15 min |
# | 01 | Self-attention | 40 min |
# | 02 | Positional encoding | 30 min |
# | 03 | Blocks and the three families (encoder-only, decoder-only, encoder-decoder) | 40 min |
# | 04 | Decoder-only: a GPT from tokens to text | 45 min |
# | 05 | Encoder-decoder vs decoder-only | 40 min |
# | 06 | Sampling strategies | 35 min |
# | 07 | Beyond text: images, audio, video | 35 min |
# | 08 | Real models, offline | 30 min |
# | 09 | Discussion and summary | 30 min |
#
# Your instructor releases the notebooks through the week; each one opens with its objectives and time.

# %% [markdown]
# ## 1. Is your environment ready?
#
# The next cell checks Python, PyTorch (the small CPU build), the widget and plotting libraries, and the
# course data. Every line should start with `[OK ]`. A `[FIX]` line says what to do.

# %% tags=["nbval-ignore-output"]
# Versions differ from machine to machine, so this cell's text is not compared by the tests.
from course_lib.env import print_report, run_checks

checks = run_checks()
print_report(checks)

# %%
# Check: every environment check passed.
failed = [check.name for check in checks if not check.ok]
assert not failed, f"Fix these first (see the report above): {failed}"
print(f"{len(checks)} of {len(checks)} checks passed.")

# %% [markdown]
# ## 2. Do widgets show up?
#
# Generation ends with a choice: the model gives a score (a *logit*) to every possible next character, and
# we turn the scores into probabilities. The **temperature** decides how sharp those probabilities are.
# Below you should see a **slider** and **coloured bars**. Drag the slider (or click it and use the arrow
# keys): low temperatures put nearly everything on `e`, high ones spread the bets.
#
# If you see plain text such as `TemperaturePreview(...)`, or *Error displaying widget*, widgets are not
# rendering: close this tab, run `make lab` in the course folder and open the notebook from there.
# A red *broken link* icon beside a widget means you are looking at a saved picture of it (the notebook
# was reopened without running it): run the cell again to bring the widget back to life.

# %% tags=["nbval-ignore-output"]
# A live widget: its view is drawn by your browser, so the tests check it in a real browser instead.
from course_lib.widgets import TemperaturePreview

preview = TemperaturePreview(temperature=1.0)
preview

# %% [markdown]
# The bars are `softmax(logits / temperature)`. Here is the same computation in code, at three temperatures
# (the logits are the widget's: made-up scores for the characters that might follow "th").

# %%
import torch

logits = TemperaturePreview.LOGITS
for temperature in (0.25, 1.0, 3.0):
    probs = torch.softmax(logits / temperature, dim=-1)
    print(f"T={temperature:<4}  P('e')={probs[0]:.3f}  P(' ')={probs[-1]:.3f}")

# %%
# Check: lower temperature puts more probability on the most likely character, and every row sums to 1.
sharp, neutral, flat = (torch.softmax(logits / t, dim=-1) for t in (0.25, 1.0, 3.0))
assert sharp[0] > neutral[0] > flat[0] and sharp[0] > 0.95
assert all(torch.isclose(p.sum(), torch.tensor(1.0)) for p in (sharp, neutral, flat))
print("Lower temperature sharpens; higher temperature flattens.")

# %% [markdown]
# ## 3. Exercise: softmax with temperature
#
# Write `temperature_softmax(logits, temperature)` **without** calling `torch.softmax`: divide the logits by
# the temperature, exponentiate, and normalise so the result sums to 1. Make it safe for large logits
# (`exp(1000)` overflows). Then run the self-check below it.
#
# <details><summary>Hint</summary>
#
# Subtracting the same number from every logit does not change the softmax, so subtract the largest one
# before `torch.exp`.
# </details>

# %%
def temperature_softmax(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """logits (V,) -> probabilities (V,) = softmax(logits / temperature)."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.welcome import check_temperature_softmax

check_temperature_softmax(temperature_softmax)

# %% [markdown]
# ## Summary
#
# - A transformer relates every position of a sequence to every other through self-attention, which makes
#   training parallel and long-range context cheap: the reasons it became the backbone of generative AI.
# - Generators produce one token at a time; the temperature reshapes the next-token probabilities
#   (`softmax(logits / T)`): low T is cautious and repetitive, high T is varied and error-prone.
# - Your environment is ready: the course runs on the CPU, offline, with the data it ships.
#
# **Next:** `01_self_attention.ipynb` builds self-attention from a single dot product.
