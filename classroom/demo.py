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
# # Week 7 live: transformers that generate
#
# Six live views of this week's small models, for the projector (`make demo`). Every picture is computed
# on this laptop, offline, the moment a control moves. Each section names the notebook that explains it.

# %%
# Classroom setup (Voilà hides this code). The same models and settings as notebooks 01, 04, 06 and 07:
# the shipped character GPT, the digit generators and their judge, and one measured attention timing.
import torch

from course_lib import attention_cost, images
from course_lib.checkpoints import load_checkpoint
from course_lib.data import DATA_DIR
from course_lib.widgets import (
    AttentionCostExplorer,
    AttentionExplorer,
    BeamTreeExplorer,
    ImageGenerationWidget,
    SamplingPlayground,
    StepThroughGenerator,
)

torch.manual_seed(0)
torch.set_num_threads(1)  # tiny models run as fast on one thread, and the laptop stays responsive
checkpoint = load_checkpoint(DATA_DIR / "checkpoints" / "char_gpt_python_docs")
model, tokenizer = checkpoint.model.eval(), checkpoint.tokenizer
judge = images.train_judge(images.load_digit_images())
raster, maskgit = images.load_shipped_models()
GRID = 32  # a 32 x 32 board: 1,024 tokens, one head of 64, one thread
seconds_per_pair = attention_cost.time_attention("full", grid=GRID, repeats=3) / (GRID * GRID) ** 2

# %% [markdown]
# ## 1 · Attention: where each character looks
#
# Pick a layer, a head and a query position: the text lights up where that character looks back.
# Future characters stay grey, because a GPT only sees the past. *(Notebook 01.)*

# %%
AttentionExplorer(model, tokenizer, layer=1, head=2, query=27)

# %% [markdown]
# ## 2 · Generation, one token at a time
#
# Press **next token**: the model scores every character, greedy decoding takes the tallest bar, and the
# text grows by one. The colours show what the newest character attended to. *(Notebook 04.)*

# %%
StepThroughGenerator(model, tokenizer, prompt="The for statement ", steps=4, layer=1, head=2)

# %% [markdown]
# ## 3 · Sampling: temperature, top-k, top-p
#
# The same model, many possible texts. Heat it up and the odd characters get a chance; cut the tail
# with top-k or top-p and they are struck out. *(Notebook 06.)*

# %%
SamplingPlayground(model, tokenizer, temperature=0.8, top_p=0.9)

# %% [markdown]
# ## 4 · Beam search: keep several guesses
#
# Instead of one greedy path, keep the best few partial words at every step. Each box shows a character
# and its running log-probability; the length penalty decides whether short or long words win.
# *(Notebook 06.)*

# %%
BeamTreeExplorer(model, tokenizer, prompt="The function ", num_beams=4)

# %% [markdown]
# ## 5 · MaskGIT: drawing a digit in parallel rounds
#
# A raster model paints 64 pixels one by one; MaskGIT fills the whole canvas in K rounds, keeping its most
# confident guesses each time. Replay it with **step**, then **sample 20**: a judge labels each drawing.
# *(Notebook 07.)*

# %%
ImageGenerationWidget(raster, maskgit, judge, digit=4, method="maskgit", steps=8)

# %% [markdown]
# ## 6 · The cost of attention: images and video
#
# Full attention compares every token with every other, so memory grows with the square of the tokens.
# Add frames and watch a video outgrow this laptop; windowed and axial attention keep it in reach.
# *(Notebook 07.)*

# %%
AttentionCostExplorer(side=256, patch=16, frames=8, seconds_per_pair=seconds_per_pair)
