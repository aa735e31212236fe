"""Checkpoints: a trained model saved as safetensors weights plus one readable JSON file.

A checkpoint is a directory with two files::

    my_model/
        model.safetensors   the weights: raw tensors only, no Python code (safe to open from anyone)
        checkpoint.json     everything needed to rebuild the model and trust the weights:
                            model config (with its class), tokenizer, metadata (metrics, seed,
                            data checksum), the sha256 of model.safetensors, the course_lib version

Why not ``torch.save``? It pickles Python objects, and unpickling a file can run arbitrary code.
safetensors stores tensors and nothing else, so loading a checkpoint never executes anything.

Why checksums? If ``model.safetensors`` is truncated by a failed download or overwritten by another
run, or someone edits ``n_head``, ``positional`` or a tokenizer character in ``checkpoint.json``, loading
would quietly give a different model that generates garbage. So ``checkpoint.json`` records two digests:
``metadata.weights_sha256`` (the weights file's bytes) and ``sha256``, which covers everything that
decides the model's outputs: the weights' digest, the model and config classes, the config and the
tokenizer (not the rest of ``metadata``: metrics and notes are free to edit). Loading recomputes both
and names the file that changed before any weight is used.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

import course_lib
from course_lib import configs, models
from course_lib.tokenizers import tokenizer_from_dict
from course_lib.validation import CourseInputError

WEIGHTS_FILE = "model.safetensors"
METADATA_FILE = "checkpoint.json"
FORMAT = "course_lib-checkpoint-v2"  # v2: the sha256 covers config and tokenizer too (v1: the weights only)

# The config classes a checkpoint may name. Looked up by name from this table only, never by import path.
CONFIG_CLASSES = ("DecoderOnlyConfig", "EncoderOnlyConfig", "EncoderDecoderConfig")

# The one fix for any broken checkpoint (course_lib.env's check reuses it).
RETRAIN_HINT = (
    "Restore the course's checkpoints with `git checkout -- data/checkpoints` or rebuild them with "
    "`make checkpoints`; retrain your own with `python -m course_lib.train`."
)
# checkpoint.json's entries and the JSON type each must have.
RECORD_TYPES = {
    "format": str,
    "model_class": str,
    "config_class": str,
    "config": dict,
    "tokenizer": dict,
    "metadata": dict,
    "sha256": str,
}
JSON_NAMES = {str: "a string", list: "a list", dict: "a JSON object"}


class CheckpointError(CourseInputError):
    """A checkpoint directory is missing, incomplete, changed or does not match its own config."""


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` returns: a ready model (in eval mode), its tokenizer and the metadata dict."""

    model: nn.Module
    tokenizer: Any
    metadata: dict


def file_sha256(path: Path) -> str:
    """The sha256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def record_sha256(record: dict, weights_sha256: str) -> str:
    """The sha256 of everything in ``record`` (a checkpoint.json dict) that decides the model's outputs:
    the weights file's digest ``weights_sha256``, the model and config classes, the config, the tokenizer."""
    covered = {key: record.get(key) for key in ("model_class", "config_class", "config", "tokenizer")}
    covered["weights_sha256"] = weights_sha256
    canonical = json.dumps(covered, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def holds_checkpoint(directory: Path) -> bool:
    """True if ``directory`` already holds a checkpoint file (that saving there would replace)."""
    return any((directory / name).exists() for name in (WEIGHTS_FILE, METADATA_FILE))


def save_checkpoint(
    directory: str | Path, model: nn.Module, tokenizer: Any, metadata: dict | None = None
) -> Path:
    """Write ``model.safetensors`` and ``checkpoint.json`` into ``directory`` (created if needed).

    model: a course_lib model (it has ``.config``). tokenizer: a course tokenizer (it has ``to_dict()``)
    with the model's ``vocab_size``. metadata: JSON-serialisable facts worth keeping, e.g.
    ``{"metrics": {...}, "seed": 0, "data_sha256": "..."}``. The sha256 of the weights file and the
    course_lib version are added. Both files get the permissions any new file gets here (with the usual
    umask 022: readable by the group, e.g. on a shared JupyterHub). Returns the directory.
    """
    _check_vocab_sizes(
        tokenizer.vocab_size,
        model.config.vocab_size,
        tokenizer_name="the tokenizer passed to save_checkpoint",
        fix="Save the model with the tokenizer it was built for.",
    )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights_path = directory / WEIGHTS_FILE
    save_file(unique_tensors(model), str(weights_path), metadata={"format": FORMAT})
    full_metadata = dict(metadata or {})
    full_metadata["weights_sha256"] = file_sha256(weights_path)
    full_metadata["course_lib_version"] = course_lib.__version__
    record = {
        "format": FORMAT,
        "model_class": type(model).__name__,
        "config_class": type(model.config).__name__,
        "config": model.config.to_dict(),
        "tokenizer": tokenizer.to_dict(),
        "metadata": full_metadata,
    }
    record["sha256"] = record_sha256(record, full_metadata["weights_sha256"])
    write_record(directory, record)
    shutil.copymode(directory / METADATA_FILE, weights_path)  # safetensors writes owner-only (0600) files
    return directory


def write_record(directory: Path, record: dict) -> None:
    """Write ``record`` as ``directory/checkpoint.json`` (sorted keys: same record, same bytes)."""
    try:
        text = json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False)
    except TypeError as error:
        raise CheckpointError(
            f"metadata must be JSON-serialisable (numbers, strings, lists, dicts), got an error: {error}. "
            "Convert tensors with .item() or .tolist() before saving."
        ) from None
    (directory / METADATA_FILE).write_text(text + "\n", encoding="utf-8")


