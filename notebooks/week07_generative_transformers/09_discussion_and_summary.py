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
# # Week 7 · 09 — Discussion and summary
#
# The week in one place: what generative transformers are used for, the papers behind the ideas you
# built, the two discussion prompts with the evidence your notebooks produced, and a short quiz.
#
# **Time:** about 45 minutes (20 of them writing your two answers).
#
# **By the end of this notebook you will be able to**
# 1. match each family of applications (text, vision, audio, multimodal, code) to the model family that
#    suits it, and say why;
# 2. state the one idea of each of the week's key papers, and point to where you built or measured it;
# 3. answer both discussion prompts with numbers you measured, and hand the answers in as one file;
# 4. check your understanding of the week with a self-assessment quiz.
#
# Your answers are saved as you type, in the `answers/` folder of the course (git ignores it), with the
# earlier versions kept. They are the same answers as the boxes of notebooks 05 and 07: write them there
# or here.

# %%
import torch

torch.set_num_threads(1)  # small models, small matrices: one thread is faster on a busy laptop (see 04)

from IPython.display import Markdown

from course_lib import evidence, images, music
from course_lib.checkpoints import load_checkpoint
from course_lib.data import DATA_DIR
from course_lib.decoding import generate
from course_lib.discussion import AnswerBox, AnswerStore, export_answers
from course_lib.tasks import Seq2SeqVocab, predict
from course_lib.widgets.quiz import SelfAssessmentQuiz

# %% [markdown]
# ## 1. Key applications, and what you built of each
#
# The same decoder that writes text writes anything that can be cut into tokens. The table below ties each
# application to the model family that suits it and to the notebook where you ran a small working version,
# or says plainly that the week only discussed it. Before the table, four of those small versions run again
# here, from the checkpoints the course ships (a few seconds in all).

# %%
char = load_checkpoint(DATA_DIR / "checkpoints" / "char_gpt_python_docs")
prompt = torch.tensor([char.tokenizer.encode("The list ")])
story_ids = generate(char.model, prompt, 60, strategy="sample", temperature=0.7, top_p=0.9, seed=1)
story = char.tokenizer.decode(story_ids[0].tolist())
print("text (notebook 04):", repr(story))

dates = load_checkpoint(DATA_DIR / "checkpoints" / "dates_encoder_decoder")
vocab = Seq2SeqVocab.from_tokenizer(dates.tokenizer)
source = "Sat 25 November 2028"
translation = predict(dates.model, [source], vocab=vocab)[0]
print("translation between formats (notebook 05):", source, "->", translation)

# %%
split = images.load_digit_images()
judge = images.train_judge(split)
raster, _ = images.load_shipped_models()
drawn = images.images_from_tokens(images.generate_raster(raster, [7, 3], seed=0))
seen = images.judge_labels(judge, drawn).tolist()
print("text-to-image, the class as the prompt (notebook 07): asked for [7, 3], the judge sees", seen)

tunes = music.load_tune_model()
tune = music.generate_tunes(tunes.model, tunes.tokenizer, count=1, seed=0)[0]
print("music (notebook 07):", tune[:80], "…")

# %%
# Check: the small versions still do their jobs (the date is right, the digits are recognised, the
# tune has bar lines).
import datetime

assert translation == datetime.date(2028, 11, 25).isoformat()
assert seen == [7, 3]
assert "|" in tune and len(story) > len("The list ")
print("four small generators, four working outputs")

# %%
NB = {"04": "04_gpt_from_tokens_to_text", "05": "05_encoder_decoder_vs_decoder_only",
      "06": "06_sampling_strategies", "07": "07_beyond_text", "08": "08_pretrained_models"}
