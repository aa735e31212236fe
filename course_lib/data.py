"""Data: the course corpora, train/validation splits and random training batches.

Two corpora ship in ``data/corpus/`` (made by ``scripts/make_data.py``, run it with ``make data``);
both come from CPython itself, so nothing is ever downloaded:

- ``"python-docs"``: the Python language reference topics behind ``help()`` (``pydoc_data.topics``),
  about 465k characters of English.
- ``"python-stdlib"``: the source code of a fixed list of standard-library modules (a code corpus).

A language model learns from one long sequence of token ids (N,). ``get_batch`` cuts random windows
of ``block_size + 1`` tokens out of it: inputs ``x`` are the first ``block_size`` tokens, targets ``y``
are the same window shifted one to the left (the "next token" at every position).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from course_lib.validation import check_int, check_number, check_shape, fail

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from course_lib.tokenizers import BPETokenizer, CharTokenizer

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CORPORA = {
    "python-docs": DATA_DIR / "corpus" / "python_docs.txt",
    "python-stdlib": DATA_DIR / "corpus" / "python_stdlib.txt",
}
MISSING_DATA_FIX = "The file is missing: run `make data` in the repository root (scripts/make_data.py)."


def load_corpus(name_or_path: str) -> str:
    """Return a shipped corpus ("python-docs", "python-stdlib") or the text of a UTF-8 file."""
    if not isinstance(name_or_path, (str, Path)):
        fail(
            "name_or_path",
            "a corpus name or a file path",
            type(name_or_path).__name__,
            f"Use one of {sorted(CORPORA)} or the path to a UTF-8 text file.",
        )
    if name_or_path in CORPORA:
        path = CORPORA[name_or_path]
        if not path.is_file():
            fail(
                "name_or_path",
                f"a corpus whose file exists ({path})",
                repr(name_or_path),
                MISSING_DATA_FIX,
            )
    else:
        path = Path(name_or_path)
        if path.is_dir():
            fail(
                "name_or_path",
                "a file, not a directory",
                repr(str(name_or_path)),
                "Pass the path of one text file inside it.",
            )
        if not path.is_file():
            fail(
                "name_or_path",
                f"one of {sorted(CORPORA)} or the path of an existing file",
                repr(str(name_or_path)),
                "Check the spelling, or give an absolute path.",
            )
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        fail(
            "name_or_path",
            "a UTF-8 text file",
            f"{str(path)!r} with a non-UTF-8 byte at offset {error.start}",
            "Convert the file to UTF-8 (most editors can 'save with encoding UTF-8').",
        )
    if not text.strip():
        fail(
            "name_or_path",
            "a file with some text in it",
            f"{str(path)!r} (empty or only whitespace)",
            "Use a file that contains text.",
        )
    return text


def text_checksum(text: str) -> str:
    """SHA-256 of the text's UTF-8 bytes, as 64 hex digits (stored in checkpoints to name the data)."""
    if not isinstance(text, str):
        fail("text", "a str", type(text).__name__, "Pass the text itself, e.g. load_corpus('python-docs').")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_corpus(text: str, tokenizer: CharTokenizer | BPETokenizer | Tokenizer) -> torch.Tensor:
    """Encode the whole text into one LongTensor of token ids, shape (N,).

    ``tokenizer`` is any course tokenizer (``encode(text) -> list[int]``) or a Hugging Face
    ``tokenizers.Tokenizer`` (whose ``encode`` returns an object with ``.ids``).
    """
    encoded = tokenizer.encode(text)
    ids = encoded.ids if hasattr(encoded, "ids") else encoded
    return torch.tensor(ids, dtype=torch.long)  # (N,)


def split_train_val(ids: torch.Tensor, val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ids (N,) into train (the first part) and validation (the last ``val_fraction``)."""
    check_shape(
        "ids", ids, ("N",), "Pass the whole corpus as one 1-D tensor, e.g. encode_corpus(text, tokenizer)."
    )
    check_number(
        "val_fraction",
        val_fraction,
        low=0.0,
        high=1.0,
        low_inclusive=False,
        high_inclusive=False,
        fix="Use e.g. 0.1 (the last 10% of the tokens are kept for validation).",
    )
    n_train = int(len(ids) * (1 - val_fraction))
    if n_train < 1 or n_train >= len(ids):
        fail(
            "ids",
            f"long enough to split with val_fraction={val_fraction}",
            f"{len(ids)} tokens",
            "Use more text: both parts need at least one token (and block_size + 1 to make batches).",
        )
    return ids[:n_train], ids[n_train:]  # (N_train,), (N_val,)


def get_batch(
    data: torch.Tensor, block_size: int, batch_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``batch_size`` random windows from ``data`` (N,).

    Returns x (B, T) and y (B, T) with T = block_size and y[:, t] = the token after x[:, t].
    ``generator`` (a CPU ``torch.Generator``) makes the batches reproducible; tensors end up on
    ``data.device``.
    """
    check_shape(
        "data", data, ("N",), "Pass one 1-D tensor of token ids, e.g. the train part of split_train_val."
    )
    check_int("block_size", block_size, minimum=1, fix="Use the model's config.block_size, e.g. 64.")
    check_int("batch_size", batch_size, minimum=1, fix="Use e.g. 32.")
    if data.is_floating_point():
        fail("data", "a tensor of integer token ids", f"dtype {data.dtype}", "Convert with data.long().")
    if len(data) < block_size + 1:
        fail(
            "data",
            f"at least block_size + 1 = {block_size + 1} tokens long",
            f"{len(data)} tokens",
            "Use more text, or a smaller block_size (a window needs block_size inputs plus one target).",
        )
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)  # (B,)
    x = torch.stack([data[i : i + block_size] for i in starts.tolist()])  # (B, T)
    y = torch.stack([data[i + 1 : i + 1 + block_size] for i in starts.tolist()])  # (B, T)
    return x, y
