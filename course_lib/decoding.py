"""Decoding: turning next-token logits into text.

A language model only ever gives logits for the *next* token. Decoding is everything around that:

1. Filters reshape the next-token logits (B, V) before we pick a token. Each returns new logits
   (B, V) where removed tokens are ``-inf`` (probability 0 after softmax). They compute exactly what
   Hugging Face's logits processors compute (``TemperatureLogitsWarper``, ``TopKLogitsWarper``,
   ``TopPLogitsWarper``, ``MinPLogitsWarper``, ``RepetitionPenaltyLogitsProcessor``, each with its
   default ``min_tokens_to_keep=1``), so what you learn here carries over to ``model.generate``.
2. ``next_token_distribution`` chains the filters in Hugging Face's order (repetition penalty,
   temperature, top-k, top-p, min-p) and returns probabilities (B, V).

Shapes: B = batch (rows), V = vocabulary size, T = sequence length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from course_lib.validation import check_int, check_number, check_shape, fail

# ---------------------------------------------------------------------------------------------------------------
# Argument checks shared by the filters, next_token_distribution and the generation loops
# ---------------------------------------------------------------------------------------------------------------


def _check_logits(logits: torch.Tensor) -> None:
    """Logits must be a floating-point (B, V) tensor: one row of next-token scores per sequence."""
    check_shape("logits", logits, ("B", "V"), "Pass the last position only, e.g. model(idx).logits[:, -1, :].")
    if not logits.is_floating_point():
        fail("logits", "a floating-point tensor", f"dtype {logits.dtype}", "Convert with logits.float().")


def _check_temperature(temperature: float) -> None:
    check_number("temperature", temperature, low=0.0, fix="Use 1.0 for the model's own distribution, 0 for greedy.")


def _check_top_k(top_k: int, argument: str = "top_k") -> None:
    check_int(argument, top_k, minimum=1, fix="Use e.g. 50 (or None to switch top-k off).")


def _check_top_p(top_p: float, argument: str = "top_p") -> None:
    check_number(argument, top_p, low=0.0, low_inclusive=False, high=1.0, fix="Use e.g. 0.9 (1.0 keeps every token).")


def _check_min_p(min_p: float, argument: str = "min_p") -> None:
    check_number(argument, min_p, low=0.0, high=1.0, fix="Use e.g. 0.05 (0 keeps every token).")


def _check_repetition_penalty(penalty: float, argument: str = "repetition_penalty") -> None:
    check_number(argument, penalty, low=0.0, low_inclusive=False, fix="Use 1.0 for no penalty, e.g. 1.2 to discourage repeats.")


def _check_token_ids(argument: str, ids: torch.Tensor, shape: tuple = ("B", "T")) -> None:
    """Token ids must be a LongTensor of the given named shape with at least one position."""
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
        given = f"dtype {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__
        fail(argument, "a LongTensor (torch.long) of token ids", given, "Build it with torch.tensor(ids, dtype=torch.long).")
    check_shape(argument, ids, shape, "Add a batch dimension with ids.unsqueeze(0) if you have a single sequence.")
    if ids.size(-1) == 0:
        fail(argument, "at least one token long", f"shape {tuple(ids.shape)}", "Start from a prompt (or a BOS token).")


# ---------------------------------------------------------------------------------------------------------------
# Filters: (B, V) logits -> (B, V) logits, removed tokens set to -inf
# ---------------------------------------------------------------------------------------------------------------


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide logits (B, V) by ``temperature``: < 1 sharpens the distribution, > 1 flattens it.

    ``temperature=0`` is the limit T -> 0: all probability goes to the most likely token, so only the
    argmax of each row stays finite (its logit unchanged) and every other entry becomes ``-inf``.
    Hugging Face refuses 0 (it asks for ``do_sample=False``); here it simply means greedy.
    """
    _check_logits(logits)
    _check_temperature(temperature)
    if temperature == 0:
        best = logits.argmax(dim=-1, keepdim=True)  # (B, 1)
        return torch.full_like(logits, float("-inf")).scatter(1, best, logits.gather(1, best))
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` highest logits of each row (B, V); the rest become ``-inf``.

    Tokens tied with the k-th highest logit are kept too (as in Hugging Face), so a row keeps exactly
    ``k`` tokens unless there are ties. ``k`` larger than V keeps everything.
    """
    _check_logits(logits)
    _check_top_k(k, "k")
    kth_best = torch.topk(logits, min(k, logits.size(-1)), dim=-1).values[:, -1:]  # (B, 1)
    return logits.masked_fill(logits < kth_best, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of most likely tokens whose probability reaches ``p``.

    Sorting each row (B, V) from least to most likely, a token is removed when the tokens up to and
    including it hold at most ``1 - p`` of the mass: what remains holds at least ``p``. The most likely
    token is always kept. ``p=1`` keeps every token with non-zero probability.
    """
    _check_logits(logits)
    _check_top_p(p, "p")
    sorted_logits, order = torch.sort(logits, dim=-1)  # ascending, (B, V)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (B, V) mass of this token and all less likely ones
    remove_sorted = cumulative <= 1 - p
    remove_sorted[:, -1] = False  # always keep the most likely token
    remove = remove_sorted.scatter(1, order, remove_sorted)  # back to vocabulary order, (B, V)
    return logits.masked_fill(remove, float("-inf"))


def min_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep tokens whose probability is at least ``p`` times the top token's probability.

    The cut-off scales with the model's confidence: a peaked row (B, V) keeps few tokens, a flat row
    keeps many. The most likely token is always kept. ``p=0`` keeps everything.
    """
    _check_logits(logits)
    _check_min_p(p, "p")
    probs = logits.softmax(dim=-1)  # (B, V)
    remove = probs < p * probs.amax(dim=-1, keepdim=True)
    remove.scatter_(1, probs.argmax(dim=-1, keepdim=True), False)  # always keep the most likely token
    return logits.masked_fill(remove, float("-inf"))


def apply_repetition_penalty(logits: torch.Tensor, previous_ids: torch.Tensor, penalty: float) -> torch.Tensor:
    """Make tokens that already occur in ``previous_ids`` (B, T) less likely (CTRL paper, Keskar et al. 2019).

    Each such token's logit is divided by ``penalty`` when positive and multiplied by it when negative,
    so ``penalty > 1`` always lowers it (once, however often the token occurred) and ``penalty < 1``
    raises it. ``penalty=1`` changes nothing. Returns new logits (B, V).
    """
    _check_logits(logits)
    _check_repetition_penalty(penalty, "penalty")
    _check_token_ids("previous_ids", previous_ids)
    if previous_ids.size(0) != logits.size(0):
        fail("previous_ids", f"one row per logits row ({logits.size(0)})", f"{previous_ids.size(0)} rows", "Pass the ids that produced these logits.")
    if previous_ids.min() < 0 or previous_ids.max() >= logits.size(-1):
        fail("previous_ids", f"token ids in [0, {logits.size(-1) - 1}]", f"ids from {previous_ids.min().item()} to {previous_ids.max().item()}", "Pass ids of the same vocabulary as the logits.")
    seen = logits.gather(1, previous_ids)  # (B, T) logits of the tokens already used
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return logits.scatter(1, previous_ids, seen)


# ---------------------------------------------------------------------------------------------------------------
# The distribution we sample from
# ---------------------------------------------------------------------------------------------------------------


def next_token_distribution(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    repetition_penalty: float = 1.0,
    previous_ids: torch.Tensor | None = None,
) -> torch.Tensor:
    """Next-token probabilities (B, V) after all filters, in Hugging Face's order.

    Order: repetition penalty (needs ``previous_ids`` (B, T)), temperature, top-k, top-p, min-p, softmax.
    ``None`` switches a filter off; ``temperature=0`` puts all mass on the most likely token (greedy).
    Every row sums to 1 and removed tokens have probability exactly 0.
    """
    _check_logits(logits)
    _check_sampling_options(temperature, top_k, top_p, min_p, repetition_penalty)
    if repetition_penalty != 1.0:
        if previous_ids is None:
            fail("previous_ids", "given when repetition_penalty != 1", "None", "Pass the tokens generated so far (B, T).")
        logits = apply_repetition_penalty(logits, previous_ids, repetition_penalty)
    if temperature != 1.0:
        logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None and top_p < 1.0:
        logits = top_p_filter(logits, top_p)
    if min_p is not None and min_p > 0.0:
        logits = min_p_filter(logits, min_p)
    return logits.softmax(dim=-1)  # (B, V)


def _check_sampling_options(
    temperature: float, top_k: int | None, top_p: float | None, min_p: float | None, repetition_penalty: float
) -> None:
    """Validate every sampling option up front, so a bad one fails before any model work."""
    _check_temperature(temperature)
    if top_k is not None:
        _check_top_k(top_k)
    if top_p is not None:
        _check_top_p(top_p)
    if min_p is not None:
        _check_min_p(min_p)
    _check_repetition_penalty(repetition_penalty)
