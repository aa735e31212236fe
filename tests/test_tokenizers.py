"""Tests for course_lib.tokenizers: character and byte-pair tokenizers, round trips and clear errors."""

from __future__ import annotations

import json
import time

import pytest
import torch

from course_lib.data import load_corpus
from course_lib.tokenizers import BPETokenizer, CharTokenizer, tokenizer_from_dict, train_hf_bpe
from course_lib.validation import CourseInputError

# Text with everything that could trip up a tokenizer: accents, emoji, underscores, fractions, tabs,
# non-breaking spaces, Windows line ends, trailing and repeated spaces, digits glued to letters.
AWKWARD = "Café 😀 snake_case ½ x\ty\u00a0z\r\n  indented  \n\nend__ 3.14e-2 x2 ∑(ë)   "


@pytest.fixture(scope="module")
def docs_sample() -> str:
    return load_corpus("python-docs")[:50_000]


@pytest.fixture(scope="module")
def trained_bpe(docs_sample) -> BPETokenizer:
    return BPETokenizer().train(docs_sample, vocab_size=400)


# ------------------------------------------------------------------------------------------------------------
# CharTokenizer
# ------------------------------------------------------------------------------------------------------------


def test_char_vocabulary_is_sorted_unique_characters():
    tokenizer = CharTokenizer.from_text("hello world")
    assert tokenizer.chars == [" ", "d", "e", "h", "l", "o", "r", "w"]
    assert tokenizer.vocab_size == 8
    assert tokenizer.encode("hello") == [3, 2, 4, 4, 5]


@pytest.mark.parametrize("text", ["hello world", AWKWARD, ""])
def test_char_round_trip(text):
    tokenizer = CharTokenizer.from_text(AWKWARD + "hello world")
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_char_decode_accepts_a_1d_tensor():
    tokenizer = CharTokenizer.from_text("abc")
    assert tokenizer.decode(torch.tensor([2, 0, 1])) == "cab"


def test_char_unknown_characters_are_named_once_each_sorted():
    tokenizer = CharTokenizer.from_text("abc")
    with pytest.raises(CourseInputError, match=r"2 unknown character\(s\): 'é', '😀'") as info:
        tokenizer.encode("a😀bé😀é")
    assert "from_text" in str(info.value) and "Remove or replace" in str(info.value)


def test_char_from_empty_text_fails():
    with pytest.raises(CourseInputError, match="text must be non-empty text"):
        CharTokenizer.from_text("")


def test_char_encode_rejects_non_strings():
    with pytest.raises(CourseInputError, match="text must be a str, got list"):
        CharTokenizer.from_text("abc").encode(["a"])


@pytest.mark.parametrize("ids, named", [([0, 3], "3"), ([-1, 0], "-1"), (torch.tensor([5, 3, 3]), "3, 5")])
def test_char_decode_out_of_range_names_the_ids(ids, named):
    tokenizer = CharTokenizer.from_text("abc")
    with pytest.raises(
        CourseInputError,
        match=rf"ids must be token ids from 0 to vocab_size - 1 = 2, got id {named}\. .*vocab_size",
    ):
        tokenizer.decode(ids)


