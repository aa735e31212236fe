"""One small training loop for language models, and ``python -m course_lib.train``.

The loop is the classic recipe used for GPT-style models (nanoGPT style):

1. draw a random batch of (input, target) windows, targets = inputs shifted by one token;
2. forward pass -> mean cross-entropy loss; backward pass -> gradients;
3. clip the gradient norm (one bad batch cannot throw the weights far);
4. AdamW step with a learning rate that warms up linearly, then decays along a cosine to ``min_lr``;
5. every ``eval_interval`` steps, measure the mean loss over ``eval_iters`` batches of the training and
   of the held-out validation data (the same batches every time, so the curve is not evaluation noise).

Everything random is seeded by ``TrainConfig.seed``: the same seed, model initialisation and data give
the same losses. ``train`` returns a ``History`` that ``course_lib.viz.plot_training_history`` draws.

Command line (character-level GPT on any UTF-8 text; the last 10% is held out for validation)::

    python -m course_lib.train --text data/corpus/python_docs.txt --out runs/my_gpt --max-seconds 60
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn
from tqdm.auto import tqdm

from course_lib import configs
from course_lib.checkpoints import save_checkpoint
from course_lib.cli import (
    INTERRUPTED_STATUS,
    check_out_dir,
    for_option,
    run_command,
    set_threads,
)
from course_lib.data import encode_corpus, get_batch, load_corpus, split_train_val, text_checksum
from course_lib.models import build_model, count_parameters
from course_lib.tokenizers import CharTokenizer
from course_lib.validation import MAX_SEED, CourseInputError, check_int, check_number, check_seed, fail

# ------------------------------------------------------------------------------------------------------------
# Settings and learning-rate schedule
# ------------------------------------------------------------------------------------------------------------


PRECISIONS = ("float32", "bfloat16")


def native_bfloat16() -> bool:
    """True when this CPU multiplies bfloat16 matrices in hardware (AVX512-BF16 or AMX), where bfloat16
    autocast speeds training up; elsewhere it is emulated and slower than float32."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


@dataclass
class TrainConfig:
    """Optimisation settings (the model's shape lives in its own config)."""

    max_steps: int = 2000  # optimizer steps; the cosine schedule ends here
    batch_size: int = 12  # windows per step; each window holds block_size tokens
    learning_rate: float = 1e-3  # peak learning rate, reached after warmup
    min_lr: float = 1e-4  # learning rate at the end of the cosine decay
    warmup_steps: int = 100  # linear warmup from ~0 to learning_rate
    weight_decay: float = 0.1  # AdamW decay, applied to weight matrices only (not biases, norms)
    beta1: float = 0.9  # AdamW momentum
    beta2: float = 0.99  # AdamW second-moment decay (0.99 suits small batches)
    grad_clip: float = 1.0  # clip the global gradient norm to this (0 = no clipping)
    eval_interval: int = 250  # evaluate every this many steps (and at the first and last step)
    eval_iters: int = 20  # batches averaged per evaluation
    max_seconds: float | None = None  # stop once this much wall time has passed (None = no limit)
    seed: int = 0  # seeds batch sampling and dropout
    precision: str = (
        "float32"  # "bfloat16": forward passes under bfloat16 autocast (fast where the CPU has it)
    )

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            fail(
                "precision",
                f"one of {PRECISIONS}",
                repr(self.precision),
                "Use float32 unless native_bfloat16().",
            )
        check_int("max_steps", self.max_steps, minimum=1, fix="Use e.g. 2000.")
        check_int("batch_size", self.batch_size, minimum=1, fix="Use e.g. 12.")
        check_number("learning_rate", self.learning_rate, low=0.0, low_inclusive=False, fix="Use e.g. 1e-3.")
        check_number(
            "min_lr",
            self.min_lr,
            low=0.0,
            high=self.learning_rate,
            fix="Use a value between 0 and learning_rate, e.g. learning_rate / 10.",
        )
        check_int("warmup_steps", self.warmup_steps, minimum=0, fix="Use e.g. 100 (0 = no warmup).")
        check_number("weight_decay", self.weight_decay, low=0.0, fix="Use e.g. 0.1 (0 = no decay).")
        check_number("beta1", self.beta1, low=0.0, high=1.0, high_inclusive=False, fix="Use e.g. 0.9.")
        check_number("beta2", self.beta2, low=0.0, high=1.0, high_inclusive=False, fix="Use e.g. 0.99.")
        check_number("grad_clip", self.grad_clip, low=0.0, fix="Use e.g. 1.0 (0 = no clipping).")
        check_int("eval_interval", self.eval_interval, minimum=1, fix="Use e.g. 250.")
        check_int("eval_iters", self.eval_iters, minimum=1, fix="Use e.g. 20.")
        if self.max_seconds is not None:
            check_number(
                "max_seconds",
                self.max_seconds,
                low=0.0,
                low_inclusive=False,
                fix="Use e.g. 60, or None for no time limit.",
            )
        check_seed("seed", self.seed)


