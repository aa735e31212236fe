"""Position information: attention alone does not know the order of the tokens.

Without positions, attention treats its input as a *set*: shuffle the tokens and every output is
shuffled the same way (``tests/test_models.py::test_no_positions_make_the_encoder_permutation_equivariant``).
Four ways to tell the model where each token sits:

- ``sinusoidal``: add a fixed table of sines and cosines (Vaswani et al., 2017).
- ``learned``:    add a trained vector per position (GPT-2, BERT).
- ``rotary``:     rotate queries and keys by a position-dependent angle inside attention (RoPE, Su et al.,
                  2021), so the score q . k depends only on the *difference* of the two positions.
- ``none``:       add nothing (a decoder still sees order through its causal mask).

The additive kinds map x (B, T, C) -> x + P[start : start + T] (B, T, C). ``start`` is the first position
of x: 0 normally, the number of cached positions when a KV cache holds earlier tokens.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.configs import POSITIONAL_KINDS
from course_lib.validation import check_int, fail


def _check_positions(start: int, length: int, block_size: int) -> None:
    """Positions start .. start + length - 1 must exist (there are block_size of them)."""
    if start + length > block_size:
        fail(
            "start + T",
            f"at most block_size={block_size}",
            f"{start} + {length}",
            "Crop the input to its last block_size tokens.",
        )


def sinusoidal_table(n_positions: int, n_embd: int) -> torch.Tensor:
    """The sinusoidal table P (T, C) of Vaswani et al. (2017).

    P[pos, 2i] = sin(pos / 10000^(2i/C)) and P[pos, 2i+1] = cos(pos / 10000^(2i/C)).
    """
    check_int("n_positions", n_positions, minimum=1)
    check_int("n_embd", n_embd, minimum=1)
    position = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (T, 1)
    inv_freq = 10000.0 ** (-torch.arange(0, n_embd, 2, dtype=torch.float64) / n_embd)  # (ceil(C/2),)
    angles = position * inv_freq  # (T, ceil(C/2)): column i turns at its own frequency
    table = torch.zeros(n_positions, n_embd, dtype=torch.float64)
    table[:, 0::2] = angles.sin()
    table[:, 1::2] = angles[:, : n_embd // 2].cos()
    return table.float()  # (T, C)


class SinusoidalPositions(nn.Module):
    """Adds the fixed sinusoidal table: x (B, T, C) -> x + P[start : start + T]. Nothing to train."""

    def __init__(self, block_size: int, n_embd: int) -> None:
        super().__init__()
        self.block_size = block_size
        self.register_buffer(
            "table", sinusoidal_table(block_size, n_embd), persistent=False
        )  # (block_size, C)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        T = x.size(1)
        _check_positions(start, T, self.block_size)
        return x + self.table[start : start + T]  # (B, T, C) + (T, C)


class LearnedPositions(nn.Module):
    """Adds one trained vector per position: x (B, T, C) -> x + E[start : start + T]."""

    def __init__(self, block_size: int, n_embd: int) -> None:
        super().__init__()
        self.block_size = block_size
        self.embedding = nn.Embedding(block_size, n_embd)  # row p = the vector of position p

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        T = x.size(1)
        _check_positions(start, T, self.block_size)
        positions = torch.arange(start, start + T, device=x.device)  # (T,)
        return x + self.embedding(positions)  # (B, T, C) + (T, C)


class NoPositions(nn.Module):
    """Adds nothing: x (B, T, C) -> x. The ablation that shows why positions matter."""

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        return x


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(..., D) -> (..., D): halves (x1, x2) become (-x2, x1): each pair (x1[i], x2[i]) turns 90 degrees."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE), applied to queries and keys inside attention.

    Channel pairs (i, i + D/2) of a vector at position p are rotated by the angle p * base^(-2i/D).
    Rotating q by angle a and k by angle b changes q . k only through b - a, so attention scores depend
    on how far apart two tokens are, not on where they sit. Nothing is added to the embeddings.

    Any position is allowed: the angle tables start with ``block_size`` rows and grow when a sliding-window
    KV cache carries generation past them. What the model was trained on is a range of *distances*
    (up to block_size - 1), and a sliding window never shows it a larger one.
    """

    def __init__(self, head_dim: int, block_size: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2 != 0:
            fail(
                "head_dim",
                "even for rotary positions",
                head_dim,
                "Choose n_embd and n_head so n_embd // n_head is even.",
            )
        self.block_size = block_size
        self.inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)  # (D/2,)
        self.register_buffer("cos", torch.empty(0), persistent=False)  # (n_positions, D), filled by _build
        self.register_buffer("sin", torch.empty(0), persistent=False)
        self._build(block_size)

    def _build(self, n_positions: int) -> None:
        """Angle tables for positions 0 .. n_positions - 1 on the buffers' device."""
        positions = torch.arange(n_positions, dtype=torch.float64)[:, None]  # (n_positions, 1)
        angles = positions * self.inv_freq  # (n_positions, D/2)
        angles = torch.cat((angles, angles), dim=-1)  # (n_positions, D): pair (i, i + D/2) shares an angle
        self.cos = angles.cos().float().to(self.cos.device)
        self.sin = angles.sin().float().to(self.sin.device)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Rotate queries or keys x (B, H, T, D) sitting at positions start .. start + T - 1."""
        cos, sin = self.angles(start, x.size(-2), x.dtype)  # (T, D) each
        return x * cos + rotate_half(x) * sin  # (B, H, T, D)

    def rotate_queries_and_keys(
        self, q: torch.Tensor, k: torch.Tensor, start: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward`` on q and k (B, H, T, D) at the same positions, looking the angles up once."""
        cos, sin = self.angles(start, q.size(-2), q.dtype)  # (T, D) each
        return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin

    def angles(self, start: int, length: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin (T, D) of the angles of positions start .. start + length - 1."""
        if start + length > self.cos.size(0):  # past the table (a sliding-window cache): double it
            self._build(max(start + length, 2 * self.cos.size(0)))
        cos, sin = self.cos[start : start + length], self.sin[start : start + length]
        return (cos, sin) if cos.dtype == dtype else (cos.to(dtype), sin.to(dtype))


def make_positional(kind: str, block_size: int, n_embd: int, n_head: int) -> nn.Module:
    """Build the position module named ``kind``: "sinusoidal", "learned", "rotary" or "none"."""
    if kind == "sinusoidal":
        return SinusoidalPositions(block_size, n_embd)
    if kind == "learned":
        return LearnedPositions(block_size, n_embd)
    if kind == "rotary":
        return RotaryEmbedding(n_embd // n_head, block_size)
    if kind == "none":
        return NoPositions()
    fail("kind", f"one of {POSITIONAL_KINDS}", repr(kind), "Pick one of the listed position encodings.")
