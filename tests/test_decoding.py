"""Tests for course_lib.decoding: filters against Hugging Face, sampling, generation, beam search."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from transformers.generation.logits_process import (
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from course_lib import decoding
from course_lib.attention import padding_mask
from course_lib.configs import DecoderOnlyConfig, EncoderDecoderConfig
from course_lib.decoding import (
    apply_repetition_penalty,
    apply_temperature,
    beam_search,
    generate,
    generate_seq2seq,
    length_penalized_score,
    min_p_filter,
    next_token_distribution,
    sample_next_token,
    top_k_filter,
    top_p_filter,
)
from course_lib.models import DecoderOnlyLM, EncoderDecoderLM
from course_lib.validation import CourseInputError

SEEDS = [0, 1, 2]
B, V = 4, 50


def random_logits(seed: int, batch: int = B, vocab: int = V) -> torch.Tensor:
    """Random logits (batch, vocab) with a spread similar to a trained model's."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, vocab, generator=generator) * 3


def random_ids(seed: int, batch: int = B, length: int = 12, vocab: int = V) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed + 100)
    return torch.randint(0, vocab, (batch, length), generator=generator)


def assert_same_filtering(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    """Same removed (-inf) positions, and the kept values agree."""
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs))
    kept = ~torch.isinf(theirs)
    torch.testing.assert_close(ours[kept], theirs[kept])


# ------------------------------------------------------------------------------------------------------------
# Filters equal Hugging Face's logits processors
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.5])
def test_temperature_matches_hugging_face(seed, temperature):
    logits = random_logits(seed)
    theirs = TemperatureLogitsWarper(temperature)(random_ids(seed), logits.clone())
    assert_same_filtering(apply_temperature(logits, temperature), theirs)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [1, 5, 20, V, V + 10])
def test_top_k_matches_hugging_face(seed, k):
    logits = random_logits(seed)
    theirs = TopKLogitsWarper(k)(random_ids(seed), logits.clone())
    assert_same_filtering(top_k_filter(logits, k), theirs)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [0.01, 0.3, 0.9, 0.99, 1.0])
def test_top_p_matches_hugging_face(seed, p):
    logits = random_logits(seed)
    theirs = TopPLogitsWarper(p)(random_ids(seed), logits.clone())
    assert_same_filtering(top_p_filter(logits, p), theirs)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [0.0, 0.05, 0.3, 1.0])
def test_min_p_matches_hugging_face(seed, p):
    logits = random_logits(seed)
    theirs = MinPLogitsWarper(p)(random_ids(seed), logits.clone())
    assert_same_filtering(min_p_filter(logits, p), theirs)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("penalty", [0.5, 1.0, 1.3, 3.0])
def test_repetition_penalty_matches_hugging_face(seed, penalty):
    logits, ids = random_logits(seed), random_ids(seed)
    theirs = RepetitionPenaltyLogitsProcessor(penalty)(ids, logits.clone())
    assert_same_filtering(apply_repetition_penalty(logits, ids, penalty), theirs)


@pytest.mark.parametrize("seed", SEEDS)
def test_next_token_distribution_matches_hugging_face_chain(seed):
    """All filters at once, chained in Hugging Face's order, then softmax."""
    logits, ids = random_logits(seed), random_ids(seed)
    theirs = logits.clone()
    for processor in [
        RepetitionPenaltyLogitsProcessor(1.2),
        TemperatureLogitsWarper(0.7),
        TopKLogitsWarper(20),
        TopPLogitsWarper(0.9),
        MinPLogitsWarper(0.05),
    ]:
        theirs = processor(ids, theirs)
    ours = next_token_distribution(
        logits, temperature=0.7, top_k=20, top_p=0.9, min_p=0.05, repetition_penalty=1.2, previous_ids=ids
    )
    torch.testing.assert_close(ours, theirs.softmax(dim=-1))


def test_filters_do_not_modify_their_input():
    logits, ids = random_logits(0), random_ids(0)
    before = logits.clone()
    apply_temperature(logits, 0.5)
    top_k_filter(logits, 3)
    top_p_filter(logits, 0.5)
    min_p_filter(logits, 0.2)
    apply_repetition_penalty(logits, ids, 2.0)
    assert torch.equal(logits, before)


# ------------------------------------------------------------------------------------------------------------
# Filters do what their names say
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 17])
def test_top_k_keeps_exactly_k_highest(k):
    logits = random_logits(3)
    kept = ~torch.isinf(top_k_filter(logits, k))
    assert kept.sum(dim=-1).tolist() == [k] * B
    expected = torch.zeros_like(kept).scatter(1, logits.topk(k).indices, True)
    assert torch.equal(kept, expected)


def test_top_k_keeps_ties_with_the_kth_token():
    logits = torch.tensor([[3.0, 1.0, 2.0, 2.0, 0.0]])
    kept = ~torch.isinf(top_k_filter(logits, 2))
    assert kept.tolist() == [[True, False, True, True, False]]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8, 0.95])
def test_top_p_keeps_smallest_set_reaching_p(seed, p):
    logits = random_logits(seed)
    probs = logits.softmax(dim=-1)
    kept = ~torch.isinf(top_p_filter(logits, p))
    for row in range(B):
        sorted_probs = probs[row].sort(descending=True).values
        mass = sorted_probs.cumsum(0)
        smallest = int((mass < p).sum()) + 1  # first prefix of the ranking whose mass reaches p
        assert kept[row].sum() == smallest
        assert probs[row][kept[row]].sum() >= p - 1e-6
        # the kept tokens are the most likely ones
        assert probs[row][kept[row]].min() > probs[row][~kept[row]].max()


