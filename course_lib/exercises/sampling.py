"""Notebook 06's exercises: the top-p (nucleus) filter, and the repetition penalty."""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_lib.decoding import apply_repetition_penalty, top_p_filter
from course_lib.exercises.feedback import ExerciseFeedback, not_attempted

TopPFn = Callable[[torch.Tensor, float], torch.Tensor]
PenaltyFn = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]

_NOT_ATTEMPTED = "Not attempted yet: replace the `...` with your code, then run this cell again."

# ------------------------------------------------------------------------------------------------------------
# Exercise 1: top-p on a probability vector
# ------------------------------------------------------------------------------------------------------------

# (V,) probabilities in shuffled order: vocabulary, ascending and descending order all differ.
# At p = 0.7 the nucleus is {0.4, 0.25, 0.15}: 0.4 + 0.25 = 0.65 < 0.7, the third token crosses p.
_PROBS = torch.tensor([0.06, 0.25, 0.02, 0.4, 0.08, 0.15, 0.04])
_P = 0.7
_PEAKED = torch.tensor([0.1, 0.85, 0.05])  # the top token alone holds more than p


def _renormalise(kept: torch.Tensor) -> torch.Tensor:
    return kept / kept.sum()


def _nucleus(probs: torch.Tensor, p: float, *, descending: bool = True, include_crossing: bool = True):
    """Kept probabilities (V,) before renormalising; the flags make the usual wrong versions."""
    sorted_probs, order = probs.sort(descending=descending)
    before = sorted_probs.cumsum(0) - sorted_probs  # mass of the tokens ranked before each one
    keep = before < p if include_crossing else sorted_probs.cumsum(0) <= p
    return probs * keep.scatter(0, order, keep)


def _top_p_mistakes(probs: torch.Tensor, p: float) -> dict[str, torch.Tensor]:
    nucleus = _nucleus(probs, p)
    sorted_probs = probs.sort(descending=True).values
    unsorted_keep = (probs.cumsum(0) - probs) < p
    return {
        "You dropped the token that crosses p. Keep every token until the kept mass *reaches* p, the "
        "crossing token included (keep a token while the mass ranked before it is still below p).": (
            _renormalise(_nucleus(probs, p, include_crossing=False))
        ),
        "You kept the *least* likely tokens: sort in descending order (most likely first).": _renormalise(
            _nucleus(probs, p, descending=False)
        ),
        "You summed the probabilities in vocabulary order. Sort them first (most likely first), then "
        "take the running sum.": _renormalise(probs * unsorted_keep),
        "The kept probabilities do not sum to 1: divide them by their sum (renormalise) after filtering.": (
            nucleus
        ),
        "Your result is in sorted order: put each probability back at its token's position (scatter "
        "with the sort order, or build the mask in vocabulary order).": _renormalise(
            sorted_probs * ((sorted_probs.cumsum(0) - sorted_probs) < p)
        ),
    }


def _reference_top_p(probs: torch.Tensor, p: float) -> torch.Tensor:
    """course_lib's top-p filter, on probabilities: filter log-probabilities, softmax back."""
    return top_p_filter(probs.log()[None], p).softmax(dim=-1)[0]


def check_top_p(student: TopPFn) -> None:
    """Check ``student(probs (V,), p) -> probs (V,)``: the nucleus, renormalised, in vocabulary order.

    Raises ExerciseFeedback naming the mistake: the crossing token dropped, ascending sort, running sum
    in vocabulary order, no renormalisation, result left in sorted order, no token kept.
    """
    if not_attempted(student, _PROBS.clone(), _P):
        print(_NOT_ATTEMPTED)
        return
    for probs, p in ((_PEAKED, 0.5), (_PROBS, _P), (_PROBS, 0.9)):
        got = _as_probs(student(probs.clone(), p), probs)
        want = _reference_top_p(probs, p)
        if torch.allclose(got, want, atol=1e-6):
            continue
        if not got.isfinite().all() or got.sum() == 0:
            raise ExerciseFeedback(
                f"With probs {probs.tolist()} and p={p} you kept no token (or got nan). Always keep the most "
                "likely token, even when it alone holds more than p."
            )
        for message, wrong in _top_p_mistakes(probs, p).items():
            if torch.allclose(got, wrong, atol=1e-6):
                raise ExerciseFeedback(message)
        raise ExerciseFeedback(
            f"With probs {probs.tolist()} and p={p} you returned {[round(x, 3) for x in got.tolist()]}; "
            f"expected {[round(x, 3) for x in want.tolist()]}."
        )
    print("Correct! The nucleus: the fewest most-likely tokens whose mass reaches p, renormalised.")


