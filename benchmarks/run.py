"""``make bench``: how fast the course's models train and generate on this machine.

Measurements, written to benchmarks/results.json, results.md and results.png (the README's benchmark
table is rendered from results.json by ``readme_table``):

1. Time to a target loss, on both shipped corpora (English documentation and Python code). The
   reference is the classic CPU "baby GPT" recipe (4 layers, 4 heads, 128 dims, context 64, batch 12,
   2000 steps, AdamW lr 1e-3). It trains first; its final validation loss becomes the target. Then the
   course's default model trains on the same text with the same default settings, and we compare the
   training time each needed to first reach the target (evaluation excluded; it is reported separately).
   Crossing times are interpolated linearly between evaluations. On a CPU with native bfloat16 (AVX512-BF16
   or AMX) the course default also trains under bfloat16 autocast, and its loss curve is compared with the
   float32 one. On the documentation corpus the course default also trains with a learned position table
   instead of rotary positions (the claim in ``configs.course_default``).
2. Hardware efficiency: training FLOP/s against the float32 matmul FLOP/s measured here.
   Training FLOPs per token = 6 * N + 12 * n_layer * n_embd * block_size, where N counts the weights
   used in matrix multiplies (all parameters except learned position embeddings; the tied output layer
   once). 6 * N is the forward (2N) plus backward (4N) pass; the second term is attention's QK^T and AV
   products over the full T x T score matrix (the usual estimate of the PaLM and nanoGPT papers).
3. Generation speed of the shipped checkpoint (``data/checkpoints/char_gpt_python_docs``, context 64), greedy,
   as ``python -m course_lib.generate`` runs it: with its sliding-window KV cache and without a cache
   (re-running the last 64 tokens every step), at 64, 256 and 1024 new tokens; against nanoGPT's recipe shape
   (4 layers, 4 heads, 128 dims, context 64) re-running its window every step, as nanoGPT's ``generate``
   does; and a profile of one cached 1-token step.
4. The notebook widgets' kernel time: every control moved across its range (``benchmarks/widget_latency.py``).
5. Generation speed of a real pretrained model, SmolLM2-135M-Instruct (``course_lib.pretrained_lm``), greedy,
   64 new tokens from the same prompt: the course's ``decoding.generate`` with the transformers KV cache
   against ``transformers``' own ``generate``, tokens per second, best of 2, on the thread count stated.

Reports that other test suites leave in artifacts/ (notebook budget, widget latencies) are added as
tables when present.

Run: ``python -m benchmarks.run`` (about 6 minutes on 2 cores; ``--quick`` for a one-minute smoke run).
Timings depend on what else runs on the machine: use a quiet machine for numbers you publish.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from benchmarks import widget_latency
from course_lib.checkpoints import load_checkpoint
from course_lib.configs import DecoderOnlyConfig, baby_gpt_reference
from course_lib.data import encode_corpus, load_corpus, split_train_val, text_checksum
from course_lib.decoding import generate
from course_lib.models import build_model, count_parameters
from course_lib.pretrained_lm import load_smollm2
from course_lib.timing import best_seconds
from course_lib.tokenizers import CharTokenizer
from course_lib.train import PRESETS, History, TrainConfig, native_bfloat16, train

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks"
ARTIFACTS = REPO / "artifacts"
CORPORA = ("python-docs", "python-stdlib")  # data/corpus/python_docs.txt, python_stdlib.txt
EVAL_TOKENS = 24_576  # tokens per loss estimate (same budget for every model)
EVALS_PER_RUN = 25  # evaluations per training run: enough to resolve when a curve crosses the target
CHECKPOINT = REPO / "data" / "checkpoints" / "char_gpt_python_docs"  # what the notebooks and the CLI load
GENERATION_LENGTHS = (64, 256, 1024)
PROMPT = "The for statement is used to iterate"
PRETRAINED_NEW_TOKENS = 64
TARGETS = {"time_ratio": 0.5, "efficiency": 0.6, "cache_speedup": 3.0, "against_nanogpt_recipe": 2.0}


# ------------------------------------------------------------------------------------------------------------
# Measurements
# ------------------------------------------------------------------------------------------------------------


def matmul_flops(
    sizes: tuple[int, ...] = (512, 1024, 2048), repeats: int = 5, dtype: torch.dtype = torch.float32
) -> dict:
    """Best ``torch.matmul`` FLOP/s at ``dtype`` over square sizes, best of ``repeats`` timings each."""
    by_size = {}
    for n in sizes:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        calls = max(1, int(4e9 // (2 * n**3)))  # about 4 GFLOP per timing
        torch.matmul(a, b)  # warm-up
        seconds = (
            best_seconds(
                lambda a=a, b=b, calls=calls: [a @ b for _ in range(calls)], repeats=repeats, warmup=False
            )
            / calls
        )
        by_size[str(n)] = 2 * n**3 / seconds
    return {"flops_per_second": max(by_size.values()), "by_size": by_size}


def matmul_flops_at_model_shapes(config, batch_size: int, repeats: int = 5) -> float:
    """FLOP/s of float32 matmuls shaped like the model's own: one forward pass's products, at B*T rows.

    Per layer: the q, k, v and output projections (C x C) and the MLP's two (C x 4C, 4C x C); then the
    output layer (C x V). Small matrices may run below the peak of large square ones, so training FLOP/s
    against this rate separates "the matrices are small" from "the rest of the loop costs time".
    """
    rows, C = batch_size * config.block_size, config.n_embd
    per_layer = [(C, C)] * 4 + [(C, 4 * C), (4 * C, C)]
    shapes = per_layer * config.n_layer + [(C, config.vocab_size)]
    total_flops, total_seconds = 0.0, 0.0
    for inner, outer in shapes:
        a, b = torch.randn(rows, inner), torch.randn(inner, outer)
        torch.matmul(a, b)  # warm-up
        total_flops += 2 * rows * inner * outer
        total_seconds += best_seconds(lambda a=a, b=b: a @ b, repeats=repeats, warmup=False)
    return total_flops / total_seconds


def training_flops_per_token(model: torch.nn.Module) -> float:
    """6 * N + 12 * n_layer * n_embd * block_size (see the module docstring)."""
    config = model.config
    n_matmul = count_parameters(model)
    if config.positional == "learned":
        n_matmul -= config.block_size * config.n_embd  # a table lookup, not a matrix multiply
    return 6 * n_matmul + 12 * config.n_layer * config.n_embd * config.block_size


def time_to_reach(history: History, target: float) -> dict | None:
    """First time the validation loss reaches ``target``, interpolated between evaluations.

    Returns the step, the training seconds (evaluation excluded) and the wall seconds (evaluation
    included), or None when the run never got there.
    """
    points = zip(history.step, history.val_loss, history.seconds, history.wall_seconds, strict=True)
    for (step0, loss0, sec0, wall0), (step1, loss1, sec1, wall1) in itertools.pairwise(points):
        if loss1 <= target:
            share = 1.0 if loss0 == loss1 else (loss0 - target) / (loss0 - loss1)  # where the line crosses
            share = min(max(share, 0.0), 1.0)
            return {
                "step": step0 + share * (step1 - step0),
                "seconds": sec0 + share * (sec1 - sec0),
                "wall_seconds": wall0 + share * (wall1 - wall0),
            }
    return None


def build_and_train(
    name: str, config: DecoderOnlyConfig, cfg: TrainConfig, data: dict, progress: bool
) -> tuple[torch.nn.Module, History, float]:
    """Build ``config`` from seed ``cfg.seed`` and train it on the text; returns model, history, FLOP/s."""
    torch.manual_seed(cfg.seed)
    model = build_model(config)
    print(f"training {name}: {count_parameters(model):,} parameters, {cfg.max_steps} steps", file=sys.stderr)
    history = train(model, data["train"], data["val"], cfg, progress=progress)
    return model, history, training_flops_per_token(model) * history.final["tokens_per_second"]


def train_preset(name: str, data: dict, *, quick: bool, model_change: dict, train_change: dict) -> dict:
    """Train preset ``name`` (see course_lib.train.PRESETS) on ``data``, with ``model_change`` applied to its
    model config (e.g. positional) and ``train_change`` to its training settings (e.g. precision)."""
    model_preset, train_settings = PRESETS[name]
    config = replace(model_preset(data["vocab_size"]), **model_change)
    cfg = replace(train_settings(), **train_change)
    if quick:
        cfg = replace(cfg, max_steps=max(1, cfg.max_steps // 40), warmup_steps=min(cfg.warmup_steps, 5))
    eval_iters = max(1, math.ceil(EVAL_TOKENS / (cfg.batch_size * config.block_size)) // (8 if quick else 1))
    cfg = replace(cfg, eval_interval=max(1, cfg.max_steps // EVALS_PER_RUN), eval_iters=eval_iters, seed=0)
    model, history, flops_per_second = build_and_train(name, config, cfg, data, progress=not quick)
    facts = {
        "name": name,
        "model_config": config.to_dict(),
        "train_config": asdict(cfg),
        "params": count_parameters(model),
        "flops_per_token": training_flops_per_token(model),
        "final": history.final,
        "training_flops_per_second": flops_per_second,
        "history": history.to_dict(),
    }
    return facts


def add_target_facts(runs: dict, target: float, matmul_peak: float) -> None:
    """Where each run first reaches ``target``, and its share of the float32 matmul peak."""
    for facts in runs.values():
        history = History(**{key: facts["history"][key] for key in History.__dataclass_fields__})
        facts["reaches_target"] = time_to_reach(history, target)
        facts["efficiency"] = facts["training_flops_per_second"] / matmul_peak


def ratio(run: dict, reference: dict, key: str) -> float | None:
    """run's crossing ``key`` (seconds or wall_seconds) over the reference's; None if either never crossed."""
    if run["reaches_target"] is None or reference["reaches_target"] is None:
        return None
    return run["reaches_target"][key] / reference["reaches_target"][key]


def corpus_runs(corpus: str, *, quick: bool, matmul_peak: float, bf16: bool) -> dict:
    """The reference and the course default on one corpus (plus the bfloat16 and, on the documentation, the
    learned-positions variants of the course default)."""
    data = load_benchmark_data(corpus)
    # (label, preset, model change, training change); the reference first: its final loss is the target
    variants = [
        ("baby-gpt-reference", "baby-gpt-reference", {}, {}),
        ("course-default", "course-default", {}, {}),
    ]
    if bf16:
        variants.append(("course-default (bfloat16)", "course-default", {}, {"precision": "bfloat16"}))
    if corpus == "python-docs":
        variants.append(("course-default (learned)", "course-default", {"positional": "learned"}, {}))
    runs = {}
    for label, preset, model_change, train_change in variants:
        print(f"[{corpus}] {label}", file=sys.stderr)
        runs[label] = train_preset(
            preset, data, quick=quick, model_change=model_change, train_change=train_change
        )
    reference = runs["baby-gpt-reference"]
    target = reference["final"]["val_loss"]
    add_target_facts(runs, target, matmul_peak)
    for facts in runs.values():
        facts["time_ratio"] = ratio(facts, reference, "seconds")
        facts["wall_ratio"] = ratio(facts, reference, "wall_seconds")
    facts = {
        "corpus": corpus,
        "characters": len(data["text"]),
        "vocab_size": data["vocab_size"],
        "sha256": text_checksum(data["text"]),
        "target_val_loss": target,
        "runs": runs,
    }
    return facts


def wide_model_efficiency(data: dict, matmul_peak: float, quick: bool) -> dict:
    """The same training loop on a wider model (4 layers x 384 dims, context 128, batch 16) for 30 steps.

    Not a recipe to use (it learns too slowly on 2 cores): it shows how much of the matmul peak the loop
    reaches once the matrices are large, next to the small course default.
    """
    config = DecoderOnlyConfig(vocab_size=data["vocab_size"], block_size=128, n_layer=4, n_head=6, n_embd=384)
    steps = 5 if quick else 30
    cfg = TrainConfig(
        max_steps=steps, batch_size=16, warmup_steps=1, eval_interval=steps, eval_iters=1, seed=0
    )
    _, history, flops_per_second = build_and_train("wide model", config, cfg, data, progress=False)
    return {
        "model_config": config.to_dict(),
        "steps": steps,
        "batch_size": cfg.batch_size,
        "tokens_per_second": history.final["tokens_per_second"],
        "training_flops_per_second": flops_per_second,
        "efficiency": flops_per_second / matmul_peak,
    }


def generation_rows(model: torch.nn.Module, prompt: torch.Tensor, repeats: int) -> list[dict]:
    """Greedy tokens per second with the model's KV cache and without one, best of ``repeats``, per length.

    ``agree_tokens`` counts the leading new tokens on which both runs agree: all of them until the sliding
    window fills (block_size - prompt length new tokens); after that the cached model sees further back.
    """
    rows = []
    for new_tokens in GENERATION_LENGTHS:
        row: dict = {"new_tokens": new_tokens}
        outputs = {}
        for use_cache in (False, True):

            def run(use_cache: bool = use_cache, new_tokens: int = new_tokens) -> torch.Tensor:
                return generate(model, prompt, new_tokens, strategy="greedy", use_cache=use_cache)

            outputs[use_cache] = run()[0, prompt.size(1) :]  # warm-up; its tokens are compared below
            row["cached" if use_cache else "uncached"] = new_tokens / best_seconds(
                run, repeats=repeats, warmup=False
            )
        row["speedup"] = row["cached"] / row["uncached"]
        differ = (outputs[False] != outputs[True]).nonzero()
        row["agree_tokens"] = new_tokens if differ.numel() == 0 else int(differ[0, 0])
        rows.append(row)
    return rows


def nanogpt_recipe_speed(vocab_size: int, prompt: torch.Tensor, new_tokens: int, repeats: int) -> float:
    """Tokens/s of nanoGPT's recipe shape (random weights) re-running its 64-token window at each step."""
    torch.manual_seed(0)
    model = build_model(baby_gpt_reference(vocab_size)).eval()
    run = lambda: generate(model, prompt, new_tokens, strategy="greedy", use_cache=False)  # noqa: E731
    run()
    return new_tokens / best_seconds(run, repeats=repeats, warmup=False)


