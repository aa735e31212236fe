"""Tests for course_lib.tasks: the synthetic tasks, their shipped splits, vocabulary and both framings."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.configs import EncoderDecoderConfig
from course_lib.models import EncoderDecoderLM
from course_lib.tasks import (
    IGNORE_INDEX,
    SPLIT_SIZES,
    TASKS,
    Seq2SeqVocab,
    decoder_only_batch,
    decoder_only_prompt,
    exact_match,
    load_split,
    make_splits,
    make_task,
    seq2seq_batch,
)
from course_lib.validation import CourseInputError

# ------------------------------------------------------------------------------------------------------------
# Making examples
# ------------------------------------------------------------------------------------------------------------


def test_tasks_follow_their_rules():
    for source, target in make_task("reverse", 200, seed=1):
        assert source.isalpha() and source.islower() and 3 <= len(source) <= 10
        assert target == source[::-1]
    for source, target in make_task("sort", 200, seed=1):
        assert target == "".join(sorted(source)) and sorted(target) == sorted(source)
    for source, target in make_task("add", 200, seed=1):
        a, b = source.split("+")
        assert 1 <= len(a) <= 3 and 1 <= len(b) <= 3 and not (len(a) > 1 and a[0] == "0")
        assert target == str(int(a) + int(b))


def test_add_uses_numbers_of_every_length():
    lengths = {len(source.split("+")[0]) for source, _ in make_task("add", 300, seed=0)}
    assert lengths == {1, 2, 3}


@pytest.mark.parametrize("name", TASKS)
def test_make_task_is_deterministic_and_sources_are_distinct(name):
    first = make_task(name, 300, seed=7)
    assert first == make_task(name, 300, seed=7)
    assert first != make_task(name, 300, seed=8)
    assert len({source for source, _ in first}) == 300


def test_make_task_errors():
    with pytest.raises(
        CourseInputError, match=r"name must be one of \['reverse', 'sort', 'add'\], got 'copy'"
    ):
        make_task("copy", 10, seed=0)
    with pytest.raises(CourseInputError, match="n must be an integer from 1 to 100000, got 0"):
        make_task("reverse", 0, seed=0)
    with pytest.raises(CourseInputError, match="n must be an integer from 1 to 100000, got 1000000"):
        make_task("add", 1_000_000, seed=0)
    with pytest.raises(CourseInputError, match=r"seed must be an integer, got 1.5 \(float\)"):
        make_task("sort", 10, seed=1.5)


# ------------------------------------------------------------------------------------------------------------
# Shipped splits
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TASKS)
def test_shipped_splits_have_fixed_sizes_and_do_not_overlap(name):
    splits = {split: load_split(name, split) for split in SPLIT_SIZES}
    assert {split: len(pairs) for split, pairs in splits.items()} == {"train": 5000, "val": 500, "test": 500}
    sources = {split: {source for source, _ in pairs} for split, pairs in splits.items()}
    assert not sources["train"] & sources["test"]
    assert not sources["train"] & sources["val"]
    assert not sources["val"] & sources["test"]


@pytest.mark.parametrize("name", TASKS)
def test_shipped_splits_equal_make_splits(name):
    assert {split: load_split(name, split) for split in SPLIT_SIZES} == make_splits(name)


def test_load_split_errors(monkeypatch, tmp_path):
    with pytest.raises(
        CourseInputError, match=r"split must be one of \['train', 'val', 'test'\], got 'valid'"
    ):
        load_split("reverse", "valid")
    with pytest.raises(CourseInputError, match="name must be one of"):
        load_split("Reverse", "train")
    monkeypatch.setattr("course_lib.tasks.TASK_DIR", tmp_path)
    with pytest.raises(CourseInputError, match="run `make data`"):
        load_split("add", "train")


def test_exact_match():
    assert exact_match(["olleh", "ba", "x"], ["olleh", "ab", "x"]) == pytest.approx(2 / 3)
    assert exact_match(["522"], ["522"]) == 1.0
    assert exact_match(["52"], ["522"]) == 0.0
    with pytest.raises(
        CourseInputError, match=r"predictions must be as many strings as targets \(2\), got 1 strings"
    ):
        exact_match(["a"], ["a", "b"])
    with pytest.raises(CourseInputError, match="targets must be a non-empty list"):
        exact_match([], [])


# ------------------------------------------------------------------------------------------------------------
# Vocabulary
# ------------------------------------------------------------------------------------------------------------


def test_vocab_specials_then_characters():
    vocab = Seq2SeqVocab.for_task("add")
    assert (vocab.pad_id, vocab.bos_id, vocab.eos_id, vocab.sep_id) == (0, 1, 2, 3)
    assert vocab.vocab_size == 4 + 11
    assert vocab.encode("10+2") == [5, 4, 14, 6]
    assert vocab.decode([5, 4, 14, 6]) == "10+2"
    assert Seq2SeqVocab.for_task("reverse").vocab_size == 4 + 26


def test_vocab_decode_stops_at_eos_and_skips_specials():
    vocab = Seq2SeqVocab("ab")
    assert vocab.decode([1, 4, 3, 5, 0, 2, 4, 4]) == "ab"
    assert vocab.decode(torch.tensor([4, 4, 2])) == "aa"


def test_vocab_errors():
    vocab = Seq2SeqVocab.for_task("reverse")
    with pytest.raises(CourseInputError, match=r"unknown character\(s\) '1', 'A'"):
        vocab.encode("aA1")
    with pytest.raises(
        CourseInputError, match=r"ids must be token ids from 0 to vocab_size - 1 = 29, got id 30"
    ):
        vocab.decode([30])
    with pytest.raises(
        CourseInputError, match=r"ids must be a 1-D integer tensor of shape \(T,\), got shape \(1, 3\)"
    ):
        vocab.decode(torch.tensor([[4, 4, 2]]))
    with pytest.raises(CourseInputError, match="chars must be a non-empty string of distinct characters"):
        Seq2SeqVocab("aba")


# ------------------------------------------------------------------------------------------------------------
# Batches
# ------------------------------------------------------------------------------------------------------------

PAIRS = [("abc", "cba"), ("ab", "ba")]
A, B, C = 4, 5, 6  # ids of "a", "b", "c" in Seq2SeqVocab("abc")
PAD, BOS, EOS, SEP, IGN = 0, 1, 2, 3, IGNORE_INDEX


def test_seq2seq_batch_for_encoder_decoder():
    batch = seq2seq_batch(PAIRS, Seq2SeqVocab("abc"))
    assert batch.src.tolist() == [[A, B, C], [A, B, PAD]]
    assert batch.src_padding_mask.tolist() == [[[[True, True, True]]], [[[True, True, False]]]]
    assert batch.tgt_in.tolist() == [[BOS, C, B, A], [BOS, B, A, PAD]]
    assert batch.tgt_out.tolist() == [[C, B, A, EOS], [B, A, EOS, IGN]]
    assert batch.src.dtype == batch.tgt_in.dtype == batch.tgt_out.dtype == torch.long


def test_decoder_only_batch_counts_only_the_target():
    vocab = Seq2SeqVocab("abc")
    assert decoder_only_prompt("ab", vocab) == [BOS, A, B, SEP]
    batch = decoder_only_batch(PAIRS, vocab)
    # sequences: BOS a b c SEP c b a EOS  and  BOS a b SEP b a EOS
    assert batch.idx.tolist() == [[BOS, A, B, C, SEP, C, B, A], [BOS, A, B, SEP, B, A, PAD, PAD]]
    assert batch.targets.tolist() == [
        [IGN, IGN, IGN, IGN, C, B, A, EOS],
        [IGN, IGN, IGN, B, A, EOS, IGN, IGN],
    ]


@pytest.mark.parametrize("name", TASKS)
def test_both_framings_predict_the_same_tokens(name):
    vocab = Seq2SeqVocab.for_task(name)
    pairs = load_split(name, "val")[:32]
    seq2seq, decoder_only = seq2seq_batch(pairs, vocab), decoder_only_batch(pairs, vocab)
    for row in range(len(pairs)):
        wanted = seq2seq.tgt_out[row][seq2seq.tgt_out[row] != IGN]
        assert torch.equal(decoder_only.targets[row][decoder_only.targets[row] != IGN], wanted)
        assert vocab.decode(wanted) == pairs[row][1]
    # Targets fit a cross-entropy over the vocabulary (ignore_index skips the -100 positions).
    logits = torch.zeros(*decoder_only.targets.shape, vocab.vocab_size)
    loss = F.cross_entropy(logits.flatten(0, 1), decoder_only.targets.flatten(), ignore_index=IGN)
    assert loss.item() == pytest.approx(torch.log(torch.tensor(float(vocab.vocab_size))).item())


def test_batch_errors():
    vocab = Seq2SeqVocab("abc")
    with pytest.raises(CourseInputError, match=r"pairs must be a non-empty list of .source, target. pairs"):
        seq2seq_batch([], vocab)
    with pytest.raises(CourseInputError, match="with non-empty sources"):
        decoder_only_batch([("", "a")], vocab)
    with pytest.raises(CourseInputError, match=r"unknown character\(s\) 'z'"):
        seq2seq_batch([("abz", "zba")], vocab)


def test_seq2seq_batch_padding_mask_makes_a_padded_row_equal_the_row_alone():
    vocab = Seq2SeqVocab("abc")
    torch.manual_seed(0)
    model = EncoderDecoderLM(
        EncoderDecoderConfig(vocab_size=vocab.vocab_size, block_size=8, n_layer=1, n_head=2, n_embd=16)
    ).eval()
    batch = seq2seq_batch(PAIRS, vocab)  # row 1 has a padded source
    alone = seq2seq_batch(PAIRS[1:], vocab)
    logits = model(batch.src, batch.tgt_in, src_padding_mask=batch.src_padding_mask).logits  # (2, T, V)
    logits_alone = model(
        alone.src, alone.tgt_in, src_padding_mask=alone.src_padding_mask
    ).logits  # (1, T', V)
    T = alone.tgt_in.size(1)
    torch.testing.assert_close(logits[1, :T], logits_alone[0], atol=1e-5, rtol=0)
