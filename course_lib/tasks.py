"""Small sequence-to-sequence tasks, to compare an encoder-decoder with a decoder-only model.

Each task maps a source string to a target string by a fixed rule:

- ``"reverse"``: ``"hello"`` -> ``"olleh"``
- ``"sort"``:    ``"hello"`` -> ``"ehllo"``
- ``"add"``:     ``"37+485"`` -> ``"522"``

The splits (5000 train, 500 val, 500 test examples, no source in two splits) ship in
``data/tasks/<name>.jsonl`` and are read with ``load_split``. Both model families read the same
examples, framed two ways:

- encoder-decoder (``seq2seq_batch``): the encoder reads ``source``; the decoder reads
  ``BOS target`` and must predict ``target EOS``.
- decoder-only (``decoder_only_batch``): one sequence ``BOS source SEP target EOS``; the loss
  counts only the positions that predict ``target EOS`` (the model is given the source).

Targets use ``-100`` where there is nothing to predict (``ignore_index`` of the cross-entropy).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from course_lib.attention import padding_mask
from course_lib.data import DATA_DIR, MISSING_DATA_FIX
from course_lib.tokenizers import ids_to_list
from course_lib.validation import check_int, fail

TASK_DIR = DATA_DIR / "tasks"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
MIN_LETTERS, MAX_LETTERS = 3, 10  # length of a "reverse" or "sort" source
MAX_DIGITS = 3  # operands of "add" have 1 to 3 digits
TASK_CHARS = {"reverse": LETTERS, "sort": LETTERS, "add": "0123456789+"}
SPLIT_SIZES = {"train": 5000, "val": 500, "test": 500}
SPLIT_SEED = 0  # seed of the shipped splits
IGNORE_INDEX = -100  # targets with this value are left out of the loss


# ------------------------------------------------------------------------------------------------------------
# Making examples
# ------------------------------------------------------------------------------------------------------------


def _random_letters(rng: random.Random) -> str:
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(MIN_LETTERS, MAX_LETTERS)))


def _random_number(rng: random.Random) -> int:
    digits = rng.randint(1, MAX_DIGITS)  # as many 1-digit as 3-digit numbers
    return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10**digits - 1)


def _reverse_example(rng: random.Random) -> tuple[str, str]:
    source = _random_letters(rng)
    return source, source[::-1]


def _sort_example(rng: random.Random) -> tuple[str, str]:
    source = _random_letters(rng)
    return source, "".join(sorted(source))


def _add_example(rng: random.Random) -> tuple[str, str]:
    a, b = _random_number(rng), _random_number(rng)
    return f"{a}+{b}", str(a + b)


_EXAMPLE_MAKERS = {"reverse": _reverse_example, "sort": _sort_example, "add": _add_example}
TASKS = tuple(_EXAMPLE_MAKERS)


def _check_task(name: str) -> None:
    if name not in _EXAMPLE_MAKERS:
        fail("name", f"one of {list(TASKS)}", repr(name), "Pick one of the course's tasks, e.g. 'reverse'.")


def make_task(name: str, n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` (source, target) pairs of task ``name``, all sources distinct; same seed, same pairs."""
    _check_task(name)
    check_int("n", n, minimum=1, maximum=100_000, fix="Ask for a few thousand examples at most, e.g. n=6000.")
    check_int("seed", seed, minimum=0, fix="Use e.g. seed=0.")
    rng = random.Random(seed)
    pairs, seen = [], set()
    while len(pairs) < n:
        source, target = _EXAMPLE_MAKERS[name](rng)
        if source not in seen:  # no repeats, so splits cut from this list never share a source
            seen.add(source)
            pairs.append((source, target))
    return pairs


def make_splits(name: str, seed: int = SPLIT_SEED) -> dict[str, list[tuple[str, str]]]:
    """Cut ``make_task`` into train/val/test of ``SPLIT_SIZES`` (what ``data/tasks/`` ships)."""
    pairs = make_task(name, sum(SPLIT_SIZES.values()), seed)
    splits, start = {}, 0
    for split, size in SPLIT_SIZES.items():
        splits[split] = pairs[start : start + size]
        start += size
    return splits


def load_split(name: str, split: str) -> list[tuple[str, str]]:
    """The shipped (source, target) pairs of task ``name``, split "train", "val" or "test"."""
    _check_task(name)
    if split not in SPLIT_SIZES:
        fail(
            "split",
            f"one of {list(SPLIT_SIZES)}",
            repr(split),
            "Use 'train' to fit, 'val' to tune, 'test' once.",
        )
    path = TASK_DIR / f"{name}.jsonl"
    if not path.is_file():
        fail(
            "name",
            f"a task whose file exists ({path})",
            repr(name),
            MISSING_DATA_FIX,
        )
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [(row["source"], row["target"]) for row in rows if row["split"] == split]


def exact_match(predictions: Sequence[str], targets: Sequence[str]) -> float:
    """Fraction of predictions that equal their target exactly (1.0 = all correct)."""
    if len(predictions) != len(targets):
        fail(
            "predictions",
            f"as many strings as targets ({len(targets)})",
            f"{len(predictions)} strings",
            "Predict one string per target, in the same order.",
        )
    if not targets:
        fail("targets", "a non-empty list", "an empty list", "Pass at least one example.")
    return sum(p == t for p, t in zip(predictions, targets, strict=True)) / len(targets)


# ------------------------------------------------------------------------------------------------------------
# Vocabulary: special tokens, then one token per character
# ------------------------------------------------------------------------------------------------------------


