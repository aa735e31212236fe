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
# # Week 7 · 08 — Real pretrained models, offline
#
# Until now every model in the course was one you could train on a laptop in minutes. Here we open two
# models that were trained by others on billions of words, and put them next to what you built:
#
# - **all-MiniLM-L6-v2**, an *encoder* of the BERT family (6 layers, 22.7M parameters) that turns a
#   sentence into a vector;
# - **SmolLM2-135M-Instruct**, a *decoder* of the LLaMA family (30 layers, 135M parameters) that writes.
#
# Both came with the course's Python packages: nothing is downloaded, and everything runs on a CPU.
#
# **Time:** about 30 minutes.
#
# **By the end of this notebook you will be able to**
# 1. read a real model's configuration and count its parameters, and name the four places where a
#    LLaMA-family block differs from the course's GPT block (RMSNorm, SwiGLU, grouped-query attention,
#    tied embeddings);
# 2. turn sentences into embeddings with an encoder and find the most similar sentence;
# 3. explain why an encoder has no next-token head, and see its attention in bertviz;
# 4. prompt a decoder zero-shot, few-shot and through its chat template, and measure the difference;
# 5. compute what its KV cache costs per token with grouped-query attention, and check it on the real cache;
# 6. drive the real model with the course's own decoding functions and widgets.

# %%
import dataclasses
import time

import matplotlib.pyplot as plt
import torch
from transformers.utils import logging as transformers_logging

from course_lib import architecture, bertviz_offline, pretrained, pretrained_tasks, viz

torch.manual_seed(0)
torch.set_num_threads(1)  # as in notebook 04: small models run as fast on one thread, and disturb others less
transformers_logging.disable_progress_bar()  # no "Loading weights" bars in the saved notebook

started = time.perf_counter()
encoder, encoder_tokenizer = pretrained.load_encoder()  # all-MiniLM-L6-v2: a BertModel
decoder, decoder_tokenizer = pretrained.load_decoder()  # SmolLM2-135M-Instruct: a LlamaForCausalLM
load_seconds = time.perf_counter() - started

# %% tags=["nbval-ignore-output"]
# How long loading took differs between machines, so the tests do not compare this line.
print(f"Both models loaded in {load_seconds:.1f} s (the decoder was converted once, by `make models`).")

# %% [markdown]
# ## 1. Two real models next to the ones you built
#
# A model from a library is a configuration (how many layers, heads, channels) plus a file of weights.
# Here are both configurations next to GPT-2 small, BERT-base and the course's two character GPTs, as
# `course_lib.architecture` describes them (the explorer of notebook 03):

# %%
names = ["GPT-2 small", "BERT-base", "all-MiniLM-L6-v2", "SmolLM2-135M", "course default (char GPT)",
         "baby GPT (reference)"]
print(f"{'model':<26}{'family':<14}{'layers':>7}{'heads (kv)':>11}{'width':>7}{'MLP':>8}  {'norm':<10}"
      f"{'positions':<10}{'parameters':>11}")
for name in names:
    a = architecture.preset(name)
    heads = f"{a.n_head} ({a.kv_heads})"
    count = architecture.format_count(architecture.parameter_count(a).total)
    print(f"{name:<26}{a.family:<14}{a.n_layer:>7}{heads:>11}{a.d_model:>7}{a.mlp:>8}  {a.norm:<10}"
          f"{a.positions:<10}{count:>11}")

# %% [markdown]
# Those rows were typed from the models' published descriptions. The loaded models carry their own
# configurations and weights, so we can check both: the shapes must agree, and counting the weights
# tensor by tensor must give exactly the explorer's formula.

# %%
# Check: the presets describe the loaded models, and their formula counts every loaded weight.
smol, mini = architecture.preset("SmolLM2-135M"), architecture.preset("all-MiniLM-L6-v2")
dc, ec = decoder.config, encoder.config
assert (dc.num_hidden_layers, dc.num_attention_heads, dc.num_key_value_heads, dc.hidden_size) == (
    smol.n_layer, smol.n_head, smol.kv_heads, smol.d_model)
assert (dc.intermediate_size, dc.vocab_size, dc.max_position_embeddings) == (
    smol.d_ff, smol.vocab_size, smol.context)
assert (ec.num_hidden_layers, ec.num_attention_heads, ec.hidden_size, ec.intermediate_size) == (
    mini.n_layer, mini.n_head, mini.d_model, mini.d_ff)
loaded = {
    "SmolLM2-135M": sum(p.numel() for p in decoder.parameters()),  # a shared tensor is listed once
    "all-MiniLM-L6-v2": sum(p.numel() for p in encoder.parameters()),
}
for name, count in loaded.items():
    assert count == architecture.parameter_count(architecture.preset(name)).total, name
    print(f"{name}: {count:,} weights loaded = the explorer's formula ({architecture.format_count(count)})")
