"""Decoding: turning next-token logits into text.

A language model only ever gives logits for the *next* token. Decoding is everything around that:

1. Filters reshape the next-token logits (B, V) before we pick a token. Each returns new logits
   (B, V) where removed tokens are ``-inf`` (probability 0 after softmax). They compute exactly what
   Hugging Face's logits processors compute (``TemperatureLogitsWarper``, ``TopKLogitsWarper``,
   ``TopPLogitsWarper``, ``MinPLogitsWarper``, ``RepetitionPenaltyLogitsProcessor``, each with its
   default ``min_tokens_to_keep=1``), so what you learn here carries over to ``model.generate``.
2. ``next_token_distribution`` chains the filters in Hugging Face's order (repetition penalty,
   temperature, top-k, top-p, min-p) and returns probabilities (B, V).
3. ``generate`` (decoder-only models: the course's ``DecoderOnlyLM``, or a real pretrained model wrapped in
   ``course_lib.pretrained_lm.PretrainedLM``, see ``DecoderModel``) and ``generate_seq2seq`` (encoder-decoder
   models) loop: run the model, pick a token (greedy = most likely, sample = draw from the distribution),
   append it, repeat.
   A KV cache (``use_cache=True``) makes each step cost one token instead of the whole sequence and
   gives the same tokens while the sequence fits in the model's block_size (see ``_NextTokenLogits`` for
   what happens after that).
4. ``beam_search`` keeps the ``num_beams`` most likely partial sequences instead of one, and records
   every step so the search can be drawn as a tree.

Every public function checks its arguments once, on entry (the checks are at the end of this file).
Each filter's maths sits in a private twin just below it (``top_k_filter`` -> ``_top_k_filter``);
the generation loops call the twins, so a long generation does not re-check its options every token.

Shapes: B = batch (rows), V = vocabulary size, T = sequence length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.models import EncoderDecoderLM, is_encoder_decoder
from course_lib.validation import check_int, check_number, check_seed, check_shape, check_token_ids, fail

# ------------------------------------------------------------------------------------------------------------
# Filters: (B, V) logits -> (B, V) logits, removed tokens set to -inf
# ------------------------------------------------------------------------------------------------------------


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide logits (B, V) by ``temperature``: < 1 sharpens the distribution, > 1 flattens it.

    ``temperature=0`` is the limit T -> 0: all probability goes to the most likely token, so only the
    argmax of each row stays finite (its logit unchanged) and every other entry becomes ``-inf``.
    Hugging Face refuses 0 (it asks for ``do_sample=False``); here it simply means greedy.
    """
    _check_logits(logits)
    check_sampling_options(temperature=temperature)
    return _apply_temperature(logits, temperature)


def _apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
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
    check_sampling_options(top_k=k, argument="k")
    return _top_k_filter(logits, k)


