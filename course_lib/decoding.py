"""Decoding: turning next-token logits into text.

A language model only ever gives logits for the *next* token. Decoding is everything around that:

1. Filters reshape the next-token logits (B, V) before we pick a token. Each returns new logits
   (B, V) where removed tokens are ``-inf`` (probability 0 after softmax). They compute exactly what
   Hugging Face's logits processors compute (``TemperatureLogitsWarper``, ``TopKLogitsWarper``,
   ``TopPLogitsWarper``, ``MinPLogitsWarper``, ``RepetitionPenaltyLogitsProcessor``, each with its
   default ``min_tokens_to_keep=1``), so what you learn here carries over to ``model.generate``.
2. ``next_token_distribution`` chains the filters in Hugging Face's order (repetition penalty,
   temperature, top-k, top-p, min-p) and returns probabilities (B, V).
3. ``generate`` (decoder-only models) and ``generate_seq2seq`` (encoder-decoder models) loop: run the
   model, pick a token (greedy = most likely, sample = draw from the distribution), append it, repeat.
   A KV cache (``use_cache=True``) makes each step cost one token instead of the whole sequence and
   gives the same tokens.
4. ``beam_search`` keeps the ``num_beams`` most likely partial sequences instead of one, and records
   every step so the search can be drawn as a tree.

Shapes: B = batch (rows), V = vocabulary size, T = sequence length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.models import DecoderOnlyLM, EncoderDecoderLM
from course_lib.validation import check_int, check_number, check_shape, fail

# ---------------------------------------------------------------------------------------------------------------
# Argument checks shared by the filters, next_token_distribution and the generation loops
# ---------------------------------------------------------------------------------------------------------------


def _check_logits(logits: torch.Tensor) -> None:
    """Logits must be a floating-point (B, V) tensor: one row of next-token scores per sequence."""
    check_shape(
        "logits", logits, ("B", "V"), "Pass the last position only, e.g. model(idx).logits[:, -1, :]."
    )
    if not logits.is_floating_point():
        fail("logits", "a floating-point tensor", f"dtype {logits.dtype}", "Convert with logits.float().")


def _check_temperature(temperature: float) -> None:
    check_number(
        "temperature", temperature, low=0.0, fix="Use 1.0 for the model's own distribution, 0 for greedy."
    )


def _check_top_k(top_k: int, argument: str = "top_k") -> None:
    check_int(argument, top_k, minimum=1, fix="Use e.g. 50 (or None to switch top-k off).")


def _check_top_p(top_p: float, argument: str = "top_p") -> None:
    check_number(
        argument, top_p, low=0.0, low_inclusive=False, high=1.0, fix="Use e.g. 0.9 (1.0 keeps every token)."
    )


def _check_min_p(min_p: float, argument: str = "min_p") -> None:
    check_number(argument, min_p, low=0.0, high=1.0, fix="Use e.g. 0.05 (0 keeps every token).")


def _check_repetition_penalty(penalty: float, argument: str = "repetition_penalty") -> None:
    fix = "Use 1.0 for no penalty, e.g. 1.2 to discourage repeats."
    check_number(argument, penalty, low=0.0, low_inclusive=False, fix=fix)


def _check_token_ids(
    argument: str,
    ids: torch.Tensor,
    shape: tuple = ("B", "T"),
    fix: str = "Add a batch dimension with ids.unsqueeze(0) if you have a single sequence.",
) -> None:
    """Token ids must be a LongTensor of the given named shape with at least one position."""
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
        given = f"dtype {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__
        fail(
            argument,
            "a LongTensor (torch.long) of token ids",
            given,
            "Build it with torch.tensor(ids, dtype=torch.long).",
        )
    check_shape(argument, ids, shape, fix)
    if ids.size(-1) == 0:
        fail(
            argument,
            "at least one token long",
            f"shape {tuple(ids.shape)}",
            "Start from a prompt (or a BOS token).",
        )


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
    cumulative = sorted_logits.softmax(dim=-1).cumsum(
        dim=-1
    )  # (B, V) mass of this token and all less likely ones
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


def apply_repetition_penalty(
    logits: torch.Tensor, previous_ids: torch.Tensor, penalty: float
) -> torch.Tensor:
    """Make tokens that already occur in ``previous_ids`` (B, T) less likely (CTRL paper, Keskar et al. 2019).

    Each such token's logit is divided by ``penalty`` when positive and multiplied by it when negative,
    so ``penalty > 1`` always lowers it (once, however often the token occurred) and ``penalty < 1``
    raises it. ``penalty=1`` changes nothing. Returns new logits (B, V).
    """
    _check_logits(logits)
    _check_repetition_penalty(penalty, "penalty")
    _check_token_ids("previous_ids", previous_ids)
    if previous_ids.size(0) != logits.size(0):
        rows = f"{previous_ids.size(0)} rows"
        fail(
            "previous_ids",
            f"one row per logits row ({logits.size(0)})",
            rows,
            "Pass the ids that produced these logits.",
        )
    if previous_ids.min() < 0 or previous_ids.max() >= logits.size(-1):
        given = f"ids from {previous_ids.min().item()} to {previous_ids.max().item()}"
        expected = f"token ids in [0, {logits.size(-1) - 1}]"
        fail("previous_ids", expected, given, "Pass ids of the same vocabulary as the logits.")
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
            fix = "Pass the tokens generated so far (B, T)."
            fail("previous_ids", "given when repetition_penalty != 1", "None", fix)
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


def sample_next_token(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one token id per row of ``probs`` (B, V); returns (B,) LongTensor.

    Pass a seeded ``torch.Generator`` for repeatable draws: it keeps the randomness local instead of
    using (and disturbing) torch's global random state.
    """
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)  # (B,)


