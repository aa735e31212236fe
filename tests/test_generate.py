"""Tests for ``python -m course_lib.generate``: every strategy, reproducible sampling, every error message."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from course_lib import generate as generate_module
from course_lib.checkpoints import save_checkpoint
from course_lib.configs import DecoderOnlyConfig, EncoderDecoderConfig
from course_lib.data import split_train_val
from course_lib.decoding import generate
from course_lib.models import build_model
from course_lib.tokenizers import CharTokenizer
from course_lib.train import TrainConfig, train

REPO = Path(__file__).resolve().parents[1]
TEXT = "the cat sat on the mat. the dog sat on the log. " * 20


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny GPT trained for a few steps on TEXT (enough to prefer the text's own letters)."""
    torch.manual_seed(0)
    tokenizer = CharTokenizer.from_text(TEXT)
    train_ids, val_ids = split_train_val(torch.tensor(tokenizer.encode(TEXT)))
    model = build_model(
        DecoderOnlyConfig(vocab_size=tokenizer.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=16)
    )
    cfg = TrainConfig(
        max_steps=40,
        batch_size=8,
        learning_rate=1e-2,
        min_lr=1e-3,
        warmup_steps=2,
        eval_interval=40,
        eval_iters=1,
    )
    train(model, train_ids, val_ids, cfg, progress=False)
    return save_checkpoint(tmp_path_factory.mktemp("gen") / "tiny", model, tokenizer, {"seed": 0})


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    status = generate_module.main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def continuation(capsys, checkpoint: Path, *args: str) -> str:
    status, out, err = run_main(capsys, "--checkpoint", str(checkpoint), "--prompt", "the ", *args)
    assert status == 0, err
    assert out.endswith("\n")
    return out[:-1]  # print() adds one newline


def test_cli_runs_as_a_command_and_prints_the_continuation(checkpoint):
    command = [
        sys.executable,
        "-m",
        "course_lib.generate",
        "--checkpoint",
        str(checkpoint),
        "--prompt",
        "the ",
        "--max-new-tokens",
        "30",
        "--strategy",
        "sample",
        "--seed",
        "0",
        "--threads",
        "1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    text = result.stdout[:-1]
    assert len(text) == 30 and set(text) <= set(TEXT)


def test_greedy_matches_the_decoding_module(checkpoint, capsys):
    from course_lib.checkpoints import load_checkpoint

    loaded = load_checkpoint(checkpoint)
    prompt = torch.tensor([loaded.tokenizer.encode("the ")])
    expected = loaded.tokenizer.decode(generate(loaded.model, prompt, 25, strategy="greedy")[0, 4:].tolist())
    assert continuation(capsys, checkpoint, "--strategy", "greedy", "--max-new-tokens", "25") == expected


def test_the_same_seed_gives_the_same_text(checkpoint, capsys):
    first = continuation(capsys, checkpoint, "--seed", "7", "--max-new-tokens", "60")
    again = continuation(capsys, checkpoint, "--seed", "7", "--max-new-tokens", "60")
    other = continuation(capsys, checkpoint, "--seed", "8", "--max-new-tokens", "60")
    assert first == again and first != other and len(first) == 60


def test_settings_that_mean_greedy_give_greedy_text(checkpoint, capsys):
    greedy = continuation(capsys, checkpoint, "--strategy", "greedy", "--max-new-tokens", "20")
    assert continuation(capsys, checkpoint, "--temperature", "0", "--max-new-tokens", "20") == greedy
    assert continuation(capsys, checkpoint, "--top-k", "1", "--seed", "3", "--max-new-tokens", "20") == greedy
    assert (
        continuation(capsys, checkpoint, "--strategy", "beam", "--beams", "1", "--max-new-tokens", "20")
        == greedy
    )


def test_beam_search_and_filters_run(checkpoint, capsys):
    beam = continuation(capsys, checkpoint, "--strategy", "beam", "--beams", "3", "--max-new-tokens", "15")
    filtered = continuation(
        capsys,
        checkpoint,
        "--top-p",
        "0.9",
        "--top-k",
        "5",
        "--temperature",
        "0.7",
        "--seed",
        "1",
        "--max-new-tokens",
        "15",
    )
    assert len(beam) == 15 and len(filtered) == 15
    assert continuation(capsys, checkpoint, "--max-new-tokens", "0") == ""


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        generate_module.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--checkpoint",
        "--prompt",
        "--max-new-tokens",
        "--strategy",
        "--temperature",
        "--top-k",
        "--top-p",
        "--beams",
        "--seed",
        "--threads",
    ):
        assert option in out, option
    assert "greedy" in out and "nucleus" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--prompt", "the ÇAT€"],
            r"--prompt must be made of characters the model knows, got unknown character\(s\) "
            r"'A', 'T', 'Ç', '€'\. Remove or replace them",
        ),
        (["--prompt", ""], r"--prompt must be at least one character, got an empty string"),
        (["--temperature", "-1"], r"--temperature must be in \[0\.0, inf\], got -1\.0\. Use 1\.0"),
        (["--top-k", "0"], r"--top-k must be an integer >= 1, got 0"),
        (["--top-p", "0"], r"--top-p must be in \(0\.0, 1\.0\], got 0\.0\. Use e\.g\. 0\.9"),
        (["--top-p", "1.5"], r"--top-p must be in \(0\.0, 1\.0\], got 1\.5"),
        (["--strategy", "beam", "--beams", "0"], r"--beams must be an integer from 1 to 64, got 0"),
        (
            ["--beams", "4"],
            r"--beams must be used with --strategy beam, got --strategy sample\. Add --strategy beam",
        ),
        (
            ["--strategy", "greedy", "--top-p", "0.9"],
            r"--top-p must be used with --strategy sample, got --strategy greedy\. Add --strategy sample",
        ),
        (
            ["--strategy", "beam", "--temperature", "0.5"],
            r"--temperature must be used with --strategy sample, got "
            r"--strategy beam",
        ),
        (["--max-new-tokens", "-1"], r"--max-new-tokens must be an integer from 0 to 20000, got -1"),
        (["--seed", "-2"], r"--seed must be an integer from 0 to 9223372036854775807, got -2"),
    ],
)
def test_bad_options_fail_with_one_clear_line(checkpoint, capsys, args, message):
    options = {"--prompt": "the "}
    for name, value in zip(args[::2], args[1::2], strict=True):
        options[name] = value
    flat = [item for pair in options.items() for item in pair]
    status, out, err = run_main(capsys, "--checkpoint", str(checkpoint), *flat)
    assert status == 2 and out == "" and err.count("\n") == 1
    assert re.search("^error: " + message, err), err


