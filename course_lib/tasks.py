"""Small sequence-to-sequence tasks, to compare an encoder-decoder with a decoder-only model.

Each task maps a source string to a target string by a fixed rule:

- ``"reverse"``: ``"hello"`` -> ``"olleh"``
- ``"sort"``:    ``"hello"`` -> ``"ehllo"``
- ``"add"``:     ``"37+485"`` -> ``"522"``
- ``"dates"``:   ``"Tue 3 March 2020"``, ``"March 3, 2020"``, ``"3/3/2020"`` ... -> ``"2020-03-03"``

The splits (5000 train, 500 val, 500 test examples, no source in two splits) ship in
``data/tasks/<name>.jsonl`` and are read with ``load_split``. ``"dates"`` has one more split,
``"hard"``: 500 dates written in formats that training never shows (see ``DATE_FORMATS``).

Both model families read the same examples, framed two ways:

- encoder-decoder (``seq2seq_batch``): the encoder reads ``source``; the decoder reads
  ``BOS target`` and must predict ``target EOS``.
- decoder-only (``decoder_only_batch``): one sequence ``BOS source SEP target EOS``; the loss
  counts only the positions that predict ``target EOS`` (the model is given the source).

Targets use ``-100`` where there is nothing to predict (``ignore_index`` of the cross-entropy).
"""

from __future__ import annotations

import datetime
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from course_lib.attention import padding_mask
from course_lib.data import DATA_DIR, MISSING_DATA_FIX
from course_lib.decoding import generate, generate_seq2seq
from course_lib.models import is_encoder_decoder
from course_lib.tokenizers import ids_to_list
from course_lib.train import TrainConfig, lr_at, make_optimizer
from course_lib.validation import check_int, fail

TASK_DIR = DATA_DIR / "tasks"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
MIN_LETTERS, MAX_LETTERS = 3, 10  # length of a "reverse" or "sort" source
MAX_DIGITS = 3  # operands of "add" have 1 to 3 digits
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # English whatever the locale (not strftime)
DATE_CHARS = "0123456789 ,-/" + "".join(sorted(set("".join(MONTHS + WEEKDAYS) + "stndrdth")))
TASK_CHARS = {"reverse": LETTERS, "sort": LETTERS, "add": "0123456789+", "dates": DATE_CHARS}
SPLIT_SIZES = {"train": 5000, "val": 500, "test": 500}
HARD_SPLIT_SIZE = 500  # "dates" only: formats not seen in training
FIRST_DATE, LAST_DATE = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)
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


# How people write 3 March 2020. Training, validation and test use the first five; the "hard" split uses the
# last four, each a new combination of pieces training shows separately (a weekday with a short month name,
# a short month name first) or something training never shows (zero-padded numbers, ordinal suffixes).
DATE_FORMATS = {
    "day month year": "{d} {Month} {Y}",  # 3 March 2020
    "month day, year": "{Month} {d}, {Y}",  # March 3, 2020
    "day/month/year": "{d}/{m}/{Y}",  # 3/3/2020
    "weekday day month year": "{Wkd} {d} {Month} {Y}",  # Tue 3 March 2020
    "day short-month year": "{d} {Mon} {Y}",  # 3 Mar 2020
    "weekday day short-month year": "{Wkd} {d} {Mon} {Y}",  # Tue 3 Mar 2020        (hard)
    "short-month day, year": "{Mon} {d}, {Y}",  # Mar 3, 2020                         (hard)
    "dd/mm/year": "{dd}/{mm}/{Y}",  # 03/03/2020                                       (hard)
    "month ordinal-day, year": "{Month} {dth}, {Y}",  # March 3rd, 2020                (hard)
}
TRAINING_DATE_FORMATS = tuple(DATE_FORMATS)[:5]
HARD_DATE_FORMATS = tuple(DATE_FORMATS)[5:]


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def write_date(date: datetime.date, format_name: str) -> str:
    """``date`` written the way format ``format_name`` (a key of ``DATE_FORMATS``) writes it."""
    if format_name not in DATE_FORMATS:
        fail("format_name", f"one of {list(DATE_FORMATS)}", repr(format_name), "Pick a key of DATE_FORMATS.")
    return DATE_FORMATS[format_name].format(
        d=date.day,
        dd=f"{date.day:02d}",
        dth=_ordinal(date.day),
        m=date.month,
        mm=f"{date.month:02d}",
        Y=date.year,
        Month=MONTHS[date.month - 1],
        Mon=MONTHS[date.month - 1][:3],
        Wkd=WEEKDAYS[date.weekday()],
    )