def step_profile(model: torch.nn.Module, prompt: torch.Tensor, steps: int = 200) -> dict:
    """Where the time of one cached 1-token step goes: torch operators by self CPU time, and the rest.

    The step runs as generation runs it (``compute_logits`` under ``inference_mode``). The window is filled
    first, so every step pays the full sliding-window cost.
    """
    from torch.profiler import ProfilerActivity, profile

    cache = model.new_cache(1)
    token = prompt[:, -1:]
    with torch.inference_mode():
        model.compute_logits(prompt, cache=cache)
        for _ in range(model.config.block_size):  # fill the window
            model.compute_logits(token, cache=cache)
        start = time.perf_counter()
        for _ in range(steps):
            model.compute_logits(token, cache=cache)
        wall_us = (time.perf_counter() - start) / steps * 1e6
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                model.compute_logits(token, cache=cache)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    ops_us = sum(e.self_cpu_time_total for e in events) / steps
    top = [
        {"op": e.key, "us_per_step": e.self_cpu_time_total / steps, "calls_per_step": e.count / steps}
        for e in events[:8]
    ]
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    return {
        "wall_us_per_step": wall_us,
        "profiled_ops_us_per_step": ops_us,
        "top_ops": top,
        "operator_calls_per_step": sum(e.count for e in events) / steps,  # nested calls included
        "weight_megabytes": weights / 1e6,
    }


