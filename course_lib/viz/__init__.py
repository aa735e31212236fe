"""Pictures of what a transformer does: attention maps, token distributions, beams, loss curves, model sizes.

One module per view; everything public is importable from ``course_lib.viz``:

- ``attention``     ``plot_attention`` (one map), ``plot_attention_heads`` (one panel per head)
- ``distribution``  ``plot_distribution`` (next-token bars, before and after filtering)
- ``beam_tree``     ``plot_beam_tree`` (the beams beam search kept)
- ``positional``    ``plot_positional_encoding`` (a position table as a heatmap)
- ``training``      ``plot_training_history`` (train and validation loss)
- ``architecture``  ``plot_architecture_costs`` (parameters by part, memory of weights and KV cache)
- ``masks``         ``plot_mask_patterns`` (the encoder, decoder and cross-attention masks side by side)
- ``digits``        ``plot_digits`` (a grid of 8x8 digit images, masked cells shown)
- ``piano_roll``    ``plot_piano_roll`` (a tune's notes against time)

Every function returns a matplotlib ``Figure``. The figure is closed in pyplot before it is
returned, so a notebook shows it exactly once: when it is the cell's last value, or through
``display(fig)``. Pass ``ax=`` to draw into an axes of your own figure instead (single-panel plots).

Tokens are drawn with visible whitespace (``" "`` -> ``"␣"``, ``"\\n"`` -> ``"↵"``), so a
character-level model's spaces and line breaks can be told apart.
"""

from course_lib.viz._common import (
    ATTENTION_CMAP,
    KEPT_COLOR,
    POSITIONAL_CMAP,
    REMOVED_COLOR,
    as_float_tensor,
    check_attention_rows,
    check_labels,
    display_token,
)
from course_lib.viz.architecture import plot_architecture_costs
from course_lib.viz.attention import plot_attention, plot_attention_heads
from course_lib.viz.beam_tree import plot_beam_tree
from course_lib.viz.digits import plot_digits
from course_lib.viz.distribution import plot_distribution
from course_lib.viz.masks import plot_mask_patterns
from course_lib.viz.piano_roll import plot_piano_roll
from course_lib.viz.positional import plot_positional_encoding
from course_lib.viz.training import plot_training_history

__all__ = [
    "ATTENTION_CMAP",
    "KEPT_COLOR",
    "POSITIONAL_CMAP",
    "REMOVED_COLOR",
    "as_float_tensor",
    "check_attention_rows",
    "check_labels",
    "display_token",
    "plot_architecture_costs",
    "plot_attention",
    "plot_attention_heads",
    "plot_beam_tree",
    "plot_digits",
    "plot_distribution",
    "plot_mask_patterns",
    "plot_piano_roll",
    "plot_positional_encoding",
    "plot_training_history",
]