def unique_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict with tied weights stored once (under the first name, in module order).

    With ``tie_weights`` the output head and the token embedding are one tensor under two names;
    safetensors refuses to store shared memory twice, and loading restores both names anyway.
    """
    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, tensor in model.state_dict().items():
        if tensor.data_ptr() in seen:
            continue  # an alias of a tensor already kept
        seen.add(tensor.data_ptr())
        tensors[name] = tensor.detach().cpu().contiguous()
    return tensors


def load_checkpoint(directory: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model and tokenizer saved by ``save_checkpoint``; the model is returned in eval mode.

    Raises ``CheckpointError`` with a message naming the file, saying what is wrong and what to do, when
    the directory or a file is missing, ``checkpoint.json`` is not valid JSON or has an entry of the wrong
    type, the weights file's sha256 differs from the recorded one, the config, classes or tokenizer were
    changed after saving, the weights do not fit the config, or the tokenizer's vocabulary size is not
    the model's.
    """
    directory = Path(directory)
    record = _read_record(directory)
    weights_path = directory / WEIGHTS_FILE
    weights_sha256 = file_sha256(weights_path)
    _check_checksums(directory, record, weights_sha256)
    model = _build_model(record)
    try:
        tensors = load_file(str(weights_path), device=str(device))
    except SafetensorError as error:
        raise CheckpointError(
            f"{weights_path} is not a readable safetensors file ({error}). {RETRAIN_HINT}"
        ) from None
    _load_weights(model, tensors, weights_path)
    try:
        tokenizer = tokenizer_from_dict(record["tokenizer"])
    except (CourseInputError, KeyError, TypeError, ValueError) as error:
        raise CheckpointError(
            f"{directory / METADATA_FILE} has an unusable tokenizer entry: {error}. {RETRAIN_HINT}"
        ) from None
    _check_vocab_sizes(
        tokenizer.vocab_size,
        model.config.vocab_size,
        tokenizer_name=f"the tokenizer in {directory / METADATA_FILE}",
        fix=RETRAIN_HINT,
    )
    model.to(device).eval()
    return Checkpoint(model=model, tokenizer=tokenizer, metadata=record["metadata"])


