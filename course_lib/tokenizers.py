"""Tokenizers: turning text into token ids (integers) and back.

A language model never sees characters, only token ids. This module has three tokenizers:

1. ``CharTokenizer``: one token per character. The vocabulary is the sorted set of characters
   in the training text (about 100 for the course corpus). Simple, but sequences are long.
2. ``BPETokenizer``: byte-pair encoding written from scratch (the idea behind GPT-2's tokenizer).
   It starts from the 256 possible bytes and repeatedly merges the most frequent pair of
   neighbouring tokens into a new token, so common words become single tokens.
3. ``train_hf_bpe``: the same algorithm from Hugging Face ``tokenizers`` (fast, written in Rust),
   the tokenizer library that real models use.

``CharTokenizer`` and ``BPETokenizer`` share one interface: ``encode(text) -> list[int]``,
``decode(ids) -> str``, ``vocab_size`` and ``to_dict()``; ``tokenizer_from_dict`` rebuilds either
one from its ``to_dict()`` output (checkpoints store tokenizers this way).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from course_lib.validation import check_ids_in_vocab, check_int, fail

# ------------------------------------------------------------------------------------------------------------
# Checks shared by both tokenizers
# ------------------------------------------------------------------------------------------------------------


def _check_text(argument: str, text: str, *, allow_empty: bool = True) -> None:
    """``text`` must be a ``str`` (and, for training, not empty)."""
    if not isinstance(text, str):
        fail(
            argument,
            "a str",
            f"{type(text).__name__}",
            "Pass the text itself, e.g. load_corpus('python-docs').",
        )
    if not allow_empty and not text:
        fail(
            argument, "non-empty text", "''", "Pass the text the tokenizer should learn its vocabulary from."
        )


def ids_to_list(ids: Sequence[int] | torch.Tensor, *, vocab_size: int) -> list[int]:
    """The ids a person passes to ``decode`` (a list of ints or a 1-D tensor (T,)) as a list of ints,
    each checked to be from 0 to vocab_size - 1."""
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1 or ids.is_floating_point():
            fail(
                "ids",
                "a 1-D integer tensor of shape (T,)",
                f"shape {tuple(ids.shape)}, dtype {ids.dtype}",
                "Decode one row at a time, e.g. tokenizer.decode(idx[0]).",
            )
        ids = ids.tolist()
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
        fail(
            "ids",
            "a list of token ids (ints) or a 1-D tensor",
            f"{type(ids).__name__}",
            "Pass what encode() returned, e.g. tokenizer.decode(tokenizer.encode('hello')).",
        )
    not_ints = [i for i in ids if isinstance(i, bool) or not isinstance(i, int)]
    if not_ints:
        fail(
            "ids",
            "a list of ints",
            f"{not_ints[0]!r} ({type(not_ints[0]).__name__})",
            "Convert with [int(i) for i in ids].",
        )
    fix = f"Only decode ids made by this tokenizer (vocab_size {vocab_size}); check they agree."
    check_ids_in_vocab("ids", ids, vocab_size=vocab_size, fix=fix)
    return list(ids)


def _check_training_input(text: str, vocab_size: int) -> None:
    """What both BPE trainers learn from: non-empty text, and a vocab_size above the 256 byte tokens."""
    _check_text("text", text, allow_empty=False)
    fix = "Use more than 256 (the byte tokens); e.g. 512 learns 256 merges."
    check_int("vocab_size", vocab_size, minimum=257, fix=fix)


# ------------------------------------------------------------------------------------------------------------
# Character-level tokenizer
# ------------------------------------------------------------------------------------------------------------


class CharTokenizer:
    """One token per character; token id = position of the character in ``chars``."""

    def __init__(self, chars: Sequence[str]):
        if isinstance(chars, str):
            chars = list(chars)
        if not isinstance(chars, (list, tuple)):
            fail(
                "chars",
                "a list of single characters",
                type(chars).__name__,
                "Build the tokenizer with CharTokenizer.from_text(text).",
            )
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if not chars or bad:
            fail(
                "chars",
                "a non-empty list of single characters",
                repr(bad[0]) if bad else "an empty list",
                "Build the tokenizer with CharTokenizer.from_text(text).",
            )
        if len(set(chars)) != len(chars):
            repeated = sorted({c for c in chars if chars.count(c) > 1})
            fail(
                "chars",
                "a list of distinct characters",
                f"repeats of {', '.join(map(repr, repeated))}",
                "Use CharTokenizer.from_text(text), which keeps each character once.",
            )
        self.chars: list[str] = list(chars)
        self.stoi: dict[str, int] = {ch: i for i, ch in enumerate(self.chars)}  # string -> id

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The vocabulary is every distinct character of ``text``, sorted (so ids do not depend on order)."""
        _check_text("text", text, allow_empty=False)
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Text -> list of ids, one per character. Unknown characters raise ``CourseInputError``."""
        _check_text("text", text)
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            fail(
                "text",
                "made of characters in the tokenizer's vocabulary",
                f"{len(unknown)} unknown character(s): {', '.join(map(repr, unknown))}",
                "Remove or replace them (e.g. ''.join(c for c in text if c in tokenizer.stoi)), or build the "
                "tokenizer with CharTokenizer.from_text(...) from text that contains them.",
            )
        return [self.stoi[ch] for ch in text]

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """List of ids (or a 1-D tensor (T,)) -> text."""
        return "".join(self.chars[i] for i in ids_to_list(ids, vocab_size=self.vocab_size))

    def to_dict(self) -> dict:
        return {"type": "char", "chars": list(self.chars)}

    @classmethod
    def from_dict(cls, d: dict) -> CharTokenizer:
        _check_dict(d, "char", ["chars"])
        return cls(d["chars"])

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


# ------------------------------------------------------------------------------------------------------------
# Byte-pair encoding, from scratch
# ------------------------------------------------------------------------------------------------------------

# Text is first cut into chunks (words with their leading space, numbers, runs of punctuation, runs of
# whitespace), as GPT-2 does, so that merges never glue the end of one word to the start of the next.
# Every character falls into exactly one branch, so the chunks always join back to the full text.
SPLIT_PATTERN = r" ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"


def _merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` by ``new_id`` (left to right)."""
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