APPLICATIONS = [  # (domain, use case, family that suits it and why, what this week did, notebooks)
    ("Text", "stories, open-ended writing", "**decoder-only** (GPT, LLaMA): the text is its own context; "
     "one causal stack, one KV cache", "built: the character GPT, sampling, SmolLM2", ["04", "06", "08"]),
    ("Text", "summarisation, translation", "**encoder-decoder** (T5, BART) for a separate input read once "
     "in both directions; decoder-only models do it too, input as prompt", "built: date formats "
     "translated by both families", ["05"]),
    ("Vision", "text-to-image", "a **decoder over image tokens** (DALL·E, Parti), MaskGIT's **parallel "
     "rounds**, or diffusion guided by a text encoder (Imagen)", "built: mini DALL·E and MaskGIT on "
     "digits", ["07"]),
    ("Vision", "inpainting", "a **bidirectional** model that fills masked tokens (MaskGIT): it sees both "
     "sides of the hole", "in part: MaskGIT fills masked tokens; inpainting a given image not shown", ["07"]),
    ("Vision", "style transfer", "mostly diffusion or image encoder-decoders conditioned on a style",
     "discussed only", []),
    ("Audio", "text-to-speech", "**encoder-decoder** (SpeechT5) or parallel (FastSpeech): text in, audio "
     "frames or codec tokens out", "discussed, with samples vs codec tokens measured", ["07"]),
    ("Audio", "music", "**decoder-only** over note tokens (Music Transformer) or codec tokens (Jukebox)",
     "built: the tune GPT, bar-length check, piano roll, sound", ["07"]),
    ("Multimodal", "captioning, video narration", "an **image or video encoder** feeding a text decoder "
     "(Flamingo); CLIP pairs images with text", "discussed; the mini DALL·E mixes a 'text' token with "
     "image tokens", ["07"]),
    ("Code", "completion, chat coding", "**decoder-only**: code is text with stricter rules",
     "in small: the character GPT read Python's docs, code included", ["04"]),
]
rows = ["| Domain | Use case | Family that suits it, and why | This week |", "|---|---|---|---|"]
for domain, use, family, built, notebooks in APPLICATIONS:
    links = ", ".join(f"[{number}]({NB[number]}.ipynb)" for number in notebooks)
    rows.append(f"| {domain} | {use} | {family} | {built}{' (' + links + ')' if links else ''} |")
Markdown("\n".join(rows))

# %%
# Check: every domain of the outline's table is covered, and every link names a notebook that exists.
from pathlib import Path

assert {row[0] for row in APPLICATIONS} == {"Text", "Vision", "Audio", "Multimodal", "Code"}
assert all(Path(f"{NB[n]}.py").exists() for row in APPLICATIONS for n in row[4])
print(f"{len(APPLICATIONS)} applications, {sum(bool(row[4]) for row in APPLICATIONS)} with a notebook")

# %% [markdown]
# ## 2. Notable papers, and what you did with each
#
# Each paper's one idea in two sentences, and where you built or measured it this week. The figures are
# recomputed in the next cell from the shipped checkpoints' records and the course's library.
#
# - **Attention Is All You Need** (Vaswani et al., 2017, arXiv:1706.03762). Drop recurrence: let every
#   position attend to every other, with positions added as encodings, in an encoder-decoder. You built
#   scaled dot-product attention ([01](01_self_attention.ipynb)), positional encodings
#   ([02](02_positional_encoding.ipynb)) and both stacks ([03](03_blocks_and_families.ipynb)).
# - **GPT-3: Language Models are Few-Shot Learners** (Brown et al., 2020, arXiv:2005.14165). A decoder-only
#   model scaled to 175B parameters learns tasks from examples placed in its prompt, with no weight
#   updates. You counted its parameters with the architecture explorer ([03](03_blocks_and_families.ipynb))
#   and measured few-shot against zero-shot prompting on SmolLM2 ([08](08_pretrained_models.ipynb)).
# - **T5: Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer** (Raffel et al.,
#   2020, arXiv:1910.10683). Every task becomes "text in, text out" for one encoder-decoder. Your dates
#   task is a small text-to-text problem, solved by both families
#   ([05](05_encoder_decoder_vs_decoder_only.ipynb)).
# - **DALL·E** (Ramesh et al., 2021, arXiv:2102.12092). Compress images into discrete tokens, then train one
#   decoder on text tokens followed by image tokens. Your mini DALL·E does this with a class token and
#   pixel tokens ([07](07_beyond_text.ipynb)).
# - **Imagen** (Saharia et al., 2022, arXiv:2205.11487). A frozen language-model text encoder guides a
#   diffusion model that refines noise into an image; scaling the text encoder mattered more than scaling
#   the image model. Notebook [07](07_beyond_text.ipynb) explains the contrast with token-based generation.
# - **MaskGIT** (Chang et al., 2022) and **Parti** (Yu et al., 2022). MaskGIT fills image tokens in a few
#   parallel rounds instead of one at a time; Parti scales the DALL·E recipe with a ViT-VQGAN tokenizer and
#   an encoder-decoder. You measured MaskGIT against raster order ([07](07_beyond_text.ipynb)).
# - **LLaMA** (Touvron et al., 2023, arXiv:2302.13971). Open models with RMSNorm, SwiGLU and rotary
#   positions, trained on more tokens than was usual for their size. SmolLM2, which you ran offline, has
#   this architecture ([08](08_pretrained_models.ipynb)).