def _read_record(directory: Path) -> dict:
    """Read ``checkpoint.json`` and check that it has every entry, each of the right JSON type."""
    if not directory.is_dir():
        raise CheckpointError(
            f"checkpoint directory {str(directory)!r} does not exist. Check the path, or create it with "
            "`make checkpoints` or `python -m course_lib.train --text FILE --out DIR`."
        )
    for name in (METADATA_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise CheckpointError(
                f"checkpoint directory {str(directory)!r} has no {name} (a checkpoint needs both "
                f"{WEIGHTS_FILE} and {METADATA_FILE}). {RETRAIN_HINT}"
            )
    path = directory / METADATA_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(
            f"{path} is not valid JSON ({error}); the file is corrupted. {RETRAIN_HINT}"
        ) from None
    if not isinstance(record, dict):
        raise CheckpointError(f"{path} must hold a JSON object, got {_json_type(record)}. {RETRAIN_HINT}")
    missing = [key for key in RECORD_TYPES if key not in record]
    if record.get("format") not in (None, FORMAT):
        raise CheckpointError(
            f"{path} has format {record['format']!r}, expected {FORMAT!r} (an older course_lib wrote it, "
            f"whose checksum did not cover the config and tokenizer). {RETRAIN_HINT}"
        )
    if missing:
        raise CheckpointError(
            f"{path} lacks the entries {missing}; it was not written by save_checkpoint. {RETRAIN_HINT}"
        )
    for key, expected in RECORD_TYPES.items():
        if not isinstance(record[key], expected):
            raise CheckpointError(
                f"{path}: the entry {key!r} must be {JSON_NAMES[expected]}, got "
                f"{_json_type(record[key])}. {RETRAIN_HINT}"
            )
    return record


def _json_type(value: object) -> str:
    """How a JSON value reads in a message: ``null``, ``a list``, ``the number 3``..."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return f"the {'boolean' if isinstance(value, bool) else 'number'} {json.dumps(value)}"
    return f"{JSON_NAMES[type(value)]} {json.dumps(value, ensure_ascii=False)[:40]}"


def _check_checksums(directory: Path, record: dict, weights_sha256: str) -> None:
    """The weights file and checkpoint.json must both be as they were saved."""
    expected = record["metadata"].get("weights_sha256")
    if weights_sha256 != expected:
        raise CheckpointError(
            f"{directory / WEIGHTS_FILE} does not match the sha256 recorded in {METADATA_FILE} "
            f"(expected {expected}, got {weights_sha256}): the file was changed or corrupted after saving. "
            f"{RETRAIN_HINT}"
        )
    if record_sha256(record, weights_sha256) != record["sha256"]:
        raise CheckpointError(
            f"{directory / METADATA_FILE} does not match its recorded sha256: its config, model class or "
            f"tokenizer was changed after saving, so the model would not be the one that was trained. "
            f"{RETRAIN_HINT}"
        )


def _check_vocab_sizes(tokenizer_size: int, model_size: int, *, tokenizer_name: str, fix: str) -> None:
    """A tokenizer and a model belong together only with the same vocabulary size."""
    if tokenizer_size != model_size:
        raise CheckpointError(
            f"{tokenizer_name} must have the model's vocab_size {model_size}, got vocab_size "
            f"{tokenizer_size}: the model would read or write token ids the tokenizer does not have. {fix}"
        )


def _build_model(record: dict) -> nn.Module:
    """Rebuild the config from its class name and dict, then an untrained model of that config."""
    name = record["config_class"]
    if name not in CONFIG_CLASSES:
        raise CheckpointError(f"config_class must be one of {CONFIG_CLASSES}, got {name!r}. {RETRAIN_HINT}")
    try:
        config = getattr(configs, name).from_dict(record["config"])
    except (CourseInputError, TypeError) as error:
        raise CheckpointError(f"the config in {METADATA_FILE} is invalid: {error} {RETRAIN_HINT}") from None
    return models.build_model(config)


def _load_weights(model: nn.Module, tensors: dict[str, torch.Tensor], weights_path: Path) -> None:
    """Copy ``tensors`` into ``model``, naming the first tensor whose name or shape does not fit."""
    expected = model.state_dict()
    for name, tensor in tensors.items():
        if name not in expected:
            raise CheckpointError(
                f"{weights_path} holds a tensor {name!r} that the model built from the config does not have: "
                f"the config does not match the weights. {RETRAIN_HINT}"
            )
        if tensor.shape != expected[name].shape:
            raise CheckpointError(
                f"tensor {name!r} has shape {tuple(tensor.shape)} in {weights_path} but the config builds "
                f"shape {tuple(expected[name].shape)}: the config does not match the weights. {RETRAIN_HINT}"
            )
    missing = [
        name for name in expected if name not in tensors and not _is_tied_alias(name, expected, tensors)
    ]
    if missing:
        raise CheckpointError(
            f"{weights_path} lacks the tensor {missing[0]!r} (and {len(missing) - 1} more) that the config's "
            f"model needs: the config does not match the weights. {RETRAIN_HINT}"
        )
    model.load_state_dict(tensors, strict=False)


def _is_tied_alias(name: str, state: dict[str, torch.Tensor], tensors: dict[str, torch.Tensor]) -> bool:
    """True if model tensor ``name`` shares storage with a saved one (tied weights are stored once)."""
    pointer = state[name].data_ptr()
    return any(other in tensors and state[other].data_ptr() == pointer for other in state if other != name)
