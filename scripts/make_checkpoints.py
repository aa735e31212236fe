"""Train the small pretrained checkpoints the notebooks load (``make checkpoints``).

    python scripts/make_checkpoints.py                 # every checkpoint (a few minutes on 2 cores)
    python scripts/make_checkpoints.py --only char_gpt_python_docs

Each checkpoint goes to data/checkpoints/<name>/ (model.safetensors + checkpoint.json, <= 5 MB) and is
deterministic given its seed: training runs a fixed number of steps (no time budget) on a fixed number
of threads, and checkpoint.json records no clock readings, so re-running on the same machine and torch
version writes the same bytes.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(
    0, str(REPO)
)  # so `python scripts/make_checkpoints.py` finds course_lib without installing it

from course_lib.checkpoints import WEIGHTS_FILE, load_checkpoint, save_checkpoint  # noqa: E402
from course_lib.data import encode_corpus, load_corpus, split_train_val, text_checksum  # noqa: E402
from course_lib.decoding import generate  # noqa: E402
from course_lib.models import build_model, count_parameters  # noqa: E402
from course_lib.tokenizers import CharTokenizer  # noqa: E402
from course_lib.train import PRESETS, train  # noqa: E402

OUT_DIR = REPO / "data" / "checkpoints"
MAX_BYTES = 5 * 1024 * 1024
THREADS = 2  # fixed: float sums can round differently with another thread count


@dataclass
class Recipe:
    """How one checkpoint is made."""

    corpus: str  # a course_lib.data corpus name
    preset: str  # a course_lib.train preset (model config + training settings)
    max_steps: int
    seed: int
    prompt: str  # printed with a greedy sample after training, as a sanity check


RECIPES = {
    "char_gpt_python_docs": Recipe(
        corpus="python-docs", preset="course-default", max_steps=1000, seed=0, prompt="The for statement"
    ),
}


def checkpoint_bytes(directory: Path) -> int:
    """Bytes on disk of one checkpoint directory (weights + checkpoint.json)."""
    return sum(path.stat().st_size for path in directory.iterdir())


def make_checkpoint(name: str, recipe: Recipe) -> Path:
    """Train ``recipe`` and save it as data/checkpoints/<name>; returns the directory."""
    text = load_corpus(recipe.corpus)
    tokenizer = CharTokenizer.from_text(text)
    train_ids, val_ids = split_train_val(encode_corpus(text, tokenizer), val_fraction=0.1)
    model_preset, train_preset = PRESETS[recipe.preset]
    cfg = replace(
        train_preset(),
        max_steps=recipe.max_steps,
        seed=recipe.seed,
        eval_interval=max(1, recipe.max_steps // 20),
    )
    torch.manual_seed(recipe.seed)
    model = build_model(model_preset(tokenizer.vocab_size))
    start = time.perf_counter()
    history = train(model, train_ids, val_ids, cfg, progress=True)
    seconds = time.perf_counter() - start
    metadata = {
        "name": name,
        "corpus": recipe.corpus,
        "data_sha256": text_checksum(text),
        "preset": recipe.preset,
        "seed": recipe.seed,
        "threads": THREADS,
        "torch": torch.__version__,
        "train_config": asdict(cfg),
        "metrics": {
            "val_loss": history.final["val_loss"],
            "train_loss": history.final["train_loss"],
            "steps": history.final["steps"],
            "params": count_parameters(model),
        },
        # the loss curve for notebooks to plot (clock readings left out so the file is reproducible)
        "history": {key: getattr(history, key) for key in ("step", "train_loss", "val_loss", "lr")},
    }
    directory = save_checkpoint(OUT_DIR / name, model, tokenizer, metadata)
    size = checkpoint_bytes(directory)
    if size > MAX_BYTES:
        raise SystemExit(
            f"{directory} is {size:,} bytes, over the limit of {MAX_BYTES:,}: make the model smaller."
        )
    loaded = load_checkpoint(directory)  # the round trip must work
    prompt = torch.tensor([loaded.tokenizer.encode(recipe.prompt)])
    sample = loaded.tokenizer.decode(generate(loaded.model, prompt, 120, strategy="greedy")[0].tolist())
    final = history.final
    print(
        f"{name}: val loss {final['val_loss']:.4f} after {final['steps']} steps in {seconds:.0f} s, "
        f"{size / 1e6:.2f} MB, sha256 of {WEIGHTS_FILE} {loaded.metadata['weights_sha256'][:16]}..."
    )
    print(f"  sample: {sample!r}")
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Train the small pretrained checkpoints in data/checkpoints/."
    )
    parser.add_argument("--only", choices=sorted(RECIPES), help="make just this checkpoint")
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    for name, recipe in RECIPES.items():
        if args.only in (None, name):
            make_checkpoint(name, recipe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