def generation_facts(vocab_size: int, quick: bool) -> dict:
    """Generation speed of the shipped checkpoint, the nanoGPT-recipe comparison and the step profile."""
    checkpoint = load_checkpoint(CHECKPOINT)
    model, tokenizer = checkpoint.model, checkpoint.tokenizer
    prompt = torch.tensor([tokenizer.encode(PROMPT)], dtype=torch.long)  # (1, T)
    repeats = 1 if quick else 3
    rows = generation_rows(model, prompt, repeats)
    row_256 = next(row for row in rows if row["new_tokens"] == 256)
    recipe = nanogpt_recipe_speed(vocab_size, prompt, 256, repeats)
    sample = generate(model, prompt, 200, strategy="greedy")[0, prompt.size(1) :]
    return {
        "checkpoint": CHECKPOINT.relative_to(REPO).as_posix(),
        "block_size": model.config.block_size,
        "prompt_tokens": prompt.size(1),
        "cache_kind": "sliding window" if model.new_cache(1).window else "fixed",
        "rows": rows,
        "nanogpt_recipe_uncached_256": recipe,
        "against_nanogpt_recipe": row_256["cached"] / recipe,
        "profile": step_profile(model, prompt, steps=20 if quick else 200),
        "sample": tokenizer.decode(sample.tolist()),
    }


