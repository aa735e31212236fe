"""Tests for course_lib.checkpoints: round trips, checksums, and every error a student can hit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from course_lib import checkpoints
from course_lib.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from course_lib.configs import DecoderOnlyConfig, EncoderDecoderConfig
from course_lib.models import build_model
from course_lib.tokenizers import CharTokenizer
from course_lib.validation import CourseInputError

TEXT = "def add(a, b):\n    return a + b\n"


def tiny_model(**overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    tokenizer = CharTokenizer.from_text(TEXT)
    settings = dict(vocab_size=tokenizer.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=16)
    settings.update(overrides)
    return build_model(DecoderOnlyConfig(**settings))


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, torch.nn.Module, CharTokenizer]:
    model = tiny_model()
    tokenizer = CharTokenizer.from_text(TEXT)
    directory = save_checkpoint(
        tmp_path / "ckpt", model, tokenizer, {"seed": 3, "metrics": {"val_loss": 1.5}}
    )
    return directory, model, tokenizer


def edit_json(directory: Path, change, reseal: bool = False) -> None:
    """Apply ``change`` to checkpoint.json; ``reseal`` also records the new checksum, as a bug in saving
    (not an edit by hand) would, so that the checks behind the checksum can be reached."""
    path = directory / checkpoints.METADATA_FILE
    record = json.loads(path.read_text(encoding="utf-8"))
    change(record)
    if reseal:
        record["sha256"] = checkpoints.record_sha256(record, record["metadata"]["weights_sha256"])
    path.write_text(json.dumps(record), encoding="utf-8")


def test_round_trip_gives_the_same_model_tokenizer_and_metadata(saved):
    directory, model, tokenizer = saved
    assert sorted(p.name for p in directory.iterdir()) == ["checkpoint.json", "model.safetensors"]
    loaded = load_checkpoint(directory)
    idx = torch.tensor([tokenizer.encode("def add")])
    model.eval()
    assert torch.equal(loaded.model(idx).logits, model(idx).logits)
    assert not loaded.model.training
    assert loaded.tokenizer.chars == tokenizer.chars
    assert loaded.metadata["seed"] == 3 and loaded.metadata["metrics"] == {"val_loss": 1.5}
    assert loaded.metadata["weights_sha256"] == checkpoints.file_sha256(directory / "model.safetensors")
    assert loaded.metadata["course_lib_version"] == "0.1.0"


def test_tied_weights_are_stored_once_and_stay_tied(saved):
    directory, _, _ = saved
    loaded = load_checkpoint(directory)
    assert loaded.model.lm_head.weight is loaded.model.embed.token.weight
    untied = tiny_model(tie_weights=False)
    untied_dir = save_checkpoint(directory.parent / "untied", untied, CharTokenizer.from_text(TEXT))
    loaded_untied = load_checkpoint(untied_dir).model
    assert loaded_untied.lm_head.weight is not loaded_untied.embed.token.weight
    assert torch.equal(loaded_untied.lm_head.weight, untied.lm_head.weight)


def test_other_model_families_round_trip(tmp_path):
    torch.manual_seed(0)
    config = EncoderDecoderConfig(
        vocab_size=12, block_size=8, n_layer=1, n_head=2, n_embd=8, positional="rotary"
    )
    model = build_model(config).eval()
    tokenizer = CharTokenizer(list("abcdefghijkl"))
    loaded = load_checkpoint(save_checkpoint(tmp_path / "s2s", model, tokenizer))
    src, tgt = torch.tensor([[1, 2, 3]]), torch.tensor([[4, 5]])
    assert type(loaded.model).__name__ == "EncoderDecoderLM"
    assert torch.equal(loaded.model(src, tgt).logits, model(src, tgt).logits)


def test_saving_is_deterministic(saved, tmp_path):
    directory, model, tokenizer = saved
    again = save_checkpoint(tmp_path / "again", model, tokenizer, {"seed": 3, "metrics": {"val_loss": 1.5}})
    for name in ("model.safetensors", "checkpoint.json"):
        assert (again / name).read_bytes() == (directory / name).read_bytes()


def test_loading_never_unpickles(saved, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load (pickle) must not be used")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr("pickle.loads", refuse)
    monkeypatch.setattr("pickle.load", refuse)
    assert load_checkpoint(saved[0]).model is not None


def test_checkpoint_error_is_a_course_input_error():
    assert issubclass(CheckpointError, CourseInputError) and issubclass(CheckpointError, ValueError)


def test_missing_directory(tmp_path):
    with pytest.raises(
        CheckpointError, match=r"checkpoint directory .*nowhere.* does not exist.*make checkpoints"
    ):
        load_checkpoint(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["model.safetensors", "checkpoint.json"])
def test_missing_file(saved, name):
    directory = saved[0]
    (directory / name).unlink()
    with pytest.raises(CheckpointError, match=rf"has no {name} .*needs both.*`make checkpoints`"):
        load_checkpoint(directory)


def test_corrupt_json(saved):
    directory = saved[0]
    path = directory / "checkpoint.json"
    path.write_text(path.read_text(encoding="utf-8")[:-40], encoding="utf-8")
    with pytest.raises(
        CheckpointError, match=r"checkpoint.json is not valid JSON .*corrupted.*make checkpoints"
    ):
        load_checkpoint(directory)


def test_json_without_required_entries(saved):
    directory = saved[0]
    edit_json(directory, lambda record: record.pop("tokenizer"))
    with pytest.raises(CheckpointError, match=r"lacks the entries \['tokenizer'\]"):
        load_checkpoint(directory)


def test_changed_weights_fail_the_checksum(saved):
    directory = saved[0]
    path = directory / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # flip the bits of one byte of the last tensor
    path.write_bytes(bytes(data))
    with pytest.raises(
        CheckpointError, match=r"does not match the sha256 .*changed or corrupted.*make checkpoints.*train"
    ):
        load_checkpoint(directory)


def test_config_with_other_shapes_names_the_tensor_and_both_shapes(saved):
    directory = saved[0]
    edit_json(directory, lambda record: record["config"].update(vocab_size=20), reseal=True)
    with pytest.raises(
        CheckpointError,
        match=r"tensor 'embed\.token\.weight' has shape \(16, 16\) in .*model\.safetensors "
        r"but the config builds shape \(20, 16\): the config does not match the weights",
    ):
        load_checkpoint(directory)
    edit_json(directory, lambda record: record["config"].update(vocab_size=16, n_embd=32), reseal=True)
    with pytest.raises(CheckpointError, match=r"tensor '\S+' has shape \(16,\) .*builds shape \(32,\)"):
        load_checkpoint(directory)


def test_config_with_fewer_layers_names_the_extra_tensor(saved):
    directory = saved[0]
    edit_json(directory, lambda record: record["config"].update(n_layer=1), reseal=True)
    with pytest.raises(CheckpointError, match=r"holds a tensor 'decoder\.blocks\.1\..*' .*does not have"):
        load_checkpoint(directory)


def test_config_with_more_layers_names_the_missing_tensor(saved):
    directory = saved[0]
    edit_json(directory, lambda record: record["config"].update(n_layer=3), reseal=True)
    with pytest.raises(CheckpointError, match=r"lacks the tensor 'decoder\.blocks\.2\..*' .*does not match"):
        load_checkpoint(directory)


def test_invalid_config_and_unknown_config_class(saved):
    directory = saved[0]
    edit_json(directory, lambda record: record["config"].update(n_head=3), reseal=True)
    with pytest.raises(
        CheckpointError, match=r"the config in checkpoint.json is invalid: n_embd must be divisible"
    ):
        load_checkpoint(directory)
    edit_json(directory, lambda record: record.update(config_class="os.system"), reseal=True)
    with pytest.raises(CheckpointError, match=r"config_class must be one of .*got 'os.system'"):
        load_checkpoint(directory)


def test_metadata_must_be_json(tmp_path):
    with pytest.raises(CheckpointError, match=r"metadata must be JSON-serialisable.*\.item\(\)"):
        save_checkpoint(
            tmp_path / "bad", tiny_model(), CharTokenizer.from_text(TEXT), {"loss": torch.tensor(1.0)}
        )


def swap_first_two_characters(record: dict) -> None:
    chars = record["tokenizer"]["chars"]
    chars[0], chars[1] = chars[1], chars[0]


@pytest.mark.parametrize(
    "change",
    [
        lambda record: record["config"].update(n_head=4),  # same weights, other attention
        lambda record: record["config"].update(positional="sinusoidal"),
        lambda record: record["config"].update(layer_norm_eps=1e-3),
        swap_first_two_characters,
        lambda record: record.update(config_class="EncoderOnlyConfig"),
    ],
    ids=["n_head", "positional", "layer_norm_eps", "tokenizer", "config_class"],
)
def test_any_edit_that_changes_outputs_fails_the_checksum_naming_the_file(saved, change):
    directory = saved[0]
    edit_json(directory, change)
    with pytest.raises(
        CheckpointError,
        match=r"ckpt/checkpoint\.json does not match its recorded sha256: its config, model class or "
        r"tokenizer was changed after saving.*`make checkpoints`",
    ):
        load_checkpoint(directory)


def test_metadata_is_not_covered_by_the_checksum(saved):
    directory = saved[0]
    edit_json(directory, lambda record: record["metadata"].update(note="trained in class"))
    assert load_checkpoint(directory).metadata["note"] == "trained in class"


def test_checkpoint_json_records_the_checksum_of_config_tokenizer_and_weights(saved):
    directory = saved[0]
    record = json.loads((directory / checkpoints.METADATA_FILE).read_text(encoding="utf-8"))
    assert record["format"] == checkpoints.FORMAT
    weights = checkpoints.file_sha256(directory / checkpoints.WEIGHTS_FILE)
    assert record["sha256"] == checkpoints.record_sha256(record, weights)
    assert record["sha256"] != checkpoints.record_sha256(record, "0" * 64)
    assert record["sha256"] != checkpoints.record_sha256({**record, "tokenizer": {}}, weights)


def test_tokenizer_and_model_vocabularies_must_agree(saved, tmp_path):
    directory = saved[0]
    edit_json(directory, lambda record: record["tokenizer"]["chars"].pop(), reseal=True)
    with pytest.raises(
        CheckpointError,
        match=r"the tokenizer in .*checkpoint\.json must have the model's vocab_size 16, got vocab_size 15",
    ):
        load_checkpoint(directory)
    with pytest.raises(
        CheckpointError, match=r"the tokenizer passed to save_checkpoint must have the model's vocab_size 16"
    ):
        save_checkpoint(tmp_path / "mismatch", tiny_model(), CharTokenizer.from_text("abc"))
    assert not (tmp_path / "mismatch").exists()


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda record: record.update(metadata=None),
            r"'metadata' must be a JSON object, got null",
        ),
        (
            lambda record: record.update(config=[1, 2]),
            r"'config' must be a JSON object, got a list",
        ),
        (lambda record: record.update(tokenizer="chars"), r"'tokenizer' must be a JSON object, got a string"),
        (lambda record: record.update(sha256=7), r"the entry 'sha256' must be a string, got the number 7"),
        (lambda record: record.pop("sha256"), r"lacks the entries \['sha256'\]"),
        (
            lambda record: record.update(format="course_lib-checkpoint-v1"),
            r"has format 'course_lib-checkpoint-v1', expected 'course_lib-checkpoint-v2' \(an older",
        ),
    ],
    ids=["metadata null", "config list", "tokenizer string", "sha256 number", "no sha256", "format v1"],
)
def test_malformed_entries_give_a_clear_error(saved, change, message):
    directory = saved[0]
    edit_json(directory, change)
    with pytest.raises(CheckpointError, match=r"checkpoint\.json.*" + message + r".*`make checkpoints`"):
        load_checkpoint(directory)


def test_checkpoint_json_that_is_not_an_object(saved):
    directory = saved[0]
    (directory / checkpoints.METADATA_FILE).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(CheckpointError, match=r"checkpoint\.json must hold a JSON object, got a list"):
        load_checkpoint(directory)


def test_saved_files_are_readable_by_the_group(tmp_path):
    old = os.umask(0o022)
    try:
        directory = save_checkpoint(tmp_path / "shared", tiny_model(), CharTokenizer.from_text(TEXT))
    finally:
        os.umask(old)
    modes = {path.name: path.stat().st_mode & 0o777 for path in directory.iterdir()}
    assert modes == {"model.safetensors": 0o644, "checkpoint.json": 0o644}


def test_holds_checkpoint(saved, tmp_path):
    assert checkpoints.holds_checkpoint(saved[0])
    assert not checkpoints.holds_checkpoint(tmp_path)
    (tmp_path / checkpoints.WEIGHTS_FILE).write_bytes(b"")
    assert checkpoints.holds_checkpoint(tmp_path)