def baby_gpt_reference_training() -> TrainConfig:
    """The well-known CPU "baby GPT" recipe (nanoGPT's shakespeare_char on a laptop).

    Pairs with ``configs.baby_gpt_reference``: batch 12, 2000 steps, AdamW lr 1e-3 -> 1e-4, 100 warmup steps.
    """
    return TrainConfig(
        max_steps=2000,
        batch_size=12,
        learning_rate=1e-3,
        min_lr=1e-4,
        warmup_steps=100,
        weight_decay=0.1,
        beta2=0.99,
        grad_clip=1.0,
        eval_interval=250,
        eval_iters=20,
    )


def course_default_training() -> TrainConfig:
    """The course's default optimisation settings; pairs with ``configs.course_default``.

    Batches of 32 (not 12) keep both CPU cores busy; with them the learning rate can be twice the baby
    GPT's; 450 steps (0.9M training tokens, about 30 s on 2 cores) go below its final loss.
    """
    return TrainConfig(
        max_steps=450,
        batch_size=32,
        learning_rate=2e-3,
        min_lr=1e-4,
        warmup_steps=40,
        weight_decay=0.1,
        beta2=0.99,
        grad_clip=1.0,
        eval_interval=50,
        eval_iters=20,
    )


# name -> (model config preset, training settings preset); shared by the CLI and the benchmark
PRESETS = {
    "course-default": (configs.course_default, course_default_training),
    "baby-gpt-reference": (configs.baby_gpt_reference, baby_gpt_reference_training),
}


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate for optimizer step ``step`` (0-based): linear warmup, then cosine decay to ``min_lr``.

    Warmup: steps 0 .. warmup_steps-1 rise linearly to ``learning_rate``. Then
    lr = min_lr + (learning_rate - min_lr) * (1 + cos(pi * progress)) / 2 with progress going from 0 to 1
    at ``max_steps``.
    """
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / (cfg.warmup_steps + 1)
    decay_steps = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / decay_steps)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.learning_rate - cfg.min_lr)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices and embeddings (2-D tensors) only, not biases or norms."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2))


# ------------------------------------------------------------------------------------------------------------
# The loop
# ------------------------------------------------------------------------------------------------------------


@dataclass
class History:
    """One row per evaluation: the step it happened after and what was measured then.

    ``seconds`` counts training time only (evaluation excluded); ``wall_seconds`` counts everything.
    ``final`` holds the summary of the whole run (see ``train``).
    """

    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    wall_seconds: list[float] = field(default_factory=list)
    final: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain lists and numbers, ready for ``json.dumps``."""
        return asdict(self)


