"""The evidence behind the week's two discussion prompts, for notebook 09 and the hand-in export.

Two sources, and never a retyped number:

- **recomputed** (``recorded_evidence``): what the shipped checkpoints' records hold (``make checkpoints``
  measured it when it trained them) and arithmetic from ``course_lib.attention_cost``, plus this machine's
  free memory;
- **saved by a notebook** (``save_notebook_evidence`` / ``load_notebook_evidence``): the evidence table
  notebooks 05 and 07 print in their discussion section, measured on the student's machine in the
  student's own run, kept next to the answers in ``answers/evidence/<prompt id>.json``.

    rows = recorded_evidence("07-high-resolution")     # {claim: value}
    rows = week_evidence("07-high-resolution")         # the same, plus "your run: ..." rows if saved
    save_notebook_evidence("05-encoder-vs-decoder", {"exact match, test": "97.6% vs 99.0%"})
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from course_lib import attention_cost as cost
from course_lib.data import DATA_DIR
from course_lib.discussion.prompts import PROMPTS, check_prompt_id
from course_lib.discussion.store import AnswerStore, atomic_write_text
from course_lib.validation import fail

EVIDENCE_FORMAT = "course-evidence/1"
MASKGIT_STEPS = 8  # the K at which make checkpoints measured the shipped MaskGIT (images.checkpoint_metrics)
VIDEO = {"frames": 10 * 24, "side": 512, "patch": 16, "n_layer": 24, "d_model": 1024}  # 10 s at 24 fps


def recorded_metrics(checkpoint: str) -> dict:
    """The metrics ``make checkpoints`` recorded for a shipped checkpoint (its checkpoint.json)."""
    path = DATA_DIR / "checkpoints" / checkpoint / "checkpoint.json"
    if not path.is_file():
        fail("checkpoint", "a shipped checkpoint's name", repr(checkpoint), "Run `make checkpoints`.")
    return json.loads(path.read_text())["metadata"]["metrics"]


def recorded_evidence(prompt_id: str, *, available_bytes: int | None = None) -> dict[str, str]:
    """{claim: value} for one prompt, from the checkpoint records and arithmetic (see the module docstring).

    ``available_bytes``: the memory to compare with (default: what psutil reports free on this machine).
    """
    check_prompt_id("prompt_id", prompt_id)
    if prompt_id == "05-encoder-vs-decoder":
        return _families_evidence()
    if prompt_id == "07-high-resolution":
        return _high_resolution_evidence(available_bytes or cost.available_memory_bytes())
    fail("prompt_id", f"one of {', '.join(map(repr, PROMPTS))}", repr(prompt_id), "Check the spelling.")


def _families_evidence() -> dict[str, str]:
    ed, do = recorded_metrics("dates_encoder_decoder"), recorded_metrics("dates_decoder_only")
    return {
        "parameters (encoder-decoder vs decoder-only)": f"{ed['params']:,} vs {do['params']:,}",
        "exact match, date formats seen in training": (
            f"{ed['test_exact_match']:.1%} vs {do['test_exact_match']:.1%}"
        ),
        "exact match, 4 unseen date formats": f"{ed['hard_exact_match']:.1%} vs {do['hard_exact_match']:.1%}",
        "training steps (same recipe)": f"{ed['steps']} vs {do['steps']}",
    }


def _high_resolution_evidence(available_bytes: int) -> dict[str, str]:
    pixel_tokens = 256 * 256
    pixel_peak = cost.predicted_peak_bytes(cost.score_pairs("full", grid=256))
    patch_grid = cost.grid_side(256, 16)
    raster, maskgit = recorded_metrics("digits_raster_gpt"), recorded_metrics("digits_maskgit")
    grid = cost.grid_side(VIDEO["side"], VIDEO["patch"])
    video_tokens = VIDEO["frames"] * grid * grid
    video_peak = cost.predicted_peak_bytes(cost.score_pairs("full", grid=grid, frames=VIDEO["frames"]))
    kv = cost.kv_cache_bytes(video_tokens, n_layer=VIDEO["n_layer"], d_model=VIDEO["d_model"])
    return {
        "256 x 256 image, one token per pixel: tokens": f"{pixel_tokens:,}",
        "its attention table, one head, one layer (written out)": f"{pixel_peak / 2**30:,.0f} GiB",
        "free memory on this machine": f"{available_bytes / 2**30:,.1f} GiB",
        "the same image in 16 x 16 patches: tokens": f"{patch_grid**2:,}",
        "doubling the side multiplies full attention's pairs by": (
            f"{cost.score_pairs('full', grid=2 * patch_grid) // cost.score_pairs('full', grid=patch_grid)}"
        ),
        "8 x 8 windowed attention at 64 x 64 tokens: pairs vs full": (
            f"{cost.score_pairs('window', grid=64) / cost.score_pairs('full', grid=64):.2%}"
        ),
        "digits, raster vs MaskGIT (K = 8): sequential passes": (
            f"{cost.generation_cost('raster, KV cache', 64)['passes']} vs "
            f"{cost.generation_cost('MaskGIT', 64, steps=MASKGIT_STEPS)['passes']}"
        ),
        "digits, judge accuracy raster vs MaskGIT": f"{raster['accuracy']:.1%} vs {maskgit['accuracy']:.1%}",
        "digits, within-class diversity raster vs MaskGIT": (
            f"{raster['diversity']:.2f} vs {maskgit['diversity']:.2f}"
        ),
        "10 s of 512 px video at 24 fps, 16 px patches: tokens": f"{video_tokens:,}",
        "its attention table, one head, one layer": f"{video_peak / 2**30:,.0f} GiB",
        "its KV cache (24 layers, width 1,024, bf16)": f"{kv / 2**30:.1f} GiB",
    }


def evidence_folder(folder: str | Path | None = None) -> Path:
    """Where notebooks save their evidence: ``evidence/`` in the answers folder (see AnswerStore)."""
    return AnswerStore(folder).folder / "evidence"


def save_notebook_evidence(
    prompt_id: str, evidence: Mapping[str, object], *, notebook: str, folder: str | Path | None = None
) -> Path:
    """Save a notebook's evidence table {claim: value} for ``prompt_id`` (atomically); returns the file.

    Values are stored as the text the notebook printed (``str(value)``), so the export shows them as seen.
    """
    check_prompt_id("prompt_id", prompt_id)
    if not isinstance(evidence, Mapping) or not evidence:
        fail("evidence", "a non-empty dict {claim: value}", repr(evidence)[:80], "Pass the printed table.")
    target = evidence_folder(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{prompt_id}.json"
        document = {
            "format": EVIDENCE_FORMAT,
            "prompt_id": prompt_id,
            "notebook": notebook,
            "rows": {str(claim): str(value) for claim, value in evidence.items()},
        }
        atomic_write_text(path, json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    except OSError as error:
        fail(
            "folder",
            "a folder you can write to",
            f"{str(target)!r} ({error.strerror or error})",
            "Make it writable, or set COURSE_ANSWERS_DIR to a folder you own before starting Jupyter.",
        )
    return path


def load_notebook_evidence(prompt_id: str, *, folder: str | Path | None = None) -> dict | None:
    """The saved table {"notebook", "rows": {claim: value}} for ``prompt_id``, or None if the notebook has
    not been run here (or its file is unreadable: it is only a copy of what the notebook recomputes)."""
    check_prompt_id("prompt_id", prompt_id)
    path = evidence_folder(folder) / f"{prompt_id}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("format") != EVIDENCE_FORMAT:
        return None
    rows = document.get("rows")
    if not isinstance(rows, dict) or not all(isinstance(v, str) for v in rows.values()):
        return None
    return {"notebook": str(document.get("notebook", "")), "rows": rows}


def week_evidence(prompt_id: str, *, folder: str | Path | None = None) -> dict[str, str]:
    """All the evidence for ``prompt_id``: the recomputed rows, then the notebook's saved rows (if it was
    run here) with their claims prefixed "your run: ". What notebook 09 shows and the export carries."""
    rows = recorded_evidence(prompt_id)
    saved = load_notebook_evidence(prompt_id, folder=folder)
    if saved is not None:
        rows.update({f"your run: {claim}": value for claim, value in saved["rows"].items()})
    return rows
