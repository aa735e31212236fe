"""``make bench``: how fast the course's models train and generate on this machine.

Three measurements, written to benchmarks/results.json, results.md and results.png:

1. Time to a target loss. The reference is the classic CPU "baby GPT" recipe (4 layers, 4 heads,
   128 dims, context 64, batch 12, 2000 steps, AdamW lr 1e-3). It trains first; its final validation
   loss becomes the target. Then the course's default model trains on the same text, and we compare
   the training time each needed to first reach the target (evaluation time excluded; it is reported
   separately). Crossing times are interpolated linearly between evaluations.
2. Hardware efficiency: training FLOP/s against the float32 matmul FLOP/s measured here.
   Training FLOPs per token = 6 * N + 12 * n_layer * n_embd * block_size, where N counts the weights
   used in matrix multiplies (all parameters except learned position embeddings; the tied output layer
   once). 6 * N is the forward (2N) plus backward (4N) pass; the second term is attention's QK^T and AV
   products over the full T x T score matrix (the usual estimate of the PaLM and nanoGPT papers).
3. Generation speed with and without the KV cache, for 64, 128 and 256 new tokens.

Reports that other test suites leave in artifacts/ (notebook budget, widget latencies) are added as
tables when present.

Run: ``python -m benchmarks.run`` (about 3-5 minutes on 2 cores; ``--quick`` for a 20-second smoke run).
Timings depend on what else runs on the machine: use a quiet machine for numbers you publish.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import torch

from course_lib.configs import DecoderOnlyConfig
from course_lib.data import encode_corpus, load_corpus, split_train_val, text_checksum
from course_lib.decoding import generate
from course_lib.models import build_model, count_parameters
from course_lib.tokenizers import CharTokenizer
from course_lib.train import PRESETS, History, TrainConfig, train

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks"
ARTIFACTS = REPO / "artifacts"
CORPUS = "python-docs"  # data/corpus/python_docs.txt
EVAL_TOKENS = 24_576  # tokens per loss estimate (same budget for both models)
EVALS_PER_RUN = 40  # evaluations per training run: enough to resolve when a curve crosses the target
GENERATION_LENGTHS = (64, 128, 256)
PROMPT = "The for statement is used to iterate"


# ---------------------------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------------------------


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` timings of ``run()`` (the minimum is the least disturbed by other work)."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_flops(sizes: tuple[int, ...] = (512, 1024, 2048), repeats: int = 5) -> dict:
    """Best float32 ``torch.matmul`` FLOP/s over square sizes, best of ``repeats`` timings each."""
    by_size = {}
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        calls = max(1, int(4e9 // (2 * n**3)))  # about 4 GFLOP per timing
        torch.matmul(a, b)  # warm-up
        seconds = best_seconds(lambda: [torch.matmul(a, b) for _ in range(calls)], repeats) / calls
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
        total_seconds += best_seconds(lambda: torch.matmul(a, b), repeats)
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
    points = list(zip(history.step, history.val_loss, history.seconds, history.wall_seconds))
    for (step0, loss0, sec0, wall0), (step1, loss1, sec1, wall1) in zip(points, points[1:]):
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
    """Build ``config`` from seed ``cfg.seed``, train it on the benchmark text; returns model, history, FLOP/s."""
    torch.manual_seed(cfg.seed)
    model = build_model(config)
    print(f"training {name}: {count_parameters(model):,} parameters, {cfg.max_steps} steps", file=sys.stderr)
    history = train(model, data["train"], data["val"], cfg, progress=progress)
    return model, history, training_flops_per_token(model) * history.final["tokens_per_second"]


def train_preset(name: str, data: dict, quick: bool) -> tuple[torch.nn.Module, dict]:
    """Train preset ``name`` (see course_lib.train.PRESETS) on the benchmark text; returns model and facts."""
    model_preset, train_settings = PRESETS[name]
    config = model_preset(data["vocab_size"])
    cfg: TrainConfig = train_settings()
    if quick:
        cfg = replace(cfg, max_steps=max(1, cfg.max_steps // 40), warmup_steps=min(cfg.warmup_steps, 5))
    eval_iters = max(1, math.ceil(EVAL_TOKENS / (cfg.batch_size * config.block_size)) // (8 if quick else 1))
    cfg = replace(cfg, eval_interval=max(1, cfg.max_steps // EVALS_PER_RUN), eval_iters=eval_iters, seed=0)
    model, history, flops_per_second = build_and_train(name, config, cfg, data, progress=True)
    facts = {
        "name": name,
        "model_config": config.to_dict(),
        "train_config": asdict(cfg),
        "params": count_parameters(model),
        "flops_per_token": training_flops_per_token(model),
        "final": history.final,
        "training_flops_per_second": flops_per_second,
        "matmul_flops_at_model_shapes": matmul_flops_at_model_shapes(
            config, cfg.batch_size, repeats=2 if quick else 5
        ),
        "history": history.to_dict(),
    }
    return model, facts


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


def generation_speed(model: torch.nn.Module, prompt_ids: list[int], repeats: int = 3) -> list[dict]:
    """Greedy tokens per second with and without the KV cache, best of ``repeats``, per length."""
    prompt = torch.tensor([prompt_ids], dtype=torch.long)  # (1, T)
    rows = []
    for new_tokens in GENERATION_LENGTHS:
        row = {"new_tokens": new_tokens}
        outputs = {}
        for use_cache in (False, True):

            def run() -> torch.Tensor:
                return generate(
                    model, prompt, new_tokens, strategy="greedy", use_cache=use_cache
                )  # (1, T + n)

            outputs[use_cache] = run()  # warm-up; its tokens are compared below
            row["cached" if use_cache else "uncached"] = new_tokens / best_seconds(run, repeats)
        row["speedup"] = row["cached"] / row["uncached"]
        row["same_tokens"] = bool(torch.equal(outputs[False], outputs[True]))
        rows.append(row)
    return rows


def read_artifacts() -> dict:
    """The JSON reports other suites wrote into artifacts/, if any (missing or unreadable ones are skipped)."""
    found = {}
    for name in ("notebook_budget", "browser_latency"):
        path = ARTIFACTS / f"{name}.json"
        try:
            found[name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
    return found


# ---------------------------------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------------------------------


def markdown_report(results: dict) -> str:
    """results.json as tables a person can read."""
    machine, speed, wide = results["machine"], results["time_to_target"], results["wide_model_efficiency"]
    reference, course = results["runs"]["baby-gpt-reference"], results["runs"]["course-default"]
    lines = [
        "# Benchmarks (`make bench`)",
        "",
        f"Measured {results['measured_at']} on {machine['processor']} ({machine['cpu_count']} CPUs, "
        f"{machine['torch_threads']} torch threads, torch {machine['torch']}), load average "
        f"{machine['load_average_start']} at the start and {machine['load_average_end']} at the end. "
        f"Text: `{results['data']['corpus']}` ({results['data']['characters']:,} characters, "
        f"{results['data']['vocab_size']} distinct; the last 10% is validation).",
        "",
        "Timings depend on what else runs on the machine; re-run `make bench` on a quiet machine for published numbers.",
        "",
        "## Training time to the reference's final validation loss",
        "",
        f"Target: {speed['target_val_loss']:.4f}, the reference's validation loss after its "
        f"{reference['final']['steps']} steps. Training seconds exclude evaluation; wall seconds include it.",
        "",
        "| run | params | steps | batch x context | final val loss | tokens/s | reaches target at step | training s | wall s |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in (reference, course):
        cross = run["reaches_target"]
        where = (
            ("never", "-", "-")
            if cross is None
            else (f"{cross['step']:.0f}", f"{cross['seconds']:.1f}", f"{cross['wall_seconds']:.1f}")
        )
        cfg, config = run["train_config"], run["model_config"]
        lines.append(
            f"| {run['name']} | {run['params']:,} | {run['final']['steps']} | {cfg['batch_size']} x "
            f"{config['block_size']} | {run['final']['val_loss']:.4f} | {run['final']['tokens_per_second']:,.0f} | "
            f"{where[0]} | {where[1]} | {where[2]} |"
        )
    ratio, wall_ratio = (
        ("n/a" if value is None else f"{value:.2f}") for value in (speed["time_ratio"], speed["wall_ratio"])
    )
    verdict = "met" if speed["time_ratio"] is not None and speed["time_ratio"] <= 0.5 else "missed"
    lines += [
        "",
        f"**Time ratio (course default / reference, training seconds): {ratio}** (target <= 0.50: {verdict}); "
        f"with evaluation time included: {wall_ratio}.",
        "",
        "Model settings of the course default: "
        + ", ".join(
            f"{key}={course['model_config'][key]}"
            for key in ("n_layer", "n_head", "n_embd", "block_size", "positional", "bias", "activation")
        )
        + "; training: "
        + ", ".join(
            f"{key}={course['train_config'][key]}"
            for key in ("max_steps", "batch_size", "learning_rate", "min_lr", "warmup_steps", "weight_decay")
        )
        + ".",
        "",
        "## Hardware efficiency",
        "",
        f"Peak float32 matmul (best of square sizes {', '.join(results['matmul']['by_size'])}): "
        f"{results['matmul']['flops_per_second'] / 1e9:.1f} GFLOP/s. Training FLOPs per token = "
        "6 * N + 12 * n_layer * n_embd * block_size (N = parameters used in matrix multiplies).",
        "",
        "| run | FLOPs per token | training GFLOP/s | share of matmul peak | matmuls at the model's shapes, GFLOP/s | share of those |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in (reference, course):
        lines.append(
            f"| {run['name']} | {run['flops_per_token'] / 1e6:.2f} M | "
            f"{run['training_flops_per_second'] / 1e9:.1f} | {run['efficiency']:.0%} | "
            f"{run['matmul_flops_at_model_shapes'] / 1e9:.1f} | {run['efficiency_at_model_shapes']:.0%} |"
        )
    verdict = "met" if course["efficiency"] >= 0.6 else "missed"
    lines += [
        "",
        f"**Course default: {course['efficiency']:.0%} of the matmul peak** (target >= 60%: {verdict}). The last two "
        "columns time matrix products of exactly the shapes of the model's forward pass (B*T rows), alone; the "
        "share of that rate is what the rest of the loop leaves (the backward pass's transposed products, "
        "attention, LayerNorm, GELU, the optimizer, Python).",
        "",
        f"The same loop on a wider model ({wide['model_config']['n_layer']} layers x {wide['model_config']['n_embd']} "
        f"dims, context {wide['model_config']['block_size']}, batch {wide['batch_size']}, {wide['steps']} steps) "
        f"reaches {wide['training_flops_per_second'] / 1e9:.1f} GFLOP/s = **{wide['efficiency']:.0%} of the peak**: "
        f"with large matrices the loop keeps the CPU busy, but it reads {wide['tokens_per_second']:,.0f} tokens/s "
        f"against the course default's {course['final']['tokens_per_second']:,.0f}.",
    ]
    gen = results["generation"]
    lines += [
        "",
        "## Generation speed (greedy, batch 1)",
        "",
        f"Model: the course default's shape with block_size {gen['block_size']} "
        f"(prompt {gen['prompt_tokens']} tokens). Tokens per second, best of 3.",
        "",
        "| new tokens | without cache | with KV cache | speedup | same tokens |",
        "| ---: | ---: | ---: | ---: | --- |",
    ]
    for row in gen["rows"]:
        lines.append(
            f"| {row['new_tokens']} | {row['uncached']:,.0f} | {row['cached']:,.0f} | "
            f"{row['speedup']:.1f}x | {'yes' if row['same_tokens'] else 'NO'} |"
        )
    lines += [
        "",
        "Sample from the trained course default (greedy, 200 characters):",
        "",
        "```text",
        PROMPT + results["sample"],
        "```",
    ]
    lines += artifact_tables(results["artifacts"])
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
    """Validation loss against training seconds for both runs (with the target), and generation speed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    target = results["time_to_target"]["target_val_loss"]
    for name, color in (("baby-gpt-reference", "#7f7f7f"), ("course-default", "#1f77b4")):
        run = results["runs"][name]
        left.plot(run["history"]["seconds"], run["history"]["val_loss"], color=color, label=name)
        if run["reaches_target"] is not None:
            left.plot([run["reaches_target"]["seconds"]], [target], "o", color=color)
    left.axhline(target, color="#d62728", linestyle="--", linewidth=1, label=f"target {target:.3f}")
    left.set_ylim(top=min(3.0, left.get_ylim()[1]))
    left.set_xlabel("training seconds (evaluation excluded)")
    left.set_ylabel("validation loss (nats per character)")
    ratio = results["time_to_target"]["time_ratio"]
    left.set_title("time to the reference's final loss" + ("" if ratio is None else f" (ratio {ratio:.2f})"))
    left.grid(alpha=0.3)
    left.legend()
    rows = results["generation"]["rows"]
    lengths = [str(row["new_tokens"]) for row in rows]
    positions = range(len(rows))
    for offset, key, label in ((-0.2, "uncached", "without cache"), (0.2, "cached", "with KV cache")):
        bars = right.bar([p + offset for p in positions], [row[key] for row in rows], width=0.4, label=label)
        right.bar_label(bars, fmt="%.0f", fontsize=8)
    right.set_ylim(top=1.25 * max(row["cached"] for row in rows))  # room for the legend above the bars
    right.set_xticks(list(positions), lengths)
    right.set_xlabel("new tokens")
    right.set_ylabel("tokens per second")
    right.set_title("generation speed (greedy, batch 1)")
    right.legend(loc="upper center", ncols=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------------------


def load_benchmark_data() -> dict:
    text = load_corpus(CORPUS)
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
    data = load_benchmark_data()
    print("measuring matmul FLOP/s", file=sys.stderr)
    matmul = matmul_flops(repeats=2 if quick else 5)

    runs, models = {}, {}
    for name in ("baby-gpt-reference", "course-default"):  # the reference first: its final loss is the target
        models[name], runs[name] = train_preset(name, data, quick)
    target = runs["baby-gpt-reference"]["final"]["val_loss"]
    for facts in runs.values():
        history = History(
            **{
                key: facts["history"][key]
                for key in ("step", "train_loss", "val_loss", "lr", "seconds", "wall_seconds")
            }
        )
        facts["reaches_target"] = time_to_reach(history, target)
        facts["efficiency"] = facts["training_flops_per_second"] / matmul["flops_per_second"]
        facts["efficiency_at_model_shapes"] = (
            facts["training_flops_per_second"] / facts["matmul_flops_at_model_shapes"]
        )
    reference_cross, course_cross = (
        runs["baby-gpt-reference"]["reaches_target"],
        runs["course-default"]["reaches_target"],
    )
    both = reference_cross is not None and course_cross is not None
    time_to_target = {
        "target_val_loss": target,
        "time_ratio": course_cross["seconds"] / reference_cross["seconds"] if both else None,
        "wall_ratio": course_cross["wall_seconds"] / reference_cross["wall_seconds"] if both else None,
    }

    print("measuring the loop's efficiency on a wide model", file=sys.stderr)
    wide = wide_model_efficiency(data, matmul["flops_per_second"], quick)

    print("measuring generation speed", file=sys.stderr)
    course_model, tokenizer = models["course-default"], data["tokenizer"]
    prompt_ids = tokenizer.encode(PROMPT)
    sample_ids = generate(course_model, torch.tensor([prompt_ids]), 200, strategy="greedy")[
        0, len(prompt_ids) :
    ]
    block_size = max(course_model.config.block_size, len(prompt_ids) + max(GENERATION_LENGTHS))
    torch.manual_seed(0)
    speed_model = build_model(
        replace(course_model.config, block_size=block_size)
    ).eval()  # weights do not matter
    generation = {
        "block_size": block_size,
        "prompt_tokens": len(prompt_ids),
        "rows": generation_speed(speed_model, prompt_ids, repeats=1 if quick else 3),
    }

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
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
        },
        "data": {
            "corpus": CORPUS,
            "characters": len(data["text"]),
            "vocab_size": data["vocab_size"],
            "sha256": text_checksum(data["text"]),
        },
        "matmul": matmul,
        "runs": runs,
        "wide_model_efficiency": wide,
        "time_to_target": time_to_target,
        "generation": generation,
        "sample": tokenizer.decode(sample_ids.tolist()),
        "artifacts": read_artifacts(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out_dir / "results.md").write_text(markdown_report(results), encoding="utf-8")
    plot_results(results, out_dir / "results.png")
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
    speed = results["time_to_target"]
    print(
        json.dumps(
            {
                "time_ratio": speed["time_ratio"],
                "target_val_loss": speed["target_val_loss"],
                "efficiency": {name: round(run["efficiency"], 3) for name, run in results["runs"].items()},
                "kv_cache_speedup_256": results["generation"]["rows"][-1]["speedup"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