def _top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    kth_best = torch.topk(logits, min(k, logits.size(-1)), dim=-1).values[:, -1:]  # (B, 1)
    return logits.masked_fill(logits < kth_best, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of most likely tokens whose probability reaches ``p``.

    Sorting each row (B, V) from least to most likely, a token is removed when the tokens up to and
    including it hold at most ``1 - p`` of the mass: what remains holds at least ``p``. The most likely
    token is always kept. ``p=1`` keeps every token with non-zero probability.
    """
    _check_logits(logits)
    check_sampling_options(top_p=p, argument="p")
    return _top_p_filter(logits, p)


def _top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    sorted_logits, order = torch.sort(logits, dim=-1)  # ascending, (B, V)
    # (B, V): the probability mass of each token plus all less likely ones
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
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
    check_sampling_options(min_p=p, argument="p")
    return _min_p_filter(logits, p)


def _min_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    probs = logits.softmax(dim=-1)  # (B, V)
    remove = probs < p * probs.amax(dim=-1, keepdim=True)  # (B, V)
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
    check_sampling_options(repetition_penalty=penalty, argument="penalty")
    _check_previous_ids(previous_ids, logits)
    return _apply_repetition_penalty(logits, previous_ids, penalty)


def _apply_repetition_penalty(
    logits: torch.Tensor, previous_ids: torch.Tensor, penalty: float
) -> torch.Tensor:
    seen = logits.gather(1, previous_ids)  # (B, T) logits of the tokens already used
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return logits.scatter(1, previous_ids, seen)


# ------------------------------------------------------------------------------------------------------------
# The distribution we sample from
# ------------------------------------------------------------------------------------------------------------


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
    check_sampling_options(
        temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, repetition_penalty=repetition_penalty
    )
    if repetition_penalty != 1.0:
        if previous_ids is None:
            fix = "Pass the tokens generated so far (B, T)."
            fail("previous_ids", "given when repetition_penalty != 1", "None", fix)
        _check_previous_ids(previous_ids, logits)
        logits = _apply_repetition_penalty(logits, previous_ids, repetition_penalty)
    return _filtered_distribution(logits, temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p)


def _filtered_distribution(
    logits: torch.Tensor, *, temperature: float, top_k: int | None, top_p: float | None, min_p: float | None
) -> torch.Tensor:
    """Temperature, top-k, top-p, min-p, softmax: logits (B, V) -> probabilities (B, V)."""
    if temperature != 1.0:
        logits = _apply_temperature(logits, temperature)
    if top_k is not None:
        logits = _top_k_filter(logits, top_k)
    if top_p is not None and top_p < 1.0:
        logits = _top_p_filter(logits, top_p)
    if min_p is not None and min_p > 0.0:
        logits = _min_p_filter(logits, min_p)
    return logits.softmax(dim=-1)  # (B, V)


def sample_next_token(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one token id per row of ``probs`` (B, V); returns (B,) LongTensor.

    Pass a seeded ``torch.Generator`` for repeatable draws: it keeps the randomness local instead of
    using (and disturbing) torch's global random state.
    """
    check_shape("probs", probs, ("B", "V"), "Pass next_token_distribution(logits): one row per sequence.")
    return _sample_next_token(probs, generator)


def _sample_next_token(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)  # (B,)


@dataclass(frozen=True)
class _TokenPicker:
    """How ``generate`` and ``generate_seq2seq`` pick each token; the options were checked before the loop."""

    strategy: str  # "greedy" or "sample"
    generator: torch.Generator  # the private random state of "sample"
    temperature: float
    top_k: int | None
    top_p: float | None
    min_p: float | None
    repetition_penalty: float

    def __call__(self, logits: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
        """One decision per row: logits (B, V) and the sequences so far (B, T) -> next token ids (B,).

        Greedy (or ``temperature=0``) takes the most likely token after the repetition penalty; the other
        filters cannot change which token that is. Sampling draws from the filtered distribution.
        """
        if self.repetition_penalty != 1.0:
            logits = _apply_repetition_penalty(logits, seq, self.repetition_penalty)  # (B, V)
        if self.strategy == "greedy" or self.temperature == 0:
            return logits.argmax(dim=-1)  # (B,)
        probs = _filtered_distribution(
            logits, temperature=self.temperature, top_k=self.top_k, top_p=self.top_p, min_p=self.min_p
        )  # (B, V)
        return _sample_next_token(probs, self.generator)


# ------------------------------------------------------------------------------------------------------------
# Running a model one token at a time
# ------------------------------------------------------------------------------------------------------------

MIN_TEMPERATURE = 1e-6  # far below this, dividing the logits overflows to inf; 0 means greedy


def check_temperature(argument: str, temperature: float) -> None:
    """0 (greedy) or a finite number from MIN_TEMPERATURE up; ``argument`` as the caller spells it."""
    fix = "Use 1.0 for the model's own distribution, 0 for greedy."
    check_number(argument, temperature, low=0.0, fix=fix)
    if 0 < temperature < MIN_TEMPERATURE:  # logits / 1e-45 overflow to inf
        fail(
            argument, f"0 or at least {MIN_TEMPERATURE}", repr(temperature), f"{fix} Smaller values overflow."
        )


class GenerationCache(Protocol):
    """What generation needs of a KV cache: ``course_lib.kv_cache.KVCache``, or
    ``course_lib.pretrained_lm.PretrainedCache`` over transformers' DynamicCache."""

    length: int  # positions seen so far
    window: int | None  # a sliding window's size; None: a fixed cache of at most block_size positions

    def reorder(self, rows: torch.Tensor) -> None:
        """Keep batch rows ``rows`` (B',) in that order (beam search)."""


class DecoderModel(Protocol):
    """What ``generate`` and ``beam_search`` need of a decoder-only model (an ``nn.Module``): the course's
    ``DecoderOnlyLM``, or a transformers model wrapped in ``course_lib.pretrained_lm.PretrainedLM``."""

    config: Any  # with vocab_size and block_size

    def compute_logits(self, idx: torch.Tensor, *, cache: GenerationCache | None = None) -> torch.Tensor:
        """idx (B, T) -> logits (B, T, V), unchecked; with a cache idx holds only the new tokens."""

    def new_cache(self, batch_size: int) -> GenerationCache:
        """An empty KV cache for ``batch_size`` sequences."""


# run(ids (B, t), cache or None) -> logits (B, t, V), ids unchecked (the caller checked the prompt)
_RunDecoder = Callable[[torch.Tensor, object], torch.Tensor]


class _NextTokenLogits:
    """Next-token logits (B, V) for sequences that grow by one token per call, with or without a KV cache.

    Without a cache every call re-runs the model on the last ``block_size`` tokens. With a cache the
    first call feeds the prompt (its last block_size tokens) and each later call only the tokens the cache
    has not seen: the same logits for far less work, as long as the sequence fits in block_size.
    Past that, the model's cache decides:

    - a sliding-window cache (rotary positions, or none) keeps going at one position per token. Its logits
      equal re-running the last block_size tokens until the window first fills; after that the cached
      model also sees, through its layers, positions older than one window (see ``course_lib.kv_cache``).
    - a fixed cache (learned or sinusoidal positions) cannot go past block_size positions: the cache is
      dropped and every later call re-runs the last block_size tokens, exactly like the uncached path, at
      the uncached path's cost.
    """

    def __init__(
        self, run: _RunDecoder, block_size: int, new_cache: Callable[[int], GenerationCache] | None
    ) -> None:
        self.run = run
        self.block_size = block_size
        self.new_cache = new_cache  # new_cache(batch_size) -> a KV cache; None means never cache
        self.cache: GenerationCache | None = None
        self.fed = 0  # how many tokens of the sequence the cache has seen (its last one included)

    def __call__(self, seq: torch.Tensor) -> torch.Tensor:
        """``seq`` (B, T) is the whole sequence so far; returns the logits for the token after it, (B, V)."""
        if self.new_cache is not None and self.cache is None:
            self.cache = self.new_cache(seq.size(0))
            self.fed = max(0, seq.size(1) - self.block_size)  # a long prompt: only its last block_size tokens
        cache = self.cache
        new_tokens = seq.size(1) - self.fed
        if cache is not None and cache.window is None and cache.length + new_tokens > self.block_size:
            self.new_cache = self.cache = cache = None  # a full fixed cache: re-run the window from here on
        if cache is None:
            return self.run(seq[:, -self.block_size :], None)[:, -1, :]  # (B, V)
        ids, self.fed = seq[:, self.fed :], seq.size(1)  # (B, t): only the tokens the cache has not seen yet
        return self.run(ids, cache)[:, -1, :]  # (B, V)

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
    """A private random generator: seeded for repeatable runs, fresh otherwise. The global RNG is not used."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()  # a non-repeatable seed
    else:
        generator.manual_seed(seed)
    return generator


def _decoder_only_next_logits(model: DecoderModel, *, use_cache: bool) -> _NextTokenLogits:
    """Next-token logits (B, V) of a decoder-only model for sequences (B, T) that grow one token per call."""
    return _NextTokenLogits(
        lambda ids, cache: model.compute_logits(ids, cache=cache),
        model.config.block_size,
        model.new_cache if use_cache else None,
    )


def _extend(
    next_logits: _NextTokenLogits,
    seq: torch.Tensor,
    *,
    max_new_tokens: int,
    pick: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    eos_id: int | None,
) -> torch.Tensor:
    """Append up to ``max_new_tokens`` tokens to ``seq`` (B, T); returns (B, T + n).

    ``pick(logits (B, V), seq (B, T)) -> ids (B,)`` makes each decision. A row that produced ``eos_id``
    is finished: it keeps receiving ``eos_id`` (padding) while the other rows go on. The loop stops
    early, so n < max_new_tokens, once every row has finished.
    """
    # inference_mode skips autograd's bookkeeping (about 8% of a cached step); tensors made inside it
    # cannot enter autograd later, so the caller gets an ordinary copy.
    with torch.inference_mode():
        finished = torch.zeros(seq.size(0), dtype=torch.bool, device=seq.device)  # (B,)
        for _ in range(max_new_tokens):
            next_id = pick(next_logits(seq), seq)  # (B,)
            if eos_id is not None:
                next_id = next_id.masked_fill(finished, eos_id)  # finished rows are padded with eos
                finished |= next_id == eos_id
            seq = torch.cat([seq, next_id[:, None]], dim=1)  # (B, T + 1)
            if eos_id is not None and finished.all():
                break
    return seq.clone()


# ------------------------------------------------------------------------------------------------------------
# Greedy decoding and sampling for decoder-only models (GPT)
# ------------------------------------------------------------------------------------------------------------


def generate(
    model: DecoderModel,
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
    ``use_cache=True`` (a KV cache) and ``False`` give the same tokens while prompt and output fit in
    ``model.config.block_size``; the cache is just faster. Longer is fine: without a cache the model sees the
    last block_size tokens; with one, a rotary (or position-free) model keeps a sliding window and also
    sees older positions through its layers, and a model with a position table re-runs its last window.
    The model runs in eval mode without gradients; its train/eval mode is restored afterwards.
    """
    _check_model_family(model, seq2seq=False)
    vocab_size = model.config.vocab_size
    check_token_ids("idx", idx, vocab_size=vocab_size, fix=_ADD_BATCH_DIMENSION.format(argument="idx"))
    _check_run_options(max_new_tokens=max_new_tokens, seed=seed)
    if eos_id is not None:
        _check_token_id("eos_id", eos_id, vocab_size=vocab_size)
    _check_strategy(strategy, allowed=("greedy", "sample"))
    sampling = dict(
        temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, repetition_penalty=repetition_penalty
    )
    check_sampling_options(**sampling)
    pick = _TokenPicker(strategy, _make_generator(seed, idx.device), **sampling)
    next_logits = _decoder_only_next_logits(model, use_cache=use_cache)
    with _inference(model):
        return _extend(next_logits, idx, max_new_tokens=max_new_tokens, pick=pick, eos_id=eos_id)


# ------------------------------------------------------------------------------------------------------------
# Beam search
# ------------------------------------------------------------------------------------------------------------


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
    *,
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
                    rows.tolist(), tokens.tolist(), top_log_probs.tolist(), ended.tolist(), strict=True
                )
            ]
        )
        n_new = seqs.size(1) - prompt.size(1)
        for i in ended.nonzero().flatten().tolist():
            hypothesis = _hypothesis(
                seqs[i], log_prob=top_log_probs[i].item(), n_new=n_new, length_penalty=length_penalty
            )
            finished.append(hypothesis)
        running = (~ended).nonzero().flatten()  # (R',) indices (into this step's W beams) still running
        seqs, log_probs, node_of_row = seqs[running], top_log_probs[running], running.tolist()
        if len(running) == 0:
            break
        next_logits.select_rows(rows[running])
    n_new = seqs.size(1) - prompt.size(1)
    finished += [
        _hypothesis(seq, log_prob=log_prob, n_new=n_new, length_penalty=length_penalty)
        for seq, log_prob in zip(seqs, log_probs.tolist(), strict=True)
    ]
    finished.sort(key=lambda hypothesis: hypothesis.score, reverse=True)
    best = finished[0]
    return BeamSearchResult(sequence=best.tokens[None], score=best.score, finished=finished, trace=trace)


