"""KV cache: incremental decoding gives the logits of a full forward pass."""

import pytest
import torch

from course_lib.configs import DecoderOnlyConfig, EncoderDecoderConfig
from course_lib.decoding import generate
from course_lib.kv_cache import KVCache
from course_lib.models import DecoderOnlyLM, EncoderDecoderLM
from course_lib.validation import CourseInputError

KINDS = ["sinusoidal", "learned", "rotary", "none"]
V, BLOCK = 23, 12


def tiny(cls=DecoderOnlyConfig, **kwargs):
    return cls(**({"vocab_size": V, "block_size": BLOCK, "n_layer": 2, "n_head": 2, "n_embd": 16} | kwargs))


def ids(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, V, shape, generator=torch.Generator().manual_seed(seed))


def run_incrementally(step, cache: KVCache, seq: torch.Tensor, prompt_length: int) -> torch.Tensor:
    """Feed the prompt in one call, then one token per call; return all logits (B, T, V)."""
    chunks = [seq[:, :prompt_length], *list(seq[:, prompt_length:].split(1, dim=1))]
    return torch.cat([step(chunk, cache) for chunk in chunks], dim=1)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("prompt_length", [1, 5])
def test_decoder_only_cached_logits_equal_a_full_forward(kind, prompt_length):
    torch.manual_seed(0)
    model = DecoderOnlyLM(tiny(positional=kind)).eval()
    seq = ids(2, BLOCK)
    cache = model.new_cache(batch_size=2)
    with torch.no_grad():
        cached = run_incrementally(lambda x, c: model(x, cache=c).logits, cache, seq, prompt_length)
        torch.testing.assert_close(cached, model(seq).logits, atol=1e-5, rtol=0)
    assert cache.length == BLOCK


@pytest.mark.parametrize("kind", KINDS)
def test_encoder_decoder_cached_logits_equal_a_full_forward(kind):
    torch.manual_seed(0)
    model = EncoderDecoderLM(tiny(EncoderDecoderConfig, positional=kind, n_decoder_layer=3)).eval()
    src, tgt = ids(2, 7, seed=1), ids(2, BLOCK)
    with torch.no_grad():
        memory = model.encode(src)
        cache = model.new_cache(batch_size=2)
        cached = run_incrementally(lambda x, c: model.decode(x, memory, cache=c).logits, cache, tgt, 3)
        torch.testing.assert_close(cached, model(src, tgt).logits, atol=1e-5, rtol=0)
    assert cache.keys.shape[0] == 3  # one slot per decoder layer


def test_cached_attention_weights_cover_every_stored_position():
    torch.manual_seed(0)
    model = DecoderOnlyLM(tiny()).eval()
    cache = model.new_cache(1)
    model(ids(1, 4), cache=cache)
    out = model(ids(1, 1), cache=cache, return_attention=True)
    assert out.attentions[0].shape == (1, 2, 1, 5)
    torch.testing.assert_close(out.attentions[0].sum(-1), torch.ones(1, 2, 1))


def test_reorder_follows_the_selected_rows():
    """Beam search copies and drops rows: after reorder the cache must describe the new rows exactly."""
    torch.manual_seed(0)
    model = DecoderOnlyLM(tiny(positional="rotary")).eval()
    seq = ids(2, 8)
    rows = torch.tensor([1, 0, 1])
    with torch.no_grad():
        cache = model.new_cache(2)
        model(seq[:, :5], cache=cache)
        cache.reorder(rows)
        cached = model(seq[rows, 5:], cache=cache).logits  # (3, 3, V)
        torch.testing.assert_close(cached, model(seq[rows]).logits[:, 5:], atol=1e-5, rtol=0)
    assert cache.batch_size == 3 and cache.length == 8


def test_new_cache_matches_the_model():
    model = DecoderOnlyLM(tiny(n_layer=3)).to(torch.float64)
    cache = model.new_cache(4)
    assert cache.keys.shape == (3, 4, 2, BLOCK, 8) and cache.keys.dtype == torch.float64 and cache.length == 0


def test_cache_overflow_is_a_clear_error():
    cache = KVCache(n_layer=1, batch_size=1, n_head=2, head_dim=4, max_length=6)
    cache.update(0, torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4))
    cache.advance(4)
    with pytest.raises(
        CourseInputError,
        match=r"the KV cache must be large enough for 4 stored \+ 3 new positions, "
        r"got max_length=6\. .*model.new_cache\(batch_size\)",
    ):
        cache.update(0, torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4))
    with pytest.raises(CourseInputError, match="4 stored \\+ 3 new positions"):
        cache.advance(3)


def test_model_refuses_tokens_past_block_size_with_a_cache():
    model = DecoderOnlyLM(tiny()).eval()
    cache = model.new_cache(1)
    model(ids(1, 10), cache=cache)
    with pytest.raises(
        CourseInputError,
        match=r"idx must be at most 2 new tokens long \(block_size=12, the KV cache "
        r"already holds 10\), got 3 tokens\. Crop",
    ):
        model(ids(1, 3), cache=cache)
    assert cache.length == 10  # the failed call stored nothing


