"""Train the small pretrained checkpoints the notebooks load (``make checkpoints``).

    python scripts/make_checkpoints.py                 # every checkpoint (a few minutes on 2 cores)
    python scripts/make_checkpoints.py --only char_gpt_python_docs

Each checkpoint goes to data/checkpoints/<name>/ (model.safetensors + checkpoint.json, <= 5 MB) and is
deterministic given its seed: training runs a fixed number of steps (no time budget) on a fixed number
of threads, so re-running on the same machine and torch version writes the same weights. The language
model's checkpoint.json records no clock readings (same bytes too); the two task models of notebook 05
(an encoder-decoder and a decoder-only model of about the same size, trained on the "dates" task) record
their training time in whole seconds, because the notebook's comparison table reports it.
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

from course_lib import images, music  # noqa: E402
from course_lib.checkpoints import WEIGHTS_FILE, load_checkpoint, save_checkpoint  # noqa: E402
from course_lib.configs import DecoderOnlyConfig, EncoderDecoderConfig, TransformerConfig  # noqa: E402
from course_lib.data import encode_corpus, load_corpus, split_train_val, text_checksum  # noqa: E402
from course_lib.decoding import generate  # noqa: E402
from course_lib.models import build_model, count_parameters  # noqa: E402
from course_lib.tasks import (  # noqa: E402
    Seq2SeqVocab,
    exact_match,
    load_split,
    predict,
    task_loss,
    train_on_pairs,
)
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


@dataclass
class TaskRecipe:
    """How one task model is made: a model shape trained on a course_lib.tasks task."""

    task: str
    family: str  # "encoder-decoder" or "decoder-only"
    n_layer: int  # encoder blocks + decoder blocks for the encoder-decoder, blocks for the decoder-only model
    steps: int
    batch_size: int = 64
    learning_rate: float = 3e-3
    n_embd: int = 64
    n_head: int = 4
    block_size: int = 40  # BOS + the longest source (21) + SEP + 10 + EOS fits
    seed: int = 0

    def config(self, vocab_size: int) -> TransformerConfig:
        """The model config: rotary positions; the encoder-decoder splits its blocks half and half."""
        shape = dict(
            vocab_size=vocab_size,
            block_size=self.block_size,
            n_head=self.n_head,
            n_embd=self.n_embd,
            positional="rotary",
        )
        if self.family == "encoder-decoder":
            return EncoderDecoderConfig(n_layer=self.n_layer // 2, n_decoder_layer=self.n_layer // 2, **shape)
        return DecoderOnlyConfig(n_layer=self.n_layer, **shape)


# Matched budget: 2 + 2 encoder-decoder blocks (an encoder block ~12 C^2 weights, a decoder block with
# cross-attention ~16 C^2) against 5 decoder-only blocks (~12 C^2 each): 237k against 253k parameters.
TASK_RECIPES = {
    "dates_encoder_decoder": TaskRecipe(task="dates", family="encoder-decoder", n_layer=4, steps=300),
    "dates_decoder_only": TaskRecipe(task="dates", family="decoder-only", n_layer=5, steps=300),
}


def task_metrics(model: torch.nn.Module, vocab: Seq2SeqVocab, *, task: str) -> dict:
    """Validation loss (every val pair in one batch) and greedy exact match on val, test and hard."""
    with torch.no_grad():
        metrics = {"val_loss": task_loss(model, load_split(task, "val"), vocab=vocab).item()}
    for split in ("val", "test", "hard"):
        pairs = load_split(task, split)
        answers = predict(model, [source for source, _ in pairs], vocab=vocab)
        metrics[f"{split}_exact_match"] = exact_match(answers, [target for _, target in pairs])
    return metrics


def make_task_checkpoint(name: str, recipe: TaskRecipe) -> Path:
    """Train ``recipe`` and save it as data/checkpoints/<name>; returns the directory."""
    vocab = Seq2SeqVocab.for_task(recipe.task)
    torch.manual_seed(recipe.seed)
    model = build_model(recipe.config(vocab.vocab_size))
    start = time.perf_counter()
    losses = train_on_pairs(
        model,
        load_split(recipe.task, "train"),
        vocab=vocab,
        steps=recipe.steps,
        batch_size=recipe.batch_size,
        learning_rate=recipe.learning_rate,
        seed=recipe.seed,
    )
    seconds = time.perf_counter() - start
    metrics = task_metrics(model, vocab, task=recipe.task)
    metadata = {
        "name": name,
        "task": recipe.task,
        "family": recipe.family,
        "seed": recipe.seed,
        "threads": THREADS,
        "torch": torch.__version__,
        "recipe": asdict(recipe),
        "metrics": metrics
        | {"steps": recipe.steps, "params": count_parameters(model), "train_seconds": round(seconds)},
        "train_loss": losses[:: max(1, recipe.steps // 50)],  # every 6th loss: the curve, not every step
    }
    directory, size = save_within_limit(name, model, vocab, metadata)
    load_checkpoint(directory)  # the round trip must work
    print(
        f"{name}: {count_parameters(model):,} parameters, {recipe.steps} steps in {seconds:.0f} s, "
        f"exact match val {metrics['val_exact_match']:.3f} test {metrics['test_exact_match']:.3f} "
        f"hard {metrics['hard_exact_match']:.3f}, {size / 1e6:.2f} MB"
    )
    return directory


def checkpoint_bytes(directory: Path) -> int:
    """Bytes on disk of one checkpoint directory (weights + checkpoint.json)."""
    return sum(path.stat().st_size for path in directory.iterdir())


def save_within_limit(name: str, model: torch.nn.Module, tokenizer, metadata: dict) -> tuple[Path, int]:
    """Save data/checkpoints/<name> and return (its directory, its size); stop if it is over MAX_BYTES."""
    directory = save_checkpoint(OUT_DIR / name, model, tokenizer, metadata)
    size = checkpoint_bytes(directory)
    if size > MAX_BYTES:
        raise SystemExit(
            f"{directory} is {size:,} bytes, over the limit of {MAX_BYTES:,}: make the model smaller."
        )
    return directory, size


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
    directory, size = save_within_limit(name, model, tokenizer, metadata)
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


@dataclass
class ImageRecipe:
    """How one digits generator of notebook 07 is made (course_lib.images): method, steps, seed."""

    method: str  # "raster" (a mini DALL-E, DecoderOnlyLM) or "maskgit" (EncoderOnlyLM)
    steps: int
    batch_size: int = 64
    learning_rate: float = 3e-3
    dropout: float = 0.0
    seed: int = 0
    threads: int = 1  # small enough that one thread is fastest (and leaves the other core free)


IMAGE_RECIPES = {
    "digits_raster_gpt": ImageRecipe(method="raster", steps=3000, dropout=0.1),  # no dropout: overfits
    "digits_maskgit": ImageRecipe(method="maskgit", steps=2500),
}


def make_image_checkpoint(name: str, recipe: ImageRecipe) -> Path:
    """Train ``recipe`` on the digits' training split and save it as data/checkpoints/<name>."""
    split = images.load_digit_images()
    threads_before = torch.get_num_threads()
    torch.set_num_threads(recipe.threads)  # float sums are reproducible for a fixed thread count
    torch.manual_seed(recipe.seed)
    model = build_model(images.image_model_config(recipe.method, dropout=recipe.dropout))
    start = time.perf_counter()
    losses = images.train_image_model(
        model,
        images.sequences(split.train_images, split.train_labels),
        steps=recipe.steps,
        batch_size=recipe.batch_size,
        learning_rate=recipe.learning_rate,
        seed=recipe.seed,
    )
    seconds = time.perf_counter() - start
    metrics = images.checkpoint_metrics(model, split, images.train_judge(split))
    torch.set_num_threads(threads_before)
    metadata = {
        "name": name,
        "seed": recipe.seed,
        "threads": recipe.threads,
        "torch": torch.__version__,
        "recipe": asdict(recipe),
        "metrics": metrics | {"steps": recipe.steps, "params": count_parameters(model)},
        "train_loss": losses[:: max(1, recipe.steps // 50)],
    }
    directory, size = save_within_limit(name, model, images.digit_tokenizer(), metadata)
    load_checkpoint(directory)  # the round trip must work
    print(
        f"{name}: {count_parameters(model):,} parameters, {recipe.steps} steps in {seconds:.0f} s, "
        f"test loss {metrics['test_loss']:.3f}, judge accuracy {metrics['accuracy']:.2f}, "
        f"{metrics['copies']} copies of training images, {size / 1e6:.2f} MB"
    )
    return directory


@dataclass
class TuneRecipe:
    """How the folk-tune model of notebook 07 is made (course_lib.music.train_tune_model's settings)."""

    n_layer: int = 3
    n_embd: int = 96
    steps: int = 1200
    batch_size: int = 16
    learning_rate: float = 3e-3
    seed: int = 0


TUNE_RECIPES = {"tunes_gpt": TuneRecipe()}
TUNE_THREADS = 1  # fixed, like THREADS; one thread because the course machine is shared


def make_tune_checkpoint(name: str, recipe: TuneRecipe) -> Path:
    """Train the tune model, record its validation loss and bar accuracy, save data/checkpoints/<name>."""
    torch.set_num_threads(TUNE_THREADS)
    tunes = music.load_tunes()
    model, tokenizer, history = music.train_tune_model(tunes, **asdict(recipe))
    metrics = music.tune_metrics(model, tokenizer) | {
        "val_loss": history.final["val_loss"],
        "steps": history.final["steps"],
        "params": count_parameters(model),
        "real_bar_accuracy": music.bar_accuracy(music.split_tunes(tunes)[1]),
    }
    metadata = {
        "name": name,
        "data_sha256": text_checksum(music.TUNES_FILE.read_text(encoding="utf-8")),
        "recipe": asdict(recipe),
        "threads": TUNE_THREADS,
        "torch": torch.__version__,
        "metrics": metrics,
        "history": {key: getattr(history, key) for key in ("step", "train_loss", "val_loss")},
    }
    directory, size = save_within_limit(name, model, tokenizer, metadata)
    music.load_tune_model(directory)  # the round trip must work
    print(
        f"{name}: val loss {metrics['val_loss']:.3f}, bar accuracy {metrics['bar_accuracy']:.3f} "
        f"(real tunes {metrics['real_bar_accuracy']:.3f}), {size / 1e6:.2f} MB"
    )
    torch.set_num_threads(THREADS)
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Train the small pretrained checkpoints in data/checkpoints/."
    )
    parser.add_argument(
        "--only",
        choices=sorted(RECIPES | TASK_RECIPES | IMAGE_RECIPES | TUNE_RECIPES),
        help="make just this checkpoint",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    for name, recipe in RECIPES.items():
        if args.only in (None, name):
            make_checkpoint(name, recipe)
    for name, task_recipe in TASK_RECIPES.items():
        if args.only in (None, name):
            make_task_checkpoint(name, task_recipe)
    for name, image_recipe in IMAGE_RECIPES.items():
        if args.only in (None, name):
            make_image_checkpoint(name, image_recipe)
    for name, tune_recipe in TUNE_RECIPES.items():
        if args.only in (None, name):
            make_tune_checkpoint(name, tune_recipe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