def test_missing_and_damaged_checkpoints(checkpoint, tmp_path, capsys):
    status, _, err = run_main(capsys, "--checkpoint", str(tmp_path / "nope"), "--prompt", "the ")
    assert status == 2 and re.search(r"^error: checkpoint directory .*nope.* does not exist", err)

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in ("checkpoint.json", "model.safetensors"):
        (damaged / name).write_bytes((checkpoint / name).read_bytes())
    weights = bytearray((damaged / "model.safetensors").read_bytes())
    weights[-2] ^= 0x01
    (damaged / "model.safetensors").write_bytes(bytes(weights))
    status, _, err = run_main(capsys, "--checkpoint", str(damaged), "--prompt", "the ")
    assert status == 2 and err.count("\n") == 1
    assert re.search(r"does not match the sha256 .*changed or corrupted.*make checkpoints", err)


def test_encoder_decoder_checkpoints_are_refused(tmp_path, capsys):
    tokenizer = CharTokenizer.from_text("abc")
    model = build_model(EncoderDecoderConfig(vocab_size=3, block_size=8, n_layer=1, n_head=1, n_embd=4))
    save_checkpoint(tmp_path / "s2s", model, tokenizer)
    status, _, err = run_main(capsys, "--checkpoint", str(tmp_path / "s2s"), "--prompt", "ab")
    assert status == 2
    assert re.search(r"^error: --checkpoint must be a decoder-only \(GPT\) model, got EncoderDecoderLM", err)


