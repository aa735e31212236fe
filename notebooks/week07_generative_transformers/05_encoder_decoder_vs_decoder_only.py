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
# # Week 7 · 05 — Encoder-decoder vs decoder-only
#
# Notebook 03 built both generating families from the same blocks; notebook 04 trained a decoder-only GPT.
# Here the two families meet on **one task, the same data and about the same number of parameters**, so
# that the differences we see come from the wiring and not from size. The task: rewrite a date the way a
# person writes it ("Tue 3 March 2020", "3/3/2020", "March 3, 2020") as an ISO date ("2020-03-03").
#
# **Time:** about 45 minutes.
#
# **By the end of this notebook you will be able to**
# 1. frame one (source, target) example for each family: the encoder-decoder's teacher-forcing pair, and
#    the decoder-only model's single sequence with the loss on the target part only;
# 2. write greedy decoding for an encoder-decoder: the encoder runs once, the decoder writes token by token;
# 3. compare the two families in a table built by code: parameters, training steps and time, exact match
#    on familiar and unfamiliar formats, latency, and the work done per generated token;
# 4. read cross-attention maps as an alignment between output characters and source characters;
# 5. explain teacher forcing, free-running generation and exposure bias;
# 6. say where each family is used in practice, and what a toy comparison can and cannot show.

# %%
import datetime
import statistics
import sys
import time

import matplotlib.pyplot as plt
import torch
from torch.utils.flop_counter import FlopCounterMode

from course_lib import bertviz_offline, evidence, viz
from course_lib.checkpoints import load_checkpoint
from course_lib.data import DATA_DIR
from course_lib.decoding import generate, generate_seq2seq
from course_lib.discussion import AnswerBox
from course_lib.env import REPO
from course_lib.models import build_model, count_parameters
from course_lib.tasks import (
    DATE_FORMATS,
    IGNORE_INDEX,
    TRAINING_DATE_FORMATS,
    Seq2SeqVocab,
    decoder_only_batch,
    decoder_only_prompt,
    exact_match,
    load_split,
    predict,
    seq2seq_batch,
    task_loss,
    train_on_pairs,
    write_date,
)

torch.manual_seed(0)
torch.set_num_threads(1)  # models this small run as fast on one thread, and other programs slow them less
sys.path.insert(0, str(REPO / "scripts"))
import make_checkpoints  # the recipes of the two shipped models

# %% [markdown]
# ## 1. The task: dates as people write them
#
# `course_lib.tasks` makes the data from a fixed seed (`make data` writes it to `data/tasks/dates.jsonl`).
# Training, validation and test dates are written in five formats; a fourth split, **hard**, uses four
# formats that training never shows. Each hard format recombines pieces training does show (a weekday
# with a *short* month name, a short month name first) or adds something new (zero-padded numbers,
# ordinal suffixes such as "3rd").

# %%
example_date = datetime.date(2020, 3, 3)
for name in DATE_FORMATS:
    split = "train/val/test" if name in TRAINING_DATE_FORMATS else "hard only"
    print(f"{split:>15} | {name:<29} | {write_date(example_date, name)}")
splits = {split: load_split("dates", split) for split in ("train", "val", "test", "hard")}
print({split: len(pairs) for split, pairs in splits.items()})

# %%
# Check: every target is the ISO form of its date, and no hard source could have come from a training format.
for pairs in splits.values():
    assert all(datetime.date.fromisoformat(target).isoformat() == target for _, target in pairs)
for source, target in splits["hard"]:
    date = datetime.date.fromisoformat(target)
    assert source not in {write_date(date, name) for name in TRAINING_DATE_FORMATS}, source
print("Targets are ISO dates; the hard split's sources are all written in unseen formats.")

# %% [markdown]
# The output is short (10 characters) and **aligned** with the input in a visible way: the year digits
# come from the year, the month digits from the month name or number, the day digits from the day. We
# will look for exactly that alignment in the models' attention (section 7).
#
# ## 2. One example, framed for each family
#
# Both families read characters: one token per character, plus four special tokens, PAD (0), BOS (1,
# "begin"), EOS (2, "end") and SEP (3, "separator"), in `Seq2SeqVocab`.
#
# - **Encoder-decoder** (T5, BART): the encoder reads the source. The decoder reads `BOS target` and at
#   each position must predict the *next* target token, so its labels are `target EOS`. Reading the true
#   previous token while learning to predict the next one is called **teacher forcing**.
# - **Decoder-only** (GPT): there is no separate reader, so source and target become one sequence,
#   `BOS source SEP target EOS`, and the model predicts each next token as usual. It is *given* the
#   source, so only the predictions of `target EOS` count in the loss; the other labels are -100, the
#   value the cross-entropy skips.