def test_update_checks_layer_and_shapes():
    cache = KVCache(n_layer=2, batch_size=1, n_head=2, head_dim=4, max_length=6)
    with pytest.raises(CourseInputError, match=r"layer must be an integer in \[0, 2\), got 2"):
        cache.update(2, torch.zeros(1, 2, 1, 4), torch.zeros(1, 2, 1, 4))
    with pytest.raises(
        CourseInputError,
        match=r"k must be of shape \(1, 2, t, 4\) with dimension 3 equal to 4, got shape \(1, 2, 1, 8\)",
    ):
        cache.update(0, torch.zeros(1, 2, 1, 8), torch.zeros(1, 2, 1, 4))
    with pytest.raises(CourseInputError, match=r"v must be the same number of new positions t as k \(1\)"):
        cache.update(0, torch.zeros(1, 2, 1, 4), torch.zeros(1, 2, 2, 4))


# ------------------------------------------------------------------------------------------------------------
# Sliding-window cache: generation past block_size at one position of work per token
# ------------------------------------------------------------------------------------------------------------


def last_logits_step_by_step(model, seq: torch.Tensor, prompt_length: int) -> list[torch.Tensor]:
    """Next-token logits (B, V) after each prefix of seq from prompt_length on, through one sliding cache."""
    cache = model.new_cache(seq.size(0))
    steps = [model(seq[:, :prompt_length], cache=cache).logits[:, -1]]
    for t in range(prompt_length, seq.size(1)):
        steps.append(model(seq[:, t : t + 1], cache=cache).logits[:, -1])
    return steps


def last_logits_of_the_window(model, seq: torch.Tensor, prompt_length: int) -> list[torch.Tensor]:
    """The same, re-running the last block_size tokens for every prefix (the uncached way)."""
    return [model(seq[:, :end][:, -BLOCK:]).logits[:, -1] for end in range(prompt_length, seq.size(1) + 1)]


@pytest.mark.parametrize("kind", ["rotary", "none"])
def test_models_whose_attention_sees_only_distances_get_a_sliding_cache(kind):
    model = DecoderOnlyLM(tiny(positional=kind))
    assert model.new_cache(1).window == BLOCK
    assert DecoderOnlyLM(tiny(positional="learned")).new_cache(1).window is None


def test_a_one_layer_sliding_cache_equals_re_running_the_window_at_every_step():
    """With one layer nothing is carried through the layers: the window is all the model ever sees."""
    torch.manual_seed(0)
    model = DecoderOnlyLM(tiny(positional="rotary", n_layer=1)).eval()
    seq = ids(2, 3 * BLOCK)
    with torch.no_grad():
        cached, windowed = last_logits_step_by_step(model, seq, 5), last_logits_of_the_window(model, seq, 5)
    for step, (a, b) in enumerate(zip(cached, windowed, strict=True)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0, msg=f"step {step}")


def test_a_deeper_sliding_cache_agrees_until_the_window_fills_then_sees_further_back():
    torch.manual_seed(0)
    model = DecoderOnlyLM(tiny(positional="rotary", n_layer=2)).eval()
    seq = ids(2, 2 * BLOCK)
    with torch.no_grad():
        cached, windowed = last_logits_step_by_step(model, seq, 5), last_logits_of_the_window(model, seq, 5)
    differences = [(a - b).abs().max().item() for a, b in zip(cached, windowed, strict=True)]
    prefix_lengths = range(5, seq.size(1) + 1)
    assert max(d for n, d in zip(prefix_lengths, differences, strict=True) if n <= BLOCK) < 1e-5
    assert min(d for n, d in zip(prefix_lengths, differences, strict=True) if n > BLOCK + 1) > 1e-4


def test_a_sliding_cache_keeps_window_positions_and_counts_every_one():
    torch.manual_seed(0)
    model = DecoderOnlyLM(tiny(positional="rotary")).eval()
    cache = model.new_cache(1)
    with torch.no_grad():
        model(ids(1, BLOCK), cache=cache)
        for _ in range(3 * BLOCK):
            model(ids(1, 1), cache=cache)
    assert cache.length == 4 * BLOCK and cache.stored == BLOCK


@pytest.mark.parametrize("kind, n_layer", [("rotary", 1), ("learned", 2), ("sinusoidal", 2)])
def test_generation_past_block_size_with_a_cache_matches_re_running_the_window(kind, n_layer):
    """Exact where it must be: a one-layer sliding window, and models with a position table (whose full
    fixed cache gives way to re-running the window)."""
    torch.manual_seed(0)
    model = DecoderOnlyLM(tiny(positional=kind, n_layer=n_layer))
    prompt = ids(2, 5)
    cached = generate(model, prompt, 3 * BLOCK, strategy="greedy", use_cache=True)
    assert torch.equal(cached, generate(model, prompt, 3 * BLOCK, strategy="greedy", use_cache=False))


def test_a_prompt_longer_than_block_size_feeds_its_last_window_to_the_cache():
    torch.manual_seed(0)
    model = DecoderOnlyLM(tiny(positional="rotary", n_layer=1))
    prompt = ids(1, 2 * BLOCK)
    cached = generate(model, prompt, 4, strategy="greedy", use_cache=True)
    assert torch.equal(cached, generate(model, prompt, 4, strategy="greedy", use_cache=False))