def _hypothesis(tokens: torch.Tensor, *, log_prob: float, n_new: int, length_penalty: float) -> Hypothesis:
    return Hypothesis(tokens, log_prob, length_penalized_score(log_prob, n_new, length_penalty))


def beam_search(
    model: DecoderModel,
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
    _check_model_family(model, seq2seq=False)
    vocab_size = model.config.vocab_size
    one_prompt = "beam_search takes one prompt: pass idx[:1], or one row at a time."
    check_token_ids("idx", idx, vocab_size=vocab_size, shape=(1, "T"), fix=one_prompt)
    _check_run_options(max_new_tokens=max_new_tokens)
    if eos_id is not None:
        _check_token_id("eos_id", eos_id, vocab_size=vocab_size)
    _check_beam_options(num_beams=num_beams, length_penalty=length_penalty)
    next_logits = _decoder_only_next_logits(model, use_cache=use_cache)
    with _inference(model):
        return _beam_search(
            next_logits,
            idx,
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
            length_penalty=length_penalty,
            eos_id=eos_id,
        )


# ------------------------------------------------------------------------------------------------------------
# Encoder-decoder models (T5/BART-style): encode the source once, then decode token by token
# ------------------------------------------------------------------------------------------------------------


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
    KV cache for its own tokens when ``use_cache=True``, the same tokens within block_size). ``strategy`` is
    ``"greedy"``, ``"sample"`` (with the same filters and ``seed`` as ``generate``) or ``"beam"``
    (``num_beams``, ``length_penalty``; one beam search per source row, sampling options unused).
    A row stops at ``eos_id`` and is padded with ``eos_id``; generation ends once every row stopped.
    ``src_padding_mask`` (B, 1, 1, S) is passed on to the model's ``encode`` and ``decode``.
    """
    _check_model_family(model, seq2seq=True)
    vocab_size = model.config.vocab_size
    check_token_ids("src", src, vocab_size=vocab_size, fix=_ADD_BATCH_DIMENSION.format(argument="src"))
    _check_token_id("bos_id", bos_id, vocab_size=vocab_size)
    _check_token_id("eos_id", eos_id, vocab_size=vocab_size)
    _check_run_options(max_new_tokens=max_new_tokens, seed=seed)
    _check_strategy(strategy, allowed=("greedy", "sample", "beam"))
    sampling = dict(
        temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p, repetition_penalty=repetition_penalty
    )
    check_sampling_options(**sampling)
    _check_beam_options(num_beams=num_beams, length_penalty=length_penalty)
    start = torch.full((src.size(0), 1), bos_id, dtype=torch.long, device=src.device)  # (B, 1)
    with _inference(model):
        memory = model.encode(src, src_padding_mask=src_padding_mask)  # (B, S, C): the encoder runs once
        if strategy == "beam":
            sequences = []  # one beam search per source row, each reading that row's memory (1, S, C)
            for row in range(src.size(0)):
                mask = _row(src_padding_mask, row)  # (1, 1, 1, S) or None
                next_logits = _seq2seq_next_logits(
                    model, memory[row : row + 1], src_padding_mask=mask, use_cache=use_cache
                )
                result = _beam_search(
                    next_logits,
                    start[row : row + 1],
                    max_new_tokens=max_new_tokens,
                    num_beams=num_beams,
                    length_penalty=length_penalty,
                    eos_id=eos_id,
                )
                sequences.append(result.sequence[0])  # (1 + n,)
            return nn.utils.rnn.pad_sequence(sequences, batch_first=True, padding_value=eos_id)  # (B, 1 + n)
        pick = _TokenPicker(strategy, _make_generator(seed, src.device), **sampling)
        next_logits = _seq2seq_next_logits(
            model, memory, src_padding_mask=src_padding_mask, use_cache=use_cache
        )
        return _extend(next_logits, start, max_new_tokens=max_new_tokens, pick=pick, eos_id=eos_id)


def _seq2seq_next_logits(
    model: EncoderDecoderLM, memory: torch.Tensor, *, src_padding_mask: torch.Tensor | None, use_cache: bool
) -> _NextTokenLogits:
    """Next-token logits (B, V) of the decoder, given the encoder's ``memory`` (b, S, C).

    For beam search ``memory`` is one source row (1, S, C) shared by every beam, so it is expanded
    (without copying) to however many beams are running.
    """

    def run(ids: torch.Tensor, cache: object) -> torch.Tensor:
        rows = ids.size(0)
        mask = _expand_rows(src_padding_mask, rows)
        return model.compute_logits(ids, _expand_rows(memory, rows), src_padding_mask=mask, cache=cache)

    return _NextTokenLogits(run, model.config.block_size, model.new_cache if use_cache else None)


def _row(tensor: torch.Tensor | None, row: int) -> torch.Tensor | None:
    """Row ``row`` of ``tensor`` with its batch dimension kept, (1, ...); None stays None."""
    return None if tensor is None else tensor[row : row + 1]


def _expand_rows(tensor: torch.Tensor | None, rows: int) -> torch.Tensor | None:
    """A view of ``tensor`` (1 or rows, ...) with ``rows`` rows; None stays None."""
    return None if tensor is None else tensor.expand(rows, *tensor.shape[1:])


# ------------------------------------------------------------------------------------------------------------
# Argument checks: run once, in the public functions above; the filters' twins and the loops trust them
# ------------------------------------------------------------------------------------------------------------

_ADD_BATCH_DIMENSION = "Add a batch dimension with {argument}.unsqueeze(0) for a single sequence."


def _check_logits(logits: torch.Tensor) -> None:
    """Logits must be a floating-point (B, V) tensor: one row of next-token scores per sequence."""
    check_shape(
        "logits", logits, ("B", "V"), "Pass the last position only, e.g. model(idx).logits[:, -1, :]."
    )
    if not logits.is_floating_point():
        fail("logits", "a floating-point tensor", f"dtype {logits.dtype}", "Convert with logits.float().")


def check_sampling_options(
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    min_p: float | None = None,
    repetition_penalty: float = 1.0,
    argument: str | None = None,
) -> None:
    """The one place that knows each sampling option's range; ``None`` switches a filter off.

    A caller checking a single option passes ``argument``, the name its user typed ("k", "--top-p", ...).
    """
    check_temperature(argument or "temperature", temperature)
    if top_k is not None:
        check_int(argument or "top_k", top_k, minimum=1, fix="Use e.g. 50, or no top-k to keep every token.")
    if top_p is not None:
        fix = "Use e.g. 0.9 (1.0 keeps every token)."
        check_number(argument or "top_p", top_p, low=0.0, low_inclusive=False, high=1.0, fix=fix)
    if min_p is not None:
        fix = "Use e.g. 0.05 (0 keeps every token)."
        check_number(argument or "min_p", min_p, low=0.0, high=1.0, fix=fix)
    fix = "Use 1.0 for no penalty, e.g. 1.2 to discourage repeats."
    check_number(argument or "repetition_penalty", repetition_penalty, low=0.0, low_inclusive=False, fix=fix)


def _check_previous_ids(previous_ids: torch.Tensor, logits: torch.Tensor) -> None:
    """``previous_ids`` (B, T): token ids of the logits' vocabulary, one row per row of logits (B, V)."""
    fix = _ADD_BATCH_DIMENSION.format(argument="previous_ids")
    check_token_ids("previous_ids", previous_ids, vocab_size=logits.size(-1), fix=fix)
    if previous_ids.size(0) != logits.size(0):
        rows = f"{previous_ids.size(0)} rows"
        fail(
            "previous_ids",
            f"one row per logits row ({logits.size(0)})",
            rows,
            "Pass the ids that made these logits.",
        )


