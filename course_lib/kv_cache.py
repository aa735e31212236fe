"""The key/value cache: generation without recomputing the past.

When a decoder generates token t+1 it needs the keys and values of tokens 0..t in every layer. They
do not change (a causal model never lets an earlier position see a later one), so we store them once
and, at each step, compute keys and values for the new token only. One step then costs one position
instead of the whole sequence, and gives exactly the same logits.

Storage per layer: keys and values (B, H, max_length, D), filled from the left. ``length`` counts the
positions seen so far. A forward pass calls ``update`` once per layer (same ``length`` for every layer)
and then ``advance`` once.

**Two kinds.** A *fixed* cache holds at most ``max_length`` (the model's block_size) positions: after
that a model with learned or sinusoidal positions has no position vector for the next token, so
generation has to re-run the last block_size tokens at every step (what ``generate`` then does).
A *sliding-window* cache (``window=max_length``, as in Mistral) keeps only the last ``window``
positions and lets ``length`` grow without end. It suits models whose attention depends only on the
distance between tokens (rotary positions, or none). Its outputs equal re-running the last ``window``
tokens until the window first fills; after that they differ, because a stored key of a higher layer was
computed when its own position could still see ``window`` positions further back: through the layers,
the cached model sees further back than one window.
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
        *,
        sliding_window: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        sizes = {"n_layer": n_layer, "batch_size": batch_size, "n_head": n_head, "head_dim": head_dim}
        for name, value in (sizes | {"max_length": max_length}).items():
            check_int(name, value, minimum=1)
        self.n_layer = n_layer
        self.max_length = max_length
        self.window = max_length if sliding_window else None  # a query sees at most this many positions
        shape = (n_layer, batch_size, n_head, max_length, head_dim)  # (L, B, H, max_length, D)
        self.keys = torch.zeros(shape, device=device, dtype=dtype)
        self.values = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0  # positions seen so far (the position of the next new token)

    @property
    def batch_size(self) -> int:
        return self.keys.size(1)

    @property
    def stored(self) -> int:
        """How many positions the buffers hold now: all of them, or the last ``window`` of a sliding cache."""
        return min(self.length, self.max_length)

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store this step's keys and values for ``layer`` and return the ones the new queries may see.

        Args:
            layer: layer index in [0, n_layer).
            k, v: (B, H, t, D) for the t new positions.

        Returns:
            keys and values (B, H, T_k, D): stored positions followed by the new ones, except in the
            one-token step of a full sliding window, where the window's ring is returned as it lies (a
            single query attends to every key, so their order does not matter). A fixed cache returns all
            positions (T_k = length + t); a sliding one the last window - 1 stored ones and the t new ones.
        """
        self.check_update(layer, k, v)
        t, stored, keys, values = k.size(2), self.stored, self.keys[layer], self.values[layer]
        if self.window is None or stored + t <= self.max_length:  # room left: position p sits in slot p
            keys[:, :, stored : stored + t], values[:, :, stored : stored + t] = k, v
            return keys[:, :, : stored + t], values[:, :, : stored + t]
        slot = self.length % self.window  # a full window: position p sits in slot p % window (a ring)
        if t == 1:  # the generation step: the new position replaces the oldest, and one query needs no order
            keys[:, :, slot], values[:, :, slot] = k[:, :, 0], v[:, :, 0]
            return keys, values
        keys = torch.cat([keys.roll(-slot, dims=2), k], dim=2)  # (B, H, window + t, D), oldest first
        values = torch.cat([values.roll(-slot, dims=2), v], dim=2)
        end = (self.length + t) % self.window  # slide: keep the last window positions, each in its slot
        self.keys[layer], self.values[layer] = (
            keys[:, :, -self.window :].roll(end, 2),
            values[:, :, -self.window :].roll(end, 2),
        )
        visible = min(stored, self.window - 1) + t  # the oldest new query's window reaches window - 1 back
        return keys[:, :, -visible:], values[:, :, -visible:]

    def advance(self, t: int) -> None:
        """Count the ``t`` positions every layer has just stored (the model calls this once per forward)."""
        check_int("t", t, minimum=0)
        self.check_room(t)
        self.length += t

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows ``index`` (B',) in that order (beam search: beams are copied and dropped)."""
        check_shape(
            "index", index, ("B'",), "Pass a 1-D LongTensor of batch rows, e.g. torch.tensor([0, 0, 1])."
        )
        index = index.to(self.keys.device)
        self.keys = self.keys.index_select(1, index)  # (L, B', H, max_length, D)
        self.values = self.values.index_select(1, index)

    def check_room(self, t: int) -> None:
        """A fixed cache must have room for ``t`` more positions; a sliding one always has."""
        if self.window is None and self.length + t > self.max_length:
            fail(
                "the KV cache",
                f"large enough for {self.length} stored + {t} new positions",
                f"max_length={self.max_length}",
                "A model accepts at most block_size positions: crop the sequence to its last block_size "
                "tokens and start again with a fresh cache (model.new_cache(batch_size)).",
            )

    def check_update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> None:
        """``layer`` in range, k and v (B, H, t, D) of this cache's sizes, with room for t more positions."""
        _, B, H, _, D = self.keys.shape
        if 0 <= layer < self.n_layer and k.shape[:2] == (B, H) and k.size(-1) == D and v.shape == k.shape:
            self.check_room(k.size(2))  # the usual case: a few comparisons, no message built
            return
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < self.n_layer:
            fail(
                "layer",
                f"an integer in [0, {self.n_layer})",
                repr(layer),
                "Pass the index of the layer storing keys.",
            )
        fix = f"This cache stores keys and values of shape (B, H, t, D) = ({B}, {H}, t, {D})."
        check_shape("k", k, (B, H, "t", D), fix)
        check_shape("v", v, (B, H, "t", D), fix)
        check_same_size("v", v.size(2), "k", k.size(2), "number of new positions t", fix)
