"""course_lib.pretrained_lm: SmolLM2-135M-Instruct behind the course's own decoding functions gives the same
tokens as transformers' generate (greedy and seeded sampling), with and without its KV cache; beam search
reorders that cache; attention maps, losses, the tokenizer and bad input behave as for the course's models.

The model is loaded once for the module (about a second once converted by ``make models``).
"""

from __future__ import annotations

import pytest
import torch

from course_lib.decoding import beam_search, generate
from course_lib.models import LMOutput
from course_lib.pretrained_lm import PretrainedCache, PretrainedLM, PretrainedTokenizer, load_smollm2
from course_lib.validation import CourseInputError

PROMPT = "The capital of France is"
SAMPLING = {"temperature": 0.8, "top_k": 50, "top_p": 0.9}


@pytest.fixture(scope="module")
def smollm2() -> tuple[PretrainedLM, PretrainedTokenizer]:
    return load_smollm2()


@pytest.fixture(scope="module")
def prompt_ids(smollm2) -> torch.Tensor:
    return torch.tensor([smollm2[1].encode(PROMPT)])  # (1, 5)


def eos_id(tokenizer: PretrainedTokenizer) -> int:
    return tokenizer.hf.eos_token_id  # <|im_end|>: hf.generate stops there (its generation config says so)


def test_config_names_the_llama_sizes(smollm2) -> None:
    config = smollm2[0].config
    sizes = (config.vocab_size, config.block_size, config.n_layer, config.n_head, config.n_kv_head)
    assert sizes == (49152, 8192, 30, 9, 3)
    assert (config.n_embd, config.head_dim) == (576, 64)
    assert smollm2[1].vocab_size == config.vocab_size


def test_greedy_generate_equals_transformers_generate(smollm2, prompt_ids) -> None:
    model, tokenizer = smollm2
    ours = generate(model, prompt_ids, 30, strategy="greedy", eos_id=eos_id(tokenizer))
    theirs = model.hf.generate(prompt_ids, max_new_tokens=30, do_sample=False)
    assert ours.tolist() == theirs.tolist()
    assert tokenizer.decode(ours[0]).startswith(PROMPT + " Paris")


def test_seeded_sampling_equals_transformers_generate(smollm2, prompt_ids) -> None:
    """Same filters in the same order, and the same random stream: a private generator seeded with ``seed``
    draws what the global generator draws after ``torch.manual_seed(seed)``."""
    model, tokenizer = smollm2
    ours = generate(model, prompt_ids, 20, strategy="sample", seed=0, eos_id=eos_id(tokenizer), **SAMPLING)
    torch.manual_seed(0)
    theirs = model.hf.generate(prompt_ids, max_new_tokens=20, do_sample=True, **SAMPLING)
    assert ours.tolist() == theirs.tolist()
    # with seed 0 this continuation ends with <|im_end|> before 20 tokens: the stop is compared too
    assert ours[0, -1].item() == eos_id(tokenizer) and ours.size(1) < prompt_ids.size(1) + 20


def test_the_kv_cache_changes_speed_not_tokens(smollm2, prompt_ids) -> None:
    model = smollm2[0]
    cached = generate(model, prompt_ids, 12, strategy="greedy", use_cache=True)
    uncached = generate(model, prompt_ids, 12, strategy="greedy", use_cache=False)
    assert cached.tolist() == uncached.tolist()
    cache = model.new_cache(1)
    with torch.no_grad():
        full = model.compute_logits(cached)  # (1, T, V)
        first = model.compute_logits(cached[:, :5], cache=cache)  # (1, 5, V)
        rest = model.compute_logits(cached[:, 5:], cache=cache)  # (1, T - 5, V)
    assert cache.length == cached.size(1) and cache.window is None
    torch.testing.assert_close(torch.cat([first, rest], dim=1), full, atol=1e-4, rtol=1e-4)


def test_beam_search_reorders_the_cache_and_beats_greedy(smollm2, prompt_ids) -> None:
    model = smollm2[0]
    cached = beam_search(model, prompt_ids, 8, num_beams=3)
    uncached = beam_search(model, prompt_ids, 8, num_beams=3, use_cache=False)
    assert cached.sequence.tolist() == uncached.sequence.tolist()  # reorder(rows) kept the right beams
    greedy = generate(model, prompt_ids, 8, strategy="greedy")
    best = cached.finished[0]
    assert best.log_prob >= log_prob_of_continuation(model, greedy, prompt_ids.size(1)) - 1e-4
    assert best.log_prob == pytest.approx(log_prob_of_continuation(model, best.tokens[None], 5), abs=1e-3)


def log_prob_of_continuation(model: PretrainedLM, ids: torch.Tensor, prompt_length: int) -> float:
    with torch.no_grad():
        log_probs = model(ids).logits[0, prompt_length - 1 : -1].log_softmax(dim=-1)  # (n, V)
    return log_probs.gather(1, ids[0, prompt_length:, None]).sum().item()