# %%
vocab = Seq2SeqVocab.for_task("dates")
source, target = "Tue 3 March 2020", "2020-03-03"
s2s = seq2seq_batch([(source, target)], vocab)
dec = decoder_only_batch([(source, target)], vocab)
special = {0: "PAD", 1: "BOS", 2: "EOS", 3: "SEP", IGNORE_INDEX: "-"}  # Seq2SeqVocab's special ids


def shown(ids: torch.Tensor) -> str:
    """A row of ids as a readable string: characters, special names, '-' for -100."""
    return " ".join(special[i] if i in special else vocab.decode([i]) for i in ids.tolist())


print("encoder reads  :", shown(s2s.src[0]))
print("decoder reads  :", shown(s2s.tgt_in[0]))
print("decoder labels :", shown(s2s.tgt_out[0]))
print("decoder-only reads :", shown(dec.idx[0]))
print("decoder-only labels:", shown(dec.targets[0]))

# %%
# Check: both framings ask for the same 11 predictions (the target, then EOS).
assert torch.equal(s2s.tgt_out[0], dec.targets[0][dec.targets[0] != IGNORE_INDEX])
assert len(s2s.tgt_out[0]) == len(target) + 1
print("Same predictions, framed two ways.")

# %% [markdown]
# ## 3. Exercise: the teacher-forcing pair
#
# Write `teacher_forcing(target_ids, bos_id, eos_id)` returning `(tgt_in, tgt_out)` as lists of ids: what
# the decoder reads and what it must predict, for one target. Compare with the rows printed above.

