"""The key/value cache: generation without recomputing the past.

When a decoder generates token t+1 it needs the keys and values of tokens 0..t in every layer. They
do not change (a causal model never lets an earlier position see a later one), so we store them once
and, at each step, compute keys and values for the new token only. One step then costs one position
instead of the whole sequence, and gives exactly the same logits.

Storage per layer: keys and values (B, H, max_length, D), filled from the left. ``length`` counts the
positions stored so far. A forward pass calls ``update`` once per layer (same ``length`` for every
layer) and then ``advance`` once.
"""

from __future__ import annotations

import torch

from course_lib.validation import check_int, check_same_size, check_shape, fail


class KVCache:
    """Keys and values of every layer for one generation run (a batch of B sequences)."""

    def __init__(
        self,
        n_layer: int,
        batch_size: int,
        n_head: int,
        head_dim: int,
        max_length: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        for name, value in (
            ("n_layer", n_layer),
            ("batch_size", batch_size),
            ("n_head", n_head),
            ("head_dim", head_dim),
            ("max_length", max_length),
        ):
            check_int(name, value, minimum=1)
        self.n_layer = n_layer
        self.max_length = max_length
        shape = (n_layer, batch_size, n_head, max_length, head_dim)  # (L, B, H, max_length, D)
        self.keys = torch.zeros(shape, device=device, dtype=dtype)
        self.values = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0  # positions already stored

    @property
    def batch_size(self) -> int:
        return self.keys.size(1)

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store this step's keys and values for ``layer`` and return all of them.

        Args:
            layer: layer index in [0, n_layer).
            k, v: (B, H, t, D) for the t new positions.

        Returns:
            keys and values (B, H, length + t, D): the stored positions followed by the new ones.
        """
        self._check_update(layer, k, v)
        end = self.length + k.size(2)
        self.keys[layer, :, :, self.length : end] = k
        self.values[layer, :, :, self.length : end] = v
        return self.keys[layer, :, :, :end], self.values[layer, :, :, :end]  # (B, H, length + t, D)

    def advance(self, t: int) -> None:
        """Count the ``t`` positions that every layer has just stored (the model calls this once per forward)."""
        check_int("t", t, minimum=0)
        self._check_room(t)
        self.length += t

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows ``index`` (B',) in that order (beam search: beams are copied and dropped)."""
        check_shape(
            "index", index, ("B'",), "Pass a 1-D LongTensor of batch rows, e.g. torch.tensor([0, 0, 1])."
        )
        index = index.to(self.keys.device)
        self.keys = self.keys.index_select(1, index)  # (L, B', H, max_length, D)
        self.values = self.values.index_select(1, index)

    def _check_room(self, t: int) -> None:
        if self.length + t > self.max_length:
            fail(
                "the KV cache",
                f"large enough for {self.length} stored + {t} new positions",
                f"max_length={self.max_length}",
                "A model accepts at most block_size positions: crop the sequence to its last block_size tokens "
                "and start again with a fresh cache (model.new_cache(batch_size)).",
            )

    def _check_update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> None:
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < self.n_layer:
            fail(
                "layer",
                f"an integer in [0, {self.n_layer})",
                repr(layer),
                "Pass the index of the layer storing keys.",
            )
        _, B, H, _, D = self.keys.shape
        fix = f"This cache stores keys and values of shape (B, H, t, D) = ({B}, {H}, t, {D})."
        check_shape("k", k, (B, H, "t", D), fix)
        check_shape("v", v, (B, H, "t", D), fix)
        check_same_size("v", v.size(2), "k", k.size(2), "number of new positions t", fix)
        self._check_room(k.size(2))