assert [architecture.format_count(c) for c in loaded.values()] == ["134.5M", "22.7M"]

# %% [markdown]
# Pick *SmolLM2-135M* or *all-MiniLM-L6-v2* in the explorer and compare them with GPT-2 small and BERT-base:
# where do the parameters sit? (SmolLM2 puts a fifth of its parameters in the token table: its vocabulary
# is 49,152 tokens for a width of only 576.) Why does MiniLM have no KV cache at all?

# %% tags=["nbval-ignore-output"]
# A live widget: its view is drawn by your browser, so the tests check it in a real browser instead.
from course_lib.widgets import ArchitectureExplorer

ArchitectureExplorer("SmolLM2-135M")

# %% [markdown]
# The same numbers as a picture (this one shows even without a running kernel):

# %%
viz.plot_architecture_costs(smol, title="SmolLM2-135M")

# %% [markdown]
# ## 2. Where a LLaMA block differs from the course's GPT block
#
# Print one of SmolLM2's 30 blocks: it has the pieces of notebook 03 (attention, an MLP, two norms, a
# residual stream), with four changes that most recent models (LLaMA, Mistral, Qwen, SmolLM) share.

# %%
block = decoder.model.layers[0]
print(block)

# %% [markdown]
# We feed the model one sentence and rebuild parts of its first block by hand. `x` is what enters
# block 0: the token embeddings, (B, T, C) = (1, T, 576).

# %%
sentence = "The quick brown fox jumps over the lazy dog"
ids = torch.tensor([decoder_tokenizer.encode(sentence)])  # (1, T)
T = ids.shape[1]
with torch.no_grad():
    outputs = decoder(ids, output_attentions=True, use_cache=True)
    x = decoder.model.embed_tokens(ids)  # (1, T, 576)
print(f"{T} tokens:", [decoder_tokenizer.decode([i]) for i in ids[0]])

# %% [markdown]
# ### 2a. RMSNorm instead of LayerNorm
#
# LayerNorm (notebook 03) subtracts each vector's mean, divides by its standard deviation, then scales
# and shifts with two learned vectors. **RMSNorm** skips the centring and the shift: it divides each
# token's vector by its root mean square and multiplies by one learned weight,
#
# $$\mathrm{RMSNorm}(x) = \frac{x}{\sqrt{\operatorname{mean}(x^2) + \epsilon}} \odot w .$$
#
# Fewer operations, half the parameters, and in practice it trains as well. You write it in Exercise 1;
# here PyTorch's built-in version is compared with the model's module.

# %%
# Check: PyTorch's rms_norm with the block's weight and eps is the model's own LlamaRMSNorm.
norm = block.input_layernorm
with torch.no_grad():
    h = norm(x)  # (1, T, 576): what the attention reads
    torch.testing.assert_close(h, torch.nn.functional.rms_norm(x, (576,), norm.weight, norm.variance_epsilon))
print(f"RMSNorm: {norm.weight.numel()} parameters (a LayerNorm would have {2 * norm.weight.numel()}), "
      f"eps = {norm.variance_epsilon:.0e}")

# %% [markdown]
# ### Exercise 1: RMSNorm
#
# Write `rms_norm(x, weight, eps)`: `x` is (B, T, C), `weight` is (C,). Return (B, T, C).

# %%
def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """x (B, T, C) divided by its root mean square over C, times weight (C,)."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.pretrained import check_rms_norm

check_rms_norm(rms_norm)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def rms_norm(x, weight, eps):
#     return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight
# ```
# No mean is subtracted (that would be LayerNorm), eps goes under the root, and the mean is over the
# channels C, one value per token.
# </details>

# %% [markdown]
# ### 2b. SwiGLU instead of a GELU MLP
#
# The course's MLP is `down(gelu(up(x)))`: 2 matrices. SwiGLU has a third, a **gate**: one projection goes
# through SiLU (`x * sigmoid(x)`) and multiplies the other, element by element, before going down:
# `down(silu(gate(x)) * up(x))`. The gate lets every hidden unit decide how much of its value passes.

# %%
mlp = block.mlp
with torch.no_grad():
    swiglu = mlp.down_proj(torch.nn.functional.silu(mlp.gate_proj(h)) * mlp.up_proj(h))  # (1, T, 576)

# %%
# Check: our one line is the model's LlamaMLP, and it has 3 matrices of 576 x 1536.
with torch.no_grad():
    torch.testing.assert_close(swiglu, mlp(h))
shapes = [tuple(m.weight.shape) for m in (mlp.gate_proj, mlp.up_proj, mlp.down_proj)]
assert shapes == [(1536, 576), (1536, 576), (576, 1536)]
print("SwiGLU = the model's MLP; weights", shapes)

# %% [markdown]
# ### 2c. Grouped-query attention
#
# SmolLM2 has 9 query heads of 64 dimensions, but only **3 key/value heads**: each key/value head is
# shared by a group of 3 query heads. The key and value projections are therefore 3 times smaller
# (576 → 192 instead of 576 → 576), and so is what the KV cache keeps (section 7). To attend, each
# key/value head is copied for the query heads of its group: heads 0, 1, 2 use key head 0, heads 3, 4, 5
# key head 1, and so on (`repeat_interleave`, not `repeat`). Positions enter through rotary embeddings
# (RoPE, notebook 02), applied to queries and keys; we use the model's own rotation.

# %%
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb


def causal_attention_weights(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) with future positions masked: (B, H, T, d) twice -> (B, H, T, T)."""
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    future = torch.ones(q.shape[2], k.shape[2], dtype=torch.bool).triu(diagonal=1)
    return scores.masked_fill(future, float("-inf")).softmax(dim=-1)


