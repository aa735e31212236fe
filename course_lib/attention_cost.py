"""The attention-cost lab: what one attention layer costs as an image (or a video) grows, measured, predicted.

An image cut into square patches of ``patch`` pixels is a ``grid`` x ``grid`` board of tokens, with
grid = side / patch and T = grid^2 tokens; a video of F frames has F x T tokens. Three ways to attend:

- ``"full"``:   every token looks at every token: T keys per query, T^2 (query, key) pairs.
- ``"window"``: the board is cut into ``window`` x ``window`` blocks; a token looks only inside its block
  (as Swin-style local attention does): window^2 keys per query, so the pairs grow like T.
- ``"axial"``:  a token looks along its row, then along its column (and, in a video, along its time line),
  as the Axial Transformer does: 2 x grid (+ F) keys per query, so the pairs grow like T^1.5. Two passes
  are enough for information to travel from any token to any other.

The module has three parts, in the order the notebook uses them:

1. Arithmetic (no tensors): ``grid_side``, ``keys_per_query``, ``score_pairs``, ``layer_flops``,
   ``kv_cache_bytes``, ``generation_cost`` (raster order against MaskGIT's K parallel rounds).
2. The three attentions written out on (B, H, T, D) tensors: ``full_attention``, ``window_attention``,
   ``axial_attention``.
3. Measurements on this machine: ``time_attention`` (one CPU thread, timed by ``course_lib.timing``),
   ``measure_peak_bytes`` (the high-water mark of a fresh Python process), ``available_memory_bytes``
   (psutil's "available" figure: free memory plus what the system can reclaim at once) and
   ``max_full_attention_tokens`` (where full attention runs out of memory), and ``fitted_exponent``.

Shapes: B = batch, H = heads, T = tokens, D = head size. Sizes are in bytes, FLOPs count a multiply and an
add separately.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import psutil
import torch
import torch.nn.functional as F

from course_lib.timing import best_seconds
from course_lib.validation import check_int, check_shape, fail

ATTENTION_KINDS = ("full", "window", "axial")
GENERATION_METHODS = ("raster, no cache", "raster, KV cache", "MaskGIT")
FLOAT32_BYTES = 4
TABLES_ALIVE = 2  # written-out attention holds the scores and the softmax weights at the same moment


# ------------------------------------------------------------------------------------------------------------
# 1. Arithmetic
# ------------------------------------------------------------------------------------------------------------


def _check_kind(kind: str) -> None:
    if kind not in ATTENTION_KINDS:
        fail("kind", f"one of {', '.join(ATTENTION_KINDS)}", repr(kind), 'Use e.g. kind="full".')


def grid_side(side: int, patch: int) -> int:
    """Tokens along one edge of a ``side`` x ``side`` image cut into ``patch`` x ``patch`` patches."""
    check_int("side", side, minimum=1, fix="Give the image's width in pixels, e.g. 256.")
    check_int("patch", patch, minimum=1, maximum=side, fix=f"Use a patch from 1 to the image side {side}.")
    if side % patch:
        fail(
            "patch",
            f"a divisor of the image side {side}",
            patch,
            "Choose a patch that tiles the image exactly (e.g. a power of two for a power-of-two side).",
        )
    return side // patch


def keys_per_query(kind: str, *, grid: int, frames: int = 1, window: int = 8) -> int:
    """How many keys one query scores in one layer, on ``frames`` boards of ``grid`` x ``grid`` tokens.

    A window wider than the board is the whole board; axial attention adds a time pass only for a video.
    """
    _check_kind(kind)
    check_int("grid", grid, minimum=1, fix="Use grid_side(side, patch).")
    check_int("frames", frames, minimum=1, fix="Use 1 for a still image.")
    check_int("window", window, minimum=1, fix="Use e.g. window=8 (8 x 8 tokens per block).")
    if kind == "full":
        return frames * grid * grid
    if kind == "window":
        return min(window, grid) ** 2
    return 2 * grid + (frames if frames > 1 else 0)


def score_pairs(kind: str, *, grid: int, frames: int = 1, window: int = 8, n_head: int = 1) -> int:
    """(query, key) pairs one layer scores, over all ``n_head`` heads: tokens x keys per query x heads."""
    check_int("n_head", n_head, minimum=1, fix="Use e.g. n_head=8.")
    tokens = frames * grid * grid
    return n_head * tokens * keys_per_query(kind, grid=grid, frames=frames, window=window)


def layer_flops(tokens: int, pairs: int, *, d_model: int, head_dim: int) -> dict[str, int]:
    """Forward FLOPs of one attention layer: the projections and the attention proper.

    projections: q, k, v and output, four (d_model x d_model) matrices, 2 FLOPs per weight per token.
    attention:   2 x head_dim for a score q.k plus 2 x head_dim for its share of the weighted values,
                 per (query, key) pair (``pairs`` summed over heads, from ``score_pairs``).
    """
    return {"projections": 8 * tokens * d_model * d_model, "attention": 4 * pairs * head_dim}


def predicted_peak_bytes(pairs: int, *, tables: int = TABLES_ALIVE, dtype_bytes: int = FLOAT32_BYTES) -> int:
    """Peak memory of written-out attention: ``tables`` tables of ``pairs`` numbers alive at once."""
    return tables * pairs * dtype_bytes


def kv_cache_bytes(tokens: int, *, n_layer: int, d_model: int, dtype_bytes: int = 2) -> int:
    """Bytes a KV cache keeps for ``tokens`` tokens: a key and a value of d_model numbers per layer."""
    return 2 * n_layer * tokens * d_model * dtype_bytes


def generation_cost(method: str, tokens: int, *, steps: int | None = None) -> dict[str, int]:
    """Sequential forward passes and (query, key) pairs scored per layer to generate ``tokens`` tokens.

    "raster, no cache":  token t is a pass over all t tokens so far: t^2 pairs, T passes.
    "raster, KV cache":  token t is one query against t cached keys: t pairs, T passes.
    "MaskGIT":           ``steps`` passes, each a bidirectional pass over all T tokens: T^2 pairs each.
    """
    check_int("tokens", tokens, minimum=1, fix="Use e.g. 256 tokens.")
    if method not in GENERATION_METHODS:
        fail("method", f"one of {', '.join(GENERATION_METHODS)}", repr(method), 'Use e.g. "MaskGIT".')
    if method == "MaskGIT":
        check_int("steps", steps, minimum=1, fix="MaskGIT needs its number of rounds K, e.g. steps=8.")
        return {"passes": steps, "pairs": steps * tokens * tokens}
    if method == "raster, KV cache":
        return {"passes": tokens, "pairs": tokens * (tokens + 1) // 2}
    return {"passes": tokens, "pairs": tokens * (tokens + 1) * (2 * tokens + 1) // 6}


# ------------------------------------------------------------------------------------------------------------
# 2. The three attentions, written out
# ------------------------------------------------------------------------------------------------------------


def full_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(Q K^T / sqrt(D)) V over the last two dimensions: q, k, v (..., T, D) -> (..., T, D).

    Written out: the (..., T, T) scores and weights both exist at the peak (``TABLES_ALIVE``)."""
    scores = q @ k.transpose(-2, -1) * q.size(-1) ** -0.5  # (..., T, T)
    weights = scores.softmax(dim=-1)  # (..., T, T)
    return weights @ v  # (..., T, D)