def test_cache_reorder_keeps_the_chosen_rows(smollm2) -> None:
    model, tokenizer = smollm2
    ids = torch.tensor([tokenizer.encode("One two"), tokenizer.encode("Red blue")])  # (2, 2)
    cache = model.new_cache(2)
    with torch.no_grad():
        model.compute_logits(ids, cache=cache)
        cache.reorder(torch.tensor([1, 1, 0]))
        next_ids = torch.tensor([[3], [3], [3]])
        reordered = model.compute_logits(next_ids, cache=cache)[:, -1]  # (3, V)
        direct = model.compute_logits(torch.cat([ids[[1, 1, 0]], next_ids], dim=1))[:, -1]
    torch.testing.assert_close(reordered, direct, atol=1e-4, rtol=1e-4)
    with pytest.raises(CourseInputError, match=r"rows must be a 1-D tensor"):
        cache.reorder(torch.tensor([[0]]))


def test_attention_maps_have_nine_query_heads_per_layer(smollm2, prompt_ids) -> None:
    out = smollm2[0](prompt_ids, return_attention=True)
    assert isinstance(out, LMOutput) and out.logits.shape == (1, 5, 49152)
    assert len(out.attentions) == 30
    assert all(layer.shape == (1, 9, 5, 5) for layer in out.attentions)
    torch.testing.assert_close(out.attentions[0].sum(dim=-1), torch.ones(1, 9, 5))
    assert out.attentions[-1].triu(diagonal=1).abs().max() == 0  # causal: nothing looks ahead
    assert smollm2[0](prompt_ids).attentions is None


def test_loss_equals_transformers_loss(smollm2, prompt_ids) -> None:
    model = smollm2[0]
    with torch.no_grad():
        ours = model(prompt_ids[:, :-1], targets=prompt_ids[:, 1:]).loss  # the course shifts by hand
        theirs = model.hf(prompt_ids, labels=prompt_ids).loss  # transformers shifts inside
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-4)


def test_tokenizer_round_trip_and_token_strings(smollm2) -> None:
    tokenizer = smollm2[1]
    for text in ("The capital of France is", "héllo wörld 🙂", "def f(x):\n    return x"):
        assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.encode(PROMPT)[:2] == [504, 3575]  # no BOS added
    strings = tokenizer.token_strings
    assert len(strings) == 49152
    assert (strings[504], strings[3575], strings[2]) == ("The", " capital", "<|im_end|>")
    assert tokenizer.decode(torch.tensor([504, 3575])) == "The capital"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda m, t: m(torch.tensor([[0, 49152]])),
            r"idx must be token ids from 0 to vocab_size - 1 = 49151, got id 49152",
        ),
        (lambda m, t: m(torch.zeros(1, 0, dtype=torch.long)), r"idx must be at least one token long"),
        (lambda m, t: m(torch.tensor([504])), r"idx must be a 2-D tensor of shape \(B, T\)"),
        (
            lambda m, t: generate(m, torch.tensor([[-1]]), 3),
            r"idx must be token ids from 0 to vocab_size - 1 = 49151, got id -1",
        ),
        (lambda m, t: generate(m, torch.zeros(1, 0, dtype=torch.long), 3), r"idx must be at least one"),
        (lambda m, t: beam_search(m, torch.tensor([[1], [2]]), 3, num_beams=2), r"idx must be .*\(1, T\)"),
        (lambda m, t: t.encode(3), r"text must be a string, got int"),
        (lambda m, t: t.decode([0, 50000]), r"ids must be token ids from 0 to .* got id 50000"),
        (lambda m, t: t.decode("The"), r"ids must be a list of integer token ids, got str"),
        (lambda m, t: PretrainedLM("SmolLM2"), r"hf_model must be a transformers model .*got str"),
        (lambda m, t: PretrainedTokenizer(None), r"hf_tokenizer must be a transformers tokenizer"),
        (lambda m, t: m.new_cache(0), r"batch_size must be an integer >= 1, got 0"),
    ],
)
def test_bad_input_names_the_argument(smollm2, call, message) -> None:
    with pytest.raises(CourseInputError, match=message):
        call(*smollm2)


def test_cache_is_transformers_dynamic_cache(smollm2) -> None:
    from transformers import DynamicCache

    cache = smollm2[0].new_cache(1)
    assert isinstance(cache, PretrainedCache) and isinstance(cache.hf, DynamicCache) and cache.length == 0


def test_benchmark_report_states_threads_and_both_speeds() -> None:
    from benchmarks import run as bench

    facts = {
        "model": "SmolLM2-135M-Instruct (float32, eager attention)",
        "torch_threads": 1,
        "repeats": 2,
        "prompt_tokens": 7,
        "new_tokens": {"course_lib": 64, "transformers": 64},
        "tokens_per_second": {"course_lib": 9.7, "transformers": 7.4},
        "course_over_transformers": 9.7 / 7.4,
        "same_tokens": True,
        "sample": " over a list",
    }
    report = "\n".join(bench.pretrained_generation_section({"pretrained_generation": facts}))
    assert "1 torch thread(s), best of 2" in report and "| 9.7 |" in report and "| 7.4 |" in report
    assert "**1.31x**; both produced the same tokens" in report
    assert bench.pretrained_generation_section({}) == []  # results.json files from before this measurement