def _pick_next_token(
    logits: torch.Tensor,
    seq: torch.Tensor,
    *,
    strategy: str,
    generator: torch.Generator,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    min_p: float | None,
    repetition_penalty: float,
) -> torch.Tensor:
    """One decision per row: logits (B, V) and the sequences so far (B, T) -> next token ids (B,).

    Greedy (or ``temperature=0``) takes the most likely token after the repetition penalty; the other
    filters cannot change which token that is. Sampling draws from ``next_token_distribution``.
    """
    if strategy == "greedy" or temperature == 0:
        if repetition_penalty != 1.0:
            logits = apply_repetition_penalty(logits, seq, repetition_penalty)
        return logits.argmax(dim=-1)  # (B,)
    probs = next_token_distribution(
        logits,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        min_p=min_p,
        repetition_penalty=repetition_penalty,
        previous_ids=seq,
    )  # (B, V)
    return sample_next_token(probs, generator)


# ---------------------------------------------------------------------------------------------------------------
# Running a model one token at a time
# ---------------------------------------------------------------------------------------------------------------

# run(ids (B, t), cache or None) -> model output whose .logits is (B, t, V)
_RunDecoder = Callable[[torch.Tensor, object], object]


class _NextTokenLogits:
    """Next-token logits (B, V) for sequences that grow by one token per call, with or without a KV cache.

    Without a cache every call re-runs the model on the last ``block_size`` tokens. With a cache the
    first call feeds the whole prompt and each later call only the tokens the cache has not seen: the
    same logits for far less work. A cache holds at most ``block_size`` positions, so once the sequence
    outgrows it we drop the cache and re-run the last ``block_size`` tokens, exactly like the uncached
    path. That way cached and uncached decoding pick the same tokens, token for token.
    """

    def __init__(self, run: _RunDecoder, block_size: int, new_cache: Callable[[int], object] | None) -> None:
        self.run = run
        self.block_size = block_size
        self.new_cache = new_cache  # new_cache(batch_size) -> KVCache; None means never cache
        self.cache = None

    def __call__(self, seq: torch.Tensor) -> torch.Tensor:
        """``seq`` (B, T) is the whole sequence so far; returns the logits for the token after it, (B, V)."""
        if self.new_cache is not None and seq.size(1) <= self.block_size:
            if self.cache is None:
                self.cache = self.new_cache(seq.size(0))
            ids = seq[:, self.cache.length :]  # (B, t): only the tokens the cache has not seen yet
        else:
            self.new_cache = self.cache = None  # sequences only grow: from here on, never cache again
            ids = seq[:, -self.block_size :]  # (B, <= block_size): the most context the model accepts
        return self.run(ids, self.cache).logits[:, -1, :]  # (B, V)

    def select_rows(self, rows: torch.Tensor) -> None:
        """Beam search: the sequences became ``seq[rows]`` (rows (B',) may repeat); the cache follows."""
        if self.cache is not None:
            self.cache.reorder(rows)