def _check_board(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, grid: int) -> None:
    fix = "Pass (B, H, T, D) tensors with T = grid * grid tokens in raster order."
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        check_shape(name, tensor, ("B", "H", grid * grid, "D"), fix)


def _to_blocks(x: torch.Tensor, grid: int, window: int) -> torch.Tensor:
    """(B, H, T, D) in raster order -> (B, H, n_blocks, window^2, D), one row per window x window block."""
    b, h, _, d = x.shape
    n = grid // window
    x = x.reshape(b, h, n, window, n, window, d).permute(0, 1, 2, 4, 3, 5, 6)
    return x.reshape(b, h, n * n, window * window, d)


def _from_blocks(x: torch.Tensor, grid: int, window: int) -> torch.Tensor:
    """The inverse of ``_to_blocks``: (B, H, n_blocks, window^2, D) -> (B, H, T, D)."""
    b, h, _, _, d = x.shape
    n = grid // window
    x = x.reshape(b, h, n, n, window, window, d).permute(0, 1, 2, 4, 3, 5, 6)
    return x.reshape(b, h, grid * grid, d)


Core = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (..., T, D) x 3 -> (..., T, D)


def window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, grid: int, window: int, core: Core = full_attention
) -> torch.Tensor:
    """Full attention inside each ``window`` x ``window`` block of a grid x grid board.

    q, k, v: (B, H, T, D) with T = grid^2 in raster order; grid must be a multiple of window. -> (B, H, T, D).
    core: the attention run on each block (``full_attention``, or ``F.scaled_dot_product_attention``).
    """
    _check_board(q, k, v, grid)
    check_int("window", window, minimum=1, maximum=grid, fix=f"Use a window from 1 to grid = {grid}.")
    if grid % window:
        fail("window", f"a divisor of grid = {grid}", window, "Choose a window that tiles the board.")
    blocks = [_to_blocks(x, grid, window) for x in (q, k, v)]
    return _from_blocks(core(*blocks), grid, window)


def axial_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, grid: int, core: Core = full_attention
) -> torch.Tensor:
    """Attention along each row, then along each column, of a grid x grid board.

    q, k, v: (B, H, T, D), T = grid^2 in raster order -> (B, H, T, D). The column pass takes the row
    pass's output as its values, so every token's output depends on every token's value. core: as in
    ``window_attention``.
    """
    _check_board(q, k, v, grid)
    b, h, _, d = q.shape
    rows = [x.reshape(b, h, grid, grid, d) for x in (q, k, v)]  # (B, H, row, column, D)
    along_rows = core(*rows)  # each row attends within itself
    columns = [x.transpose(2, 3) for x in (*rows[:2], along_rows)]  # (B, H, column, row, D)
    along_columns = core(*columns)
    return along_columns.transpose(2, 3).reshape(b, h, grid * grid, d)