@pytest.mark.parametrize("p", [1e-6, 1e-12])
def test_top_p_tiny_p_keeps_only_the_top_token(p):
    logits = random_logits(4)
    kept = ~torch.isinf(top_p_filter(logits, p))
    assert torch.equal(kept.nonzero()[:, 1], logits.argmax(dim=-1))


def test_top_p_stops_as_soon_as_the_mass_reaches_p():
    logits = torch.tensor([[1.0, 1.0, 2.0]]).log()  # probabilities 0.25, 0.25, 0.5
    assert (~torch.isinf(top_p_filter(logits, 0.5))).tolist() == [[False, False, True]]
    assert (~torch.isinf(top_p_filter(logits, 0.75))).sum() == 2  # 0.5 + 0.25 reaches 0.75


def test_min_p_keeps_tokens_above_scaled_threshold():
    probs = torch.tensor([[0.5, 0.3, 0.11, 0.05, 0.04]])
    kept = ~torch.isinf(min_p_filter(probs.log(), 0.2))  # threshold 0.2 * 0.5 = 0.1
    assert kept.tolist() == [[True, True, True, False, False]]
    kept = ~torch.isinf(min_p_filter(probs.log(), 1.0))  # only the top token reaches 1.0 * 0.5
    assert kept.tolist() == [[True, False, False, False, False]]
    tied = torch.tensor([[0.4, 0.2, 0.4]]).log()
    assert (~torch.isinf(min_p_filter(tied, 1.0))).tolist() == [[True, False, True]]  # both reach the top


def test_repetition_penalty_lowers_only_seen_tokens_once():
    logits = torch.tensor([[2.0, -2.0, 1.0, -1.0]])
    previous = torch.tensor([[0, 1, 1, 1]])  # token 1 three times: penalised once
    out = apply_repetition_penalty(logits, previous, 2.0)
    assert out.tolist() == [[1.0, -4.0, 1.0, -1.0]]
    out = apply_repetition_penalty(logits, previous, 0.5)  # < 1 rewards repeats
    assert out.tolist() == [[4.0, -1.0, 1.0, -1.0]]


def test_temperature_zero_keeps_only_the_argmax():
    logits = random_logits(5)
    out = apply_temperature(logits, 0)
    assert torch.equal(out.isfinite().nonzero()[:, 1], logits.argmax(dim=-1))
    assert torch.equal(out.amax(dim=-1), logits.amax(dim=-1))


def test_lower_temperature_gives_sharper_distribution():
    logits = random_logits(6)

    def entropy(temperature: float) -> torch.Tensor:
        probs = next_token_distribution(logits, temperature=temperature)
        return -torch.special.xlogy(probs, probs).sum(dim=-1)  # (B,)

    assert (entropy(0.5) < entropy(1.0)).all() and (entropy(1.0) < entropy(2.0)).all()


# ------------------------------------------------------------------------------------------------------------
# next_token_distribution
# ------------------------------------------------------------------------------------------------------------


def test_next_token_distribution_defaults_are_plain_softmax():
    logits = random_logits(7)
    torch.testing.assert_close(next_token_distribution(logits), logits.softmax(dim=-1))


@pytest.mark.parametrize("temperature", [0.0, 1e-6])
def test_temperature_to_zero_is_one_hot_on_argmax(temperature):
    logits = random_logits(8)
    probs = next_token_distribution(logits, temperature=temperature)
    assert torch.equal(probs, torch.nn.functional.one_hot(logits.argmax(dim=-1), V).float())


def test_next_token_distribution_rows_sum_to_one_and_respect_filters():
    logits = random_logits(9)
    probs = next_token_distribution(logits, top_k=5, top_p=0.8)
    torch.testing.assert_close(probs.sum(dim=-1), torch.ones(B))
    assert ((probs > 0).sum(dim=-1) <= 5).all()


# ------------------------------------------------------------------------------------------------------------
# Errors name the argument and say what to do
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature": -0.1}, r"temperature must be in \[0.0, inf\], got -0.1\. Use 1.0"),
        ({"top_k": 0}, r"top_k must be an integer >= 1, got 0\. Use e.g. 50"),
        ({"top_k": 2.5}, r"top_k must be an integer, got 2.5 \(float\)"),
        ({"top_p": 0.0}, r"top_p must be in \(0.0, 1.0\], got 0.0\. Use e.g. 0.9"),
        ({"top_p": 1.5}, r"top_p must be in \(0.0, 1.0\], got 1.5"),
        ({"min_p": -0.01}, r"min_p must be in \[0.0, 1.0\], got -0.01"),
        ({"min_p": 1.01}, r"min_p must be in \[0.0, 1.0\], got 1.01"),
        (
            {"repetition_penalty": 0.0},
            r"repetition_penalty must be in \(0.0, inf\], got 0.0\. Use 1.0 for no penalty",
        ),
        ({"repetition_penalty": 1.2}, r"previous_ids must be given when repetition_penalty != 1, got None"),
    ],
)
def test_next_token_distribution_rejects_bad_options(kwargs, match):
    with pytest.raises(CourseInputError, match=match):
        next_token_distribution(random_logits(0), **kwargs)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: top_k_filter(x, 0), r"k must be an integer >= 1, got 0"),
        (lambda x: top_p_filter(x, 1.2), r"p must be in \(0.0, 1.0\], got 1.2"),
        (lambda x: min_p_filter(x, -1.0), r"p must be in \[0.0, 1.0\], got -1.0"),
        (lambda x: apply_temperature(x, -1.0), r"temperature must be in \[0.0, inf\], got -1.0"),
        (
            lambda x: apply_repetition_penalty(x, random_ids(0), -1.0),
            r"penalty must be in \(0.0, inf\], got -1.0",
        ),
        (
            lambda x: apply_repetition_penalty(x, random_ids(0).float(), 1.2),
            r"previous_ids must be a LongTensor",
        ),
        (
            lambda x: apply_repetition_penalty(x, random_ids(0)[:2], 1.2),
            r"previous_ids must be one row per logits row \(4\)",
        ),
        (
            lambda x: apply_repetition_penalty(x, random_ids(0) + V, 1.2),
            r"previous_ids must be token ids from 0 to vocab_size - 1 = 49, got id",
        ),
    ],
)
def test_filters_reject_bad_arguments(call, match):
    with pytest.raises(CourseInputError, match=match):
        call(random_logits(0))