def _check_model_family(model: nn.Module, *, seq2seq: bool) -> None:
    """generate and beam_search take decoder-only models, generate_seq2seq encoder-decoder ones."""
    if is_encoder_decoder(model) == seq2seq:
        return
    given = type(model).__name__
    if seq2seq:
        fix = "For decoder-only models use generate(model, idx, max_new_tokens) or beam_search."
        fail("model", "an encoder-decoder model (EncoderDecoderLM)", given, fix)
    fix = "For encoder-decoder models use generate_seq2seq(model, src, bos_id, eos_id, max_new_tokens)."
    fail("model", "a decoder-only model (DecoderOnlyLM)", given, fix)


def _check_run_options(*, max_new_tokens: int, seed: int | None = None) -> None:
    """How long to generate (0 or more tokens) and, optionally, the seed of the random draws."""
    fix = "Use e.g. 100 (0 returns the prompt unchanged)."
    check_int("max_new_tokens", max_new_tokens, minimum=0, fix=fix)
    if seed is not None:
        check_seed("seed", seed, fix="Use e.g. 0, or None for a different result each run.")


def _check_token_id(argument: str, token_id: int, *, vocab_size: int) -> None:
    """One token id (``bos_id``, ``eos_id``): an integer from 0 to vocab_size - 1."""
    fix = f"Pass an id from your tokenizer's vocabulary (the model's vocab_size is {vocab_size})."
    check_int(argument, token_id, minimum=0, maximum=vocab_size - 1, fix=fix)


def _check_strategy(strategy: str, *, allowed: tuple[str, ...]) -> None:
    """``strategy`` must be one of the names in ``allowed``."""
    if strategy not in allowed:
        names = ", ".join(repr(name) for name in allowed[:-1]) + f" or {allowed[-1]!r}"
        fail("strategy", names, repr(strategy), f"Pick one of {names}.")


def _check_beam_options(*, num_beams: int, length_penalty: float) -> None:
    """At least one beam, and a finite length penalty (negative values favour shorter outputs)."""
    check_int("num_beams", num_beams, minimum=1, fix="Use e.g. 4 (1 is greedy decoding).")
    fix = "Use e.g. 1.0 (average log-probability per token); larger values favour longer outputs."
    check_number("length_penalty", length_penalty, fix=fix)