def attend(
    kind: str,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    grid: int,
    window: int = 8,
    core: Core = full_attention,
) -> torch.Tensor:
    """Run the attention named ``kind`` on (B, H, grid^2, D) tensors, with ``core`` as its inner
    attention -> (B, H, grid^2, D)."""
    _check_kind(kind)
    if kind == "full":
        _check_board(q, k, v, grid)
        return core(q, k, v)
    if kind == "window":
        return window_attention(q, k, v, grid=grid, window=window, core=core)
    return axial_attention(q, k, v, grid=grid, core=core)


# ------------------------------------------------------------------------------------------------------------
# 3. Measurements on this machine
# ------------------------------------------------------------------------------------------------------------


def time_attention(
    kind: str, *, grid: int, window: int = 8, head_dim: int = 64, repeats: int = 7, fused: bool = True
) -> float:
    """Shortest seconds of one head of ``kind`` attention on a grid x grid board, on one CPU thread
    (other programs disturb one thread's clock less). Seeded, so every call times the same numbers.

    fused=True times PyTorch's fused kernel as the inner attention (what real systems run; it also keeps
    the big tables out of the clock: a written-out table larger than the CPU's cache slows down by steps).
    """
    core = F.scaled_dot_product_attention if fused else full_attention
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, grid * grid, head_dim, generator=generator) for _ in range(3))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return best_seconds(
            lambda: attend(kind, q, k, v, grid=grid, window=window, core=core), repeats=repeats
        )
    finally:
        torch.set_num_threads(threads)


def peak_rss_bytes() -> int:
    """This process's high-water mark of resident memory, in bytes.

    Linux: VmHWM in /proc/self/status (getrusage's ru_maxrss would carry the parent's peak across the
    exec that starts a child). Windows: the peak working set. macOS: ru_maxrss (counted in bytes there)."""
    if sys.platform == "win32":
        return psutil.Process().memory_info().peak_wset
    status = Path("/proc/self/status")
    if status.exists():
        line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024  # the file counts kB
    import resource  # Unix only

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _report_peaks(token_counts: list[int], head_dim: int) -> None:
    """Run in a fresh process by ``measure_peak_bytes``: print the extra peak memory of each size as JSON.

    The fused kernel runs first (it raises the high-water mark by almost nothing), then the written-out
    attention; sizes run smallest first, so each one raises the high-water mark the one before left."""
    torch.set_num_threads(1)
    process, peaks = psutil.Process(), {}
    for name, attention in (("fused", F.scaled_dot_product_attention), ("written out", full_attention)):
        q, k, v = (torch.randn(1, 1, 256, head_dim) for _ in range(3))
        attention(q, k, v)  # a warm-up: first calls allocate workspaces of their own
        peaks[name] = []
        for tokens in token_counts:
            q, k, v = (torch.randn(1, 1, tokens, head_dim) for _ in range(3))
            before = process.memory_info().rss
            attention(q, k, v)
            peaks[name].append(max(0, peak_rss_bytes() - before))
    print(json.dumps(peaks))


def measure_peak_bytes(token_counts: Sequence[int], *, head_dim: int = 64) -> dict[str, list[int]]:
    """Extra peak memory (bytes) of one head of full attention over each of ``token_counts`` tokens:
    {"written out": [...] for ``full_attention``, "fused": [...] for ``F.scaled_dot_product_attention``}.

    The sizes run in a fresh Python process (a second or two to start), whose high-water mark this
    notebook's earlier cells have not raised. Keep the sizes small: this allocates what it measures.
    """
    counts = list(token_counts)
    for index, tokens in enumerate(counts):
        check_int(f"token_counts[{index}]", tokens, minimum=1, maximum=8192, fix="Measure small sizes only.")
    if counts != sorted(set(counts)):
        fail("token_counts", "increasing", counts, "List the sizes smallest first, each once.")
    code = f"from course_lib.attention_cost import _report_peaks; _report_peaks({counts}, {head_dim})"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def available_memory_bytes() -> int:
    """Memory this machine can hand out now without swapping: psutil's ``virtual_memory().available``."""
    return int(psutil.virtual_memory().available)


def max_full_attention_tokens(available_bytes: int, *, n_head: int = 1, bytes_per_pair: int = 8) -> int:
    """The most tokens whose full attention fits in ``available_bytes``: n_head x T^2 x bytes_per_pair <=
    available (bytes_per_pair = TABLES_ALIVE x 4 bytes for written-out float32 attention)."""
    check_int("available_bytes", available_bytes, minimum=1, fix="Use available_memory_bytes().")
    check_int("bytes_per_pair", bytes_per_pair, minimum=1, fix="Use e.g. 8 (two float32 tables).")
    check_int("n_head", n_head, minimum=1, fix="Use e.g. n_head=1.")
    return math.isqrt(available_bytes // (n_head * bytes_per_pair))


def fitted_exponent(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Slope p of the straight line through (log x, log y): y ~ c * x**p."""
    return float(np.polyfit(np.log(xs), np.log(ys), deg=1)[0])