def _random_date(rng: random.Random) -> datetime.date:
    return FIRST_DATE + datetime.timedelta(days=rng.randrange((LAST_DATE - FIRST_DATE).days + 1))


def _date_example(rng: random.Random, formats: tuple[str, ...] = TRAINING_DATE_FORMATS) -> tuple[str, str]:
    date = _random_date(rng)
    return write_date(date, rng.choice(formats)), date.isoformat()


def _hard_date_example(rng: random.Random) -> tuple[str, str]:
    """A date in a hard format that no training format writes the same way ("May 3, 2020" and
    "13/12/2020" are also written so by training formats: drawn again)."""
    while True:
        source, target = _date_example(rng, HARD_DATE_FORMATS)
        date = datetime.date.fromisoformat(target)
        if source not in {write_date(date, name) for name in TRAINING_DATE_FORMATS}:
            return source, target


_EXAMPLE_MAKERS = {
    "reverse": _reverse_example,
    "sort": _sort_example,
    "add": _add_example,
    "dates": _date_example,
}
_HARD_EXAMPLE_MAKERS = {"dates": _hard_date_example}
TASKS = tuple(_EXAMPLE_MAKERS)


def _check_task(name: str) -> None:
    if name not in _EXAMPLE_MAKERS:
        fail("name", f"one of {list(TASKS)}", repr(name), "Pick one of the course's tasks, e.g. 'reverse'.")


def _distinct_pairs(
    make_example: Callable[[random.Random], tuple[str, str]], n: int, seed: int
) -> list[tuple[str, str]]:
    """``n`` pairs from ``make_example`` with a ``seed``-ed generator, drawing again on a repeated source."""
    rng = random.Random(seed)
    pairs, seen = [], set()
    while len(pairs) < n:
        source, target = make_example(rng)
        if source not in seen:  # no repeats, so splits cut from this list never share a source
            seen.add(source)
            pairs.append((source, target))
    return pairs


