"""course_lib.pretrained_tasks: mean pooling leaves padding out, similarity search finds the right
sentence, few-shot prompts are laid out as documented, a batch of prompts predicts what each prompt alone
does, and the measured KV cache matches the architecture's bytes per token."""

from __future__ import annotations

import pytest
import torch

from course_lib import architecture, pretrained, pretrained_tasks
from course_lib.validation import CourseInputError


@pytest.fixture(scope="module")
def encoder():
    torch.set_num_threads(1)
    return pretrained.load_encoder()


@pytest.fixture(scope="module")
def decoder():
    torch.set_num_threads(1)
    return pretrained.load_decoder()


def test_mean_pool_ignores_padding() -> None:
    hidden = torch.arange(12.0).reshape(1, 4, 3).repeat(2, 1, 1)  # (2, 4, 3)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    pooled = pretrained_tasks.mean_pool(hidden, mask)
    torch.testing.assert_close(pooled, torch.stack([hidden[0].mean(0), hidden[1, :2].mean(0)]))


def test_mean_pool_names_a_mask_of_the_wrong_shape() -> None:
    with pytest.raises(CourseInputError, match="attention_mask must be"):
        pretrained_tasks.mean_pool(torch.zeros(2, 4, 3), torch.ones(2, 5))


def test_nearest_neighbours_is_the_highest_cosine() -> None:
    corpus = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]), dim=-1)
    queries = torch.nn.functional.normalize(torch.tensor([[0.1, 1.0], [-1.0, 0.2]]), dim=-1)
    scores, best = pretrained_tasks.nearest_neighbours(queries, corpus)
    assert best.tolist() == [1, 2] and scores.shape == (2, 3)
    with pytest.raises(CourseInputError, match="corpus must be"):
        pretrained_tasks.nearest_neighbours(queries, torch.zeros(3, 5))


def test_few_shot_prompt_layout() -> None:
    prompt = pretrained_tasks.few_shot_prompt([("hot", "cold"), ("up", "down")], "big", header="Opposites:\n")
    assert prompt == "Opposites:\nhot -> cold\nup -> down\nbig ->"
    assert pretrained_tasks.few_shot_prompt([], "big", arrow=":") == "big:"


def test_texts_must_be_a_list_of_strings(encoder) -> None:
    with pytest.raises(CourseInputError, match="sentences must be a non-empty list"):
        pretrained_tasks.sentence_embeddings(*encoder, "one string, not a list")


def test_sentence_embeddings_are_unit_vectors_unchanged_by_padding(encoder) -> None:
    sentences = ["A cat sleeps.", "The stock market fell sharply today after the announcement."]
    together = pretrained_tasks.sentence_embeddings(*encoder, sentences)  # the first is padded
    alone = pretrained_tasks.sentence_embeddings(*encoder, sentences[:1])
    torch.testing.assert_close(together.norm(dim=-1), torch.ones(2))
    torch.testing.assert_close(together[0], alone[0], atol=1e-5, rtol=1e-4)


def test_batched_predictions_equal_one_prompt_at_a_time(decoder) -> None:
    prompts = ["Opposites:\nhot -> cold\nbig ->", "The capital of France is"]
    batched = pretrained_tasks.next_token_predictions(*decoder, prompts)
    assert batched == [pretrained_tasks.next_token_predictions(*decoder, [p])[0] for p in prompts]
    accuracy, predicted = pretrained_tasks.first_token_accuracy(*decoder, prompts, ["small", "Paris"])
    assert accuracy == 1.0 and predicted == [" small", " Paris"]
    with pytest.raises(CourseInputError, match=r"answers must be one answer per prompt \(2\)"):
        pretrained_tasks.first_token_accuracy(*decoder, prompts, ["small"])


def test_cache_bytes_match_the_architecture(decoder) -> None:
    model, tokenizer = decoder
    ids = torch.tensor([tokenizer.encode("one two three four five")])
    with torch.no_grad():
        cache = model(ids, use_cache=True).cache
    per_token = architecture.kv_cache_bytes_per_token(architecture.preset("SmolLM2-135M"), "fp32")
    assert pretrained_tasks.cache_bytes(cache) == per_token * ids.shape[1]
    with pytest.raises(CourseInputError, match="cache must be a transformers DynamicCache"):
        pretrained_tasks.cache_bytes(torch.zeros(3))