# %%
from course_lib.architecture import PRESETS, Architecture, parameter_count

gpt3 = Architecture(family="decoder-only", n_layer=96, n_head=96, d_model=12288, d_ff=4 * 12288,
                    vocab_size=50257, context=2048)  # the GPT-3 paper's Table 2.1, largest model
records = {name: evidence.recorded_metrics(name) for name in
           ("dates_encoder_decoder", "dates_decoder_only", "digits_raster_gpt", "digits_maskgit")}
figures = {
    "GPT-3 175B, parameters counted by the explorer (billions)":
        round(parameter_count(gpt3).total / 1e9),
    "T5-style dates task, encoder-decoder exact match":
        f"{records['dates_encoder_decoder']['test_exact_match']:.1%}",
    "mini DALL·E (raster), judge accuracy": f"{records['digits_raster_gpt']['accuracy']:.1%}",
    "MaskGIT (K = 8), judge accuracy": f"{records['digits_maskgit']['accuracy']:.1%}",
    "LLaMA-architecture SmolLM2-135M, parameters (millions)":
        round(parameter_count(PRESETS["SmolLM2-135M"].architecture).total / 1e6, 1),
}
for name, value in figures.items():
    print(f"{name:<60} {value}")

# %%
# Check: the figures quoted in the list match the sources they come from.
assert figures["GPT-3 175B, parameters counted by the explorer (billions)"] == 175
assert figures["LLaMA-architecture SmolLM2-135M, parameters (millions)"] == 134.5
assert records["digits_raster_gpt"]["accuracy"] >= 0.97 and records["digits_maskgit"]["accuracy"] >= 0.9
print("paper figures recomputed")

# %% [markdown]
# ## 3. The discussion prompts, with your evidence
#
# For each prompt: the evidence recomputed from the shipped checkpoints' records and the course's
# arithmetic, then, if you ran the notebook that asks the prompt on this machine, the table it measured
# and saved in your run. Then your answer box: the same answer as in notebooks 05 and 07, saved as you type.

# %%
def show_evidence(prompt_id: str) -> dict[str, str]:
    """Print and return the prompt's evidence: recomputed rows, then the rows your run saved (if any)."""
    rows = evidence.week_evidence(prompt_id)
    for claim, value in rows.items():
        print(f"  {claim:<72} {value}")
    if evidence.load_notebook_evidence(prompt_id) is None:
        print(f"(Notebook {prompt_id[:2]} has not saved its measurements here yet: run it to add them.)")
    return rows


# %% [markdown]
# ### Prompt 1 (notebook 05)
#
# > *How do decoder-only transformers differ from encoder-decoder transformers in generative tasks?*
#
# Think about: how each reads the input (once and in both directions, or as the start of one causal
# sequence), what the same parameter budget bought on familiar and unseen formats, the work per generated
# token, exposure bias, and where each family is used at scale.

# %% tags=["nbval-ignore-output"]
# The saved table appears only after notebook 05 has run on this machine.
families_evidence = show_evidence("05-encoder-vs-decoder")

# %%
# Check: the recomputed evidence is the shipped checkpoints' record, whichever run saved what.
recomputed_1 = evidence.recorded_evidence("05-encoder-vs-decoder")
assert recomputed_1.items() <= families_evidence.items()
assert recomputed_1["exact match, 4 unseen date formats"].startswith(
    f"{records['dates_encoder_decoder']['hard_exact_match']:.1%}")