def pretrained_generation_facts(quick: bool) -> dict:
    """Greedy tokens/s of SmolLM2-135M-Instruct through course_lib's ``generate`` and through transformers'
    ``generate``: same prompt, ``PRETRAINED_NEW_TOKENS`` new tokens, best of 2 after a warm-up (a 135M model
    at about 10 tokens/s on one busy core: each run takes seconds).

    Neither stops at <|im_end|> (the prompt is plain text that does not reach it in 64 tokens; the counts are
    recorded), and ``same_tokens`` says whether the two produced the same tokens. On a 2-core machine that
    other work shares, 2 torch threads can run several times slower than 1 (each waits for the other's
    core): compare numbers only at the thread count stated.
    """
    model, tokenizer = load_smollm2()
    prompt = torch.tensor([tokenizer.encode(PROMPT)], dtype=torch.long)  # (1, T)
    repeats = 1 if quick else 2
    runs = {
        "course_lib": lambda: generate(model, prompt, PRETRAINED_NEW_TOKENS, strategy="greedy"),
        "transformers": lambda: model.hf.generate(
            prompt, max_new_tokens=PRETRAINED_NEW_TOKENS, do_sample=False
        ),
    }
    outputs = {name: run() for name, run in runs.items()}  # warm-up; the tokens are compared below
    new_tokens = {name: out.size(1) - prompt.size(1) for name, out in outputs.items()}
    speed = {
        name: new_tokens[name] / best_seconds(run, repeats=repeats, warmup=False)
        for name, run in runs.items()
    }
    return {
        "model": "SmolLM2-135M-Instruct (float32, eager attention)",
        "torch_threads": torch.get_num_threads(),
        "repeats": repeats,
        "prompt_tokens": prompt.size(1),
        "new_tokens": new_tokens,
        "tokens_per_second": speed,
        "course_over_transformers": speed["course_lib"] / speed["transformers"],
        "same_tokens": torch.equal(outputs["course_lib"], outputs["transformers"]),
        "sample": tokenizer.decode(outputs["course_lib"][0, prompt.size(1) :]),
    }


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (symbolic links not followed; 0 if it is missing)."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def disk_facts() -> dict:
    """What the course takes on disk here: the virtual environment, the two model packages inside it and
    the converted SmolLM2 (the README's install section quotes these)."""
    from course_lib import pretrained

    return {
        "venv": folder_bytes(REPO / ".venv"),
        "model_packages": folder_bytes(pretrained.package_folder(pretrained.ENCODER_PACKAGE))
        + folder_bytes(pretrained.package_folder(pretrained.DECODER_PACKAGE)),
        "converted_cache": folder_bytes(pretrained.cache_dir()),
    }


def disk_section(results: dict) -> list[str]:
    """Disk space (results.json files from before it have none)."""
    if "disk" not in results:
        return []
    disk = results["disk"]
    return [
        "## Disk space",
        "",
        "| what | size |",
        "| --- | ---: |",
        f"| `.venv` (everything `make setup` installs) | {disk['venv'] / 1e9:.2f} GB |",
        f"| of which the two model packages (MiniLM, SmolLM2 GGUF) | {disk['model_packages'] / 1e9:.2f} GB |",
        f"| `.cache/pretrained` (SmolLM2 converted to float32) | {disk['converted_cache'] / 1e9:.2f} GB |",
        "",
    ]


