"""Tests for course_lib.data: shipped corpora, splits, batches; data/ matches scripts/make_data.py."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import platform
from pathlib import Path

import pytest
import torch

from course_lib import data
from course_lib.data import encode_corpus, get_batch, load_corpus, split_train_val, text_checksum
from course_lib.tokenizers import CharTokenizer, train_hf_bpe
from course_lib.validation import CourseInputError

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST = json.loads((REPO_ROOT / "data" / "MANIFEST.json").read_text(encoding="utf-8"))


def load_make_data():
    """Import scripts/make_data.py as a module (it is a script, not part of course_lib)."""
    spec = importlib.util.spec_from_file_location("make_data", REPO_ROOT / "scripts" / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------------------------
# Shipped files
# ------------------------------------------------------------------------------------------------------------


def test_every_manifest_file_has_the_recorded_checksum_and_is_small():
    assert set(MANIFEST["files"]) >= {"corpus/python_docs.txt", "corpus/python_stdlib.txt", "tasks/add.jsonl"}
    for relative, recorded in MANIFEST["files"].items():
        content = (REPO_ROOT / "data" / relative).read_bytes()
        assert len(content) == recorded["bytes"], relative
        assert hashlib.sha256(content).hexdigest() == recorded["sha256"], f"{relative}: run `make data`"
        assert len(content) <= 5 * 1024 * 1024


def test_make_data_is_deterministic_and_matches_the_shipped_files():
    make_data = load_make_data()
    first, second = make_data.build_files(), make_data.build_files()
    assert first == second
    if MANIFEST["python"] != platform.python_version():
        pytest.skip(f"data/ was made with Python {MANIFEST['python']}, this is {platform.python_version()}")
    for relative, content in first.items():
        assert (REPO_ROOT / "data" / relative).read_bytes() == content, (
            f"{relative} is stale: run `make data`"
        )


def test_tune_corpus_is_in_the_manifest_and_every_line_tokenizes():
    from course_lib.music import load_tunes, tune_tokens

    assert "tunes/oneills_1850.txt" in MANIFEST["files"]
    tunes = load_tunes()
    assert len(tunes) > 1500 and all(len(tune_tokens(tune)) <= 254 for tune in tunes)


def test_python_docs_corpus():
    text = load_corpus("python-docs")
    assert 400_000 < len(text) < 600_000
    assert text.startswith('The "assert" statement\n')
    assert 'The "while" statement' in text and "\r" not in text and " \n" not in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_python_stdlib_corpus():
    text = load_corpus("python-stdlib")
    assert 300_000 < len(text) < 500_000
    assert text.startswith("# ---- Lib/abc.py ----\n")
    assert "def bisect_left(" in text and "# ---- Lib/textwrap.py ----" in text
    compile(text.split("# ---- Lib/heapq.py ----")[1].split("# ---- Lib/")[0], "heapq.py", "exec")


def test_missing_shipped_corpus_says_to_run_make_data(monkeypatch, tmp_path):
    monkeypatch.setitem(data.CORPORA, "python-docs", tmp_path / "python_docs.txt")
    with pytest.raises(CourseInputError, match="run `make data`"):
        load_corpus("python-docs")


# ------------------------------------------------------------------------------------------------------------
# load_corpus on a path
# ------------------------------------------------------------------------------------------------------------


def test_load_corpus_reads_a_utf8_file(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("to be or not to be\nthat is the question ✓\n", encoding="utf-8")
    assert load_corpus(str(path)) == "to be or not to be\nthat is the question ✓\n"


def test_load_corpus_errors(tmp_path):
    with pytest.raises(
        CourseInputError, match=r"one of \['python-docs', 'python-stdlib'\].*Check the spelling"
    ):
        load_corpus("python_docs")
    with pytest.raises(CourseInputError, match="a file, not a directory"):
        load_corpus(str(tmp_path))
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("abc é".encode("latin-1"))
    with pytest.raises(CourseInputError, match=r"non-UTF-8 byte at offset 4\. Convert the file to UTF-8"):
        load_corpus(str(latin1))
    blank = tmp_path / "blank.txt"
    blank.write_text(" \n\n", encoding="utf-8")
    with pytest.raises(CourseInputError, match=r"empty or only whitespace"):
        load_corpus(str(blank))
    with pytest.raises(CourseInputError, match="a corpus name or a file path, got int"):
        load_corpus(3)


# ------------------------------------------------------------------------------------------------------------
# Checksums, encoding, splits, batches
# ------------------------------------------------------------------------------------------------------------


def test_text_checksum_is_sha256_of_utf8():
    assert text_checksum("hello") == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert text_checksum("é") != text_checksum("e")
    with pytest.raises(CourseInputError, match="text must be a str, got bytes"):
        text_checksum(b"hello")


def test_encode_corpus_with_course_and_hugging_face_tokenizers():
    text = "hello world, hello tokens"
    ids = encode_corpus(text, CharTokenizer.from_text(text))
    assert ids.dtype == torch.long and ids.shape == (len(text),)
    hf = train_hf_bpe(text, vocab_size=270)
    hf_ids = encode_corpus(text, hf)
    assert hf_ids.dtype == torch.long and hf.decode(hf_ids.tolist()) == text


def test_split_train_val_keeps_the_last_part_for_validation():
    ids = torch.arange(100)
    train, val = split_train_val(ids)
    assert torch.equal(train, torch.arange(90)) and torch.equal(val, torch.arange(90, 100))
    train, val = split_train_val(ids, val_fraction=0.25)
    assert len(train) == 75 and val[0] == 75


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_train_val_rejects_fractions_outside_0_1(fraction):
    with pytest.raises(CourseInputError, match=r"val_fraction must be in \(0.0, 1.0\), got .*Use e.g. 0.1"):
        split_train_val(torch.arange(100), val_fraction=fraction)


def test_split_train_val_rejects_too_short_and_2d_data():
    with pytest.raises(
        CourseInputError, match=r"ids must be long enough to split with val_fraction=0\.1, got 1 tokens"
    ):
        split_train_val(torch.arange(1))
    with pytest.raises(
        CourseInputError, match=r"ids must be a 1-D tensor of shape \(N\), got shape \(2, 5\)"
    ):
        split_train_val(torch.zeros(2, 5, dtype=torch.long))


def test_get_batch_windows_and_shifted_targets():
    data_ids = torch.arange(1000)
    x, y = get_batch(data_ids, block_size=16, batch_size=8, generator=torch.Generator().manual_seed(0))
    assert x.shape == (8, 16) and y.shape == (8, 16) and x.dtype == torch.long
    assert torch.equal(x, x[:, :1] + torch.arange(16))  # each row is a contiguous window of the data
    assert torch.equal(y, x + 1)  # targets are the next tokens
    assert int(y.max()) <= 999


def test_get_batch_is_reproducible_with_a_seeded_generator():
    data_ids = torch.randint(0, 50, (500,), generator=torch.Generator().manual_seed(1))
    a = get_batch(data_ids, 8, 4, torch.Generator().manual_seed(42))
    b = get_batch(data_ids, 8, 4, torch.Generator().manual_seed(42))
    c = get_batch(data_ids, 8, 4, torch.Generator().manual_seed(43))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_get_batch_uses_every_start_including_the_last():
    data_ids = torch.arange(6)
    x, y = get_batch(data_ids, block_size=5, batch_size=20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x[0], torch.arange(5)) and torch.equal(y[0], torch.arange(1, 6))  # the only window


def test_get_batch_errors():
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(
        CourseInputError, match=r"data must be at least block_size \+ 1 = 9 tokens long, got 8 tokens"
    ):
        get_batch(torch.arange(8), block_size=8, batch_size=2, generator=generator)
    with pytest.raises(CourseInputError, match="smaller block_size"):
        get_batch(torch.arange(3), block_size=8, batch_size=2, generator=generator)
    with pytest.raises(CourseInputError, match="data must be a tensor of integer token ids"):
        get_batch(torch.rand(100), block_size=8, batch_size=2, generator=generator)
    with pytest.raises(CourseInputError, match="block_size must be an integer >= 1, got 0"):
        get_batch(torch.arange(100), block_size=0, batch_size=2, generator=generator)
    with pytest.raises(CourseInputError, match=r"batch_size must be an integer, got 2.0 \(float\)"):
        get_batch(torch.arange(100), block_size=4, batch_size=2.0, generator=generator)
