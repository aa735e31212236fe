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
# # Week 7 · 02 — Positional encoding
#
# Self-attention compares every token with every other, but nothing in that comparison says *where* a
# token sits. This notebook shows the problem, then three ways to fix it.
#
# **Time:** about 30 minutes.
#
# **By the end of this notebook you will be able to**
# 1. show that self-attention without positions is blind to word order (and say where a causal mask
#    changes that);
# 2. build the sinusoidal table of the original Transformer and explain why its dot products depend only
#    on distance;
# 3. say what learned position embeddings are and where they stop;
# 4. rotate queries and keys with rotary embeddings (RoPE) and show that scores then depend only on the
#    offset between two tokens;
# 5. measure, on a tiny model, what positions are worth on a task that needs order and on one that does not.

# %% [markdown]
# ## 1. The problem: attention treats a sequence as a bag
#
# Here is single-head self-attention from notebook 01, on 5 random token vectors. We shuffle the tokens
# and run it again.

# %%
import torch

torch.manual_seed(0)
T, C = 5, 8
x = torch.randn(T, C)  # (T, C): 5 token vectors
W_q, W_k, W_v = (torch.randn(C, C) / C**0.5 for _ in range(3))


def self_attention(x: torch.Tensor) -> torch.Tensor:
    """x (T, C) -> (T, C): every token mixes the values of all tokens, weighted by softmax(q . k)."""
    q, k, v = x @ W_q, x @ W_k, x @ W_v
    weights = torch.softmax(q @ k.T / C**0.5, dim=-1)  # (T, T)
    return weights @ v


shuffle = torch.tensor([3, 0, 4, 1, 2])
print("shuffle:", shuffle.tolist())

# %%
# Check: shuffling the input shuffles the output the same way (permutation equivariance).
out, out_shuffled = self_attention(x), self_attention(x[shuffle])
assert torch.allclose(out_shuffled, out[shuffle], atol=1e-6)
print("attention(shuffled tokens) == shuffled attention(tokens): the order carried no information.")

# %% [markdown]
# Every token gets exactly the output it had before, just in a new place. So for a *bidirectional*
# encoder, "dog bites man" and "man bites dog" are the same bag of words. The course's encoder model with
# `positional="none"` behaves the same way, through every layer:

# %%
# Check: course_lib's encoder without positions is permutation-equivariant too.
from course_lib.configs import DecoderOnlyConfig, EncoderOnlyConfig
from course_lib.models import DecoderOnlyLM, EncoderOnlyLM

torch.manual_seed(0)
sizes = dict(vocab_size=10, block_size=8, n_layer=2, n_head=2, n_embd=16)
encoder = EncoderOnlyLM(EncoderOnlyConfig(**sizes, positional="none")).eval()
tokens = torch.tensor([[1, 2, 3, 4, 5]])  # (B, T)
with torch.no_grad():
    logits, logits_shuffled = encoder(tokens).logits, encoder(tokens[:, shuffle]).logits
assert torch.allclose(logits_shuffled, logits[:, shuffle], atol=1e-5)
print("EncoderOnlyLM(positional='none'): same equivariance after 2 layers.")

# %% [markdown]
# A **causal decoder** (GPT) is different: position t only sees tokens 0..t. The first token sees only
# itself, the second sees two tokens, and so on, so the *mask* leaks some order in. With two layers, the
# last position of "a b" and of "b a" already reach different outputs, even without any position
# information. (Models trained like this, "NoPE", do learn some order this way; but an encoder has no mask
# to lean on.)

# %%
# Check: without positions, an encoder cannot tell "a b" from "b a"; a 2-layer causal decoder can.
torch.manual_seed(0)
decoder = DecoderOnlyLM(DecoderOnlyConfig(**sizes, positional="none")).eval()
ab, ba = torch.tensor([[1, 2]]), torch.tensor([[2, 1]])
with torch.no_grad():
    encoder_same = torch.allclose(encoder(ab).logits[0, 0], encoder(ba).logits[0, 1], atol=1e-5)
    decoder_same = torch.allclose(decoder(ab).logits[0, -1], decoder(ba).logits[0, -1], atol=1e-5)
