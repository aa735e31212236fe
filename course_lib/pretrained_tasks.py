"""Using the two packaged pretrained models for small tasks (notebook 08).

- **Sentence embeddings** (all-MiniLM-L6-v2, an encoder): ``mean_pool`` averages the token vectors of
  each sentence, leaving out padding, and ``sentence_embeddings`` scales the result to length 1, as the
  sentence-transformers model does; ``nearest_neighbours`` finds the most similar sentence by cosine.
- **In-context learning** (SmolLM2-135M, a decoder): ``few_shot_prompt`` writes k solved examples before
  the question; ``next_token_predictions`` runs a batch of prompts in one forward pass and returns each
  prompt's most likely next token; ``first_token_accuracy`` scores them against the answers.
- **KV cache** (SmolLM2-135M): ``cache_bytes`` measures what a transformers cache holds, to compare with
  ``course_lib.architecture.kv_cache_bytes_per_token``.

The models and tokenizers are the ones ``course_lib.pretrained`` loads (transformers modules).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from course_lib.validation import check_shape, fail


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average each sentence's token vectors, padding left out: (B, T, C) and mask (B, T) -> (B, C).

    ``attention_mask`` is 1 for a real token and 0 for padding (as a tokenizer returns it).
    """
    check_shape("hidden", hidden, ("B", "T", "C"), "Pass the encoder's last_hidden_state.")
    check_shape("attention_mask", attention_mask, hidden.shape[:2], "Pass the tokenizer's attention_mask.")
    weights = attention_mask.to(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def _check_texts(argument: str, texts: Sequence[str]) -> None:
    if isinstance(texts, str) or not texts or not all(isinstance(t, str) and t for t in texts):
        fail(
            argument,
            "a non-empty list of non-empty strings",
            repr(texts)[:80],
            'Pass e.g. ["A cat.", "A dog."].',
        )


@torch.no_grad()
def sentence_embeddings(model: nn.Module, tokenizer: object, sentences: Sequence[str]) -> torch.Tensor:
    """One unit-length vector per sentence, (N, C): the encoder's token vectors, mean-pooled, normalised."""
    _check_texts("sentences", sentences)
    batch = tokenizer(list(sentences), padding=True, return_tensors="pt")
    hidden = model(**batch).last_hidden_state  # (N, T, C)
    return torch.nn.functional.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1)


def nearest_neighbours(queries: torch.Tensor, corpus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine of unit vectors (Q, C) x (N, C) -> scores (Q, N), and each query's best match (Q,)."""
    check_shape("queries", queries, ("Q", "C"), "Pass sentence_embeddings(...) of the questions.")
    check_shape("corpus", corpus, ("N", queries.shape[1]), "Embed both with the same model.")
    scores = queries @ corpus.T  # unit vectors: the dot product is the cosine
    return scores, scores.argmax(dim=-1)


def few_shot_prompt(
    examples: Sequence[tuple[str, str]], query: str, *, header: str = "", arrow: str = " ->"
) -> str:
    """``header``, one line ``input{arrow} output`` per solved example, then ``query{arrow}`` to complete.

    No examples: a zero-shot prompt (the header alone says what the task is).
    """
    solved = "".join(f"{given}{arrow} {answer}\n" for given, answer in examples)
    return f"{header}{solved}{query}{arrow}"


@torch.no_grad()
def next_token_predictions(model: nn.Module, tokenizer: object, prompts: Sequence[str]) -> list[int]:
    """The most likely next token id after each prompt, all prompts in one forward pass.

    The prompts are padded on the right: in a causal model no real token sees the padding, and each
    prompt's prediction is read at its own last token, so the result equals one pass per prompt.
    """
    _check_texts("prompts", prompts)
    rows = [tokenizer.encode(prompt) for prompt in prompts]
    width = max(len(row) for row in rows)
    pad = tokenizer.pad_token_id or 0
    ids = torch.tensor([row + [pad] * (width - len(row)) for row in rows])  # (B, T)
    logits = model(ids, use_cache=False).logits  # (B, T, V)
    last = torch.tensor([len(row) - 1 for row in rows])
    return logits[torch.arange(len(rows)), last].argmax(dim=-1).tolist()


def first_token_accuracy(
    model: nn.Module, tokenizer: object, prompts: Sequence[str], answers: Sequence[str]
) -> tuple[float, list[str]]:
    """Share of prompts whose most likely next token is the first token of " " + answer, and the tokens
    predicted (as text)."""
    if len(prompts) != len(answers):
        fail(
            "answers",
            f"one answer per prompt ({len(prompts)})",
            len(answers),
            "Pair every prompt with its answer.",
        )
    predicted = next_token_predictions(model, tokenizer, prompts)
    expected = [tokenizer.encode(" " + answer)[0] for answer in answers]
    hits = sum(p == e for p, e in zip(predicted, expected, strict=True))
    return hits / len(prompts), [tokenizer.decode([p]) for p in predicted]


def cache_bytes(cache: object) -> int:
    """Bytes of the keys and values a transformers ``DynamicCache`` holds (every layer)."""
    layers = getattr(cache, "layers", None)
    if layers is None:
        fail(
            "cache",
            "a transformers DynamicCache",
            type(cache).__name__,
            "Pass outputs.cache of a forward pass.",
        )
    tensors = [t for layer in layers for t in (layer.keys, layer.values)]
    return sum(t.numel() * t.element_size() for t in tensors)