@torch.no_grad()
def estimate_loss(model: nn.Module, data: torch.Tensor, batch_size: int, eval_iters: int, seed: int) -> float:
    """Mean loss over ``eval_iters`` batches of ``data`` (N,), drawn with ``seed`` (same batches every call).

    The model runs in eval mode (dropout off); its train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    for _ in range(eval_iters):
        x, y = get_batch(data, model.config.block_size, batch_size, generator)  # (B, T), (B, T)
        total += model(x.to(device), y.to(device)).loss.item()
    model.train(was_training)
    return total / eval_iters


def train(
    model: nn.Module, train_ids: torch.Tensor, val_ids: torch.Tensor, cfg: TrainConfig, progress: bool = True
) -> History:
    """Train ``model`` on token ids ``train_ids`` (N,) and evaluate on ``val_ids`` (M,); returns a History.

    Stops after ``cfg.max_steps`` steps, once ``cfg.max_seconds`` of wall time have passed, or at Ctrl-C
    (``KeyboardInterrupt``), whichever comes first, and always evaluates at the first and the last step.
    After Ctrl-C the model keeps the steps taken so far (a step cut off inside the optimizer may be
    partly applied), the History is complete up to there, and ``stopped_by`` is ``"interrupted"``; a
    second Ctrl-C during that last evaluation stops everything. ``progress`` shows a tqdm bar with the
    loss. ``history.final`` holds train_loss, val_loss, steps, seconds (training only), eval_seconds,
    tokens_per_second (training tokens per training second) and stopped_by.
    The model is left in eval mode, ready for generation.
    """
    if not isinstance(cfg, TrainConfig):
        fail("cfg", "a TrainConfig", type(cfg).__name__, "Build one with TrainConfig(max_steps=..., ...).")
    block_size = model.config.block_size
    device = next(model.parameters()).device
    torch.manual_seed(cfg.seed)  # dropout draws from the global generator
    batch_generator = torch.Generator().manual_seed(cfg.seed)  # training batches
    eval_seed = cfg.seed + 1  # evaluation batches: a separate, fixed stream
    optimizer = make_optimizer(model, cfg)
    history = History()
    model.train()
    start = time.perf_counter()
    train_seconds = 0.0
    step = 0
    bar = tqdm(total=cfg.max_steps, disable=not progress, desc="training", unit="step", file=sys.stderr)

    def evaluate() -> None:
        """Append one History row: the losses after ``step`` steps."""
        train_loss = estimate_loss(model, train_ids, cfg.batch_size, cfg.eval_iters, eval_seed)
        val_loss = estimate_loss(model, val_ids, cfg.batch_size, cfg.eval_iters, eval_seed)
        history.step.append(step)
        history.train_loss.append(train_loss)
        history.val_loss.append(val_loss)
        history.lr.append(lr_at(max(step - 1, 0), cfg))  # the rate of the step just taken
        history.seconds.append(train_seconds)
        history.wall_seconds.append(time.perf_counter() - start)
        bar.set_postfix(val_loss=f"{val_loss:.3f}", refresh=False)

    try:
        while True:
            out_of_time = cfg.max_seconds is not None and time.perf_counter() - start >= cfg.max_seconds
            finished = step >= cfg.max_steps or out_of_time
            if step % cfg.eval_interval == 0 or finished:
                evaluate()
            if finished:
                stopped_by = "max_seconds" if out_of_time and step < cfg.max_steps else "max_steps"
                break
            tick = time.perf_counter()
            x, y = get_batch(train_ids, block_size, cfg.batch_size, batch_generator)  # (B, T), (B, T)
            loss_value = train_step(
                model,
                optimizer,
                batch=(x.to(device), y.to(device)),
                lr=lr_at(step, cfg),
                grad_clip=cfg.grad_clip,
                precision=cfg.precision,
            )
            train_seconds += time.perf_counter() - tick
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.3f}", val_loss=f"{history.val_loss[-1]:.3f}", refresh=False)
    except KeyboardInterrupt:
        stopped_by = "interrupted"
        drop_partial_row(history)
        if not history.step or history.step[-1] != step:
            evaluate()
    bar.close()
    model.eval()
    history.final = {
        "train_loss": history.train_loss[-1],
        "val_loss": history.val_loss[-1],
        "steps": step,
        "seconds": train_seconds,
        "eval_seconds": (time.perf_counter() - start) - train_seconds,
        "tokens_per_second": step * cfg.batch_size * block_size / max(train_seconds, 1e-9),
        "stopped_by": stopped_by,
    }
    return history


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    batch: tuple[torch.Tensor, torch.Tensor],
    lr: float,
    grad_clip: float,
    precision: str = "float32",
) -> float:
    """One optimizer step on ``batch`` = (inputs (B, T), targets (B, T)) at learning rate ``lr``.

    Forward pass (under bfloat16 autocast when ``precision="bfloat16"``: matrix products in bfloat16,
    weights, gradients and the optimizer in float32), backward pass, gradient norm clipped to
    ``grad_clip`` (0 = no clipping), optimizer step. Returns the batch loss.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16"):
        loss = model(*batch).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()  # waits for the step to finish (matters on a GPU)


def drop_partial_row(history: History) -> None:
    """Cut every History column to the same length: Ctrl-C can land between the appends of one row."""
    columns = (
        history.step,
        history.train_loss,
        history.val_loss,
        history.lr,
        history.seconds,
        history.wall_seconds,
    )
    complete = min(len(column) for column in columns)
    for column in columns:
        del column[complete:]


# ------------------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m course_lib.train`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.train",
        description="Train a character-level decoder-only Transformer (a small GPT) on any UTF-8 text file. "
        "The last 10%% of the text is held out for validation. A tqdm progress bar with the loss goes to "
        "stderr; the last line on stdout is one JSON object with val_loss, train_loss, steps, seconds, "
        "params and tokens_per_second. Ctrl-C stops training, saves the steps so far to --out, prints the "
        "summary and exits with status 130. Every option is checked before anything is loaded or trained.",
    )
    parser.add_argument(
        "--text", required=True, help="UTF-8 text file to train on (the last 10%% is validation)"
    )
    parser.add_argument(
        "--out",
        required=True,
        help="directory for the checkpoint (model.safetensors + checkpoint.json); created if needed, and "
        "it must not hold a checkpoint already unless --overwrite is given",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a checkpoint that --out already holds (default: refuse, so no run is lost)",
    )
    parser.add_argument(
        "--config",
        choices=sorted(PRESETS),
        default="course-default",
        help="model and optimisation preset (default: course-default; baby-gpt-reference is the "
        "4-layer, 128-dim CPU recipe)",
    )
    parser.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="optimizer steps; the learning-rate schedule ends here (default: the preset's)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="stop training after this many seconds of wall time (default: no limit)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help=f"random seed for initialisation and batches, 0 to {MAX_SEED} (default: 0)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch (default: torch's choice, at most the number of CPU cores)",
    )
    return parser