assert encoder_same and not decoder_same
print("encoder: token 'a' gets the same output in 'a b' and 'b a'; decoder: the last outputs differ.")

# %% [markdown]
# ## 2. Sinusoidal positions: a fixed wave for every position
#
# The original Transformer (Vaswani et al., 2017) adds a vector $P_{pos}$ to each token embedding. Its
# channels come in pairs; pair $i$ is a sine and a cosine of the same angle, and each pair turns at its
# own speed:
#
# $$P_{pos,\,2i} = \sin\left(\frac{pos}{10000^{2i/C}}\right), \qquad
#   P_{pos,\,2i+1} = \cos\left(\frac{pos}{10000^{2i/C}}\right).$$
#
# The first pairs turn fast (they tell neighbours apart); the last ones turn very slowly (they tell the
# start of a long text from its end). Here is one position's vector, written with a plain loop:

# %%
import math


def sinusoidal_vector(pos: int, n_embd: int) -> torch.Tensor:
    """The sinusoidal vector (C,) of one position."""
    vector = torch.zeros(n_embd)
    for i in range(n_embd // 2):
        angle = pos / 10000 ** (2 * i / n_embd)
        vector[2 * i] = math.sin(angle)
        vector[2 * i + 1] = math.cos(angle)
    return vector


print([round(v, 3) for v in sinusoidal_vector(3, 8).tolist()])

# %%
# Check: stacking the vectors of positions 0..63 gives course_lib's sinusoidal_table.
from course_lib.positional import sinusoidal_table

n_positions, n_embd = 64, 64
ours = torch.stack([sinusoidal_vector(pos, n_embd) for pos in range(n_positions)])  # (T, C)
assert torch.allclose(ours, sinusoidal_table(n_positions, n_embd), atol=1e-5)
print(f"sinusoidal_vector matches sinusoidal_table({n_positions}, {n_embd}) row by row.")

# %% [markdown]
# The whole table as a picture: row = position, column = dimension. Fast stripes on the left, slow ones
# on the right.

# %%
from course_lib.viz import plot_positional_encoding

table = sinusoidal_table(n_positions, n_embd)  # (T, C)
plot_positional_encoding(table, title="sinusoidal positions (64 positions x 64 dimensions)")

# %% [markdown]
# **Why sines and cosines?** For one pair, $\sin a \sin b + \cos a \cos b = \cos(a - b)$. So the dot
# product of two position vectors is a sum of cosines of *differences* of angles: it depends only on how
# far apart the positions are, not on where they are.

# %%
# Check: P[m] . P[n] depends only on the distance n - m (and is largest at distance 0).
dots = table @ table.T  # (T, T): dots[m, n] = P[m] . P[n]
for distance in range(n_positions):
    along_diagonal = dots.diagonal(distance)  # every (m, m + distance)
    assert torch.allclose(along_diagonal, along_diagonal[0].expand_as(along_diagonal), atol=1e-3)
by_distance = dots[0]  # (T,): P[0] . P[distance]
assert by_distance[0] == by_distance.max() and (by_distance[1:] < by_distance[0] - 1).all()
print(f"P[m] . P[m + d] is the same for every m; {by_distance[0]:.0f} at d = 0, below that elsewhere.")

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 2.6), layout="constrained")
ax.plot(by_distance.numpy(), marker=".")
ax.set(xlabel="distance n - m", ylabel="P[m] . P[n]", title="sinusoidal: similarity against distance")
plt.show()

# %% [markdown]
# ## 3. Learned positions: one trained vector per position
#
# GPT-2 and BERT skip the formula: position p gets its own row of a trainable table
# (`nn.Embedding(block_size, C)`), added to the token embedding, and gradient descent decides what the
# rows hold. Flexible, but there is **no row for position `block_size`**: the model cannot even read a
# longer text, let alone generalise to one.

