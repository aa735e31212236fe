"""Tests for course_lib.tasks: the synthetic tasks, their shipped splits, vocabulary and both framings."""

from __future__ import annotations

import datetime

import pytest
import torch
import torch.nn.functional as F

from course_lib.checkpoints import load_checkpoint, save_checkpoint
from course_lib.configs import DecoderOnlyConfig, EncoderDecoderConfig
from course_lib.decoding import generate
from course_lib.models import DecoderOnlyLM, EncoderDecoderLM
from course_lib.tasks import (
    DATE_FORMATS,
    HARD_DATE_FORMATS,
    IGNORE_INDEX,
    MONTHS,
    TASKS,
    TRAINING_DATE_FORMATS,
    Seq2SeqVocab,
    decoder_only_batch,
    decoder_only_prompt,
    exact_match,
    load_split,
    make_splits,
    make_task,
    predict,
    seq2seq_batch,
    task_loss,
    task_splits,
    train_on_pairs,
    write_date,
)
from course_lib.tokenizers import CharTokenizer
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


def parse_date(source: str) -> datetime.date:
    """An independent reading of every DATE_FORMATS pattern (no model, no course_lib)."""
    words = source.replace(",", "").replace("/", " ").split()
    if len(words) == 4:  # a weekday first
        words = words[1:]
    if words[0][:3] in [m[:3] for m in MONTHS]:
        words = [words[1], words[0], words[2]]
    day = int(words[0].rstrip("stndrh"))
    month = int(words[1]) if words[1].isdigit() else [m[:3] for m in MONTHS].index(words[1][:3]) + 1
    return datetime.date(int(words[2]), month, day)


def test_dates_are_written_as_people_write_them_and_answered_in_iso():
    date = datetime.date(2020, 3, 3)
    written = [write_date(date, name) for name in DATE_FORMATS]
    assert written == [
        "3 March 2020",
        "March 3, 2020",
        "3/3/2020",
        "Tue 3 March 2020",
        "3 Mar 2020",
        "Tue 3 Mar 2020",
        "Mar 3, 2020",
        "03/03/2020",
        "March 3rd, 2020",
    ]
    assert [write_date(datetime.date(2021, 1, d), "month ordinal-day, year") for d in (1, 2, 11, 22, 23)] == [
        "January 1st, 2021",
        "January 2nd, 2021",
        "January 11th, 2021",
        "January 22nd, 2021",
        "January 23rd, 2021",
    ]
    for split, pairs in make_splits("dates").items():
        for source, target in pairs:
            assert target == parse_date(source).isoformat(), (split, source)
    with pytest.raises(CourseInputError, match="format_name must be one of"):
        write_date(date, "iso")


def test_the_hard_dates_split_uses_only_formats_training_never_shows():
    def written_by(pairs, format_names):
        return all(
            source in {write_date(datetime.date.fromisoformat(target), name) for name in format_names}
            for source, target in pairs
        )

    splits = make_splits("dates")
    for split in ("train", "val", "test"):
        assert written_by(splits[split], TRAINING_DATE_FORMATS), split
    assert written_by(splits["hard"], HARD_DATE_FORMATS)
    assert not any(written_by([pair], TRAINING_DATE_FORMATS) for pair in splits["hard"])  # e.g. "May 3, 2020"