# %%
def teacher_forcing(target_ids: list[int], bos_id: int, eos_id: int) -> tuple[list[int], list[int]]:
    """-> (tgt_in, tgt_out) for one target."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
from course_lib.exercises.seq2seq import check_decoder_only_row, check_teacher_forcing

check_teacher_forcing(teacher_forcing)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def teacher_forcing(target_ids, bos_id, eos_id):
#     return [bos_id, *target_ids], [*target_ids, eos_id]
# ```
# Position t reads token t - 1 of the target (BOS at t = 0) and is labelled with token t (EOS at the end).
# </details>
#
# ## 4. Exercise: the decoder-only training row
#
# Write `decoder_only_row(source_ids, target_ids, *, bos_id, sep_id, eos_id)` returning `(inputs, labels)`:
# the sequence `BOS source SEP target EOS` without its last token, and for each input position the token
# that follows it, or -100 where that token is part of the prompt (`source SEP`).

# %%
def decoder_only_row(
    source_ids: list[int], target_ids: list[int], *, bos_id: int, sep_id: int, eos_id: int
) -> tuple[list[int], list[int]]:
    """-> (inputs, labels) for one example; labels are -100 where nothing is to be learned."""
    ...  # your code here


# %%
# Self-check: tells you what to change if the answer is not right yet.
check_decoder_only_row(decoder_only_row)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def decoder_only_row(source_ids, target_ids, *, bos_id, sep_id, eos_id):
#     sequence = [bos_id, *source_ids, sep_id, *target_ids, eos_id]
#     labels = [-100] * (len(source_ids) + 1) + [*target_ids, eos_id]
#     return sequence[:-1], labels
# ```
# The positions reading BOS and the source would predict the source and SEP: given, so masked. The
# position reading SEP predicts the first target character: that one counts.
# </details>
#
# ## 5. Two models of the same size
#
# `make checkpoints` trains both models from a fixed seed (`scripts/make_checkpoints.py`; section 7 lists
# the training time it recorded) and ships them in `data/checkpoints/`. Both use width 64, 4 heads and rotary
# positions. The encoder-decoder has 2 encoder and 2 decoder blocks; a decoder block with cross-attention
# has about 16 C² weights against 12 C² for a plain block, so the decoder-only model gets **5** blocks to
# spend about the same budget.

# %%
checkpoints = {
    "encoder-decoder": load_checkpoint(DATA_DIR / "checkpoints" / "dates_encoder_decoder"),
    "decoder-only": load_checkpoint(DATA_DIR / "checkpoints" / "dates_decoder_only"),
}
models = {family: checkpoint.model for family, checkpoint in checkpoints.items()}
encoder_decoder, decoder_only = models.values()
vocab = Seq2SeqVocab.from_tokenizer(checkpoints["encoder-decoder"].tokenizer)  # the same 47 tokens
parts = {
    "encoder-decoder": {"embedding": encoder_decoder.embed, "encoder": encoder_decoder.encoder,
                        "decoder": encoder_decoder.decoder},
    "decoder-only": {"embedding": decoder_only.embed, "decoder": decoder_only.decoder},
}  # fmt: skip
for family, modules in parts.items():
    counts = {name: count_parameters(module) for name, module in modules.items()}
    print(f"{family:<16} {count_parameters(models[family]):>8,} parameters: {counts}")

# %%
# Check: the shapes described above, the parts add up (the output layer reuses the embedding), a block with
# cross-attention is about 16/12 the size of a plain one, and the budgets are within 10%.
for family, modules in parts.items():
    assert sum(count_parameters(m) for m in modules.values()) == count_parameters(models[family])
    config = models[family].config
    assert (config.n_embd, config.n_head, config.positional, config.vocab_size) == (64, 4, "rotary", 47)
assert (len(encoder_decoder.encoder.blocks), len(encoder_decoder.decoder.blocks)) == (2, 2)
assert len(decoder_only.decoder.blocks) == 5
with_cross, plain = encoder_decoder.decoder.blocks[0], decoder_only.decoder.blocks[0]
block_ratio = count_parameters(with_cross) / count_parameters(plain)
assert 1.25 < block_ratio < 1.4, block_ratio
budget_ratio = count_parameters(decoder_only) / count_parameters(encoder_decoder)
assert 0.9 < budget_ratio < 1.1, budget_ratio
print(f"decoder-only / encoder-decoder parameters: {budget_ratio:.2f}")

# %% [markdown]
# ### A short live run
#
# The shipped models trained for 300 steps of 64 examples. The same recipe for 30 steps, from scratch,
# shows how training starts (a few seconds): the loss falls fast, but 30 steps are far from enough to
# get dates right. Its loss is drawn beside the shipped model's recorded curve.

# %%
recipe = make_checkpoints.TASK_RECIPES["dates_encoder_decoder"]
torch.manual_seed(recipe.seed)
fresh = build_model(recipe.config(vocab.vocab_size))
live_losses = train_on_pairs(fresh, splits["train"], vocab=vocab, steps=30, batch_size=32, seed=0)
live_exact_match = exact_match(predict(fresh, [s for s, _ in splits["test"][:50]], vocab=vocab),
                               [t for _, t in splits["test"][:50]])  # fmt: skip
print(f"loss {live_losses[0]:.2f} -> {live_losses[-1]:.2f} in 30 steps; exact match {live_exact_match:.0%}")

# %%
# Check: the loss of the last 5 steps is under 60% of the first 5 steps' (it starts near ln 47 = 3.85),
# and still, fewer than 1 in 5 test dates come out right.
assert statistics.mean(live_losses[-5:]) < 0.6 * statistics.mean(live_losses[:5])
assert live_exact_match < 0.2
print("The live run learns, but it has a long way to go.")

# %%
recorded = checkpoints["encoder-decoder"].metadata["train_loss"]  # every 6th step's loss
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.plot(range(0, recipe.steps, recipe.steps // len(recorded)), recorded, label="shipped (300 steps)")
ax.plot(range(len(live_losses)), live_losses, label="live run (30 steps)")
ax.set(xlabel="step", ylabel="training loss (nats per token)", title="encoder-decoder on dates")
ax.legend()
plt.show()

# %% [markdown]
# ## 6. Greedy decoding: the encoder runs once
#
# At inference time nobody gives the decoder the target. It starts from BOS, picks the most likely next
# token, appends it, and asks again, until EOS. This is **free-running** generation. For the
# encoder-decoder the source is read **once** (the memory) and every step only runs the decoder:

# %%
def greedy_seq2seq(model, src: torch.Tensor, bos_id: int, eos_id: int, max_new_tokens: int) -> torch.Tensor:
    """src (1, S) -> the generated ids (1, 1 + n), starting with BOS."""
    memory = model.encode(src)  # (1, S, C): the whole source, read once
    out = torch.tensor([[bos_id]])  # (1, 1)
    for _ in range(max_new_tokens):
        logits = model.decode(out, memory).logits  # (1, t, V): no cache, the whole prefix again
        next_id = logits[:, -1].argmax(-1, keepdim=True)  # (1, 1)
        out = torch.cat([out, next_id], dim=1)
        if next_id.item() == eos_id:
            break
    return out


with torch.no_grad():
    ours = [
        greedy_seq2seq(encoder_decoder, torch.tensor([vocab.encode(s)]), vocab.bos_id, vocab.eos_id, 12)
        for s, _ in splits["test"][:20]
    ]
print([vocab.decode(row[0, 1:]) for row in ours[:4]])

# %%
# Check: the same tokens as course_lib's generate_seq2seq (which also uses a KV cache).
for (s, _), row in zip(splits["test"][:20], ours, strict=True):
    src = torch.tensor([vocab.encode(s)])
    theirs = generate_seq2seq(encoder_decoder, src, vocab.bos_id, vocab.eos_id, 12)
    assert torch.equal(row, theirs), s
print("From-scratch greedy decoding matches generate_seq2seq on 20 test dates.")

# %% [markdown]
# The decoder-only model has no memory: its prompt `BOS source SEP` goes through all 5 blocks, and every
# new token then attends over the prompt **and** the answer so far (`course_lib.decoding.generate` with a
# KV cache). `course_lib.tasks.predict` answers a list of sources with either family.
#
# ## 7. The comparison table
#
# Exact match counts an answer right only if all 10 characters are. "Work per generated token" is
# counted by PyTorch's FLOP counter (`torch.utils.flop_counter`) over one greedy generation with the KV
# cache, after the source was read (the encoder pass, or the decoder-only model's prompt pass).

# %%
def flops_of(run) -> int:
    """Floating-point operations PyTorch counts while ``run()`` executes."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        run()
    return counter.get_total_flops()