# %%
# Check: LearnedPositions adds row t of its table to position t, and has no rows past block_size.
from course_lib.positional import LearnedPositions
from course_lib.validation import CourseInputError

torch.manual_seed(0)
learned = LearnedPositions(block_size=16, n_embd=8)
x = torch.randn(1, 16, 8)  # (B, T, C)
assert torch.equal(learned(x), x + learned.embedding.weight[:16])
try:
    learned(torch.randn(1, 17, 8))
except CourseInputError as error:
    print("17 positions:", error)
else:
    raise AssertionError("a 17th position should have been refused")

# %% [markdown]
# ## 4. Rotary positions (RoPE): turn queries and keys, add nothing
#
# LLaMA, Mistral and most recent models use **rotary embeddings** (Su et al., 2021). Nothing is added to
# the token embeddings. Instead, inside attention, each query and key of head size D is cut into D/2 pairs
# of channels, and the pair at position p is *rotated* by the angle $p\,\theta_i$, with
# $\theta_i = 10000^{-2i/D}$ (the sinusoidal frequencies again). `course_lib` pairs channel i with
# channel i + D/2. Rotating (x1, x2) by an angle a gives (x1 cos a − x2 sin a, x1 sin a + x2 cos a):

# %%
def rope_rotate(x: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotate x (T, D), sitting at positions 0..T-1: pair (i, i + D/2) turns by position * theta_i."""
    T, D = x.shape
    half = D // 2
    theta = base ** (-2 * torch.arange(half) / D)  # (D/2,)
    angle = torch.arange(T)[:, None] * theta  # (T, D/2)
    x1, x2 = x[:, :half], x[:, half:]  # the two channels of every pair
    cos, sin = angle.cos(), angle.sin()
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)  # (T, D)


# %%
# Check: rope_rotate matches course_lib's RotaryEmbedding.
from course_lib.positional import RotaryEmbedding

torch.manual_seed(0)
T, D = 12, 16
x = torch.randn(T, D)
rotary = RotaryEmbedding(head_dim=D, block_size=T)
assert torch.allclose(rope_rotate(x), rotary(x[None, None])[0, 0], atol=1e-5)  # as (B, H, T, D)
print("rope_rotate == RotaryEmbedding.forward")

# %% [markdown]
# **Why rotate?** Turning q by angle a and k by angle b changes their dot product only through b − a:
# the score of a query at position m against a key at position n depends on the offset n − m, not on m
# and n themselves. Let us put the same query q at every position and the same key k at every position
# and look at all the scores.

# %%
# Check: with RoPE, score(q at m, k at n) depends only on the offset n - m.
q, k = torch.randn(D), torch.randn(D)
q_at, k_at = rotary.rotate_queries_and_keys(
    q.expand(1, 1, T, D), k.expand(1, 1, T, D), start=0
)  # (B, H, T, D): q and k placed at positions 0..T-1
scores = (q_at @ k_at.transpose(-1, -2))[0, 0]  # (T, T): scores[m, n]
for offset in range(-(T - 1), T):
    same_offset = scores.diagonal(offset)
    assert torch.allclose(same_offset, same_offset[0].expand_as(same_offset), atol=1e-4)
assert not torch.allclose(scores.diagonal(0)[0], scores.diagonal(1)[0])  # the offset itself matters
print(f"{2 * T - 1} offsets, each with one score; e.g. offset 0: {scores[0, 0]:.3f}, +1: {scores[0, 1]:.3f}")

# %% [markdown]
# **Beyond the trained length.** A model trained on blocks of `block_size` tokens only ever sees offsets
# 0 … block_size − 1. The fast pairs have turned round many times within that range, so larger offsets
# give angles they have already seen; but the slow pairs (wavelength $2\pi/\theta_i$ longer than the block)
# never completed a turn in training, and at larger offsets they reach angles the model never saw. That
# is why RoPE models do not simply work at longer contexts (it takes tricks such as position interpolation).
# `course_lib` generates past `block_size` with a sliding window, which keeps every offset inside the
# trained range.

# %%
# Check: at the course's default sizes (head size 48, block_size 64), many pairs never complete a turn
# within the trained offsets.
block_size = 64
wavelength = 2 * math.pi / RotaryEmbedding(head_dim=48, block_size=block_size).inv_freq  # (D/2,)
slow = (wavelength > block_size).sum().item()
assert 0 < slow < len(wavelength)
print(f"{slow} of {len(wavelength)} pairs have a wavelength above {block_size} positions:", end=" ")
print("their angles at longer offsets are new to the model.")

# %% [markdown]
# ## 5. Explore: the positional-encoding explorer
#
# Pick a scheme, a dimension and a position. The panels show the vector of that position (for rotary, a
# query of ones after its rotation), the chosen dimension across all positions, and the similarity of the
# chosen position to every other. Things to try:
# - sinusoidal: move *dimension* from 0 to 31. How does the wave change?
# - sinusoidal or rotary: move *position*. The similarity curve slides but keeps its shape (distance only).
# - learned: an untrained table is noise: no position is closer to its neighbours than to far-away ones.
# - rotary: watch the red arrow turn as the position grows; low dimensions turn fast, high ones slowly.

# %% tags=["nbval-ignore-output"]
# A live widget: its view is drawn by your browser, so the tests check it in a real browser instead.
from course_lib.widgets import PositionalExplorer

explorer = PositionalExplorer(scheme="rotary", n_positions=64, n_embd=32, dimension=2, position=10)
explorer

# %% [markdown]
# The same view as a still picture (what you see when the notebook is opened without running it):

# %%
explorer.static_figure()

# %%
# Check: the list above, measured on a second explorer (the one on screen stays as you left it).
probe = PositionalExplorer(n_positions=64, n_embd=32)
for scheme in ("sinusoidal", "rotary"):
    probe.scheme.value, probe.position.value = scheme, 10
    at_10 = probe.similarity()  # (T,)
    probe.position.value = 30
    assert torch.allclose(probe.similarity()[20:], at_10[:-20], atol=1e-4)  # the same curve, 20 later
probe.scheme.value = "learned"
assert probe.similarity()[[29, 31]].abs().max() < 0.5  # untrained: neighbours are not alike
assert (probe.rotary.inv_freq[:-1] > probe.rotary.inv_freq[1:]).all()  # later pairs turn more slowly
print("sinusoidal, rotary: the similarity curve slides with the position; learned (untrained): noise.")

# %% [markdown]
# ## 6. Experiment: what are positions worth?
#
# Two tasks from `data/tasks` with the same letters in, a string out:
# - **reverse**: `"hello"` → `"olleh"`. The answer depends on the *order* of the input.
# - **sort**: `"hello"` → `"ehllo"`. The answer depends only on *which* letters there are: a bag suffices.
#
# We train the same tiny encoder-decoder (1 layer each, 64 dimensions) for 400 steps, with learned
# positions, with sinusoidal ones and with none. Without positions the encoder sees a bag of letters;
# the decoder still sees the letters it has written so far (through its causal mask, as in section 1),
# and for sorting that is all it needs: "write the smallest letter not yet written". For reversing it
# needs to know which letter came *last*, and a bag cannot say.
#
# We score **token accuracy**: the share of target letters the model predicts right when it is shown the
# correct letters before them (one forward pass over the test split).

# %%
from course_lib.configs import EncoderDecoderConfig
from course_lib.models import EncoderDecoderLM
from course_lib.tasks import IGNORE_INDEX, Seq2SeqVocab, load_split, seq2seq_batch


def token_accuracy(model: EncoderDecoderLM, task: str, vocab: Seq2SeqVocab) -> float:
    """Share of the test targets' letters (and EOS) predicted right, given the right letters before them."""
    test = seq2seq_batch(load_split(task, "test"), vocab)
    with torch.no_grad():
        logits = model(test.src, test.tgt_in, src_padding_mask=test.src_padding_mask).logits  # (B, T, V)
    scored = test.tgt_out != IGNORE_INDEX  # (B, T): real target letters and EOS
    return (logits.argmax(-1) == test.tgt_out)[scored].float().mean().item()


# %%
def train_and_score(task: str, positional: str, *, steps: int = 400, token_scale: float | None = None):
    """Train a tiny encoder-decoder on `task`; return its token accuracy on the test split.

    token_scale replaces course_lib's scale of the token embeddings (the last experiment below)."""
    torch.manual_seed(0)
    vocab, train_pairs = Seq2SeqVocab.for_task(task), load_split(task, "train")
    config = EncoderDecoderConfig(
        vocab_size=vocab.vocab_size, block_size=12, n_layer=1, n_head=2, n_embd=64, positional=positional
    )
    model = EncoderDecoderLM(config)
    if token_scale is not None:
        model.embed.token_scale = token_scale
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(steps):
        rows = torch.randint(len(train_pairs), (64,)).tolist()
        batch = seq2seq_batch([train_pairs[i] for i in rows], vocab)
        loss = model(batch.src, batch.tgt_in, batch.tgt_out, src_padding_mask=batch.src_padding_mask).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return token_accuracy(model.eval(), task, vocab)


# %% tags=["nbval-ignore-output"]
# Training numbers can differ in the last digits from one CPU to another, so this cell's text is not
# compared by the tests (the checks below are). One thread: fastest for a model this small (~4 s a run).
threads = torch.get_num_threads()
torch.set_num_threads(1)
accuracy = {
    ("reverse", "learned"): train_and_score("reverse", "learned"),
    ("reverse", "none"): train_and_score("reverse", "none"),
    ("reverse", "sinusoidal"): train_and_score("reverse", "sinusoidal"),
    ("sort", "none"): train_and_score("sort", "none"),
    ("reverse", "sinusoidal, unscaled"): train_and_score("reverse", "sinusoidal", token_scale=1.0),
}
torch.set_num_threads(threads)
for (task, positional), value in accuracy.items():
    print(f"{task:<8} positions={positional:<20} token accuracy {value:.2f}")

# %%
# Check: positions make reverse work; without them reverse fails while sort still works.
reverse_gap = accuracy["reverse", "learned"] - accuracy["reverse", "none"]
assert accuracy["reverse", "learned"] > 0.9 and accuracy["sort", "none"] > 0.8
assert accuracy["reverse", "none"] < 0.6 and reverse_gap > 0.3
assert accuracy["reverse", "sinusoidal"] > accuracy["reverse", "none"]
print("reverse: learned positions beat no positions by more than 30 points of token accuracy,")
print("         and sinusoidal positions beat none too;")
print("sort:    no positions still above 80%: a bag of letters is enough to sort.")

# %% [markdown]
# **How big are the two things we add?** Sinusoidal entries are of size about 1, while `course_lib`
# starts token embeddings at size 0.02 (GPT-2's initialisation). Added as they are, the positions would
# drown the letters. So, like the original Transformer, `course_lib` multiplies the token embeddings by
# $\sqrt{C}$ when the positions are sinusoidal (`model.embed.token_scale`). The last run above undid that
# scale (`token_scale=1.0`): the same model, the same 400 steps.

# %%
# Check: unscaled, the table is over 20 times larger than the token embeddings and the model does worse
# than with no positions at all; with course_lib's sqrt(C) scale the two are of the same order.
torch.manual_seed(0)
fresh = EncoderDecoderLM(EncoderDecoderConfig(vocab_size=30, block_size=12, positional="sinusoidal"))
scale, C = fresh.embed.token_scale, fresh.config.n_embd
token_size, position_size = fresh.embed.token.weight.std(), sinusoidal_table(12, C).std()
assert scale == C**0.5 and position_size / token_size > 20
assert 0.1 < scale * token_size / position_size < 10
assert accuracy["reverse", "sinusoidal, unscaled"] < accuracy["reverse", "none"]
print(f"typical size: sinusoidal positions {position_size:.2f}, token embeddings {token_size:.2f}")
print(f"token embeddings x sqrt(C) = {scale * token_size:.2f}")

# %% [markdown]
# ## 7. Exercise 1: the sinusoidal table without a loop
#
# `sinusoidal_vector` above used a Python loop. Write `sinusoidal_positions(n_positions, n_embd)` that
# returns the whole table (n_positions, n_embd) at once, with tensor operations only (assume n_embd is
# even). It must equal `sinusoidal_table`: sines in the even columns, cosines in the odd ones.
#
# <details><summary>Hint</summary>
#
# Make a column of positions (T, 1) and a row of frequencies (C/2,) = `10000 ** (-2i / C)`; their product
# broadcasts to every angle (T, C/2). Then fill `table[:, 0::2]` and `table[:, 1::2]`.
# </details>

# %%
def sinusoidal_positions(n_positions: int, n_embd: int) -> torch.Tensor:
    """The sinusoidal table (T, C), built without Python loops."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.positional import check_sinusoidal_positions

check_sinusoidal_positions(sinusoidal_positions)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def sinusoidal_positions(n_positions, n_embd):
#     position = torch.arange(n_positions)[:, None]  # (T, 1)
#     frequency = 10000 ** (-torch.arange(0, n_embd, 2) / n_embd)  # (C/2,): 2i / C for i = 0, 1, ...
#     angle = position * frequency  # (T, C/2)
#     table = torch.zeros(n_positions, n_embd)
#     table[:, 0::2] = angle.sin()
#     table[:, 1::2] = angle.cos()
#     return table
# ```
# </details>

# %% [markdown]
# ## 8. Exercise 2: attention with rotary positions
#
# Write `rotary_attention(q, k, v)` for one head: q, k and v are (T, D) at positions 0..T−1. Apply RoPE
# where it belongs, then return `softmax(scores / sqrt(D)) @ v` (no mask). You may use `rope_rotate`.
#
# <details><summary>Hint</summary>
#
# RoPE changes *which* tokens a query attends to, so it acts on the two tensors that make the scores.
# </details>

# %%
def rotary_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """q, k, v (T, D) -> (T, D): attention with rotary positions."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.positional import check_rotary_attention

check_rotary_attention(rotary_attention)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def rotary_attention(q, k, v):
#     q, k = rope_rotate(q), rope_rotate(k)  # the values stay as they are
#     scores = q @ k.T / q.size(-1) ** 0.5  # (T, T)
#     return torch.softmax(scores, dim=-1) @ v
# ```
# </details>

# %% [markdown]
# ## Summary
#
# - Self-attention on its own is permutation-equivariant: shuffle the tokens and the outputs shuffle
#   with them. A bidirectional encoder without positions sees a bag of tokens; a causal decoder recovers
#   some order from its mask.
# - **Sinusoidal** positions add a fixed table of sines and cosines at many speeds; the dot product of two
#   positions depends only on their distance.
# - **Learned** positions add a trained row per position: flexible, but nothing exists past `block_size`.
# - **Rotary** positions rotate queries and keys, so attention scores depend only on the offset between
#   two tokens; offsets longer than those seen in training are new territory for the slow pairs.
# - On a tiny encoder-decoder, positions are what make *reverse* learnable, while *sort* works without them.
#
# **Next:** notebook 03, *Blocks and the three families*, stacks attention, positions and MLPs into
# encoder-only, decoder-only and encoder-decoder models.