@contextmanager
def _inference(model: nn.Module) -> Iterator[None]:
    """Run ``model`` in eval mode (dropout off) without gradients, then restore its train/eval mode."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _make_generator(seed: int | None, device: torch.device) -> torch.Generator:
    """A private random generator: seeded for repeatable runs, fresh otherwise. The global RNG is untouched."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()  # a non-repeatable seed
    else:
        generator.manual_seed(seed)
    return generator


def _extend(
    next_logits: _NextTokenLogits,
    seq: torch.Tensor,
    max_new_tokens: int,
    pick: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    eos_id: int | None,
) -> torch.Tensor:
    """Append up to ``max_new_tokens`` tokens to ``seq`` (B, T); returns (B, T + n).

    ``pick(logits (B, V), seq (B, T)) -> ids (B,)`` makes each decision. A row that produced ``eos_id``
    is finished: it keeps receiving ``eos_id`` (padding) while the other rows go on. The loop stops
    early, so n < max_new_tokens, once every row has finished.
    """
    finished = torch.zeros(seq.size(0), dtype=torch.bool, device=seq.device)  # (B,)
    for _ in range(max_new_tokens):
        next_id = pick(next_logits(seq), seq)  # (B,)
        if eos_id is not None:
            next_id = next_id.masked_fill(finished, eos_id)  # finished rows are padded with eos
            finished |= next_id == eos_id
        seq = torch.cat([seq, next_id[:, None]], dim=1)  # (B, T + 1)
        if finished.all():
            break
    return seq


def _check_run_options(max_new_tokens: int, seed: int | None, eos_id: int | None, vocab_size: int) -> None:
    check_int(
        "max_new_tokens", max_new_tokens, minimum=0, fix="Use e.g. 100 (0 returns the prompt unchanged)."
    )
    if seed is not None:
        check_int("seed", seed, minimum=0, fix="Use e.g. 0, or None for a different result each run.")
    if eos_id is not None:
        _check_token_id("eos_id", eos_id, vocab_size)


def _check_token_id(argument: str, token_id: int, vocab_size: int) -> None:
    fix = "Pass the id from your tokenizer's vocabulary."
    check_int(argument, token_id, minimum=0, fix=fix)
    if token_id >= vocab_size:
        fail(argument, f"a token id below the vocabulary size {vocab_size}", token_id, fix)


def _check_strategy(strategy: str, allowed: tuple[str, ...]) -> None:
    if strategy not in allowed:
        names = ", ".join(repr(name) for name in allowed[:-1]) + f" or {allowed[-1]!r}"
        fail("strategy", names, repr(strategy), f"Pick one of {names}.")


# ---------------------------------------------------------------------------------------------------------------
# Greedy decoding and sampling for decoder-only models (GPT)
# ---------------------------------------------------------------------------------------------------------------