probe = "Tue 3 March 2020"  # 16 characters; the answer has 10, then EOS
src = torch.tensor([vocab.encode(probe)])  # (1, S)
prompt = torch.tensor([decoder_only_prompt(probe, vocab)])  # (1, S + 2)
read_flops = {"encoder-decoder": flops_of(lambda: encoder_decoder.encode(src)),
              "decoder-only": flops_of(lambda: decoder_only(prompt))}  # fmt: skip
total_flops = {
    "encoder-decoder": flops_of(
        lambda: generate_seq2seq(encoder_decoder, src, vocab.bos_id, vocab.eos_id, 12)
    ),
    "decoder-only": flops_of(
        lambda: generate(decoder_only, prompt, 12, strategy="greedy", eos_id=vocab.eos_id)
    ),
}
# 11 tokens come out (10 characters and EOS); the decoder-only prompt pass already produced the first one.
per_token = {"encoder-decoder": (total_flops["encoder-decoder"] - read_flops["encoder-decoder"]) / 11,
             "decoder-only": (total_flops["decoder-only"] - read_flops["decoder-only"]) / 10}  # fmt: skip
print({family: f"{flops / 1e3:.0f} kFLOPs per token" for family, flops in per_token.items()})

# %% [markdown]
# Surprise: the encoder-decoder does **more** arithmetic per token, although each step runs only 2
# blocks against 5. The reason is in `course_lib`'s cross-attention: every step projects the whole memory
# into keys and values again (`k_proj(memory)`, `v_proj(memory)`), the same numbers each time. Real
# implementations (Hugging Face's T5 and BART) compute them once and cache them with the self-attention
# keys. Measure what that repetition costs:

# %%
cross = encoder_decoder.decoder.blocks[0].cross_attn
memory = encoder_decoder.encode(src).detach()  # (1, S, C)
n_blocks = len(encoder_decoder.decoder.blocks)
reprojection = n_blocks * flops_of(lambda: (cross.k_proj(memory), cross.v_proj(memory)))
per_token["encoder-decoder, cross K/V cached"] = per_token["encoder-decoder"] - reprojection
print(f"re-projecting the memory: {reprojection / 1e3:.0f} kFLOPs per step; "
      f"without it {per_token['encoder-decoder, cross K/V cached'] / 1e3:.0f} kFLOPs per token")

# %%
# Check: with the cross-attention keys and values cached, the encoder-decoder does less than 60% of the
# decoder-only model's work per token (2 blocks over T + S positions against 5 blocks over S + T).
assert per_token["encoder-decoder"] > per_token["decoder-only"]
assert per_token["encoder-decoder, cross K/V cached"] < 0.6 * per_token["decoder-only"]
print("Per token: course_lib's encoder-decoder > decoder-only > an encoder-decoder caching its memory's K/V.")