print("prompt 1 evidence ready")

# %% tags=["nbval-ignore-output"]
# Your answer: type in the box; it is saved as you type (and reloaded when you reopen the notebook).
AnswerBox("05-encoder-vs-decoder")

# %% [markdown]
# ### Prompt 2 (notebook 07)
#
# > *What challenges arise when using transformers for high-resolution image or video generation?*
#
# Think about: how tokens grow with resolution and frames, how attention's time and memory grow with
# tokens, where this laptop ran out, what each fix (bigger patches or a latent tokenizer, windowed or
# axial attention, fewer decoding rounds) trades away, and what a KV cache costs for a video.

# %% tags=["nbval-ignore-output"]
# The free memory depends on the machine; the saved table appears only after notebook 07 has run here.
resolution_evidence = show_evidence("07-high-resolution")

# %%
# Check: one token per pixel at 256 x 256 needs more memory for one attention table than 16 px patches
# need for the whole model's weights many times over; a video's cache is gigabytes.
assert resolution_evidence["256 x 256 image, one token per pixel: tokens"] == "65,536"
assert resolution_evidence["doubling the side multiplies full attention's pairs by"] == "16"
print("prompt 2 evidence ready")

# %% tags=["nbval-ignore-output"]
AnswerBox("07-high-resolution")

# %% [markdown]
# ## 4. Hand in: one file with your answers and the evidence
#
# The next cell writes your answers, with the evidence tables above, to one Markdown file and one HTML file
# in the `answers/` folder (`week07_answers.md` and `.html`). Run it again after editing an answer. From a
# terminal, `python -m course_lib.discussion export` does the same. Instructors gather a class's files
# with `python -m course_lib.discussion collect FOLDER`.

# %% tags=["nbval-ignore-output"]
store = AnswerStore()
if store.prompt_ids():
    tables = {"05-encoder-vs-decoder": families_evidence, "07-high-resolution": resolution_evidence}
    answered = {prompt_id: table for prompt_id, table in tables.items() if prompt_id in store.prompt_ids()}
    paths = export_answers(evidence=answered, prompt_ids=list(answered))
    print("written:", *paths, sep="\n  ")
else:
    print("No answers saved yet: write at least one in the boxes above, then run this cell again.")

# %% [markdown]
# ## 5. Self-assessment quiz
#
# One question per big idea of the week. Choose an answer to see why it is right or what it
# misses, and which notebook to revisit. Nothing is recorded.

# %% tags=["nbval-ignore-output"]
SelfAssessmentQuiz()

# %% [markdown]
# ## Summary of the week
#
# - **Transformers** replace recurrence with **self-attention**: every position weighs every other in one
#   parallel step (01), and **positional encodings** put back the order attention cannot see (02).
# - Blocks of attention and MLP with residuals and norms make three **families** (03): encoder-only (BERT,
#   MiniLM: understanding), decoder-only (GPT, LLaMA, SmolLM2: generation, one token at a time) and
#   encoder-decoder (T5, BART: a separate input read once, then generation through cross-attention).
# - A **decoder-only GPT** is trained to predict the next token and generates autoregressively; a
#   **KV cache** makes each new token cost one position's work (04). **Sampling** decides which token comes
#   next: temperature, top-k, top-p, min-p, repetition penalties and beam search trade quality against
#   variety (06).
# - On one task and one budget, the two generative families differ in what they learn and how they fail
#   (05); at scale, the decoder-only recipe won most of text generation.
# - **Anything that can be tokenised can be generated**: images (DALL·E-style raster order, MaskGIT's
#   parallel rounds), music and audio (07). **High resolution and video** are hard because tokens grow
#   with area and frames and full attention grows with the square of the tokens (07).
# - **Real pretrained models** use the same parts with small changes (RMSNorm, SwiGLU, rotary positions,
#   grouped-query attention) and run offline on a laptop (08).
#
# **Next:** hand in your answers file, and bring your answer to prompt 2 to class.