def read_artifacts() -> dict:
    """The JSON reports other suites wrote into artifacts/, if any (missing or unreadable ones skipped)."""
    found = {}
    for name in ("notebook_budget", "browser_latency"):
        path = ARTIFACTS / f"{name}.json"
        try:
            found[name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
    return found


# ------------------------------------------------------------------------------------------------------------
# Reports
# ------------------------------------------------------------------------------------------------------------


def verdict(value: float | None, target: float, at_most: bool) -> str:
    if value is None:
        return "not reached"
    return "met" if (value <= target if at_most else value >= target) else "missed"


def headline_rows(results: dict) -> list[tuple[str, str, str, str]]:
    """(measure, result, target, verdict) for every target of the benchmark; the README shows these."""
    rows = []
    for corpus, facts in results["corpora"].items():
        for label in ("course-default", "course-default (bfloat16)"):
            if label in facts["runs"]:
                value = facts["runs"][label]["time_ratio"]
                shown = "never reached" if value is None else f"{value:.2f}"
                rows.append(
                    (
                        f"time to the baby GPT's loss, {label} / reference, `{corpus}`",
                        shown,
                        "<= 0.50",
                        verdict(value, TARGETS["time_ratio"], at_most=True),
                    )
                )
    efficiency = results["corpora"][CORPORA[0]]["runs"]["course-default"]["efficiency"]
    rows.append(
        (
            "training FLOP/s of the course default (float32), share of the float32 matmul peak",
            f"{efficiency:.0%}",
            ">= 60%",
            verdict(efficiency, TARGETS["efficiency"], at_most=False),
        )
    )
    gen = results["generation"]
    for row in gen["rows"]:
        if row["new_tokens"] >= 256:
            rows.append(
                (
                    f"KV cache speed-up, shipped checkpoint, {row['new_tokens']} new tokens",
                    f"{row['speedup']:.1f}x",
                    ">= 3x",
                    verdict(row["speedup"], TARGETS["cache_speedup"], at_most=False),
                )
            )
    rows.append(
        (
            "shipped checkpoint with cache vs nanoGPT's recipe re-running its window, 256 tokens",
            f"{gen['against_nanogpt_recipe']:.1f}x",
            ">= 2x",
            verdict(gen["against_nanogpt_recipe"], TARGETS["against_nanogpt_recipe"], at_most=False),
        )
    )
    if "widgets" in results:  # results.json files written before widgets were measured have none
        worst = results["widgets"]["worst"]
        rows.append(
            (
                f"widget slider/drop-down/check box move, kernel time, worst 95th percentile "
                f"({worst['widget']}, {worst['control']})",
                f"{worst['p95_ms']:.0f} ms",
                f"<= {widget_latency.TARGET_MS:.0f} ms",
                verdict(worst["p95_ms"], widget_latency.TARGET_MS, at_most=True),
            )
        )
        text = results["widgets"].get("worst_text")
        if text is not None:  # a new text recomputes everything for it: reported, no target
            rows.append(
                (
                    f"typed text submitted, kernel time, worst 95th percentile ({text['widget']})",
                    f"{text['p95_ms']:.0f} ms",
                    "reported",
                    "",
                )
            )
    return rows


def widget_section(results: dict) -> list[str]:
    if "widgets" not in results:
        return []
    return [
        "",
        "## Widgets: kernel time of a control move",
        "",
        "Each control of each notebook widget moved across its range, there and back (text boxes: a word "
        "typed and taken back), with one torch thread; the time until the widget's picture is redrawn in the "
        "kernel. The browser's "
        "drawing comes on top (the browser suite's table below, when present).",
        "",
        *widget_latency.table(results["widgets"]),
    ]


def readme_table(results: dict) -> str:
    """The README's benchmark section: the headline table, rendered from results.json."""
    machine = results["machine"]
    lines = [
        f"Measured by `make bench` on {results['measured_at'][:10]} ({machine['processor']}, "
        f"{machine['cpu_count']} "
        f"CPUs, torch {machine['torch']}); details in [benchmarks/results.md](benchmarks/results.md).",
        "",
        "| measure | result | target | |",
        "| --- | ---: | ---: | --- |",
    ]
    lines += [
        f"| {measure} | {value} | {target} | {word} |"
        for measure, value, target, word in headline_rows(results)
    ]
    return "\n".join(lines) + "\n"


def run_table(facts: dict) -> list[str]:
    lines = [
        "| run | params | steps | batch x context | final val loss | tokens/s | reaches target at step | "
        "training s | wall s | time ratio |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, run in facts["runs"].items():
        cross, cfg, config = run["reaches_target"], run["train_config"], run["model_config"]
        where = (
            ("never", "-", "-")
            if cross is None
            else (f"{cross['step']:.0f}", f"{cross['seconds']:.1f}", f"{cross['wall_seconds']:.1f}")
        )
        time_ratio = "-" if run["time_ratio"] is None else f"{run['time_ratio']:.2f}"
        lines.append(
            f"| {label} | {run['params']:,} | {run['final']['steps']} | {cfg['batch_size']} x "
            f"{config['block_size']} "
            f"| {run['final']['val_loss']:.4f} | {run['final']['tokens_per_second']:,.0f} | {where[0]} | "
            f"{where[1]} "
            f"| {where[2]} | {time_ratio} |"
        )
    return lines


def curve_gap(a: dict, b: dict) -> float:
    """Largest |difference| of two runs' validation losses at the evaluations both made."""
    losses = dict(zip(a["history"]["step"], a["history"]["val_loss"], strict=True))
    return max(
        abs(losses[s] - v)
        for s, v in zip(b["history"]["step"], b["history"]["val_loss"], strict=True)
        if s in losses
    )


def training_section(results: dict) -> list[str]:
    lines = ["## Training time to the reference's final validation loss", ""]
    for corpus, facts in results["corpora"].items():
        lines += [
            f"### `{corpus}` ({facts['characters']:,} characters, {facts['vocab_size']} distinct; last 10% "
            "validation)",
            "",
            f"Target: {facts['target_val_loss']:.4f}, the reference's validation loss after its "
            f"{facts['runs']['baby-gpt-reference']['final']['steps']} steps. Training seconds exclude "
            "evaluation; "
            "wall seconds include it; the time ratio divides training seconds by the reference's.",
            "",
            *run_table(facts),
            "",
        ]
        runs = facts["runs"]
        if "course-default (bfloat16)" in runs:
            gap = curve_gap(runs["course-default"], runs["course-default (bfloat16)"])
            lines += [
                f"bfloat16 autocast against float32, same seed and batches: largest gap between the two "
                f"validation-loss curves {gap:.3f} nats.",
                "",
            ]
        if "course-default (learned)" in runs:
            rotary, learned = (
                runs["course-default"]["final"]["val_loss"],
                runs["course-default (learned)"]["final"]["val_loss"],
            )
            lines += [
                f"Positions: after the same steps, rotary reaches {rotary:.3f} and a learned position table "
                f"{learned:.3f}.",
                "",
            ]
    return lines


def efficiency_section(results: dict) -> list[str]:
    runs = results["corpora"][CORPORA[0]]["runs"]
    wide, matmul = results["wide_model_efficiency"], results["matmul"]
    lines = [
        "## Hardware efficiency",
        "",
        f"Peak float32 matmul (best of square sizes {', '.join(matmul['by_size'])}): "
        f"{matmul['flops_per_second'] / 1e9:.1f} GFLOP/s"
        + (
            f"; bfloat16: {results['matmul_bfloat16']['flops_per_second'] / 1e9:.1f} GFLOP/s"
            if results.get("matmul_bfloat16")
            else ""
        )
        + ". Training FLOPs per token = 6 * N + 12 * n_layer * n_embd * block_size "
        "(N = parameters used in matrix multiplies).",
        "",
        "| run | FLOPs per token | training GFLOP/s | share of the float32 matmul peak |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, run in runs.items():
        lines.append(
            f"| {label} | {run['flops_per_token'] / 1e6:.2f} M | "
            f"{run['training_flops_per_second'] / 1e9:.1f} "
            f"| {run['efficiency']:.0%} |"
        )
    lines += [
        "",
        f"The same loop on a wider model ({wide['model_config']['n_layer']} layers x "
        f"{wide['model_config']['n_embd']} "
        f"dims, context {wide['model_config']['block_size']}, batch {wide['batch_size']}, {wide['steps']} "
        "steps, float32) "
        f"reaches {wide['training_flops_per_second'] / 1e9:.1f} GFLOP/s = **{wide['efficiency']:.0%} of "
        "the peak**, "
        f"at {wide['tokens_per_second']:,.0f} tokens/s.",
        "",
        "So the loop itself can use the hardware; the course default's matrices (192 wide, batch 32 x 64 "
        "tokens) are too small to keep the matmul kernels at their peak. bfloat16 autocast, on CPUs with "
        "native bf16, is kept as `TrainConfig.precision` (its row above).",
        "",
    ]
    return lines


def generation_section(results: dict) -> list[str]:
    gen = results["generation"]
    profile = gen["profile"]
    lines = [
        "## Generation speed (greedy, batch 1)",
        "",
        f"Model: the shipped checkpoint `{gen['checkpoint']}` (context {gen['block_size']}, "
        f"{gen['cache_kind']} KV "
        f"cache), prompt of {gen['prompt_tokens']} tokens, as `python -m course_lib.generate` runs it. "
        "Tokens per "
        "second, best of 3. Without a cache every step re-runs the last block_size tokens.",
        "",
        "| new tokens | without cache | with KV cache | speed-up | leading tokens that agree |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in gen["rows"]:
        lines.append(
            f"| {row['new_tokens']} | {row['uncached']:,.0f} | {row['cached']:,.0f} | {row['speedup']:.1f}x "
            f"| {row['agree_tokens']} |"
        )
    lines += [
        "",
        "Cached and uncached generation agree token for token until the sliding window fills "
        f"({gen['block_size'] - gen['prompt_tokens']} new tokens here); after that the cached model also "
        "sees, "
        "through its layers, positions older than one window, so the texts may part.",
        "",
        "nanoGPT's recipe shape (4 layers x 128 dims, context 64, random weights) re-running its window "
        "every step, "
        f"as nanoGPT's `generate` does: {gen['nanogpt_recipe_uncached_256']:,.0f} tokens/s at 256 new "
        "tokens; the "
        f"shipped checkpoint with its cache is **{gen['against_nanogpt_recipe']:.1f}x** that.",
        "",
        f"One cached 1-token step with a full window: {profile['wall_us_per_step']:.0f} µs of wall time, "
        f"{profile['profiled_ops_us_per_step']:.0f} µs of it inside torch operators (measured under the "
        "profiler, "
        "which adds its own overhead). Top operators by self time:",
        "",
        "| operator | µs per step | calls per step |",
        "| --- | ---: | ---: |",
    ]
    lines += [
        f"| `{op['op']}` | {op['us_per_step']:.1f} | {op['calls_per_step']:.0f} |"
        for op in profile["top_ops"]
    ]
    if "operator_calls_per_step" in profile:  # results.json files from before this field have neither
        lines += [
            "",
            f"What bounds the step: {profile['operator_calls_per_step']:.0f} operator calls (nested ones "
            "included), each with a fixed dispatch cost of a few µs however small its tensors, and the "
            f"{profile['weight_megabytes']:.1f} MB of weights read once per token by the matrix-vector "
            f"products. The uncached step runs {gen['block_size']} positions through about as many calls, so "
            "on a model this small the cache's gain is capped by that fixed cost.",
            "",
            "Tried for the 3x target. Kept: one input check per generation instead of one per step "
            "(`compute_logits`), `inference_mode` for the token loop, a ring-buffer sliding window, one "
            "rotary-table lookup per step. Not kept, each a few percent in one-off measurements: a fused "
            "q/k/v projection (it would change the checkpoint format and the notebooks' weight-copy checks) "
            "and skipping the no-op dropout modules.",
        ]
    lines += [
        "",
        "Sample from the shipped checkpoint (greedy, 200 characters):",
        "",
        "```text",
        PROMPT + gen["sample"],
        "```",
    ]
    return lines


def pretrained_generation_section(results: dict) -> list[str]:
    """The real pretrained model's generation speed (results.json files from before it have none)."""
    if "pretrained_generation" not in results:
        return []
    gen = results["pretrained_generation"]
    speed, new_tokens = gen["tokens_per_second"], gen["new_tokens"]
    same = "the same tokens" if gen["same_tokens"] else "**different tokens**"
    return [
        "## Generation speed of a real pretrained model (greedy, batch 1)",
        "",
        f"{gen['model']}, prompt of {gen['prompt_tokens']} tokens, {new_tokens['course_lib']} new tokens, "
        f"{gen['torch_threads']} torch thread(s), best of {gen['repeats']}. Both use transformers' KV cache "
        "(`DynamicCache`); course_lib's loop is `decoding.generate` over `pretrained_lm.PretrainedLM`.",
        "",
        "| generate | tokens/s |",
        "| --- | ---: |",
        f"| `course_lib.decoding.generate` | {speed['course_lib']:,.1f} |",
        f"| `model.hf.generate` (transformers) | {speed['transformers']:,.1f} |",
        "",
        f"course_lib / transformers: **{gen['course_over_transformers']:.2f}x**; both produced {same}.",
        "",
        "```text",
        PROMPT + gen["sample"],
        "```",
        "",
    ]


def markdown_report(results: dict) -> str:
    """results.json as tables a person can read."""
    machine = results["machine"]
    lines = [
        "# Benchmarks (`make bench`)",
        "",
        f"Measured {results['measured_at']} on {machine['processor']} ({machine['cpu_count']} CPUs, "
        f"{machine['torch_threads']} torch threads, torch {machine['torch']}), load average "
        f"{machine['load_average_start']} at the start and {machine['load_average_end']} at the end.",
        "",
        "Timings depend on what else runs on the machine; re-run `make bench` on a quiet machine for "
        "published numbers.",
        "",
        "## Against the targets",
        "",
        "| measure | result | target | |",
        "| --- | ---: | ---: | --- |",
        *(
            f"| {measure} | {value} | {target} | {word} |"
            for measure, value, target, word in headline_rows(results)
        ),
        "",
        *training_section(results),
        *efficiency_section(results),
        *generation_section(results),
        *pretrained_generation_section(results),
        *widget_section(results),
        *disk_section(results),
        *artifact_tables(results["artifacts"]),
    ]
    return "\n".join(lines) + "\n"


def artifact_tables(artifacts: dict) -> list[str]:
    """Tables for the notebook budget and widget latency reports (their formats are their suites')."""
    lines = []
    budget = artifacts.get("notebook_budget")
    if isinstance(budget, dict) and budget:
        lines += [
            "",
            "## Notebook budget (from `artifacts/notebook_budget.json`)",
            "",
            "| notebook | seconds | memory peak (MB) |",
            "| --- | ---: | ---: |",
        ]
        for notebook, row in budget.items():
            row = row if isinstance(row, dict) else {}
            lines.append(f"| {notebook} | {row.get('seconds', '?')} | {row.get('memory_peak_mb', '?')} |")
    latency = artifacts.get("browser_latency")
    if isinstance(latency, dict) and latency:
        lines += ["", "## Widget latency (from `artifacts/browser_latency.json`)", ""]
        overall = latency.get("overall", {})
        if overall:
            lines.append("Overall: " + ", ".join(f"{key} {value}" for key, value in overall.items()) + ".")
            lines.append("")
        lines += ["| widget | controls timed | median ms | max ms |", "| --- | ---: | ---: | ---: |"]
        for widget in latency.get("widgets", []):
            times = [
                c["latency_ms"]
                for c in widget.get("controls", [])
                if isinstance(c.get("latency_ms"), (int, float))
            ]
            if times:
                lines.append(
                    f"| {widget.get('widget', '?')} | {len(times)} | {statistics.median(times):.1f} | "
                    f"{max(times):.1f} |"
                )
    return lines


def plot_results(results: dict, path: Path) -> None:
    """Validation loss against training seconds on each corpus (with the target), and generation speed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corpora = results["corpora"]
    fig, axes = plt.subplots(1, len(corpora) + 1, figsize=(6 * (len(corpora) + 1), 4.5))
    for ax, (corpus, facts) in zip(axes, corpora.items(), strict=False):
        target = facts["target_val_loss"]
        for label, run in facts["runs"].items():
            (line,) = ax.plot(run["history"]["seconds"], run["history"]["val_loss"], label=label)
            if run["reaches_target"] is not None:
                ax.plot([run["reaches_target"]["seconds"]], [target], "o", color=line.get_color())
        ax.axhline(target, color="#d62728", linestyle="--", linewidth=1, label=f"target {target:.3f}")
        ax.set_ylim(top=min(3.0, ax.get_ylim()[1]))
        ax.set_xlabel("training seconds (evaluation excluded)")
        ax.set_ylabel("validation loss (nats per character)")
        ax.set_title(f"time to the reference's final loss: {corpus}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    right, rows = axes[-1], results["generation"]["rows"]
    positions = range(len(rows))
    for offset, key, label in ((-0.2, "uncached", "without cache"), (0.2, "cached", "with KV cache")):
        bars = right.bar([p + offset for p in positions], [row[key] for row in rows], width=0.4, label=label)
        right.bar_label(bars, fmt="%.0f", fontsize=8)
    right.set_ylim(top=1.25 * max(row["cached"] for row in rows))  # room for the legend above the bars
    right.set_xticks(list(positions), [str(row["new_tokens"]) for row in rows])
    right.set_xlabel("new tokens")
    right.set_ylabel("tokens per second")
    right.set_title("shipped checkpoint, greedy, batch 1")
    right.legend(loc="upper center", ncols=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


README = REPO / "README.md"
README_MARKERS = (
    "<!-- bench:start (made by make bench from benchmarks/results.json) -->",
    "<!-- bench:end -->",
)


def readme_with_table(readme: str, results: dict) -> str:
    """``readme`` with the text between the two markers replaced by ``readme_table(results)``."""
    start, end = README_MARKERS
    if start not in readme or end not in readme:
        raise SystemExit(f"README.md lacks the markers {start} ... {end} around its benchmark table.")
    before, rest = readme.split(start, 1)
    return before + start + "\n" + readme_table(results) + end + rest.split(end, 1)[1]


# ------------------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------------------


def load_benchmark_data(corpus: str) -> dict:
    text = load_corpus(corpus)
    tokenizer = CharTokenizer.from_text(text)
    train_ids, val_ids = split_train_val(encode_corpus(text, tokenizer), val_fraction=0.1)
    return {
        "text": text,
        "tokenizer": tokenizer,
        "vocab_size": tokenizer.vocab_size,
        "train": train_ids,
        "val": val_ids,
    }


def run(quick: bool = False, out_dir: Path = RESULTS_DIR) -> dict:
    """Run every benchmark and write results.json, results.md and results.png into ``out_dir``."""
    torch.set_num_threads(min(torch.get_num_threads(), os.cpu_count() or 1))
    load_start = os.getloadavg()
    print("measuring matmul FLOP/s", file=sys.stderr)
    matmul = matmul_flops(repeats=2 if quick else 5)
    bf16 = native_bfloat16()
    matmul_bf16 = matmul_flops(repeats=2 if quick else 5, dtype=torch.bfloat16) if bf16 else None
    corpora = {}
    for corpus in CORPORA:
        corpora[corpus] = corpus_runs(corpus, quick=quick, matmul_peak=matmul["flops_per_second"], bf16=bf16)
    print("measuring the loop's efficiency on a wide model", file=sys.stderr)
    wide = wide_model_efficiency(load_benchmark_data(CORPORA[0]), matmul["flops_per_second"], quick)
    print("measuring generation speed", file=sys.stderr)
    generation = generation_facts(corpora[CORPORA[0]]["vocab_size"], quick)
    print("measuring a real pretrained model's generation speed", file=sys.stderr)
    pretrained_generation = pretrained_generation_facts(quick)
    print("measuring the widgets' kernel time", file=sys.stderr)
    widgets = widget_latency.measure(repeats=1 if quick else 3)
    results = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "native_bfloat16": bf16,
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
        },
        "matmul": matmul,
        "matmul_bfloat16": matmul_bf16,
        "corpora": corpora,
        "wide_model_efficiency": wide,
        "generation": generation,
        "pretrained_generation": pretrained_generation,
        "widgets": widgets,
        "disk": disk_facts(),
        "artifacts": read_artifacts(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out_dir / "results.md").write_text(markdown_report(results), encoding="utf-8")
    plot_results(results, out_dir / "results.png")
    if out_dir == RESULTS_DIR and not quick:
        README.write_text(readme_with_table(README.read_text(encoding="utf-8"), results), encoding="utf-8")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1/40 of the training steps: checks that everything runs (numbers are meaningless)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=RESULTS_DIR,
        help="where results.json, results.md and results.png go (default: benchmarks/)",
    )
    args = parser.parse_args(argv)
    results = run(quick=args.quick, out_dir=args.out_dir)
    print(
        "\n".join(
            f"{word:>11}  {measure}: {value} (target {target})"
            for measure, value, target, word in headline_rows(results)
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