def make_task(name: str, n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` (source, target) pairs of task ``name``, all sources distinct; same seed, same pairs."""
    _check_task(name)
    check_int("n", n, minimum=1, maximum=100_000, fix="Ask for a few thousand examples at most, e.g. n=6000.")
    check_int("seed", seed, minimum=0, fix="Use e.g. seed=0.")
    return _distinct_pairs(_EXAMPLE_MAKERS[name], n, seed)


def task_splits(name: str) -> dict[str, int]:
    """The shipped splits of task ``name`` and their sizes: ``SPLIT_SIZES``, plus "hard" for "dates"."""
    _check_task(name)
    return SPLIT_SIZES | ({"hard": HARD_SPLIT_SIZE} if name in _HARD_EXAMPLE_MAKERS else {})


def make_splits(name: str, seed: int = SPLIT_SEED) -> dict[str, list[tuple[str, str]]]:
    """Cut ``make_task`` into train/val/test of ``SPLIT_SIZES`` (what ``data/tasks/`` ships), plus the
    "hard" split of tasks that have one (its formats differ, so it shares no source with the others)."""
    pairs = make_task(name, sum(SPLIT_SIZES.values()), seed)
    splits, start = {}, 0
    for split, size in SPLIT_SIZES.items():
        splits[split] = pairs[start : start + size]
        start += size
    if name in _HARD_EXAMPLE_MAKERS:
        splits["hard"] = _distinct_pairs(_HARD_EXAMPLE_MAKERS[name], HARD_SPLIT_SIZE, seed + 1)
    return splits


def load_split(name: str, split: str) -> list[tuple[str, str]]:
    """The shipped (source, target) pairs of task ``name``, split "train", "val" or "test"."""
    splits = task_splits(name)
    if split not in splits:
        fail(
            "split",
            f"one of {list(splits)}",
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
    SPECIAL_STAND_INS = ("\x00", "\x01", "\x02", "\x03")  # one control character each, in checkpoints
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

    def to_dict(self) -> dict:
        """For checkpoints: a character tokenizer's dict (``type`` "char") whose first four characters
        stand for the special tokens, so ``load_checkpoint`` rebuilds it without knowing this class."""
        return {"type": "char", "chars": [*self.SPECIAL_STAND_INS, *self.chars]}

    @classmethod
    def from_tokenizer(cls, tokenizer: object) -> Seq2SeqVocab:
        """The vocabulary back from the ``CharTokenizer`` that ``load_checkpoint`` made of ``to_dict()``."""
        chars = "".join(getattr(tokenizer, "chars", []))
        if chars[: len(cls.SPECIALS)] != "".join(cls.SPECIAL_STAND_INS):
            fail(
                "tokenizer",
                "the tokenizer of a checkpoint saved with a Seq2SeqVocab",
                repr(tokenizer),
                "Load a task checkpoint, e.g. data/checkpoints/dates_encoder_decoder.",
            )
        return cls(chars[len(cls.SPECIALS) :])

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


# ------------------------------------------------------------------------------------------------------------
# Training and testing either family on a task
# ------------------------------------------------------------------------------------------------------------


def task_loss(model: nn.Module, pairs: Sequence[tuple[str, str]], *, vocab: Seq2SeqVocab) -> torch.Tensor:
    """Mean cross-entropy over the target tokens (and EOS) of ``pairs``, framed for the model's family."""
    if is_encoder_decoder(model):
        batch = seq2seq_batch(pairs, vocab)
        return model(batch.src, batch.tgt_in, batch.tgt_out, src_padding_mask=batch.src_padding_mask).loss
    batch = decoder_only_batch(pairs, vocab)
    return model(batch.idx, batch.targets).loss


def train_on_pairs(
    model: nn.Module,
    pairs: Sequence[tuple[str, str]],
    *,
    vocab: Seq2SeqVocab,
    steps: int,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """Train either family on random batches of ``pairs`` for ``steps`` AdamW steps; returns each loss.

    The schedule is ``course_lib.train``'s (warmup over the first 10% of steps, then cosine decay to a
    tenth), the gradient norm is clipped to 1, and batches are drawn with ``seed``: same seed, same run.
    The model is left in eval mode.
    """
    _check_pairs(pairs)
    check_int("steps", steps, minimum=1, fix="Use e.g. steps=300.")
    check_int("batch_size", batch_size, minimum=1, maximum=len(pairs), fix="Use e.g. batch_size=64.")
    cfg = TrainConfig(
        max_steps=steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        min_lr=learning_rate / 10,
        warmup_steps=steps // 10,
        seed=seed,
    )
    optimizer = make_optimizer(model, cfg)
    rng = random.Random(seed)
    torch.manual_seed(seed)  # dropout, if the model has any
    model.train()
    losses = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss = task_loss(model, rng.sample(list(pairs), batch_size), vocab=vocab)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


def predict(
    model: nn.Module, sources: Sequence[str], *, vocab: Seq2SeqVocab, max_new_tokens: int = 12
) -> list[str]:
    """Greedy, KV-cached answers of either family for ``sources`` (one string each, in order).

    The encoder-decoder reads right-padded sources with a padding mask; the decoder-only model has no
    padding mask, so its prompts ``BOS source SEP`` run in groups of equal length.
    """
    if not sources or not all(isinstance(source, str) and source for source in sources):
        fail(
            "sources",
            "a non-empty list of non-empty strings",
            repr(list(sources)[:3]),
            "Pass e.g. ['3/4/2021'].",
        )
    if is_encoder_decoder(model):
        src = _pad([vocab.encode(source) for source in sources], vocab.pad_id)  # (B, S)
        out = generate_seq2seq(
            model,
            src,
            vocab.bos_id,
            vocab.eos_id,
            max_new_tokens,
            src_padding_mask=padding_mask(src, vocab.pad_id),
        )  # (B, 1 + n)
        return [vocab.decode(row[1:]) for row in out]
    answers: dict[int, str] = {}
    prompts = [decoder_only_prompt(source, vocab) for source in sources]
    for length in sorted({len(prompt) for prompt in prompts}):
        rows = [i for i, prompt in enumerate(prompts) if len(prompt) == length]
        idx = torch.tensor([prompts[i] for i in rows])  # (b, length)
        out = generate(model, idx, max_new_tokens, strategy="greedy", eos_id=vocab.eos_id)  # (b, length + n)
        answers.update({i: vocab.decode(row[length:]) for i, row in zip(rows, out, strict=True)})
    return [answers[i] for i in range(len(sources))]