# %%
def answers(family: str, split: str) -> list[str]:
    return predict(models[family], [s for s, _ in splits[split]], vocab=vocab)


def training_mflops_per_example(family: str, batch_size: int = 64) -> float:
    """Forward and backward pass of one training batch, in millions of FLOPs per example."""
    with FlopCounterMode(display=False) as counter:
        task_loss(models[family], splits["train"][:batch_size], vocab=vocab).backward()
    models[family].zero_grad(set_to_none=True)
    return counter.get_total_flops() / batch_size / 1e6


def latency_ms(family: str, repeats: int = 15) -> float:
    """Median wall time of one greedy, KV-cached answer to the probe date."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(models[family], [probe], vocab=vocab)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


# %%
table = {}
for family, checkpoint in checkpoints.items():
    metrics = checkpoint.metadata["metrics"]
    table[family] = {
        "parameters": count_parameters(models[family]),
        "training steps": metrics["steps"],
        "training time (s)": metrics["train_seconds"],
        "exact match, test": exact_match(answers(family, "test"), [t for _, t in splits["test"]]),
        "exact match, hard": exact_match(answers(family, "hard"), [t for _, t in splits["hard"]]),
        "latency per example (ms)": latency_ms(family),
        "kFLOPs per generated token": per_token[family] / 1e3,
        "training MFLOPs per example": training_mflops_per_example(family),
    }

# %% tags=["nbval-ignore-output"]
# Training time and latency are clock readings: they differ between machines, so nbval does not compare them.
formats = {"exact match, test": "{:.1%}", "exact match, hard": "{:.1%}", "latency per example (ms)": "{:.1f}",
           "training MFLOPs per example": "{:.1f}"}  # fmt: skip
print(f"{'':<28}" + "".join(f"{family:>18}" for family in table))
for row in table["encoder-decoder"]:
    shown_row = [formats.get(row, "{:,.0f}").format(table[family][row]) for family in table]
    print(f"{row:<28}" + "".join(f"{value:>18}" for value in shown_row))

# %%
# Check: the conclusions drawn from the table.
ed, do = table["encoder-decoder"], table["decoder-only"]
assert ed["exact match, test"] >= 0.95  # the bar for the encoder-decoder
assert do["exact match, test"] >= 0.95  # familiar formats: both families learn them
assert ed["exact match, hard"] > do["exact match, hard"] + 0.2  # unfamiliar formats: a wide gap
assert ed["exact match, test"] == checkpoints["encoder-decoder"].metadata["metrics"]["test_exact_match"]
assert max(ed["latency per example (ms)"], do["latency per example (ms)"]) < 1000
assert do["training MFLOPs per example"] > 1.5 * ed["training MFLOPs per example"]
print("encoder-decoder vs decoder-only: "
      f"test {ed['exact match, test']:.1%} vs {do['exact match, test']:.1%}, "
      f"hard {ed['exact match, hard']:.1%} vs {do['exact match, hard']:.1%}")

# %% [markdown]
# What the table says:
#
# - **On familiar formats both families succeed** (at least 95% exact match each). At this size and with
#   this much data, the wiring does not decide whether the task can be learned.
# - **On unseen formats the encoder-decoder generalises much better** (more than 20 points ahead). One
#   reading: its encoder reads the whole source in both directions and hands the decoder a memory in
#   which "Mar" and "March" can end up close; the decoder-only model reads the source causally, so each
#   source character is encoded without seeing what follows it.
# - **Latency is not arithmetic here.** Both answer in milliseconds; at this tiny size a step's time is
#   mostly Python and operator-call overhead, so the timing row need not follow the FLOPs row. Clock
#   readings also vary with the machine's load: the training times were recorded once, by `make
#   checkpoints`, on a shared machine. What does not vary is the arithmetic of a training step: the
#   decoder-only model does more per example (last row), since every example passes through 5 blocks
#   as one longer sequence.
# - **Work per token** favours the encoder-decoder once its memory's keys and values are cached: the
#   source is processed once, by the encoder, and each new token runs a shallower decoder.
#
# ## 8. Teacher forcing vs free running: exposure bias
#
# During training the decoder always reads the **true** previous characters (teacher forcing). At
# inference it reads **its own** previous outputs. After its first mistake it is in a situation training
# never showed it: a prefix that is wrong. This mismatch is called **exposure bias**. On the hard split
# we can measure it: for each wrong answer, count the wrong characters *after* the first mistake, once
# when the model continues from its own output (free running) and once when it is given the true prefix
# at every step (teacher forcing, one forward pass).

# %%
def teacher_forced_answers(family: str, pairs: list[tuple[str, str]]) -> list[str]:
    """Each position's argmax when the model reads the true prefix: one string of len(target) per pair."""
    model = models[family]
    with torch.no_grad():
        if family == "encoder-decoder":
            batch = seq2seq_batch(pairs, vocab)
            logits = model(batch.src, batch.tgt_in, src_padding_mask=batch.src_padding_mask).logits
            labels = batch.tgt_out
        else:
            batch = decoder_only_batch(pairs, vocab)
            logits, labels = model(batch.idx).logits, batch.targets
    rows = [row[label != IGNORE_INDEX] for row, label in zip(logits.argmax(-1), labels, strict=True)]
    # one character per position; "#" where the model would put a special token (EOS too early)
    return [
        "".join(vocab.decode([i]) or "#" for i in row[: len(target)].tolist())
        for row, (_, target) in zip(rows, pairs, strict=True)
    ]