def generate(
    model: DecoderOnlyLM,
    idx: torch.Tensor,
    max_new_tokens: int,
    *,
    strategy: str = "sample",
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    repetition_penalty: float = 1.0,
    seed: int | None = None,
    use_cache: bool = True,
    eos_id: int | None = None,
) -> torch.Tensor:
    """Continue every prompt row of ``idx`` (B, T) by up to ``max_new_tokens`` tokens; returns (B, T + n).

    ``strategy="greedy"`` always takes the most likely token; ``"sample"`` draws from
    ``next_token_distribution`` with the given filters (``temperature=0`` is greedy again). The same
    ``seed`` gives the same tokens. With ``eos_id`` a row stops at its first ``eos_id`` and is padded
    with ``eos_id`` after it; generation ends early (n < max_new_tokens) when every row has stopped.
    ``use_cache=True`` (a KV cache) and ``False`` give the same tokens; the cache is just faster.
    Prompts longer than ``model.config.block_size`` are fine: the model sees the last block_size tokens.
    The model runs in eval mode without gradients; its train/eval mode is restored afterwards.
    """
    _check_decoder_only(model)
    _check_token_ids("idx", idx)
    _check_run_options(max_new_tokens, seed, eos_id, model.config.vocab_size)
    _check_strategy(strategy, ("greedy", "sample"))
    _check_sampling_options(temperature, top_k, top_p, min_p, repetition_penalty)
    next_logits = _NextTokenLogits(
        lambda ids, cache: model(ids, cache=cache),
        model.config.block_size,
        model.new_cache if use_cache else None,
    )
    generator = _make_generator(seed, idx.device)

    def pick(logits: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
        return _pick_next_token(
            logits, seq, strategy=strategy, generator=generator, temperature=temperature,
            top_k=top_k, top_p=top_p, min_p=min_p, repetition_penalty=repetition_penalty,
        )  # fmt: skip

    with _inference(model):
        return _extend(next_logits, idx, max_new_tokens, pick, eos_id)


def _check_decoder_only(model: nn.Module) -> None:
    """Encoder-decoder models need a source sentence: point the student to generate_seq2seq."""
    if hasattr(model, "encode"):
        fix = "For encoder-decoder models use generate_seq2seq(model, src, bos_id, eos_id, max_new_tokens)."
        fail("model", "a decoder-only model (DecoderOnlyLM)", type(model).__name__, fix)


# ---------------------------------------------------------------------------------------------------------------
# Beam search
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class BeamNode:
    """One beam kept at one step of beam search: a node of the beam tree."""

    parent: int  # index of the parent node in the previous step's list (-1: the prompt)
    token: int  # the token this beam appended
    log_prob: float  # cumulative log-probability of the beam's new tokens (no length penalty)
    finished: bool  # True when ``token`` is eos: the beam leaves the search here


@dataclass
class Hypothesis:
    """A finished beam: it produced eos, or reached ``max_new_tokens``."""

    tokens: torch.Tensor  # (T + n,) the prompt followed by the n new tokens (eos included)
    log_prob: float  # sum of the n new tokens' log-probabilities
    score: float  # log_prob / n ** length_penalty: what beams are ranked by


@dataclass
class BeamSearchResult:
    """What ``beam_search`` found, plus how it got there."""

    sequence: torch.Tensor  # (1, T + n) the best hypothesis, prompt included
    score: float  # its score
    finished: list[Hypothesis]  # every finished beam, best score first
    trace: list[list[BeamNode]]  # trace[t]: the beams kept at step t, for drawing the beam tree


def length_penalized_score(log_prob: float, length: int, length_penalty: float) -> float:
    """Hugging Face's beam score ``log_prob / length ** length_penalty`` (length = new tokens, eos included).

    Log-probabilities are negative and shrink with every token, so raw sums favour short outputs;
    ``length_penalty=1`` compares average log-probability per token, larger values favour longer
    outputs, 0 uses the raw sum. An empty continuation scores 0.
    """
    return log_prob / length**length_penalty if length > 0 else 0.0


def _beam_search(
    next_logits: _NextTokenLogits,
    prompt: torch.Tensor,
    max_new_tokens: int,
    num_beams: int,
    length_penalty: float,
    eos_id: int | None,
) -> BeamSearchResult:
    """Beam search from ``prompt`` (1, T), the version in Jurafsky & Martin's textbook.

    At each step every running beam is extended by every token, and the ``width`` most likely
    extensions (by cumulative log-probability) are kept. A kept extension that ends in ``eos_id``
    finishes and takes its slot with it: ``width = num_beams - (beams finished so far)``, so the search
    ends once ``num_beams`` beams have finished, or after ``max_new_tokens`` steps (the beams still
    running then finish too). With ``num_beams=1`` this is exactly greedy decoding. Finished beams are
    ranked by ``length_penalized_score``.
    """
    seqs = prompt  # (R, T) running beams; R = 1 at the start
    log_probs = torch.zeros(1, device=prompt.device)  # (R,) cumulative log-probability of each running beam
    node_of_row = [-1]  # index in the previous step's trace of each running beam's last node
    finished: list[Hypothesis] = []
    trace: list[list[BeamNode]] = []
    for _ in range(max_new_tokens):
        step_log_probs = F.log_softmax(next_logits(seqs).float(), dim=-1)  # (R, V)
        vocab_size = step_log_probs.size(-1)
        candidates = (log_probs[:, None] + step_log_probs).flatten()  # (R * V,) every one-token extension
        width = min(num_beams - len(finished), candidates.numel())
        top_log_probs, flat_index = candidates.topk(width)  # (W,) best first
        rows, tokens = flat_index // vocab_size, flat_index % vocab_size  # (W,) parent beam, appended token
        seqs = torch.cat([seqs[rows], tokens[:, None]], dim=1)  # (W, T + step + 1)
        ended = tokens == eos_id if eos_id is not None else torch.zeros_like(tokens, dtype=torch.bool)  # (W,)
        trace.append(
            [
                BeamNode(node_of_row[row], token, log_prob, end)
                for row, token, log_prob, end in zip(
                    rows.tolist(), tokens.tolist(), top_log_probs.tolist(), ended.tolist()
                )
            ]
        )
        n_new = seqs.size(1) - prompt.size(1)
        for i in ended.nonzero().flatten().tolist():
            finished.append(_hypothesis(seqs[i], top_log_probs[i].item(), n_new, length_penalty))
        running = (~ended).nonzero().flatten()  # (R',) indices (into this step's W beams) still running
        seqs, log_probs, node_of_row = seqs[running], top_log_probs[running], running.tolist()
        if len(running) == 0:
            break
        next_logits.select_rows(rows[running])
    n_new = seqs.size(1) - prompt.size(1)
    finished += [
        _hypothesis(seq, log_prob, n_new, length_penalty) for seq, log_prob in zip(seqs, log_probs.tolist())
    ]
    finished.sort(key=lambda hypothesis: hypothesis.score, reverse=True)
    best = finished[0]
    return BeamSearchResult(sequence=best.tokens[None], score=best.score, finished=finished, trace=trace)


def _hypothesis(tokens: torch.Tensor, log_prob: float, n_new: int, length_penalty: float) -> Hypothesis:
    return Hypothesis(tokens, log_prob, length_penalized_score(log_prob, n_new, length_penalty))


def _check_num_beams(num_beams: int) -> None:
    check_int("num_beams", num_beams, minimum=1, fix="Use e.g. 4 (1 is greedy decoding).")


def beam_search(
    model: DecoderOnlyLM,
    idx: torch.Tensor,
    max_new_tokens: int,
    num_beams: int,
    length_penalty: float = 1.0,
    eos_id: int | None = None,
    use_cache: bool = True,
) -> BeamSearchResult:
    """Beam search for a decoder-only model from one prompt ``idx`` (1, T).

    Returns the best sequence (1, T + n), every finished beam with its score, and a per-step trace
    (parent, token, cumulative log-probability of every kept beam) for drawing the beam tree.
    ``num_beams=1`` equals greedy decoding; a beam as wide as all possible continuations finds the
    best-scoring one exactly. ``use_cache`` changes speed, not the result.
    """
    _check_decoder_only(model)
    _check_token_ids(
        "idx", idx, (1, "T"), "beam_search takes one prompt: pass idx[:1], or one row at a time."
    )
    _check_run_options(max_new_tokens, None, eos_id, model.config.vocab_size)
    _check_num_beams(num_beams)
    next_logits = _NextTokenLogits(
        lambda ids, cache: model(ids, cache=cache),
        model.config.block_size,
        model.new_cache if use_cache else None,
    )
    with _inference(model):
        return _beam_search(next_logits, idx, max_new_tokens, num_beams, length_penalty, eos_id)


# ---------------------------------------------------------------------------------------------------------------
# Encoder-decoder models (T5/BART-style): encode the source once, then decode token by token
# ---------------------------------------------------------------------------------------------------------------


def generate_seq2seq(
    model: EncoderDecoderLM,
    src: torch.Tensor,
    bos_id: int,
    eos_id: int,
    max_new_tokens: int,
    *,
    strategy: str = "greedy",
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    repetition_penalty: float = 1.0,
    seed: int | None = None,
    use_cache: bool = True,
    num_beams: int = 4,
    length_penalty: float = 1.0,
    src_padding_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Produce a target for every source row of ``src`` (B, S); returns (B, 1 + n) starting with ``bos_id``.

    The encoder runs once; the decoder then runs token by token, attending to that memory (and using a
    KV cache for its own tokens when ``use_cache=True``, which gives the same tokens). ``strategy`` is
    ``"greedy"``, ``"sample"`` (with the same filters and ``seed`` as ``generate``) or ``"beam"``
    (``num_beams``, ``length_penalty``; one beam search per source row, sampling options unused).
    A row stops at ``eos_id`` and is padded with ``eos_id``; generation ends once every row stopped.
    ``src_padding_mask`` is passed on to the model's ``encode`` and ``decode``.
    """
    _check_seq2seq(model)
    _check_token_ids("src", src)
    _check_token_id("bos_id", bos_id, model.config.vocab_size)
    _check_token_id("eos_id", eos_id, model.config.vocab_size)
    _check_run_options(max_new_tokens, seed, eos_id, model.config.vocab_size)
    _check_strategy(strategy, ("greedy", "sample", "beam"))
    _check_sampling_options(temperature, top_k, top_p, min_p, repetition_penalty)
    _check_num_beams(num_beams)
    start = torch.full((src.size(0), 1), bos_id, dtype=torch.long, device=src.device)  # (B, 1)
    with _inference(model):
        memory = model.encode(src, src_padding_mask=src_padding_mask)  # (B, S, C): the encoder runs once
        if strategy == "beam":
            sequences = [
                _beam_search(
                    _seq2seq_next_logits(model, memory[row : row + 1], _row(src_padding_mask, row), use_cache),
                    start[row : row + 1], max_new_tokens, num_beams, length_penalty, eos_id,
                ).sequence[0]
                for row in range(src.size(0))
            ]  # fmt: skip
            return nn.utils.rnn.pad_sequence(sequences, batch_first=True, padding_value=eos_id)  # (B, 1 + n)
        generator = _make_generator(seed, src.device)

        def pick(logits: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
            return _pick_next_token(
                logits, seq, strategy=strategy, generator=generator, temperature=temperature,
                top_k=top_k, top_p=top_p, min_p=min_p, repetition_penalty=repetition_penalty,
            )  # fmt: skip

        next_logits = _seq2seq_next_logits(model, memory, src_padding_mask, use_cache)
        return _extend(next_logits, start, max_new_tokens, pick, eos_id)


def _seq2seq_next_logits(
    model: EncoderDecoderLM, memory: torch.Tensor, src_padding_mask: torch.Tensor | None, use_cache: bool
) -> _NextTokenLogits:
    """Next-token logits of the decoder, given the encoder's ``memory`` (b, S, C).

    For beam search ``memory`` is one source row (1, S, C) shared by every beam, so it is expanded
    (without copying) to however many beams are running.
    """

    def run(ids: torch.Tensor, cache: object) -> object:
        rows = ids.size(0)
        mask = _expand_rows(src_padding_mask, rows)
        return model.decode(ids, _expand_rows(memory, rows), src_padding_mask=mask, cache=cache)

    return _NextTokenLogits(run, model.config.block_size, model.new_cache if use_cache else None)


def _row(tensor: torch.Tensor | None, row: int) -> torch.Tensor | None:
    """Row ``row`` of ``tensor`` with its batch dimension kept, (1, ...); None stays None."""
    return None if tensor is None else tensor[row : row + 1]


def _expand_rows(tensor: torch.Tensor | None, rows: int) -> torch.Tensor | None:
    """A view of ``tensor`` (1 or rows, ...) with ``rows`` rows; None stays None."""
    return None if tensor is None else tensor.expand(rows, *tensor.shape[1:])


def _check_seq2seq(model: nn.Module) -> None:
    """Decoder-only models have no source: point the student to generate / beam_search."""
    if not hasattr(model, "encode"):
        fix = "For decoder-only models use generate(model, idx, max_new_tokens) or beam_search."
        fail("model", "an encoder-decoder model (EncoderDecoderLM)", type(model).__name__, fix)