attn, n_head, n_kv, hd = block.self_attn, 9, 3, 64
with torch.no_grad():
    q = attn.q_proj(h).view(1, T, n_head, hd).transpose(1, 2)  # (1, 9, T, 64)
    k_grouped = attn.k_proj(h).view(1, T, n_kv, hd).transpose(1, 2)  # (1, 3, T, 64)
    cos, sin = decoder.model.rotary_emb(h, torch.arange(T)[None])  # RoPE for positions 0..T-1
    q, k_grouped = apply_rotary_pos_emb(q, k_grouped, cos, sin)
    k = k_grouped.repeat_interleave(n_head // n_kv, dim=1)  # (1, 9, T, 64): key head g serves 3g..3g+2
    weights = causal_attention_weights(q, k)  # (1, 9, T, T)

# %%
# Check: our grouped-query attention weights are the ones the model returned for layer 0 (all 9 heads),
# and `repeat` (which would pair query head 1 with key head 1) gives different ones.
torch.testing.assert_close(weights, outputs.attentions[0])
wrong = causal_attention_weights(q, k_grouped.repeat(1, n_head // n_kv, 1, 1))
assert not torch.allclose(wrong, outputs.attentions[0], atol=1e-3)
print(f"Layer 0 rebuilt: 9 query heads share 3 key/value heads ({len(outputs.attentions)} layers returned)")

# %% [markdown]
# ### 2d. Tied embeddings
#
# The output layer turns a 576-wide vector into 49,152 scores, one per token; the token table turns a
# token into a 576-wide vector. SmolLM2 uses **one matrix for both** (the course's GPT does too; LLaMA-2-7B
# does not). With a large vocabulary and a narrow model that saves a lot:

# %%
table = decoder.model.embed_tokens.weight  # (49152, 576)
print(f"token table {tuple(table.shape)} = {table.numel():,} parameters, "
      f"{table.numel() / loaded['SmolLM2-135M']:.0%} of the model")

# %%
# Check: the output layer is the very same tensor, so untying it would add 28.3M parameters (+21%).
assert decoder.lm_head.weight is table
assert round(table.numel() / loaded["SmolLM2-135M"], 2) == 0.21
untied = architecture.parameter_count(dataclasses.replace(smol, tied_embeddings=False)).total
assert untied - loaded["SmolLM2-135M"] == table.numel() == 28_311_552
print(f"tied: {architecture.format_count(loaded['SmolLM2-135M'])},",
      f"untied: {architecture.format_count(untied)}")

# %% [markdown]
# ## 3. The encoder: understanding, not generation
#
# An encoder reads a whole text at once and gives one vector per token, each computed from *every* token,
# before and after it. all-MiniLM-L6-v2 was trained (after BERT-style pre-training) so that sentences that
# mean similar things get similar vectors. Its tokenizer cuts words into WordPiece tokens and adds two
# special ones: `[CLS]` at the start and `[SEP]` at the end.

# %%
batch = encoder_tokenizer(["A kitten naps on the couch."], return_tensors="pt")
with torch.no_grad():
    hidden = encoder(**batch).last_hidden_state  # (1, T, 384): one vector per token
print(encoder_tokenizer.convert_ids_to_tokens(batch["input_ids"][0]), tuple(hidden.shape))

# %% [markdown]
# A **sentence embedding** is one vector for the whole sentence. This model's recipe is the simplest
# there is: average the token vectors (**mean pooling**), then scale the result to length 1, so that the
# dot product of two embeddings is their cosine similarity (1: same direction, 0: unrelated).

# %%
one = torch.nn.functional.normalize(hidden.mean(dim=1), dim=-1)  # (1, 384), length 1
print(f"embedding: {tuple(one.shape)}, length {one.norm():.3f}, first values {one[0, :4].numpy().round(3)}")

# %% [markdown]
# ### Exercise 2: mean pooling with the attention mask
#
# Sentences of different lengths go through the model together as one padded batch: the tokenizer fills
# the short ones with `[PAD]` tokens and returns `attention_mask`, 1 for a real token and 0 for padding.
# Write `mean_pool(hidden, attention_mask)`: `hidden` (B, T, C), `attention_mask` (B, T) → (B, C), the
# mean of each sentence's **real** token vectors.

# %%
def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """hidden (B, T, C), attention_mask (B, T) -> (B, C): the mean over the real tokens."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.pretrained import check_mean_pool

check_mean_pool(mean_pool)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def mean_pool(hidden, attention_mask):
#     weights = attention_mask.unsqueeze(-1).float()  # (B, T, 1)
#     return (hidden * weights).sum(dim=1) / weights.sum(dim=1)
# ```
# Padding vectors are not zero (the encoder computes a vector for every position), so they must be
# masked out of the sum *and* left out of the count.
# </details>

# %% [markdown]
# `course_lib.pretrained_tasks.sentence_embeddings` does the whole recipe for a list of sentences: pad,
# encode, mean-pool with the mask, normalise.

# %%
# Check: in a padded batch, course_lib gives the kitten sentence the same embedding as our one-sentence
# recipe above, and every embedding has length 1.
pair = ["A kitten naps on the couch.", "The stock market fell sharply today after the announcement."]
together = pretrained_tasks.sentence_embeddings(encoder, encoder_tokenizer, pair)  # (2, 384)
torch.testing.assert_close(together[0], one[0], atol=1e-5, rtol=1e-4)
torch.testing.assert_close(together.norm(dim=-1), torch.ones(2))
print("Padded or alone: the same embedding.")

# %% [markdown]
# ### Similarity search
#
# Embed a handful of sentences once; to answer a question, embed it and return the sentence with the
# highest cosine. This is how search engines and "retrieval-augmented" chatbots find the passages they
# show a generator.

# %%
corpus = [
    "A cat is sleeping on the sofa.",
    "The stock market fell sharply today.",
    "He is cooking pasta for dinner.",
    "The team won the football match.",
    "It will rain tomorrow in the north.",
    "She is learning to play the violin.",
    "The new phone has a better camera.",
    "Doctors recommend drinking more water.",
]
queries = ["A kitten naps on the couch.", "Shares dropped on Wall Street.", "What's the weather forecast?",
           "Which smartphone takes the best photos?", "Someone is preparing a meal."]
corpus_vectors = pretrained_tasks.sentence_embeddings(encoder, encoder_tokenizer, corpus)  # (8, 384)
query_vectors = pretrained_tasks.sentence_embeddings(encoder, encoder_tokenizer, queries)  # (5, 384)
similarity, best = pretrained_tasks.nearest_neighbours(query_vectors, corpus_vectors)  # (5, 8), (5,)
for query, i, row in zip(queries, best.tolist(), similarity, strict=True):
    print(f"{query:<42} -> {corpus[i]:<38} cosine {row[i]:.2f}")

# %%
# Check: every query finds the sentence it paraphrases, by a margin of at least 0.2 over the runner-up;
# our own dot products give the same scores.
assert best.tolist() == [0, 1, 4, 6, 2]
runner_up = similarity.topk(2, dim=-1).values
assert (runner_up[:, 0] - runner_up[:, 1] > 0.2).all()
torch.testing.assert_close(similarity, query_vectors @ corpus_vectors.T)
print(f"All 5 right; the smallest margin is {(runner_up[:, 0] - runner_up[:, 1]).min():.2f}.")

# %%
fig, ax = plt.subplots(figsize=(9, 3.4))
image = ax.imshow(similarity, cmap="viridis", vmin=-0.1, vmax=0.8)
ax.set_xticks(range(len(corpus)), [s[:22] + "…" for s in corpus], rotation=30, ha="right", fontsize=9)
ax.set_yticks(range(len(queries)), queries, fontsize=9)
fig.colorbar(image, label="cosine similarity")
ax.set_title("all-MiniLM-L6-v2: each query is closest to its paraphrase")
fig.tight_layout()

# %% [markdown]
# ## 4. The encoder's attention, in bertviz
#
# The same views as in notebooks 04 and 05, now for a real encoder: 6 layers of 12 heads. The head view
# opens on layer 3, head 1, where *it* looks mostly at *cat*, far more than the other words do: the head
# links the pronoun to what it refers to. Pick other layers, click the coloured squares to choose heads,
# hover over a token to see where it looks. Layer 0, head 2 looks only at the token before: the model
# learned word order there.

# %%
text = "The cat sat on the mat because it was tired."
batch = encoder_tokenizer(text, return_tensors="pt")
tokens = encoder_tokenizer.convert_ids_to_tokens(batch["input_ids"][0])
with torch.no_grad():
    encoder_attentions = encoder(**batch, output_attentions=True).attentions  # 6 x (1, 12, T, T)
bertviz_offline.head_view(encoder_attentions, tokens, layer=3, heads=[1])

# %%
bertviz_offline.model_view(encoder_attentions, tokens)

# %%
# Check: 6 layers of 12 heads whose rows are probabilities; in layer 3, head 1, "it" looks at "cat" most,
# over 3 times as much as the other tokens on average; layer 0, head 2 looks at the previous token; and
# attention is not causal: every layer has heads that put a fifth or more of their weight on later
# tokens, which a decoder never does.
assert len(encoder_attentions) == 6 and encoder_attentions[0].shape == (1, 12, len(tokens), len(tokens))
it, cat = tokens.index("it"), tokens.index("cat")
to_cat = encoder_attentions[3][0, 1, :, cat]  # (T,): how much each token looks at "cat"
others_to_cat = torch.cat([to_cat[:it], to_cat[it + 1:]]).mean()
assert encoder_attentions[3][0, 1, it].argmax() == cat and to_cat[it] > 3 * others_to_cat
previous = encoder_attentions[0][0, 2].argmax(dim=-1)[1:]  # where each token but [CLS] looks most
assert (previous == torch.arange(len(tokens) - 1)).all()
for layer in encoder_attentions:
    torch.testing.assert_close(layer.sum(dim=-1), torch.ones(1, 12, len(tokens)))
    assert (layer[0].triu(diagonal=1).sum(dim=(-2, -1)) / len(tokens)).max() > 0.2  # weight on later tokens
print(f"'it' -> 'cat': {to_cat[it]:.2f}; the other tokens -> 'cat': {others_to_cat:.2f} on average")

# %% [markdown]
# ## 5. Why an encoder has no next-token head
#
# `BertModel` returns vectors (`last_hidden_state`, and BERT's `pooler_output`), not scores over a
# vocabulary: there is no output layer to turn a position into "the next token". It could not learn one
# the GPT way either. Every position sees the whole text, so at training time the "next token" would be
# in plain sight; a decoder hides it with the causal mask. We can see the difference: change the
# **last** word of a sentence and see whether the **first** token's vector changes.

# %%
def first_token_shift(model: torch.nn.Module, tokenizer: object, a: str, b: str) -> float:
    """Largest change of the first token's final vector when sentence a becomes b (same length)."""
    with torch.no_grad():
        ha, hb = (model(**tokenizer(s, return_tensors="pt"), output_hidden_states=True).hidden_states[-1]
                  for s in (a, b))
    return (ha[0, 0] - hb[0, 0]).abs().max().item()


a, b = "The cat sat on the mat", "The cat sat on the rug"
shifts = {"encoder": first_token_shift(encoder, encoder_tokenizer, a, b),
          "decoder": first_token_shift(decoder.model, decoder_tokenizer, a, b)}
print({name: round(shift, 3) for name, shift in shifts.items()})

# %%
# Check: the encoder's first token changes with the last word; the decoder's does not change at all.
assert shifts["encoder"] > 0.1 and shifts["decoder"] == 0.0
assert not hasattr(encoder, "lm_head") and decoder.lm_head.out_features == decoder.config.vocab_size
print("The encoder's first token already saw 'mat'/'rug'; the decoder's cannot.")

# %% [markdown]
# So an encoder is for *understanding* a text you already have: embeddings, search, classification,
# tagging. BERT's pre-training task was to fill in masked words *inside* a text (a head on top of this
# model), which uses both sides; generating text left to right is the decoder's job, and an
# encoder-decoder (notebook 05) pairs the two.

# %% [markdown]
# ## 6. The decoder: prompts, examples and chat
#
# ### 6a. The chat template
#
# SmolLM2-135M-*Instruct* was first pre-trained to continue text, then tuned on conversations written in
# one fixed format. To chat with it we must write our message in that same format: its **chat template**
# (stored with the tokenizer) wraps each turn in special tokens, `<|im_start|>role` … `<|im_end|>`, adds
# a default system message, and ends with the start of the assistant's turn, so that the most likely
# continuation is the answer.

# %%
messages = [{"role": "user", "content": "What is the capital of France?"}]
chat_text = decoder_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
print(chat_text)

# %%
def chat(question: str, max_new_tokens: int = 16) -> str:
    """The model's greedy answer to one user message, through the chat template."""
    ids = decoder_tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, return_tensors="pt"
    )["input_ids"]
    with torch.no_grad():
        out = decoder.generate(ids, max_new_tokens=max_new_tokens, do_sample=False)
    return decoder_tokenizer.decode(out[0, ids.shape[1]:])


answer = chat("What is the capital of France?")
print(answer)

# %%
# Check: the template is the one printed above, the model answers Paris, and it closes its turn with
# <|im_end|> (its end-of-sequence token), which is where generation should stop.
assert chat_text.startswith("<|im_start|>system\n") and chat_text.endswith("<|im_start|>assistant\n")
assert "Paris" in answer and decoder_tokenizer.eos_token == "<|im_end|>" and answer.endswith("<|im_end|>")
print("Template, answer and end-of-turn token as expected.")

# %% [markdown]
# ### 6b. Zero-shot and few-shot prompting
#
# The GPT-3 paper ("Language Models are Few-Shot Learners", 2020) showed that a large enough decoder can
# pick up a task from a few solved examples written into the prompt, with no training at all:
# **in-context learning**. A *zero-shot* prompt only names the task; a *few-shot* prompt adds k solved
# examples. Our task: give the opposite of a word. We score the first token the model would write.

# %%
pairs = [("hot", "cold"), ("big", "small"), ("fast", "slow"), ("happy", "sad"), ("up", "down"),
         ("light", "dark"), ("open", "closed"), ("rich", "poor"), ("early", "late"), ("strong", "weak"),
         ("full", "empty"), ("high", "low"), ("hard", "soft"), ("wet", "dry"), ("thick", "thin"),
         ("loud", "quiet")]
examples = [("tall", "short"), ("clean", "dirty"), ("love", "hate")]  # not among the 16 test words
print(pretrained_tasks.few_shot_prompt(examples, "hot", header="Opposites:\n"))

# %%
results = {}
for k in (0, 1, 3):  # solved examples in the prompt
    prompts = [pretrained_tasks.few_shot_prompt(examples[:k], w, header="Opposites:\n") for w, _ in pairs]
    answers = [a for _, a in pairs]
    results[k] = pretrained_tasks.first_token_accuracy(decoder, decoder_tokenizer, prompts, answers)
    accuracy, predicted = results[k]
    print(f"{k}-shot: {accuracy:.0%} right;", " ".join(f"{w}->{p.strip() or '?'}" for (w, _), p in
                                                       zip(pairs, predicted, strict=True)))

# %%
# Check: zero-shot gets under 70% right, three examples over 90%; zero-shot often just repeats the word.
zero, three = results[0][0], results[3][0]
repeats = sum(p.strip() == w for (w, _), p in zip(pairs, results[0][1], strict=True))
assert zero < 0.7 and three > 0.9 and repeats >= 4
print(f"zero-shot {zero:.0%} -> 3-shot {three:.0%}; {repeats} zero-shot answers just repeat the word.")

# %% [markdown]
# Without examples the model often repeats the word: "Opposites: rich ->" could as well start a list of
# rich things. The examples settle the *format* and the *task*; the knowledge (that *poor* is the
# opposite of *rich*) was there already. A 135M model gains a lot from three examples; the GPT-3 paper
# found that the gain grows with model size.

# %% [markdown]
# ## 7. The KV cache with grouped-query attention
#
# While generating, a decoder keeps every layer's keys and values of all past tokens (notebook 04). Per
# token that is 2 (keys and values) × layers × key/value heads × head size numbers. Grouped-query
# attention stores 3 key/value heads instead of 9:

# %%
bytes_per_number = 4  # float32 weights, float32 cache
gqa = 2 * dc.num_hidden_layers * dc.num_key_value_heads * dc.head_dim * bytes_per_number
full = 2 * dc.num_hidden_layers * dc.num_attention_heads * dc.head_dim * bytes_per_number  # one per head
measured = pretrained_tasks.cache_bytes(outputs.cache) / T  # the cache of the sentence of section 2
print(f"KV cache per token: {gqa:,} bytes with 3 key/value heads; {full:,} with 9 (full multi-head); "
      f"measured {measured:,.0f}")

# %%
# Check: the formula = course_lib.architecture = the real cache's tensors (46 kB per token); full
# multi-head attention would need 3x, and at the full context more than twice the weights' memory.
assert gqa == measured == architecture.kv_cache_bytes_per_token(smol, "fp32") == 46_080 and full == 3 * gqa
layer0 = outputs.cache.layers[0]
assert layer0.keys.shape == layer0.values.shape == (1, 3, T, 64)  # (B, kv heads, T, head size)
context = dc.max_position_embeddings
assert full * context > 2 * architecture.weight_bytes(smol, "fp32")
print(f"At the full {context:,}-token context: {architecture.format_bytes(gqa * context)} with GQA, "
      f"{architecture.format_bytes(full * context)} without; the weights take "
      f"{architecture.format_bytes(architecture.weight_bytes(smol, 'fp32'))}.")

# %% [markdown]
# Without grouped-query attention, one long conversation's cache would need twice the memory of the
# model's weights. For the 7B models of notebook 03 the same factor decides how many users a GPU serves.

# %% [markdown]
# ## 8. Honest limits: a small model states wrong facts fluently
#
# Ask the instruct model a question of general knowledge:

# %%
planet = chat("What is the largest planet in the solar system?")
print(planet)

# %%
# Check: it names Neptune. At the word that decides, Jupiter was nearly as likely, but Neptune scored higher.
prefix = decoder_tokenizer.apply_chat_template(
    [{"role": "user", "content": "What is the largest planet in the solar system?"}], tokenize=False,
    add_generation_prompt=True) + "The largest planet in the solar system is"
with torch.no_grad():
    probs = decoder(torch.tensor([decoder_tokenizer.encode(prefix)])).logits[0, -1].softmax(dim=-1)
p_neptune, p_jupiter = (probs[decoder_tokenizer.encode(" " + w)[0]].item() for w in ("Neptune", "Jupiter"))
assert "Neptune" in planet and "Jupiter" not in planet and p_neptune > p_jupiter > 0.5 * p_neptune
print(f"P(' Neptune') = {p_neptune:.2f}, P(' Jupiter') = {p_jupiter:.2f}")

# %% [markdown]
# The sentence is fluent and confident, and wrong. A language model learns which continuations are
# *likely* in its training text, not which are *true*. Here the right planet was almost as likely as the
# wrong one, and greedy decoding took the wrong one. 135 million numbers (about 0.5 GB) cannot store much
# of the world's knowledge, and "largest planet" appears near several planet names. Nothing in next-token
# prediction checks a fact: bigger models are wrong less often, not never, which is why real systems add
# retrieval (section 3's search) or tools. Always check what a generator claims.

# %% [markdown]
# ## 9. The course's decoding functions on the real model
#
# `course_lib.decoding` (notebook 06) was written for the course's character GPT. It asks little of a
# model: logits for a batch of token ids, and a KV cache it can grow and reorder.
# `course_lib.pretrained_lm.PretrainedLM` gives exactly that around the transformers model (the same
# weights: nothing is loaded twice), and `PretrainedTokenizer` gives its tokenizer the course's
# `encode` / `decode`. Then every strategy of notebook 06 runs on SmolLM2 unchanged.

# %%
from course_lib.decoding import beam_search, generate
from course_lib.pretrained_lm import PretrainedLM, PretrainedTokenizer

lm, lm_tokenizer = PretrainedLM(decoder).eval(), PretrainedTokenizer(decoder_tokenizer)
story = torch.tensor([lm_tokenizer.encode("Once upon a time, a little robot")])  # (1, T)
n_new = 12
course_greedy = generate(lm, story, n_new, strategy="greedy")
course_sampled = generate(lm, story, n_new, strategy="sample", temperature=0.8, top_k=50, top_p=0.9, seed=3)
print("greedy: ", lm_tokenizer.decode(course_greedy[0]))
print("sampled:", lm_tokenizer.decode(course_sampled[0]))

# %%
# Check: course_lib gives the same tokens as transformers' own generate, greedy and seeded sampling alike.
with torch.no_grad():
    hf_greedy = decoder.generate(story, max_new_tokens=n_new, do_sample=False)
    torch.manual_seed(3)
    hf_sampled = decoder.generate(
        story, max_new_tokens=n_new, do_sample=True, temperature=0.8, top_k=50, top_p=0.9
    )
assert torch.equal(course_greedy, hf_greedy) and torch.equal(course_sampled, hf_sampled)
print("course_lib.decoding.generate = transformers' generate, token for token.")

# %% [markdown]
# More settings of notebook 06, each for 8 new tokens from the same seed:

# %%
settings = {
    "greedy": {"strategy": "greedy"},
    "top-k 1": {"top_k": 1},
    "temperature 1.3": {"temperature": 1.3},
    "min-p 0.1": {"min_p": 0.1},
    "greedy, repetition penalty 1.5": {"strategy": "greedy", "repetition_penalty": 1.5},
}
continuations = {}
for name, options in settings.items():
    out = generate(lm, story, 8, **{"strategy": "sample", "seed": 0, **options})
    continuations[name] = out[0, story.shape[1]:]
    print(f"{name:<32}{lm_tokenizer.decode(continuations[name])!r}")

# %%
# Check: top-k 1 keeps only the most likely token, so it is greedy again; the penalty changes the text.
assert torch.equal(continuations["top-k 1"], continuations["greedy"])
assert not torch.equal(continuations["greedy, repetition penalty 1.5"], continuations["greedy"])
print("top-k 1 = greedy; the repetition penalty changes the greedy text.")

# %% [markdown]
# **Beam search** keeps the `num_beams` most likely partial continuations at every step instead of one.
# Does it find a continuation the model scores higher than greedy's?

# %%
def log_prob(ids: torch.Tensor, prompt_length: int) -> float:
    """The model's log-probability of ids[0, prompt_length:] given the prompt before it."""
    with torch.no_grad():
        log_probs = lm(ids).logits[0, :-1].log_softmax(dim=-1)  # position t predicts token t + 1
    targets = ids[0, 1:]
    return log_probs[torch.arange(len(targets)), targets][prompt_length - 1:].sum().item()


greedy_ids = course_greedy[:, : story.shape[1] + 10]  # greedy's first 10 new tokens (from above)
scores = {"greedy": log_prob(greedy_ids, story.shape[1])}
for beams in (2, 3):
    found = beam_search(lm, story, 10, num_beams=beams).sequence
    scores[f"{beams} beams"] = log_prob(found, story.shape[1])
    print(f"{beams} beams: {lm_tokenizer.decode(found[0, story.shape[1]:])!r}")
print({name: round(score, 2) for name, score in scores.items()})

# %%
# Check: with 2 beams, beam search ended with a *less* likely continuation than greedy's (it dropped
# greedy's path early); with 3 beams it kept that path and returned greedy's continuation.
assert scores["2 beams"] < scores["greedy"] and abs(scores["3 beams"] - scores["greedy"]) < 1e-3
print("Beam search is a better search than greedy on average, not in every case.")

# %% [markdown]
# Greedy commits to the best token at each step; beam search keeps alternatives, but it too drops paths
# that look poor early on, so a narrow beam can miss what greedy found. Wider beams search more of the
# tree and cost more forward passes.

# %% [markdown]
# ### The widgets of notebooks 04 and 06 on SmolLM2
#
# The **step-through generator** (notebook 04) runs greedy generation one click at a time: the bars show
# the model's top candidates for the next token, and the picture shows where the newest token looks in
# the chosen layer and head. Type your own prompt, and compare layers and heads.

# %% tags=["nbval-ignore-output"]
# A live widget: its view is drawn by your browser, so the tests check it in a real browser instead.
from course_lib.widgets import SamplingPlayground, StepThroughGenerator

stepper = StepThroughGenerator(lm, lm_tokenizer, prompt="The capital of France is", steps=2, layer=2)
stepper

# %% [markdown]
# The same view as a picture (shows without a kernel):

# %%
stepper.static_figure()

# %% [markdown]
# The **sampling playground** (notebook 06): move temperature, top-k, top-p, min-p and the repetition
# penalty and see the next-token distribution before and after the filters, and four continuations.

# %% tags=["nbval-ignore-output"]
# A live widget: its view is drawn by your browser, so the tests check it in a real browser instead.
playground = SamplingPlayground(lm, lm_tokenizer, prompt="My favourite food is", temperature=0.8, top_p=0.9)
playground

# %%
playground.static_figure()

# %%
# Check: both widgets work on the real model: the step-through picked greedy's tokens, and the
# playground's distribution is over SmolLM2's 49,152 tokens.
france = torch.tensor([lm_tokenizer.encode("The capital of France is")])
assert stepper.step.ids[-2:] == generate(lm, france, 2, strategy="greedy")[0, -2:].tolist()
assert playground.before.shape == (decoder.config.vocab_size,)
print("Step-through and sampling playground run on SmolLM2.")

# %% [markdown]
# ## 10. What this notebook cost
#
# Two real models, a few dozen forward passes and some generation on one CPU thread. The issue asks for
# under 1.5 GB of memory; the float32 weights alone take:

# %%
for name in ("SmolLM2-135M", "all-MiniLM-L6-v2"):
    weights_fp32 = architecture.weight_bytes(architecture.preset(name), "fp32")
    print(f"{name}: {architecture.format_bytes(weights_fp32)}")


# %% tags=["nbval-ignore-output"]
# The peak varies by a few tens of MB from run to run, so the tests do not compare this line.
from course_lib.attention_cost import peak_rss_bytes  # this process's high-water mark (notebook 07)

print(f"peak memory of this notebook's kernel: {peak_rss_bytes() / 1e9:.2f} GB")

# %%
# Check: the whole notebook stayed under 1.5 GB.
assert peak_rss_bytes() < 1.5e9
print("Under 1.5 GB.")

# %% [markdown]
# ## Summary
#
# - Real models are configurations plus weights. Counting SmolLM2's and MiniLM's loaded weights gives
#   exactly the explorer's formula: 134.5M and 22.7M.
# - A LLaMA-family block is the GPT block with four changes: **RMSNorm** (divide by the root mean square,
#   no centring), a **SwiGLU** MLP (3 matrices, one of them a gate), **grouped-query attention** (9 query
#   heads share 3 key/value heads) and **tied embeddings** (one 49,152 × 576 table in and out, 21% of
#   the model). Rotary positions come from notebook 02.
# - An **encoder** gives vectors, not next tokens: every position sees the whole text. Mean-pooled,
#   normalised MiniLM vectors find the paraphrase of a question among unrelated sentences.
# - A **decoder** can learn a task from examples in its prompt: 3 solved examples raised our antonym
#   score from under 70% to over 90%. An instruct model expects its **chat template**.
# - Its **KV cache** holds 46 kB per token with 3 key/value heads, a third of full multi-head attention,
#   as the real cache tensors confirm.
# - The course's own `decoding` functions and widgets drive the real model and give the same tokens as
#   transformers' `generate`.
# - A 135M model states wrong facts fluently (Neptune is not the largest planet): likely is not true.
#
# **Next:** `09_discussion_and_summary.ipynb` brings the week together: applications, papers and the
# discussion prompts.