@pytest.mark.parametrize("shape", [(V,), (2, 3, V)])
def test_logits_of_wrong_rank_are_rejected(shape):
    with pytest.raises(
        CourseInputError,
        match=r"logits must be a 2-D tensor of shape \(B, V\), got shape .*logits\[:, -1, :\]",
    ):
        next_token_distribution(torch.zeros(shape))
    with pytest.raises(CourseInputError, match=r"logits must be a 2-D tensor"):
        top_k_filter(torch.zeros(shape), 3)


def test_integer_logits_are_rejected():
    with pytest.raises(
        CourseInputError, match=r"logits must be a floating-point tensor, got dtype torch.int64"
    ):
        top_p_filter(torch.zeros(2, 5, dtype=torch.long), 0.5)


@pytest.mark.parametrize("value", [math.nan, math.inf])
@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda x, v: apply_temperature(x, v),
            r"temperature must be in \[0.0, inf\], got (nan|inf)\. Use 1.0",
        ),
        (lambda x, v: top_p_filter(x, v), r"p must be in \(0.0, 1.0\], got (nan|inf)\. Use e.g. 0.9"),
        (lambda x, v: min_p_filter(x, v), r"p must be in \[0.0, 1.0\], got (nan|inf)"),
        (lambda x, v: apply_repetition_penalty(x, random_ids(0), v), r"penalty must be in \(0.0, inf\], got"),
        (lambda x, v: next_token_distribution(x, temperature=v), r"temperature must be in \[0.0, inf\], got"),
        (lambda x, v: next_token_distribution(x, top_p=v), r"top_p must be in \(0.0, 1.0\], got (nan|inf)"),
        (lambda x, v: next_token_distribution(x, min_p=v), r"min_p must be in \[0.0, 1.0\], got (nan|inf)"),
    ],
)
def test_filters_reject_nan_and_infinite_options(call, match, value):
    """NaN compares false with every bound, so a range check alone would let it through."""
    with pytest.raises(CourseInputError, match=match):
        call(random_logits(0), value)


def test_sample_next_token_draws_one_id_per_row_and_rejects_a_single_row_without_batch():
    probs = next_token_distribution(random_logits(0), top_k=1)  # (B, V) one-hot on each row's argmax
    assert torch.equal(sample_next_token(probs), random_logits(0).argmax(dim=-1))
    with pytest.raises(
        CourseInputError, match=r"probs must be a 2-D tensor of shape \(B, V\), got shape \(50,\)"
    ):
        sample_next_token(probs[0])


# ------------------------------------------------------------------------------------------------------------
# Beam search bookkeeping, on a stand-in model whose probabilities we choose
# ------------------------------------------------------------------------------------------------------------


class BigramLM(nn.Module):
    """Stand-in language model: the next token's logits are the row of a (V, V) table for the last token."""

    def __init__(self, table: torch.Tensor, block_size: int = 16) -> None:
        super().__init__()
        self.table = nn.Parameter(table)
        self.config = SimpleNamespace(vocab_size=table.size(0), block_size=block_size)

    def forward(self, idx: torch.Tensor, cache: None = None) -> SimpleNamespace:
        return SimpleNamespace(logits=self.compute_logits(idx))

    def compute_logits(self, idx: torch.Tensor, cache: None = None) -> torch.Tensor:
        return self.table[idx]  # (B, T, V)


def random_bigram(seed: int, vocab: int = 4) -> BigramLM:
    return BigramLM(torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(seed)) * 2)


def all_continuations(vocab: int, steps: int, eos_id: int | None) -> list[tuple[int, ...]]:
    """Every continuation of at most ``steps`` tokens a search can end with (up to the first eos, or full)."""
    found = set()
    for tokens in itertools.product(range(vocab), repeat=steps):
        if eos_id in tokens:
            tokens = tokens[: tokens.index(eos_id) + 1]
        found.add(tokens)
    return sorted(found)


def brute_force_scores(
    model, prompt: list[int], steps: int, eos_id: int | None, length_penalty: float
) -> dict:
    """Score every possible continuation by running the model on the whole sequence (no cache, no search)."""
    scores = {}
    with torch.no_grad():
        for tokens in all_continuations(model.config.vocab_size, steps, eos_id):
            seq = torch.tensor([prompt + list(tokens)])
            log_probs = (
                model(seq).logits[0, len(prompt) - 1 : -1].log_softmax(dim=-1)
            )  # (n, V) predictions of the new tokens
            log_prob = log_probs.gather(1, torch.tensor(tokens)[:, None]).sum().item()
            scores[tokens] = log_prob / len(tokens) ** length_penalty
    return scores


def continuation(tokens: torch.Tensor, prompt_length: int) -> tuple[int, ...]:
    return tuple(tokens.flatten()[prompt_length:].tolist())