def test_make_task_errors():
    with pytest.raises(
        CourseInputError, match=r"name must be one of \['reverse', 'sort', 'add', 'dates'\], got 'copy'"
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
    splits = {split: load_split(name, split) for split in task_splits(name)}
    sizes = {"train": 5000, "val": 500, "test": 500} | ({"hard": 500} if name == "dates" else {})
    assert {split: len(pairs) for split, pairs in splits.items()} == sizes
    sources = {split: {source for source, _ in pairs} for split, pairs in splits.items()}
    for first in sources:
        for second in sources:
            assert first == second or not sources[first] & sources[second], (first, second)


@pytest.mark.parametrize("name", TASKS)
def test_shipped_splits_equal_make_splits(name):
    assert {split: load_split(name, split) for split in task_splits(name)} == make_splits(name)


def test_load_split_errors(monkeypatch, tmp_path):
    with pytest.raises(
        CourseInputError, match=r"split must be one of \['train', 'val', 'test'\], got 'valid'"
    ):
        load_split("reverse", "valid")
    with pytest.raises(
        CourseInputError, match=r"split must be one of \['train', 'val', 'test'\], got 'hard'"
    ):
        load_split("reverse", "hard")
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


# ------------------------------------------------------------------------------------------------------------
# Saving the vocabulary, training and answering with either family
# ------------------------------------------------------------------------------------------------------------

DATES = Seq2SeqVocab.for_task("dates")
TINY = dict(block_size=40, n_layer=1, n_head=2, n_embd=16, positional="rotary")


def tiny_models():
    torch.manual_seed(0)
    return [
        EncoderDecoderLM(EncoderDecoderConfig(vocab_size=DATES.vocab_size, **TINY)),
        DecoderOnlyLM(DecoderOnlyConfig(vocab_size=DATES.vocab_size, **TINY)),
    ]


def test_vocab_survives_a_checkpoint(tmp_path):
    model = tiny_models()[0]
    loaded = load_checkpoint(save_checkpoint(tmp_path / "dates", model, DATES))
    vocab = Seq2SeqVocab.from_tokenizer(loaded.tokenizer)
    assert vocab.chars == DATES.chars and vocab.encode("3/4/2021") == DATES.encode("3/4/2021")
    assert loaded.tokenizer.encode("3/4/2021") == DATES.encode("3/4/2021")  # same ids either way
    with pytest.raises(CourseInputError, match="tokenizer must be the tokenizer of a checkpoint saved with"):
        Seq2SeqVocab.from_tokenizer(CharTokenizer("abc"))


def test_task_loss_is_the_cross_entropy_of_each_framing():
    pairs = load_split("dates", "val")[:8]
    encoder_decoder, decoder_only = tiny_models()
    batch = seq2seq_batch(pairs, vocab=DATES)
    logits = encoder_decoder(batch.src, batch.tgt_in, src_padding_mask=batch.src_padding_mask).logits
    want = F.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=IGN)
    assert torch.allclose(task_loss(encoder_decoder, pairs, vocab=DATES), want)
    batch = decoder_only_batch(pairs, vocab=DATES)
    want = F.cross_entropy(
        decoder_only(batch.idx).logits.flatten(0, 1), batch.targets.flatten(), ignore_index=IGN
    )
    assert torch.allclose(task_loss(decoder_only, pairs, vocab=DATES), want)


def test_train_on_pairs_is_reproducible_and_lowers_the_loss():
    pairs = load_split("dates", "train")[:200]
    runs = []
    for _ in range(2):
        model = tiny_models()[1]
        runs.append(train_on_pairs(model, pairs, vocab=DATES, steps=30, batch_size=16, seed=3))
    assert runs[0] == runs[1] and len(runs[0]) == 30
    assert sum(runs[0][-5:]) < 0.85 * sum(runs[0][:5])
    assert not model.training
    with pytest.raises(CourseInputError, match="batch_size must be an integer from 1 to 200, got 500"):
        train_on_pairs(model, pairs, vocab=DATES, steps=1, batch_size=500)


def test_predict_answers_each_source_in_order_for_both_families():
    sources = ["3/4/2021", "Tue 3 March 2020", "3 Mar 2020", "3/4/2021"]  # prompts of 3 different lengths
    for model in tiny_models():
        answers = predict(model, sources, vocab=DATES, max_new_tokens=6)
        assert len(answers) == 4 and answers[0] == answers[3]
        alone = [predict(model, [source], vocab=DATES, max_new_tokens=6)[0] for source in sources]
        assert answers == alone
    decoder_only = tiny_models()[1]
    prompt = torch.tensor([decoder_only_prompt(sources[1], DATES)])
    out = generate(decoder_only, prompt, 6, strategy="greedy", eos_id=DATES.eos_id)
    assert predict(decoder_only, [sources[1]], vocab=DATES, max_new_tokens=6) == [
        DATES.decode(out[0, prompt.size(1) :])
    ]
    with pytest.raises(CourseInputError, match="sources must be a non-empty list of non-empty strings"):
        predict(decoder_only, [""], vocab=DATES)