# %%
def errors_after_first(answer: str, target: str) -> tuple[int, int]:
    """(position of the first wrong character, wrong characters after it); a missing character is wrong."""
    padded = answer.ljust(len(target), "#")[: len(target)]
    wrong = [a != t for a, t in zip(padded, target, strict=True)]
    first = wrong.index(True)
    return first, sum(wrong[first + 1 :])

# %%
exposure = {}
for family in models:
    free = answers(family, "hard")
    forced = teacher_forced_answers(family, splits["hard"])
    after_free, after_forced = [], []
    for answer, forced_answer, (_, target) in zip(free, forced, splits["hard"], strict=True):
        if answer != target:
            first, later = errors_after_first(answer, target)
            after_free.append(later)
            later_pairs = zip(forced_answer[first + 1 :], target[first + 1 :], strict=True)
            after_forced.append(sum(a != t for a, t in later_pairs))
    exposure[family] = (len(after_free), statistics.mean(after_free), statistics.mean(after_forced))
    print(f"{family:<16} {len(after_free)} wrong answers; wrong characters after the first mistake: "
          f"free running {exposure[family][1]:.2f}, teacher forced {exposure[family][2]:.2f}")

# %%
# Check: for both families, mistakes compound when the model reads its own output (at least twice as many
# later errors as with the true prefix).
for family, (_, free_later, forced_later) in exposure.items():
    assert free_later > 2 * forced_later, (family, free_later, forced_later)
print("Free running: one wrong digit drags the next ones with it. Teacher forcing hides that in training.")

# %% [markdown]
# Some of the encoder-decoder's wrong answers where the mistake spread (the teacher-forced line shows,
# position by position, what it predicts when given the true prefix):

# %%
free = answers("encoder-decoder", "hard")
forced = teacher_forced_answers("encoder-decoder", splits["hard"])
spread = [(s, t, a, f) for (s, t), a, f in zip(splits["hard"], free, forced, strict=True)
          if a != t and errors_after_first(a, t)[1] > 0]  # fmt: skip
for source, target, free_answer, forced_answer in spread[:4]:
    print(f"{source!r:<26} true {target}   free running {free_answer}   teacher forced {forced_answer}")

# %% [markdown]
# Once one digit is wrong, the next ones are chosen to suit it (a wrong month "0" followed by "1"), a
# prefix the model never saw in training. Teacher forcing never shows a model its own mistakes; remedies
# studied in the literature include scheduled sampling (feeding the model's own predictions during part
# of training) and, for large models, far more varied training data.
#
# ## 9. Where does each output character look? Attention maps
#
# The widget shows the encoder-decoder's three kinds of attention for one example: the encoder's
# **bidirectional** self-attention (every source character sees every other), the decoder's **causal**
# self-attention, and the **cross-attention**: for each output step, which source characters it reads.
# Choose an example, a layer, a head and an output step; the source line above the maps is coloured by the
# selected step's cross-attention.

# %% tags=["nbval-ignore-output"]
# A live widget: its view is drawn by your browser, so the tests check it in a real browser instead.
from course_lib.widgets import CrossAttentionExplorer

examples = ["Tue 3 March 2020", "March 3, 2020", "3/3/2020", "Mar 3, 2020", "March 3rd, 2020", "17 Aug 1999"]
explorer = CrossAttentionExplorer(encoder_decoder, vocab, sources=examples, layer=1, head=1, step=6)
explorer