def _as_probs(result: object, probs: torch.Tensor) -> torch.Tensor:
    if not isinstance(result, torch.Tensor):
        raise ExerciseFeedback(
            f"Return a torch.Tensor of probabilities; you returned {type(result).__name__}."
        )
    if result.shape != probs.shape:
        raise ExerciseFeedback(
            f"Return one probability per token: expected shape {tuple(probs.shape)}, "
            f"got {tuple(result.shape)}."
        )
    return result.detach().float()


# ------------------------------------------------------------------------------------------------------------
# Exercise 2: the repetition penalty
# ------------------------------------------------------------------------------------------------------------

_LOGITS = torch.tensor([2.0, -1.0, 0.5, -3.0, 1.5, 0.0])  # (V,) positive and negative logits
_PREVIOUS = torch.tensor([0, 1, 0, 0, 3])  # (T,) token 0 three times, tokens 1 and 3 once; 2, 4, 5 unseen
_PENALTY = 2.0


def _penalised(logits: torch.Tensor, ids: torch.Tensor, penalty: float, *, rule: str = "hf") -> torch.Tensor:
    """course_lib's penalty (``rule="hf"``) or a usual wrong version: "divide", "swapped", "all", "each"."""
    seen = torch.zeros_like(logits, dtype=torch.bool).index_fill(0, ids, True)  # (V,)
    if rule == "all":
        seen = torch.ones_like(seen)
    factor = torch.bincount(ids, minlength=logits.numel()) if rule == "each" else torch.ones_like(logits)
    factor = penalty ** factor.float()  # (V,) penalty ** (occurrences) for "each", else penalty
    if rule == "divide":
        penalised = logits / factor
    elif rule == "swapped":
        penalised = torch.where(logits < 0, logits / factor, logits * factor)
    else:
        penalised = torch.where(logits < 0, logits * factor, logits / factor)
    return torch.where(seen, penalised, logits)


def _penalty_mistakes(logits: torch.Tensor, ids: torch.Tensor, penalty: float) -> dict[str, torch.Tensor]:
    return {
        "You divided every seen logit by the penalty. A negative logit divided by 2 gets *closer to 0*, so "
        "that token becomes more likely: multiply negative logits by the penalty instead.": _penalised(
            logits, ids, penalty, rule="divide"
        ),
        "Your rule is the wrong way round: divide *positive* logits by the penalty and multiply *negative* "
        "ones (both moves lower the logit).": _penalised(logits, ids, penalty, rule="swapped"),
        "You penalised tokens that never occurred: only the tokens in previous_ids change.": _penalised(
            logits, ids, penalty, rule="all"
        ),
        "You penalised a token once per occurrence (penalty ** count). Hugging Face penalises each seen "
        "token once, however often it occurred.": _penalised(logits, ids, penalty, rule="each"),
    }


def check_repetition_penalty(student: PenaltyFn) -> None:
    """Check ``student(logits (V,), previous_ids (T,), penalty) -> logits (V,)`` against course_lib's rule.

    Raises ExerciseFeedback naming the mistake: negative logits divided, the rule swapped, unseen tokens
    penalised, a token penalised once per occurrence, the input logits changed in place.
    """
    if not_attempted(student, _LOGITS.clone(), _PREVIOUS.clone(), _PENALTY):
        print(_NOT_ATTEMPTED)
        return
    logits = _LOGITS.clone()
    got = student(logits, _PREVIOUS.clone(), _PENALTY)
    if not isinstance(got, torch.Tensor) or got.shape != _LOGITS.shape:
        given = f"shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else type(got).__name__
        raise ExerciseFeedback(f"Return one logit per token, shape {tuple(_LOGITS.shape)}; got {given}.")
    want = apply_repetition_penalty(_LOGITS[None], _PREVIOUS[None], _PENALTY)[0]
    got = got.detach().float()
    if not torch.allclose(got, want, atol=1e-6):
        for message, wrong in _penalty_mistakes(_LOGITS, _PREVIOUS, _PENALTY).items():
            if torch.allclose(got, wrong, atol=1e-6):
                raise ExerciseFeedback(message)
        raise ExerciseFeedback(
            f"For logits {_LOGITS.tolist()}, previous_ids {_PREVIOUS.tolist()} and penalty {_PENALTY} you "
            f"returned {got.tolist()}; expected {want.tolist()}."
        )
    if not torch.equal(logits, _LOGITS):
        raise ExerciseFeedback(
            "Your answer changed the logits it was given (in place). Work on a copy (logits.clone()): the "
            "caller may still need the model's original logits."
        )
    print("Correct! Each token already used loses some of its pull, once, whatever the sign of its logit.")