def check_options(args: argparse.Namespace) -> None:
    """Fail on any bad option, named as typed, before the text is read or anything is trained.

    ``--text`` is checked next, by reading it; ``--threads`` by ``set_threads``.
    """
    if args.max_steps is not None:
        check_int("--max-steps", args.max_steps, minimum=1, fix="Use e.g. 2000.")
    if args.max_seconds is not None:
        check_number(
            "--max-seconds",
            args.max_seconds,
            low=0.0,
            low_inclusive=False,
            fix="Use e.g. 60, or leave it out for no time limit.",
        )
    check_seed("--seed", args.seed)
    check_out_dir(args.out, overwrite=args.overwrite)


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The preset's training settings with the command line's changes (options already checked)."""
    cfg = PRESETS[args.config][1]()
    max_steps = cfg.max_steps if args.max_steps is None else args.max_steps
    return replace(
        cfg,
        max_steps=max_steps,
        max_seconds=args.max_seconds,
        seed=args.seed,
        eval_interval=min(cfg.eval_interval, max_steps),
    )


def load_text(path: str) -> tuple[str, CharTokenizer, torch.Tensor]:
    """Read ``--text``: the text, a character tokenizer for it and its token ids (N,)."""
    try:
        text = load_corpus(path)
    except CourseInputError as error:
        raise for_option(error, argument="name_or_path", option="--text") from None
    tokenizer = CharTokenizer.from_text(text)
    return text, tokenizer, encode_corpus(text, tokenizer)


def fit_block_size(config: configs.DecoderOnlyConfig, *, val_length: int, text_length: int) -> None:
    """A short text still trains: shrink the context so one validation window fits."""
    if val_length > config.block_size:
        return
    if val_length < 9:
        fail(
            "--text",
            "a text of at least 90 characters (its last 10% is the validation set)",
            f"{text_length} characters",
            "Pass a longer text file.",
        )
    config.block_size = val_length - 1
    print(f"note: the text is short, so block_size is reduced to {config.block_size}", file=sys.stderr)


def run_cli(args: argparse.Namespace) -> int:
    """Train as the command line asks, save the checkpoint, print the JSON summary; returns the exit status.

    Ctrl-C during training still saves the steps so far, says where, and returns 130.
    """
    check_options(args)
    set_threads(args.threads)
    cfg = train_config(args)
    text, tokenizer, ids = load_text(args.text)
    train_ids, val_ids = split_train_val(ids, val_fraction=0.1)
    config = PRESETS[args.config][0](tokenizer.vocab_size)
    fit_block_size(config, val_length=len(val_ids), text_length=len(ids))

    torch.manual_seed(cfg.seed)
    model = build_model(config)
    history = train(model, train_ids, val_ids, cfg, progress=True)
    summary = {
        "val_loss": history.final["val_loss"],
        "train_loss": history.final["train_loss"],
        "steps": history.final["steps"],
        "seconds": round(history.final["seconds"], 3),
        "eval_seconds": round(history.final["eval_seconds"], 3),
        "params": count_parameters(model),
        "tokens_per_second": round(history.final["tokens_per_second"], 1),
        "stopped_by": history.final["stopped_by"],
        "config": args.config,
        "checkpoint": str(args.out),
    }
    metadata = {
        "metrics": summary,
        "seed": cfg.seed,
        "data_file": os.path.basename(args.text),
        "data_sha256": text_checksum(text),
        "train_config": asdict(cfg),
        "history": history.to_dict(),
    }
    save_checkpoint(args.out, model, tokenizer, metadata)
    print(json.dumps(summary))
    if summary["stopped_by"] != "interrupted":
        return 0
    print(
        f"interrupted (Ctrl-C) after {summary['steps']} steps: saved the checkpoint so far to {args.out}",
        file=sys.stderr,
    )
    return INTERRUPTED_STATUS


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit status (2 with a one-line message for bad input, 130 after Ctrl-C)."""
    return run_command(run_cli, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