# %% [markdown]
# The same view as a picture (this one shows even without a running kernel): layer 1, head 1, while the
# decoder writes the second month digit.

# %%
explorer.static_figure()

# %% [markdown]
# Step through the output of "Tue 3 March 2020" and a pattern appears: while writing the year the
# decoder reads "2020", while writing the month it reads the letters of "March", while writing the day it
# reads "3". The check measures it on every test date written "day month year": averaged over the heads
# of the last decoder layer, is most cross-attention on the right part of the source?

# %%
from course_lib.widgets.cross_attention import seq2seq_attention

written_day_month_year = [
    (s, t) for s, t in splits["test"] if write_date(datetime.date.fromisoformat(t), "day month year") == s
]
output_steps = {"year": range(0, 4), "month": range(5, 7), "day": range(8, 10)}  # positions in "2020-03-03"
aligned, seen = {part: 0 for part in output_steps}, 0
for s, t in written_day_month_year:
    answer, weights = seq2seq_attention(encoder_decoder, s, vocab=vocab)
    if answer != t:
        continue
    seen += 1
    day, month, year = s.split(" ")
    spans = {"day": range(len(day)), "month": range(len(day) + 1, len(day) + 1 + len(month)),
             "year": range(len(s) - 4, len(s))}  # fmt: skip
    cross_mean = weights["cross"][-1].mean(0)  # (T, S): the last decoder layer, averaged over heads
    for part, steps in output_steps.items():
        mass = {where: cross_mean[list(steps)][:, list(span)].sum(-1).mean() for where, span in spans.items()}
        aligned[part] += max(mass, key=mass.get) == part
print(f"{seen} correctly answered 'day month year' test dates; aligned: {aligned}")

# %%
# Check: the year, month and day digits each read mostly their own part of the source, in at least 90%
# of the examples.
assert seen >= 30 and all(count >= 0.9 * seen for count in aligned.values()), aligned
print("Cross-attention is an alignment: output digits read the source part they come from.")

# %% [markdown]
# ### bertviz's encoder-decoder view
#
# The same attention in bertviz's model view (drawn offline by `course_lib.bertviz_offline`): one small
# picture per layer (rows) and head (columns), lines joining each token to the tokens it attends to. The
# menu switches between the encoder's, the decoder's and the cross-attention; click a picture to enlarge it.

# %%
answer, weights = seq2seq_attention(encoder_decoder, probe, vocab=vocab)
decoder_tokens = ["<s>", *answer]
bertviz_offline.model_view(
    encoder_attention=list(weights["encoder"][:, None]),
    decoder_attention=list(weights["decoder"][:, None]),
    cross_attention=list(weights["cross"][:, None]),
    encoder_tokens=list(probe),
    decoder_tokens=decoder_tokens,
)

# %% [markdown]
# ### The decoder-only model on the same example
#
# The decoder-only model has no cross-attention: each answer position attends over one sequence that
# holds the prompt and the answer so far. Side by side for "Tue 3 March 2020": on the left, the
# encoder-decoder's cross-attention (last layer, mean over heads); on the right, the decoder-only model's
# attention from each answer position over the whole sequence (last layer, mean over heads).

# %%
sequence = decoder_only_prompt(probe, vocab) + vocab.encode(answer)  # BOS source SEP answer
with torch.no_grad():
    out = decoder_only(torch.tensor([sequence]), return_attention=True)
attention = out.attentions[-1][0].mean(0)  # (T, T): the last layer, averaged over heads
answer_rows = attention[len(probe) + 1 :]  # the rows that write the answer: from SEP on
labels = ["BOS", *probe, "SEP", *answer]
fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2), width_ratios=(1, 1.6))
viz.plot_attention(weights["cross"][-1].mean(0), [*answer, "EOS"], list(probe), ax=left,
                   title="encoder-decoder: cross-attention")  # fmt: skip
viz.plot_attention(answer_rows, [*answer, "EOS"], labels, ax=right,
                   title="decoder-only: attention over its prefix")  # fmt: skip
plt.show()

# %%
# Check: the decoder-only model's answer is the same, and its attention rows cover prompt and answer so far.
assert predict(decoder_only, [probe], vocab=vocab)[0] == answer == "2020-03-03"
assert answer_rows.shape == (len(answer) + 1, len(sequence))
assert torch.allclose(answer_rows.sum(-1), torch.ones(len(answer) + 1), atol=1e-5)
print("Both answer 2020-03-03; the decoder-only model finds the source inside its own sequence.")