def test_errors_from_the_command_line_have_no_traceback(tmp_path):
    command = [sys.executable, "-m", "course_lib.generate", "--checkpoint", str(tmp_path), "--prompt", "x"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert re.search(r"^error: checkpoint directory .* has no checkpoint\.json", result.stderr)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--temperature", "nan"], r"--temperature must be in \[0\.0, inf\], got nan"),
        (["--temperature", "inf"], r"--temperature must be in \[0\.0, inf\], got inf"),
        (
            ["--temperature", "1e-45"],
            r"--temperature must be 0 or at least 1e-06, got 1e-45\. Use 1\.0 .* 0 for greedy\. "
            r"Smaller values overflow",
        ),
        (["--top-p", "nan"], r"--top-p must be in \(0\.0, 1\.0\], got nan"),
        (["--top-p=-inf"], r"--top-p must be in \(0\.0, 1\.0\], got -inf"),
        (
            ["--seed", str(2**63)],
            r"--seed must be an integer from 0 to 9223372036854775807, got 9223372036854775808",
        ),
        (["--seed", str(2**64)], r"--seed must be an integer from 0 to 9223372036854775807"),
        (["--strategy", "beam", "--beams", "100000"], r"--beams must be an integer from 1 to 64, got 100000"),
        (
            ["--max-new-tokens", "1000000000"],
            r"--max-new-tokens must be an integer from 0 to 20000, got 1000000000",
        ),
        (["--threads", "0"], r"--threads must be an integer >= 1, got 0"),
    ],
)
def test_every_option_is_checked_before_the_checkpoint_is_loaded(monkeypatch, capsys, args, message):
    def refuse(*args, **kwargs):
        raise AssertionError("the checkpoint was loaded before the options were checked")

    monkeypatch.setattr(generate_module, "load_checkpoint", refuse)
    status, out, err = run_main(capsys, "--checkpoint", "never-loaded", "--prompt", "the ", *args)
    assert status == 2 and out == "" and err.count("\n") == 1
    assert re.search("^error: " + message, err), err


def test_the_smallest_temperature_runs(checkpoint, capsys):
    greedy = continuation(capsys, checkpoint, "--strategy", "greedy", "--max-new-tokens", "20")
    coldest = continuation(
        capsys, checkpoint, "--temperature", "1e-3", "--seed", "0", "--max-new-tokens", "20"
    )
    assert len(coldest) == 20 and coldest == greedy


def fake_beam_search(model, idx, max_new_tokens, num_beams):
    """Stands in for beam search: repeats the prompt's first token (the note is what is tested)."""
    return SimpleNamespace(sequence=torch.cat([idx, idx[:, :1].repeat(1, max_new_tokens)], dim=1))


def test_long_beam_searches_get_a_note_that_they_may_take_minutes(checkpoint, capsys, monkeypatch):
    monkeypatch.setattr(generate_module, "beam_search", fake_beam_search)
    status, out, err = run_main(
        capsys, "--checkpoint", str(checkpoint), "--prompt", "the ", "--strategy", "beam", "--beams", "64",
        "--max-new-tokens", "400",
    )  # fmt: skip
    assert status == 0 and len(out) == 401
    assert err == (
        "note: 400 new tokens x 64 beams = 25,600 token steps; this may take minutes (Ctrl-C stops it). "
        "Fewer --beams or --max-new-tokens is faster.\n"
    )
    status, _, err = run_main(
        capsys,
        "--checkpoint",
        str(checkpoint),
        "--prompt",
        "the ",
        "--strategy",
        "beam",
        "--max-new-tokens",
        "400",
    )
    assert status == 0 and err == ""  # 400 x 4 default beams is quick


def test_ctrl_c_during_generation_prints_one_line(checkpoint, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(generate_module, "generate", interrupted)
    status, out, err = run_main(capsys, "--checkpoint", str(checkpoint), "--prompt", "the ")
    assert (status, out, err) == (130, "", "error: interrupted (Ctrl-C)\n")


def test_an_edited_checkpoint_is_refused_naming_the_file(checkpoint, tmp_path, capsys):
    edited = tmp_path / "edited"
    edited.mkdir()
    for name in ("checkpoint.json", "model.safetensors"):
        (edited / name).write_bytes((checkpoint / name).read_bytes())
    text = (edited / "checkpoint.json").read_text(encoding="utf-8")
    (edited / "checkpoint.json").write_text(text.replace('"n_head": 2', '"n_head": 4'), encoding="utf-8")
    status, out, err = run_main(capsys, "--checkpoint", str(edited), "--prompt", "the ")
    assert status == 2 and out == ""
    assert re.search(r"^error: \S*edited/checkpoint\.json does not match its recorded sha256", err), err