def test_length_penalty_decides_between_short_and_long_answers():
    """From token 1: eos with p=0.5, or token 2 (p=0.4) which then repeats with p=0.9."""
    probs = torch.tensor([[0.2, 0.4, 0.4], [0.5, 0.1, 0.4], [0.05, 0.05, 0.9]])
    model, prompt = BigramLM(probs.log()), torch.tensor([[1]])
    raw = beam_search(model, prompt, 3, num_beams=2, length_penalty=0.0, eos_id=0, use_cache=False)
    assert raw.sequence.tolist() == [[1, 0]]  # the raw sum favours stopping early
    assert raw.score == pytest.approx(math.log(0.5))
    average = beam_search(model, prompt, 3, num_beams=2, length_penalty=1.0, eos_id=0, use_cache=False)
    assert average.sequence.tolist() == [[1, 2, 2, 2]]  # per-token average favours the confident long answer
    assert average.score == pytest.approx((math.log(0.4) + 2 * math.log(0.9)) / 3)
    assert [h.tokens.tolist() for h in average.finished] == [[1, 2, 2, 2], [1, 0]]
    tree = [[(node.parent, node.token, node.finished) for node in step] for step in average.trace]
    assert tree == [[(-1, 0, True), (-1, 2, False)], [(1, 2, False)], [(0, 2, False)]]
    assert average.trace[1][0].log_prob == pytest.approx(math.log(0.4) + math.log(0.9))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("eos_id", [0, None])