def test_char_decode_rejects_2d_tensors_and_floats():
    tokenizer = CharTokenizer.from_text("abc")
    with pytest.raises(CourseInputError, match=r"1-D integer tensor.*decode\(idx\[0\]\)"):
        tokenizer.decode(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(CourseInputError, match=r"ids must be a list of ints, got 1\.0"):
        tokenizer.decode([1.0])


def test_char_constructor_rejects_repeats_and_strings_longer_than_one():
    with pytest.raises(CourseInputError, match=r"distinct characters.*'a'"):
        CharTokenizer(["a", "b", "a"])
    with pytest.raises(CourseInputError, match=r"single characters.*'ab'"):
        CharTokenizer(["ab"])


def test_char_to_dict_round_trip_through_json():
    tokenizer = CharTokenizer.from_text(AWKWARD)
    rebuilt = tokenizer_from_dict(json.loads(json.dumps(tokenizer.to_dict())))
    assert isinstance(rebuilt, CharTokenizer)
    assert rebuilt.chars == tokenizer.chars
    assert rebuilt.encode(AWKWARD) == tokenizer.encode(AWKWARD)


# ------------------------------------------------------------------------------------------------------------
# BPETokenizer (from scratch)
# ------------------------------------------------------------------------------------------------------------


def test_bpe_merges_most_frequent_pair_first():
    # chunks: "lo", " lo", " lo", " lo", " hi" -> ("l","o") occurs 4 times, (" ","l") 3 times.
    tokenizer = BPETokenizer().train("lo lo lo lo hi", vocab_size=258)
    assert tokenizer.merges == [(ord("l"), ord("o")), (ord(" "), 256)]
    assert tokenizer.vocab[256] == b"lo" and tokenizer.vocab[257] == b" lo"
    assert tokenizer.encode("lo lo") == [256, 257]


def test_bpe_stops_when_nothing_is_left_to_merge():
    tokenizer = BPETokenizer().train("ab ab", vocab_size=1000)
    assert tokenizer.vocab_size < 1000
    assert tokenizer.encode("ab ab") == [256, tokenizer.vocab_size - 1]


def test_bpe_trains_fast_and_compresses(docs_sample):
    start = time.perf_counter()
    tokenizer = BPETokenizer().train(docs_sample, vocab_size=512)
    assert time.perf_counter() - start < 10  # about 0.5 s on a laptop
    assert tokenizer.vocab_size == 512
    ids = tokenizer.encode(docs_sample)
    assert len(ids) < 0.6 * len(docs_sample.encode("utf-8"))
    assert tokenizer.decode(ids) == docs_sample


def test_bpe_first_merges_are_common_english_pieces(trained_bpe):
    first_tokens = {trained_bpe.vocab[256 + r] for r in range(10)}
    assert {b" t", b"he", b"in"} <= first_tokens
    assert b" the" in set(trained_bpe.vocab.values())


def test_bpe_learns_nearly_the_same_merges_as_hugging_face(docs_sample, trained_bpe):
    hf = json.loads(train_hf_bpe(docs_sample, vocab_size=400).to_str())
    hf_merges = {tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in hf["model"]["merges"]}
    # Hugging Face writes bytes as printable characters (GPT-2's byte-to-unicode table); ours the same way.
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    byte_to_char = {b: chr(b) for b in printable}
    byte_to_char.update({b: chr(256 + n) for n, b in enumerate(b for b in range(256) if b not in printable)})

    def as_hf(token_id: int) -> str:
        return "".join(byte_to_char[b] for b in trained_bpe.vocab[token_id])

    ours = {(as_hf(a), as_hf(b)) for a, b in trained_bpe.merges}
    assert len(ours & hf_merges) >= 0.9 * len(ours)  # only the order of ties differs


@pytest.mark.parametrize("text", [AWKWARD, "", " ", "\n\n\n", "日本語のテキスト", "x" * 300])
def test_bpe_round_trip_on_any_text(trained_bpe, text):
    assert trained_bpe.decode(trained_bpe.encode(text)) == text


def test_bpe_round_trip_on_code():
    code = load_corpus("python-stdlib")[:20_000]
    tokenizer = BPETokenizer().train(code, vocab_size=300)
    assert tokenizer.decode(tokenizer.encode(code)) == code
    assert b"    " in set(tokenizer.vocab.values())  # indentation becomes a token


def test_bpe_decode_of_half_a_character_gives_the_replacement_character():
    tokenizer = BPETokenizer()
    first_byte_of_euro_sign = "€".encode()[0]
    assert tokenizer.decode([first_byte_of_euro_sign]) == "\ufffd"


def test_bpe_to_dict_round_trip(trained_bpe):
    rebuilt = tokenizer_from_dict(json.loads(json.dumps(trained_bpe.to_dict())))
    assert isinstance(rebuilt, BPETokenizer)
    assert rebuilt.merges == trained_bpe.merges
    assert rebuilt.encode(AWKWARD) == trained_bpe.encode(AWKWARD)


def test_bpe_retraining_forgets_old_merges():
    tokenizer = BPETokenizer().train("aaaa bbbb", vocab_size=260)
    tokenizer.train("cc cc", vocab_size=258)
    assert tokenizer.merges == [(ord("c"), ord("c")), (ord(" "), 256)]
    assert tokenizer.encode("cc") == [256]


def test_bpe_errors():
    with pytest.raises(
        CourseInputError, match=r"vocab_size must be an integer >= 257, got 100. Use more than 256"
    ):
        BPETokenizer().train("abc", vocab_size=100)
    with pytest.raises(CourseInputError, match="text must be non-empty text"):
        BPETokenizer().train("", vocab_size=300)
    with pytest.raises(
        CourseInputError, match=r"ids must be token ids from 0 to vocab_size - 1 = 255, got id 300"
    ):
        BPETokenizer().decode([300])
    with pytest.raises(CourseInputError, match=r"merges must be pairs of existing token ids.*\[256, 1\]"):
        BPETokenizer(merges=[[256, 1]])


# ------------------------------------------------------------------------------------------------------------
# Hugging Face BPE and tokenizer_from_dict
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [AWKWARD, "def f(x):\n    return x ** 2\n"])
def test_hf_bpe_round_trip(docs_sample, text):
    tokenizer = train_hf_bpe(docs_sample, vocab_size=400)
    assert tokenizer.get_vocab_size() == 400
    assert tokenizer.decode(tokenizer.encode(text).ids) == text


def test_hf_bpe_errors():
    with pytest.raises(CourseInputError, match="vocab_size must be an integer >= 257"):
        train_hf_bpe("abc", vocab_size=10)
    with pytest.raises(CourseInputError, match="text must be non-empty text"):
        train_hf_bpe("", vocab_size=300)


@pytest.mark.parametrize(
    "d, message",
    [
        (
            {"type": "wordpiece"},
            r"d\['type'\] must be one of \['bpe', 'char', 'abc-tunes'\], got 'wordpiece'",
        ),
        ({"chars": ["a"]}, r"d\['type'\] must be one of .* got None"),
        ("char", r"d\['type'\] must be one of .* got str"),
        ({"type": "bpe", "merges": []}, r"d must be a dict with keys \['pattern', 'merges'\].*\['pattern'\]"),
        ({"type": "bpe", "merges": 5, "pattern": " "}, r"merges must be a list of \[id, id\] pairs.*got int"),
        (
            {"type": "bpe", "merges": [7], "pattern": " "},
            r"merges must be pairs of existing token ids.*got 7",
        ),
        ({"type": "char", "chars": 5}, r"chars must be a list of single characters, got int"),
    ],
)
def test_tokenizer_from_dict_errors(d, message):
    with pytest.raises(CourseInputError, match=message):
        tokenizer_from_dict(d)


def test_tokenizer_from_dict_rebuilds_notebook_07s_tune_tokenizer():
    from course_lib.music import TuneTokenizer

    tunes = ["M:6/8 L:1/8 K:G | G A B c d e |", "M:3/4 L:1/4 K:D | D E F |"]
    tokenizer = TuneTokenizer.from_tunes(tunes)
    rebuilt = tokenizer_from_dict(tokenizer.to_dict())
    assert isinstance(rebuilt, TuneTokenizer) and rebuilt.encode(tunes[0]) == tokenizer.encode(tunes[0])