class BPETokenizer:
    """Byte-level byte-pair encoding (BPE), the idea behind GPT-2's tokenizer.

    Ids 0..255 are the 256 bytes, so any text can be encoded (UTF-8 bytes) and no character is ever
    unknown. Merge number ``r`` (0-based) creates id ``256 + r`` from a pair of existing ids.

    Usage::

        tokenizer = BPETokenizer().train(text, vocab_size=512)   # learns 256 merges
        ids = tokenizer.encode("def f(x):")
        tokenizer.decode(ids)                                     # 'def f(x):'
    """

    def __init__(self, merges: Sequence[Sequence[int]] = (), pattern: str = SPLIT_PATTERN):
        if not isinstance(merges, (list, tuple)) or not isinstance(pattern, str):
            fail(
                "merges",
                "a list of [id, id] pairs (with pattern a str)",
                f"{type(merges).__name__} (pattern {type(pattern).__name__})",
                "Pass the merges of a trained tokenizer, e.g. tokenizer.to_dict()['merges'].",
            )
        self.pattern = pattern
        self._reset()
        for pair in merges:
            self._add_merge(pair)

    def _reset(self) -> None:
        """Back to the 256 byte tokens and no merges."""
        self.merges: list[tuple[int, int]] = []  # merges[r] = the pair that became token 256 + r
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}  # id -> the bytes it stands for
        self._rank: dict[tuple[int, int], int] = {}  # pair -> r, its position in merges
        self._cache: dict[str, list[int]] = {}  # chunk -> ids, so a repeated word is encoded once

    def _add_merge(self, pair: Sequence[int]) -> None:
        """Add the token ``len(vocab)`` that stands for ``pair`` (two existing ids)."""
        if (
            not isinstance(pair, (list, tuple))
            or len(pair) != 2
            or any(isinstance(i, bool) or not isinstance(i, int) or i not in self.vocab for i in pair)
        ):
            fail(
                "merges",
                f"pairs of existing token ids (below {len(self.vocab)} at merge {len(self.merges)})",
                repr(pair),
                "Pass the merges of a trained tokenizer, e.g. tokenizer.to_dict()['merges'].",
            )
        a, b = pair
        self._rank[(a, b)] = len(self.merges)
        self.vocab[len(self.vocab)] = self.vocab[a] + self.vocab[b]
        self.merges.append((a, b))
        self._cache.clear()

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def train(self, text: str, vocab_size: int) -> BPETokenizer:
        """Learn ``vocab_size - 256`` merges from ``text``; forgets earlier merges. Returns ``self``."""
        _check_training_input(text, vocab_size)
        # Each distinct chunk, as a tuple of byte ids, with how often it occurs.
        chunk_counts = Counter(re.findall(self.pattern, text))
        pieces = {tuple(chunk.encode("utf-8")): n for chunk, n in chunk_counts.items()}
        self._reset()
        while self.vocab_size < vocab_size:
            pair_counts: Counter[tuple[int, int]] = Counter()
            for piece, n in pieces.items():
                for pair in pairwise(piece):
                    pair_counts[pair] += n
            if not pair_counts:  # every chunk is already one token: nothing left to merge
                break
            best = max(pair_counts, key=pair_counts.get)  # most frequent pair; ties go to the pair seen first
            new_id = self.vocab_size
            self._add_merge(best)
            # Rewrite every piece with the new token (skip pieces that cannot contain the pair: faster).
            pieces = {
                (tuple(_merge(list(piece), best, new_id)) if best[0] in piece else piece): n
                for piece, n in pieces.items()
            }
        return self

    def _encode_chunk(self, chunk: str) -> list[int]:
        """Apply the merges to one chunk, earliest-learned merge first (as in training)."""
        ids = list(chunk.encode("utf-8"))
        while len(ids) >= 2:
            pairs = set(pairwise(ids))
            pair = min(pairs, key=lambda p: self._rank.get(p, len(self.merges)))
            if pair not in self._rank:  # no pair left that we know how to merge
                break
            ids = _merge(ids, pair, 256 + self._rank[pair])
        return ids

    def encode(self, text: str) -> list[int]:
        """Text -> list of token ids."""
        _check_text("text", text)
        ids = []
        for chunk in re.findall(self.pattern, text):
            if chunk not in self._cache:
                self._cache[chunk] = self._encode_chunk(chunk)
            ids.extend(self._cache[chunk])
        return ids

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Ids -> text. Bytes that are not valid UTF-8 (e.g. half a character) become '\ufffd'."""
        data = b"".join(self.vocab[i] for i in ids_to_list(ids, vocab_size=self.vocab_size))
        return data.decode("utf-8", errors="replace")

    def to_dict(self) -> dict:
        return {"type": "bpe", "pattern": self.pattern, "merges": [list(pair) for pair in self.merges]}

    @classmethod
    def from_dict(cls, d: dict) -> BPETokenizer:
        _check_dict(d, "bpe", ["pattern", "merges"])
        return cls(d["merges"], pattern=d["pattern"])

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size})"


# ------------------------------------------------------------------------------------------------------------
# Byte-pair encoding with Hugging Face tokenizers
# ------------------------------------------------------------------------------------------------------------


def train_hf_bpe(text: str, vocab_size: int) -> Tokenizer:
    """Train a byte-level BPE tokenizer (GPT-2 style) with Hugging Face ``tokenizers``.

    ``tokenizer.encode(text).ids`` gives the ids, ``tokenizer.decode(ids)`` the text back.
    """
    _check_training_input(text, vocab_size)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes, so nothing is ever unknown
        show_progress=False,
    )
    tokenizer.train_from_iterator([text], trainer=trainer)
    return tokenizer


# ------------------------------------------------------------------------------------------------------------
# Rebuilding a tokenizer from its to_dict() output
# ------------------------------------------------------------------------------------------------------------

_TOKENIZER_TYPES = {"char": CharTokenizer, "bpe": BPETokenizer}


def _check_dict(d: dict, expected_type: str, keys: list[str]) -> None:
    if not isinstance(d, dict) or d.get("type") != expected_type:
        given = d.get("type") if isinstance(d, dict) else type(d).__name__
        fail(
            "d", f"a dict with type '{expected_type}'", repr(given), "Pass the output of tokenizer.to_dict()."
        )
    missing = [k for k in keys if k not in d]
    if missing:
        fail(
            "d",
            f"a dict with keys {keys}",
            f"a dict without {missing}",
            "Pass the output of tokenizer.to_dict().",
        )


def tokenizer_from_dict(d: dict) -> CharTokenizer | BPETokenizer:
    """Rebuild a ``CharTokenizer`` or ``BPETokenizer`` from its ``to_dict()`` output, or notebook 07's
    ``course_lib.music.TuneTokenizer`` (type "abc-tunes")."""
    kind = d.get("type") if isinstance(d, dict) else None
    if kind == "abc-tunes":  # imported here: course_lib.music imports this module
        from course_lib.music import TuneTokenizer

        return TuneTokenizer.from_dict(d)
    if kind not in _TOKENIZER_TYPES:
        given = repr(kind) if isinstance(d, dict) else type(d).__name__
        fail(
            "d['type']",
            f"one of {[*sorted(_TOKENIZER_TYPES), 'abc-tunes']}",
            given,
            "Pass the output of tokenizer.to_dict().",
        )
    return _TOKENIZER_TYPES[kind].from_dict(d)