def test_wide_beam_equals_brute_force_on_stand_in_model(seed, length_penalty, eos_id):
    model, prompt, steps = random_bigram(seed), [1, 3], 3
    expected = brute_force_scores(model, prompt, steps, eos_id, length_penalty)
    result = beam_search(
        model,
        torch.tensor([prompt]),
        steps,
        num_beams=4**steps,
        length_penalty=length_penalty,
        eos_id=eos_id,
        use_cache=False,
    )
    found = {continuation(h.tokens, len(prompt)): h.score for h in result.finished}
    assert found.keys() == expected.keys()  # the search was exhaustive
    for tokens, score in expected.items():
        assert found[tokens] == pytest.approx(score, abs=1e-5)
    assert continuation(result.sequence, len(prompt)) == max(expected, key=expected.get)
    assert result.score == pytest.approx(max(expected.values()), abs=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_one_beam_equals_greedy_on_stand_in_model(seed):
    model, prompt = random_bigram(seed, vocab=5), torch.tensor([[2]])
    greedy = generate(model, prompt, 6, strategy="greedy", eos_id=0, use_cache=False)
    beam = beam_search(model, prompt, 6, num_beams=1, eos_id=0, use_cache=False)
    assert torch.equal(beam.sequence, greedy)
    assert len(beam.finished) == 1


def test_beam_trace_describes_the_tree():
    """Following parents back from any finished beam rebuilds its tokens and cumulative log-probability."""
    model, prompt, num_beams = random_bigram(5, vocab=5), [4], 3
    result = beam_search(
        model, torch.tensor([prompt]), 4, num_beams=num_beams, length_penalty=1.0, eos_id=0, use_cache=False
    )
    assert len(result.trace) >= 1 and all(1 <= len(step) <= num_beams for step in result.trace)
    assert all(node.parent == -1 for node in result.trace[0])
    leaves = [
        (t, i)
        for t, step in enumerate(result.trace)
        for i, node in enumerate(step)
        if node.finished or t == len(result.trace) - 1
    ]
    assert len(leaves) == len(result.finished) == num_beams
    rebuilt = {}
    for t, i in leaves:
        tokens, node = [], result.trace[t][i]
        log_prob = node.log_prob
        while True:
            tokens.insert(0, node.token)
            if node.parent == -1:
                break
            t, node = t - 1, result.trace[t - 1][node.parent]
            assert not node.finished  # finished beams have no children
        rebuilt[tuple(tokens)] = log_prob
    for hypothesis in result.finished:
        assert rebuilt[continuation(hypothesis.tokens, len(prompt))] == pytest.approx(hypothesis.log_prob)
    scores = [h.score for h in result.finished]
    assert scores == sorted(scores, reverse=True) and result.score == scores[0]


def test_beam_search_with_no_new_tokens_returns_the_prompt():
    result = beam_search(random_bigram(0), torch.tensor([[1, 2]]), 0, num_beams=3, use_cache=False)
    assert result.sequence.tolist() == [[1, 2]] and result.score == 0.0 and result.trace == []


def test_length_penalized_score_follows_hugging_face():
    assert length_penalized_score(-6.0, 3, 1.0) == -2.0
    assert length_penalized_score(-6.0, 3, 0.0) == -6.0
    assert length_penalized_score(-8.0, 4, 2.0) == -0.5


# ------------------------------------------------------------------------------------------------------------
# generate on real (tiny, random) models
# ------------------------------------------------------------------------------------------------------------


def sharpen(model: nn.Module, seed: int) -> nn.Module:
    """Redraw every weight with a larger spread: clear favourites per step, like a trained model."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.6)
    return model.eval()


def tiny_gpt(seed: int = 0, vocab: int = 12, block_size: int = 8, **overrides) -> DecoderOnlyLM:
    config = DecoderOnlyConfig(
        vocab_size=vocab, block_size=block_size, n_layer=2, n_head=2, n_embd=16, **overrides
    )
    return sharpen(DecoderOnlyLM(config), seed)


def tiny_seq2seq(seed: int = 0, vocab: int = 12, block_size: int = 8) -> EncoderDecoderLM:
    config = EncoderDecoderConfig(vocab_size=vocab, block_size=block_size, n_layer=1, n_head=2, n_embd=16)
    return sharpen(EncoderDecoderLM(config), seed)


def prompts(batch: int = 3, length: int = 3, vocab: int = 12, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


def greedy_by_hand(model: DecoderOnlyLM, idx: torch.Tensor, steps: int) -> torch.Tensor:
    """Reference greedy loop: re-run the model on the last block_size tokens and take the argmax."""
    with torch.no_grad():
        for _ in range(steps):
            logits = model(idx[:, -model.config.block_size :]).logits[:, -1]  # (B, V)
            idx = torch.cat([idx, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return idx


@pytest.mark.parametrize("positional", ["learned", "rotary", "sinusoidal"])
@pytest.mark.parametrize("steps", [4, 13])  # 3 + 13 tokens outgrow block_size=8: the cache is dropped
def test_greedy_cached_equals_uncached_equals_reference(positional, steps):
    model, idx = tiny_gpt(positional=positional), prompts()
    cached = generate(model, idx, steps, strategy="greedy", use_cache=True)
    uncached = generate(model, idx, steps, strategy="greedy", use_cache=False)
    assert cached.shape == (3, 3 + steps)
    assert torch.equal(cached, uncached)
    assert torch.equal(cached, greedy_by_hand(model, idx, steps))


@pytest.mark.parametrize("steps", [4, 13])
def test_sampling_cached_equals_uncached_with_the_same_seed(steps):
    model, idx = tiny_gpt(seed=1), prompts()
    options = dict(strategy="sample", temperature=1.3, top_k=8, top_p=0.95, repetition_penalty=1.1, seed=7)
    cached = generate(model, idx, steps, use_cache=True, **options)
    assert torch.equal(cached, generate(model, idx, steps, use_cache=False, **options))
    assert not torch.equal(cached, generate(model, idx, steps, strategy="greedy"))  # it really sampled


def test_sampling_is_repeatable_per_seed_and_leaves_global_rng_alone():
    model, idx = tiny_gpt(seed=2), prompts()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = generate(model, idx, 10, seed=3)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator was not used
    torch.manual_seed(999)  # changing the global seed changes nothing
    assert torch.equal(generate(model, idx, 10, seed=3), first)
    others = [generate(model, idx, 10, seed=seed) for seed in (4, 5)]
    assert not all(torch.equal(first, other) for other in others)


def test_prompt_longer_than_block_size_uses_the_last_block_size_tokens():
    model, idx = tiny_gpt(seed=3), prompts(batch=2, length=11)
    out = generate(model, idx, 3, strategy="greedy")
    assert torch.equal(out, greedy_by_hand(model, idx, 3))
    assert torch.equal(out[:, :11], idx)
    assert torch.equal(out[:, 11:], generate(model, idx[:, -8:], 3, strategy="greedy")[:, 8:])


def test_greedy_with_repetition_penalty_matches_hugging_face_processor():
    model, idx = tiny_gpt(seed=13), prompts()
    penalty = RepetitionPenaltyLogitsProcessor(1.5)
    expected = idx
    with torch.no_grad():
        for _ in range(10):
            logits = penalty(expected, model(expected[:, -8:]).logits[:, -1])  # (B, V)
            expected = torch.cat([expected, logits.argmax(dim=-1, keepdim=True)], dim=1)
    out = generate(model, idx, 10, strategy="greedy", repetition_penalty=1.5)
    assert torch.equal(out, expected)
    assert not torch.equal(out, generate(model, idx, 10, strategy="greedy"))  # the penalty changed something


@pytest.mark.parametrize("temperature", [0.0, 1e-6])
def test_temperature_to_zero_sampling_equals_greedy(temperature):
    model, idx = tiny_gpt(seed=4), prompts()
    greedy = generate(model, idx, 10, strategy="greedy")
    assert torch.equal(generate(model, idx, 10, strategy="sample", temperature=temperature, seed=0), greedy)


def cut_at_eos(free: torch.Tensor, eos_id: int, start: int) -> torch.Tensor:
    """What decoding with ``eos_id`` must return, given the output (B, L) of decoding without it.

    Each row is kept up to its first eos at or after ``start`` and padded with eos after it; columns
    after the last row's eos are dropped (generation stops once every row has finished).
    """
    out, ends = free.clone(), []
    for row in out:
        hits = (row[start:] == eos_id).nonzero().flatten()
        stop = start + hits[0].item() if len(hits) else len(row)
        row[stop:] = eos_id
        ends.append(stop + 1)
    return out[:, : max(ends)]


def test_eos_stops_a_row_and_pads_it_with_eos():
    model, idx = tiny_gpt(seed=5), prompts(batch=4)
    free = generate(model, idx, 8, strategy="greedy")
    eos_id = free[0, 5].item()  # a token row 0 produces at its third step
    expected = cut_at_eos(free, eos_id, start=3)
    assert not torch.equal(expected, free)  # eos matters here
    assert torch.equal(generate(model, idx, 8, strategy="greedy", eos_id=eos_id), expected)
    assert torch.equal(generate(model, idx, 8, strategy="greedy", eos_id=eos_id, use_cache=False), expected)


def test_generation_stops_early_when_every_row_has_finished():
    model, idx = tiny_gpt(seed=5), prompts(batch=1)
    free = generate(model, idx, 8, strategy="greedy")
    eos_id = free[0, 4].item()
    out = generate(model, idx, 8, strategy="greedy", eos_id=eos_id)
    assert torch.equal(out, cut_at_eos(free, eos_id, start=3))
    assert out.size(1) <= 5 and out[0, -1] == eos_id


def test_generate_runs_in_eval_mode_and_restores_training_mode():
    model, idx = tiny_gpt(seed=6, dropout=0.5), prompts()
    model.train()
    first = generate(model, idx, 6, strategy="greedy")
    assert model.training
    assert torch.equal(first, generate(model, idx, 6, strategy="greedy"))  # dropout was off
    assert torch.equal(first, greedy_by_hand(model.eval(), idx, 6))


def test_zero_new_tokens_returns_the_prompt():
    idx = prompts()
    assert torch.equal(generate(tiny_gpt(), idx, 0), idx)


# ------------------------------------------------------------------------------------------------------------
# beam_search on real models
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("use_cache", [True, False])
def test_one_beam_equals_greedy(seed, use_cache):
    model, idx = tiny_gpt(seed=seed), prompts(batch=1, seed=seed)
    greedy = generate(model, idx, 12, strategy="greedy", eos_id=2)
    assert torch.equal(
        beam_search(model, idx, 12, num_beams=1, eos_id=2, use_cache=use_cache).sequence, greedy
    )


@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 2.0])
def test_wide_beam_equals_brute_force(length_penalty):
    model, prompt, steps = tiny_gpt(seed=8, vocab=4), [1, 3], 3
    expected = brute_force_scores(model, prompt, steps, 0, length_penalty)
    result = beam_search(
        model, torch.tensor([prompt]), steps, num_beams=4**steps, length_penalty=length_penalty, eos_id=0
    )
    found = {continuation(h.tokens, len(prompt)): h.score for h in result.finished}
    assert found.keys() == expected.keys()
    for tokens, score in expected.items():
        assert found[tokens] == pytest.approx(score, abs=1e-5)
    assert continuation(result.sequence, len(prompt)) == max(expected, key=expected.get)


@pytest.mark.parametrize("steps", [4, 9])  # 2 + 9 tokens outgrow block_size=8
def test_beam_search_cached_equals_uncached(steps):
    model, idx = tiny_gpt(seed=9), prompts(batch=1, length=2)
    cached = beam_search(model, idx, steps, num_beams=3, length_penalty=0.7, eos_id=2, use_cache=True)
    uncached = beam_search(model, idx, steps, num_beams=3, length_penalty=0.7, eos_id=2, use_cache=False)
    assert torch.equal(cached.sequence, uncached.sequence)
    assert [h.tokens.tolist() for h in cached.finished] == [h.tokens.tolist() for h in uncached.finished]
    assert [h.score for h in cached.finished] == pytest.approx([h.score for h in uncached.finished], abs=1e-5)
    assert [[(n.parent, n.token) for n in step] for step in cached.trace] == [
        [(n.parent, n.token) for n in step] for step in uncached.trace
    ]


def test_beam_search_beats_or_matches_greedy_score():
    model, idx = tiny_gpt(seed=10), prompts(batch=1)
    greedy = beam_search(model, idx, 6, num_beams=1, length_penalty=0.0)
    wide = beam_search(model, idx, 6, num_beams=5, length_penalty=0.0)
    assert wide.score >= greedy.score - 1e-6
    assert len(wide.finished) == 5 and len(wide.trace) == 6


# ------------------------------------------------------------------------------------------------------------
# generate_seq2seq
# ------------------------------------------------------------------------------------------------------------

BOS, EOS = 1, 2


def count_encoder_calls(model: EncoderDecoderLM, monkeypatch) -> list:
    calls = []
    original = model.encode

    def counting_encode(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "encode", counting_encode)
    return calls


def seq2seq_greedy_by_hand(model: EncoderDecoderLM, src: torch.Tensor, steps: int) -> torch.Tensor:
    """Reference: run the whole model (encoder included) on the full target so far, every step."""
    tgt = torch.full((src.size(0), 1), BOS)
    with torch.no_grad():
        for _ in range(steps):
            logits = model(src, tgt[:, -model.config.block_size :]).logits[:, -1]  # (B, V)
            tgt = torch.cat([tgt, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return tgt


@pytest.mark.parametrize("steps", [5, 10])  # 1 + 10 tokens outgrow block_size=8
def test_seq2seq_greedy_equals_reference_and_runs_the_encoder_once(steps, monkeypatch):
    model, src = tiny_seq2seq(), prompts(batch=3, length=6)
    free = seq2seq_greedy_by_hand(model, src, steps)
    eos_id = free[1, 3].item()  # a token that row 1 produces
    calls = count_encoder_calls(model, monkeypatch)
    out = generate_seq2seq(model, src, BOS, eos_id, steps, strategy="greedy")
    assert len(calls) == 1
    assert torch.equal(out, cut_at_eos(free, eos_id, start=1))


@pytest.mark.parametrize("strategy", ["greedy", "sample", "beam"])
def test_seq2seq_cached_equals_uncached(strategy, monkeypatch):
    model, src = tiny_seq2seq(seed=1), prompts(batch=2, length=5)
    options = dict(strategy=strategy, seed=3, temperature=1.2, num_beams=3)
    calls = count_encoder_calls(model, monkeypatch)
    cached = generate_seq2seq(model, src, BOS, EOS, 10, use_cache=True, **options)
    assert len(calls) == 1  # one encoder run for the whole batch, beams included
    uncached = generate_seq2seq(model, src, BOS, EOS, 10, use_cache=False, **options)
    assert torch.equal(cached, uncached)
    assert (cached[:, 0] == BOS).all()


def test_seq2seq_one_beam_equals_greedy_and_pads_with_eos():
    model, src = tiny_seq2seq(seed=2), prompts(batch=4, length=5)
    greedy = generate_seq2seq(model, src, BOS, EOS, 9, strategy="greedy")
    beam = generate_seq2seq(model, src, BOS, EOS, 9, strategy="beam", num_beams=1)
    assert torch.equal(beam, greedy)
    for row in greedy:
        hits = (row == EOS).nonzero().flatten()
        if len(hits):
            assert (row[hits[0] :] == EOS).all()


def test_seq2seq_beam_row_equals_beam_search_on_that_row_alone():
    model, src = tiny_seq2seq(seed=3), prompts(batch=3, length=5)
    together = generate_seq2seq(model, src, BOS, EOS, 7, strategy="beam", num_beams=3)
    for row in range(3):
        alone = generate_seq2seq(model, src[row : row + 1], BOS, EOS, 7, strategy="beam", num_beams=3)
        assert together[row, : alone.size(1)].tolist() == alone[0].tolist()


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_seq2seq_padding_mask_hides_source_padding(strategy):
    """A padded source with its padding mask gives the same output as the unpadded source alone."""
    model, pad = tiny_seq2seq(seed=4), 0
    short, long = [5, 7, 3], [4, 9, 6, 8, 10]
    src = torch.tensor([[*short, pad, pad], long])  # (2, 5): row 0 padded at the end
    mask = padding_mask(src, pad)  # (2, 1, 1, 5)
    batched = generate_seq2seq(model, src, BOS, EOS, 6, strategy=strategy, num_beams=3, src_padding_mask=mask)
    alone = generate_seq2seq(model, torch.tensor([short]), BOS, EOS, 6, strategy=strategy, num_beams=3)
    assert batched[0, : alone.size(1)].tolist() == alone[0].tolist()
    unmasked = generate_seq2seq(model, src, BOS, EOS, 6, strategy=strategy, num_beams=3)
    assert not torch.equal(unmasked[0], batched[0])  # without the mask the padding changes the answer


# ------------------------------------------------------------------------------------------------------------
# Errors of the generation functions
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m, x: generate(m, x, -1), r"max_new_tokens must be an integer >= 0, got -1\. Use e\.g\. 100"),
        (
            lambda m, x: generate(m, x.float(), 5),
            r"idx must be a LongTensor \(torch.long\) of token ids, got dtype torch.float32\. Build it with",
        ),
        (
            lambda m, x: generate(m, x.tolist(), 5),
            r"idx must be a LongTensor \(torch.long\) of token ids, got list",
        ),
        (
            lambda m, x: generate(m, x[0], 5),
            r"idx must be a 2-D tensor of shape \(B, T\), got shape \(3,\)\. Add a batch dimension",
        ),
        (
            lambda m, x: generate(m, x[:, None], 5),
            r"idx must be a 2-D tensor of shape \(B, T\), got shape \(3, 1, 3\)",
        ),
        (lambda m, x: generate(m, x[:, :0], 5), r"idx must be at least one token long, got shape \(3, 0\)"),
        (
            lambda m, x: generate(m, x, 5, strategy="beam"),
            r"strategy must be 'greedy' or 'sample', got 'beam'\. Pick one of",
        ),
        (lambda m, x: generate(m, x, 5, temperature=-1.0), r"temperature must be in \[0.0, inf\], got -1.0"),
        (lambda m, x: generate(m, x, 5, top_k=0), r"top_k must be an integer >= 1, got 0"),
        (lambda m, x: generate(m, x, 5, top_p=0.0), r"top_p must be in \(0.0, 1.0\], got 0.0"),
        (lambda m, x: generate(m, x, 5, min_p=1.5), r"min_p must be in \[0.0, 1.0\], got 1.5"),
        (
            lambda m, x: generate(m, x, 5, repetition_penalty=0.0),
            r"repetition_penalty must be in \(0.0, inf\], got 0.0",
        ),
        (
            lambda m, x: generate(m, x, 5, seed=-1),
            r"seed must be an integer from 0 to 9223372036854775807, got -1",
        ),
        (
            lambda m, x: generate(m, x, 5, eos_id=12),
            r"eos_id must be an integer from 0 to 11, got 12\. .*vocab_size is 12",
        ),
        (
            lambda m, x: beam_search(m, x[:1], 5, num_beams=0),
            r"num_beams must be an integer >= 1, got 0\. Use e\.g\. 4 \(1 is greedy decoding\)",
        ),
        (
            lambda m, x: beam_search(m, x[:1], -2, num_beams=2),
            r"max_new_tokens must be an integer >= 0, got -2",
        ),
        (
            lambda m, x: beam_search(m, x, 5, num_beams=2),
            r"idx must be of shape \(1, T\) with dimension 0 equal to 1, got shape \(3, 3\)\. "
            r"beam_search takes one prompt",
        ),
        (lambda m, x: beam_search(m, x[0], 5, num_beams=2), r"idx must be a 2-D tensor of shape \(1, T\)"),
        (
            lambda m, x: beam_search(m, x[:1].int(), 5, num_beams=2),
            r"idx must be a LongTensor \(torch.long\) of token ids, got dtype torch.int32",
        ),
        (
            lambda m, x: generate_seq2seq(m, x, BOS, EOS, 5),
            r"model must be an encoder-decoder model \(EncoderDecoderLM\), got DecoderOnlyLM\. "
            r"For decoder-only models use generate",
        ),
    ],
)
def test_generation_rejects_bad_arguments(call, match):
    with pytest.raises(CourseInputError, match=match):
        call(tiny_gpt(), prompts())


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda m, x: generate(m, x, 5),
            r"model must be a decoder-only model \(DecoderOnlyLM\), got EncoderDecoderLM\. "
            r"For encoder-decoder models use generate_seq2seq",
        ),
        (lambda m, x: beam_search(m, x[:1], 5, num_beams=2), r"model must be a decoder-only model"),
        (
            lambda m, x: generate_seq2seq(m, x, BOS, EOS, 5, strategy="beam", num_beams=0),
            r"num_beams must be an integer >= 1, got 0",
        ),
        (
            lambda m, x: generate_seq2seq(m, x, BOS, EOS, -1),
            r"max_new_tokens must be an integer >= 0, got -1",
        ),
        (
            lambda m, x: generate_seq2seq(m, x, BOS, EOS, 5, strategy="top"),
            r"strategy must be 'greedy', 'sample' or 'beam', got 'top'\. Pick one of",
        ),
        (
            lambda m, x: generate_seq2seq(m, x, 99, EOS, 5),
            r"bos_id must be an integer from 0 to 11, got 99\. .*vocab_size is 12",
        ),
        (
            lambda m, x: generate_seq2seq(m, x, BOS, None, 5),
            r"eos_id must be an integer, got None \(NoneType\)",
        ),
        (lambda m, x: generate_seq2seq(m, x.float(), BOS, EOS, 5), r"src must be a LongTensor"),
        (
            lambda m, x: generate_seq2seq(m, x, BOS, EOS, 5, strategy="sample", top_p=2.0),
            r"top_p must be in \(0.0, 1.0\], got 2.0",
        ),
    ],
)
def test_seq2seq_generation_rejects_bad_arguments(call, match):
    with pytest.raises(CourseInputError, match=match):
        call(tiny_seq2seq(), prompts())


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda m, x: generate(m, x, 5, temperature=math.nan),
            r"temperature must be in \[0.0, inf\], got nan",
        ),
        (lambda m, x: generate(m, x, 5, top_p=math.nan), r"top_p must be in \(0.0, 1.0\], got nan"),
        (lambda m, x: generate(m, x, 5, min_p=math.inf), r"min_p must be in \[0.0, 1.0\], got inf"),
        (
            lambda m, x: generate(m, x, 5, repetition_penalty=math.inf),
            r"repetition_penalty must be in \(0.0, inf\], got inf",
        ),
        (
            lambda m, x: generate(m, x + 12, 5),
            r"idx must be token ids from 0 to vocab_size - 1 = 11, got id \d+\. Encode text with",
        ),
        (
            lambda m, x: beam_search(m, x[:1], 5, num_beams=2, length_penalty=math.nan),
            r"length_penalty must be in \[-inf, inf\], got nan\. Use e.g. 1.0",
        ),
    ],
)
def test_generation_rejects_nan_infinite_and_out_of_vocabulary_arguments(call, match):
    with pytest.raises(CourseInputError, match=match):
        call(tiny_gpt(), prompts())


def test_seq2seq_rejects_nan_options():
    model, src = tiny_seq2seq(), prompts()
    with pytest.raises(CourseInputError, match=r"temperature must be in \[0.0, inf\], got nan"):
        generate_seq2seq(model, src, BOS, EOS, 5, strategy="sample", temperature=math.nan)
    with pytest.raises(CourseInputError, match=r"length_penalty must be in \[-inf, inf\], got inf"):
        generate_seq2seq(model, src, BOS, EOS, 5, strategy="beam", length_penalty=math.inf)


def count_decoding_checks(monkeypatch) -> list[str]:
    """Record every call decoding.py makes to the shared checkers of course_lib.validation."""
    calls = []
    for name in ("check_int", "check_number", "check_shape", "check_token_ids"):
        original = getattr(decoding, name)

        def counting(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(decoding, name, counting)
    return calls


@pytest.mark.parametrize(
    "run",
    [
        lambda m, s, n: generate(
            m, prompts(), n, top_k=5, top_p=0.9, min_p=0.05, temperature=0.8, repetition_penalty=1.2, seed=0
        ),
        lambda m, s, n: generate(m, prompts(), n, strategy="greedy", repetition_penalty=1.2, use_cache=False),
        lambda m, s, n: beam_search(m, prompts(batch=1), n, num_beams=3),
        lambda m, s, n: generate_seq2seq(s, prompts(), BOS, EOS, n, strategy="sample", top_k=5, seed=0),
        lambda m, s, n: generate_seq2seq(s, prompts(), BOS, EOS, n, strategy="beam", num_beams=2),
    ],
)
def test_generation_checks_its_arguments_once_not_every_token(run, monkeypatch):
    """The options are checked on entry; the loop then runs unchecked code, however many tokens it makes."""
    gpt, seq2seq = tiny_gpt(), tiny_seq2seq()
    calls = count_decoding_checks(monkeypatch)
    run(gpt, seq2seq, 2)
    checks_for_two_tokens = len(calls)
    calls.clear()
    run(gpt, seq2seq, 12)
    assert checks_for_two_tokens > 0 and len(calls) == checks_for_two_tokens


def test_tiny_temperatures_and_huge_seeds_are_refused_before_generating():
    torch.manual_seed(0)
    model = DecoderOnlyLM(DecoderOnlyConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8))
    idx = torch.zeros(1, 2, dtype=torch.long)
    with pytest.raises(CourseInputError, match=r"temperature must be 0 or at least 1e-06, got 1e-45"):
        generate(model, idx, 3, temperature=1e-45)
    with pytest.raises(CourseInputError, match=r"seed must be an integer from 0 to 9223372036854775807"):
        generate(model, idx, 3, seed=2**64)


def test_generated_ids_can_enter_autograd_later() -> None:
    """The loop runs under inference_mode; what generate returns must still be an ordinary tensor."""
    model = tiny_gpt()
    out = generate(model, torch.tensor([[1, 2]]), 5, strategy="greedy")
    assert not out.is_inference()
    model(out[:, :-1], out[:, 1:]).loss.backward()  # e.g. fine-tuning on generated text


@pytest.mark.parametrize("seq2seq", [False, True])
def test_generation_checks_the_input_once_not_at_every_step(monkeypatch, seq2seq: bool) -> None:
    calls = []
    real_check = decoding.check_token_ids

    def counting_check(*args, **kwargs):
        calls.append(args[0])
        return real_check(*args, **kwargs)

    monkeypatch.setattr("course_lib.models.check_token_ids", counting_check)
    if seq2seq:
        generate_seq2seq(tiny_seq2seq(), torch.tensor([[3, 4, 5]]), 1, 2, 6, strategy="greedy")
    else:
        generate(tiny_gpt(), torch.tensor([[1, 2]]), 6, strategy="greedy")
    assert len(calls) <= 1, f"the model checked its input at every step: {calls}"
