"""Notebook 04's self-checks accept right answers and name each usual mistake."""

from __future__ import annotations

import pytest
import torch

from course_lib.exercises import ExerciseFeedback
from course_lib.exercises.gpt import check_sampling_loop, check_training_pairs

# ---------------------------------------------------------------- (input, target) windows


def right_pairs(ids, block_size):
    starts = range(len(ids) - block_size)
    inputs = torch.stack([ids[s : s + block_size] for s in starts])
    targets = torch.stack([ids[s + 1 : s + 1 + block_size] for s in starts])
    return inputs, targets


def right_pairs_unfold(ids, block_size):  # another right answer: sliding windows of block_size + 1
    windows = ids.unfold(0, block_size + 1, 1)
    return windows[:, :-1], windows[:, 1:]


def not_shifted(ids, block_size):
    inputs = torch.stack([ids[s : s + block_size] for s in range(len(ids) - block_size)])
    return inputs, inputs.clone()


def wrong_way(ids, block_size):
    inputs, targets = right_pairs(ids, block_size)
    return targets, inputs


def last_start_missing(ids, block_size):
    inputs, targets = right_pairs(ids, block_size)
    return inputs[:-1], targets[:-1]


def one_start_too_many(ids, block_size):
    starts = range(len(ids) - block_size + 1)
    inputs = torch.stack([ids[s : s + block_size] for s in starts])
    targets = torch.stack([ids[s + 1 : s + 1 + block_size] for s in starts])  # the last one is short
    return inputs, targets


def windows_too_long(ids, block_size):
    starts = range(len(ids) - block_size - 1)
    inputs = torch.stack([ids[s : s + block_size + 1] for s in starts])
    targets = torch.stack([ids[s + 1 : s + 2 + block_size] for s in starts])
    return inputs, targets


def test_right_pairs_pass(capsys) -> None:
    for answer in (right_pairs, right_pairs_unfold):
        check_training_pairs(answer)
        assert "Correct!" in capsys.readouterr().out


def test_pairs_placeholder_is_not_attempted(capsys) -> None:
    def placeholder(ids, block_size): ...

    check_training_pairs(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (not_shifted, "targets equal your inputs"),
        (wrong_way, "shifted the wrong way"),
        (last_start_missing, "left out the last window"),
        (one_start_too_many, "runs past the end"),
        (windows_too_long, "5 tokens long, not block_size = 4"),
        (lambda ids, t: right_pairs(ids, t)[0], "pair of tensors"),
        (lambda ids, t: (right_pairs(ids, t)[0], right_pairs(ids, t)[1][:, :-1]), "same shape"),
        (lambda ids, t: tuple(p.flip(0) for p in right_pairs(ids, t)), "in order of their start"),
    ],
)
def test_each_pairs_mistake_gets_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_training_pairs(answer)


# ---------------------------------------------------------------- the sampling loop


def sampling_loop(model, idx, max_new_tokens, generator, *, crop="last", position=-1, dim=-1, draw="sample"):
    """The loop, with one usual mistake switched on by the keyword arguments."""
    block_size = model.config.block_size
    for _ in range(max_new_tokens):
        context = {"last": idx[:, -block_size:], "first": idx[:, :block_size], "none": idx}[crop]
        logits = model(context).logits[:, position, :]
        if draw == "logits":
            next_id = torch.multinomial(logits, num_samples=1, generator=generator)
        elif draw == "argmax":
            next_id = logits.softmax(dim=dim).argmax(dim=-1, keepdim=True)
        else:
            next_id = torch.multinomial(logits.softmax(dim=dim), num_samples=1, generator=generator)
        idx = torch.cat([idx, next_id], dim=1)
    return idx


def test_right_sampling_loop_passes(capsys) -> None:
    check_sampling_loop(sampling_loop)
    assert "Correct!" in capsys.readouterr().out


def test_sampling_placeholder_is_not_attempted(capsys) -> None:
    def placeholder(model, idx, max_new_tokens, generator): ...

    check_sampling_loop(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out


def only_new_tokens(model, idx, max_new_tokens, generator):
    return sampling_loop(model, idx, max_new_tokens, generator)[:, idx.size(1) :]


def no_generator(model, idx, max_new_tokens, generator):
    return sampling_loop(model, idx, max_new_tokens, torch.Generator().manual_seed(12345))


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (lambda m, i, n, g: sampling_loop(m, i, n, g, crop="none"), "past its context"),
        (lambda m, i, n, g: sampling_loop(m, i, n, g, crop="first"), "cropped the wrong end"),
        (lambda m, i, n, g: sampling_loop(m, i, n, g, position=0), "first position"),
        (lambda m, i, n, g: sampling_loop(m, i, n, g, dim=0), "over the batch"),
        (lambda m, i, n, g: sampling_loop(m, i, n, g, draw="argmax"), "greedy decoding"),
        (lambda m, i, n, g: sampling_loop(m, i, n, g, draw="logits"), "sample from the logits"),
        (only_new_tokens, "only the new tokens"),
        (no_generator, "Pass the generator"),
        (lambda m, i, n, g: i.tolist(), "as a torch.Tensor"),
    ],
)
def test_each_sampling_mistake_gets_specific_feedback(answer, feedback: str) -> None:
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_sampling_loop(answer)