# %% [markdown]
# ## 10. Where each family is used
#
# - **Encoder-decoder: T5, BART** (and many translation systems). Best when there is a clear input to
#   transform into an output: translation, summarisation, rewriting, speech-to-text (Whisper). The input
#   is read once, in both directions, and each output token runs only the decoder. Our table showed the
#   matching strengths: better generalisation to unseen input formats, and less work per output token
#   once the memory's keys and values are cached.
# - **Decoder-only: GPT, LLaMA, Mistral**. One sequence for everything, so one model can do any task
#   written as text (instructions, dialogue, code, translation) and can be pretrained on plain text at
#   enormous scale. Since 2020 the largest general-purpose generators are almost all decoder-only.
#
# **Honest limits of this comparison.** One toy task, one seed, one size (about 240k parameters), 300
# training steps, character tokens, and no pretraining. The decoder-only family's strengths appear at
# scale: pretraining on huge text corpora, long contexts with a single cache, and tasks that are not
# "one input, one output". The generalisation gap we measured may shrink, grow or reverse with more data,
# other seeds or other formats; a real study would repeat it over seeds and sizes. The FLOP counts are
# exact for these models; the timings describe this machine, at this moment.
#
# ## 11. Discussion
#
# > **How do decoder-only transformers differ from encoder-decoder transformers in generative tasks?**
#
# The evidence from this notebook, summarised by code:

# %%
discussion_evidence = {
    "parameters (encoder-decoder vs decoder-only)": f"{ed['parameters']:,} vs {do['parameters']:,}",
    "exact match, familiar formats": f"{ed['exact match, test']:.1%} vs {do['exact match, test']:.1%}",
    "exact match, unseen formats": f"{ed['exact match, hard']:.1%} vs {do['exact match, hard']:.1%}",
    "kFLOPs per generated token (memory K/V cached vs decoder-only)": (
        f"{per_token['encoder-decoder, cross K/V cached'] / 1e3:.0f} vs "
        f"{do['kFLOPs per generated token']:.0f}"),
    "wrong characters after a first mistake, free running":
        f"{exposure['encoder-decoder'][1]:.2f} vs {exposure['decoder-only'][1]:.2f}",
    "the same, with the true prefix (teacher forced)":
        f"{exposure['encoder-decoder'][2]:.2f} vs {exposure['decoder-only'][2]:.2f}",
    "dates whose digits read the matching source part": (
        ", ".join(f"{part} {count}" for part, count in aligned.items()) + f" (of {seen})"),
}
for claim, value in discussion_evidence.items():
    print(f"{claim:<66} {value}")

# %% tags=["nbval-ignore-output"]
# Kept next to your answers (answers/evidence/), for notebook 09 and your hand-in file.
evidence.save_notebook_evidence("05-encoder-vs-decoder", discussion_evidence, notebook="05")

# %% [markdown]
# **Your answer.** How do the two families differ in how they read the input, in what they learn, in the
# work they do per token and in where they are used? Which of the numbers above would you expect to change
# at the scale of GPT-3 or T5-XL, and why? Type in the box: your answer is saved as you type (in the
# course's `answers/` folder, with earlier versions kept) and comes back when you reopen the notebook.
# Notebook 09 shows the same answer and writes the file you hand in.

# %% tags=["nbval-ignore-output"]
AnswerBox("05-encoder-vs-decoder")

# %% [markdown]
# ## Summary
#
# - An **encoder-decoder** reads the source once with a bidirectional encoder; its causal decoder writes
#   the target and reads the source through **cross-attention**. A **decoder-only** model reads
#   `source SEP target` as one causal sequence, with the loss on the target part only.
# - Both are trained with **teacher forcing** (true previous tokens) and generate **free running** (their
#   own previous tokens); the mismatch, **exposure bias**, makes mistakes compound.
# - At a matched budget both learned familiar date formats (at least 95%); the encoder-decoder generalised
#   far better to unseen formats, and needs less work per generated token when it caches its memory's keys
#   and values.
# - Cross-attention maps read as an **alignment**: year digits read the year, month digits the month.
# - In practice: T5/BART-style models for transforming an input (translation, summarisation); GPT, LLaMA
#   and Mistral as general generators, where one sequence and pretraining at scale win.
#
# **Next:** `06_sampling_strategies.ipynb` keeps the model fixed and changes how the next token is chosen:
# greedy, temperature, top-k, top-p and min-p.