class Seq2SeqVocab:
    """Character vocabulary with special tokens PAD=0, BOS=1 (begin), EOS=2 (end), SEP=3 (separator)."""

    SPECIALS = ("<pad>", "<bos>", "<eos>", "<sep>")
    pad_id, bos_id, eos_id, sep_id = 0, 1, 2, 3

    def __init__(self, chars: str):
        if not isinstance(chars, str) or not chars or len(set(chars)) != len(chars):
            fail(
                "chars",
                "a non-empty string of distinct characters",
                repr(chars),
                "Use e.g. TASK_CHARS['reverse'].",
            )
        self.chars = chars
        self.stoi = {ch: len(self.SPECIALS) + i for i, ch in enumerate(chars)}

    @classmethod
    def for_task(cls, name: str) -> Seq2SeqVocab:
        _check_task(name)
        return cls(TASK_CHARS[name])

    @property
    def vocab_size(self) -> int:
        return len(self.SPECIALS) + len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Characters -> ids (no special tokens added)."""
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            fail(
                "text",
                f"made of the characters {self.chars!r}",
                f"unknown character(s) {', '.join(map(repr, unknown))}",
                "Use examples of the task this vocabulary was made for (Seq2SeqVocab.for_task(name)).",
            )
        return [self.stoi[ch] for ch in text]

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Ids (a list or a 1-D tensor (T,)) -> characters; stops at the first EOS, skips PAD, BOS and SEP."""
        ids = ids_to_list(ids, vocab_size=self.vocab_size)
        if self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        return "".join(self.chars[i - len(self.SPECIALS)] for i in ids if i >= len(self.SPECIALS))

    def __repr__(self) -> str:
        return f"Seq2SeqVocab(chars={self.chars!r}, vocab_size={self.vocab_size})"


# ------------------------------------------------------------------------------------------------------------
# Batches for the two model families
# ------------------------------------------------------------------------------------------------------------


def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
    """Right-pad lists of ids to the longest one: (B, T_max)."""
    length = max(len(row) for row in rows)
    return torch.tensor([row + [value] * (length - len(row)) for row in rows], dtype=torch.long)


def _check_pairs(pairs: Sequence[tuple[str, str]]) -> None:
    if not pairs or any(len(pair) != 2 or not pair[0] for pair in pairs):
        fail(
            "pairs",
            "a non-empty list of (source, target) pairs with non-empty sources",
            repr(list(pairs)[:3]),
            "Pass examples from make_task or load_split, e.g. load_split('reverse', 'train')[:32].",
        )


@dataclass
class Seq2SeqBatch:
    """Encoder-decoder batch: ``model(src, tgt_in, targets=tgt_out, src_padding_mask=src_padding_mask)``."""

    src: torch.Tensor  # (B, S) source ids, PAD after the end
    src_padding_mask: torch.Tensor  # (B, 1, 1, S) True at real source tokens: nobody attends to PAD
    tgt_in: torch.Tensor  # (B, T) BOS + target, PAD after the end (what the decoder reads)
    tgt_out: torch.Tensor  # (B, T) target + EOS, -100 after the end (what the decoder must predict)


def seq2seq_batch(pairs: Sequence[tuple[str, str]], vocab: Seq2SeqVocab) -> Seq2SeqBatch:
    """Turn (source, target) pairs into padded tensors for ``EncoderDecoderLM``."""
    _check_pairs(pairs)
    sources = [vocab.encode(source) for source, _ in pairs]
    targets = [vocab.encode(target) for _, target in pairs]
    src = _pad(sources, vocab.pad_id)  # (B, S)
    return Seq2SeqBatch(
        src=src,
        src_padding_mask=padding_mask(src, vocab.pad_id),  # (B, 1, 1, S)
        tgt_in=_pad([[vocab.bos_id, *t] for t in targets], vocab.pad_id),  # (B, T)
        tgt_out=_pad([[*t, vocab.eos_id] for t in targets], IGNORE_INDEX),  # (B, T)
    )


@dataclass
class DecoderOnlyBatch:
    """Decoder-only batch: ``model(idx, targets=targets)``."""

    idx: torch.Tensor  # (B, T) BOS source SEP target, PAD after the end
    targets: torch.Tensor  # (B, T) next token where it is part of "target EOS", -100 everywhere else


def decoder_only_prompt(source: str, vocab: Seq2SeqVocab) -> list[int]:
    """``BOS source SEP``: the prompt a decoder-only model continues with the target (then EOS)."""
    return [vocab.bos_id, *vocab.encode(source), vocab.sep_id]


def decoder_only_batch(pairs: Sequence[tuple[str, str]], vocab: Seq2SeqVocab) -> DecoderOnlyBatch:
    """Frame each pair as one sequence ``BOS source SEP target EOS`` for ``DecoderOnlyLM``.

    Position p reads token p and predicts token p + 1; only predictions of ``target EOS`` count.
    """
    _check_pairs(pairs)
    inputs, targets = [], []
    for source, target in pairs:
        prompt = decoder_only_prompt(source, vocab)  # BOS source SEP
        sequence = prompt + vocab.encode(target) + [vocab.eos_id]
        inputs.append(sequence[:-1])
        # The first len(prompt) - 1 positions would predict the source and SEP: not part of the loss.
        targets.append([IGNORE_INDEX] * (len(prompt) - 1) + sequence[len(prompt) :])
    return DecoderOnlyBatch(
        idx=_pad(inputs, vocab.pad_id), targets=_pad(targets, IGNORE_INDEX)
    )  # (B, T) each
