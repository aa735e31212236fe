"""``ArchitectureExplorer``: pick a published model or set its shape by slider; see its size and cost.

The numbers come from ``course_lib.architecture`` (arithmetic on the configuration, no weights), so a
slider move costs well under a millisecond of computing plus the HTML.
"""

from __future__ import annotations

import html
from dataclasses import replace

import ipywidgets as widgets
from matplotlib.figure import Figure

from course_lib import viz
from course_lib.architecture import (
    DTYPE_BYTES,
    MLP_MATRICES,
    PRESETS,
    Architecture,
    check_preset_name,
    format_bytes,
    format_count,
    format_flops,
    forward_flops_per_token,
    kv_cache_bytes,
    kv_cache_bytes_per_token,
    matmul_parameters,
    parameter_count,
    weight_bytes,
)
from course_lib.validation import CourseInputError
from course_lib.widgets._common import FONT, dropdown, finish_layout, new_output, slider

_BAR_WIDTH_PX = 200  # 100% of the parameters fills the whole bar
_CELL = "padding: 2px 10px 2px 0; text-align: right;"
_LABEL = "padding: 2px 10px 2px 0; text-align: left;"
_MLP_NAMES = {"gelu": "GELU", "relu": "ReLU", "swiglu": "SwiGLU", "geglu": "GEGLU"}
_NORM_NAMES = {"layernorm": "LayerNorm", "rmsnorm": "RMSNorm"}
_PART_NAMES = {
    "embeddings": "embeddings (token, position, segment tables)",
    "attention": "attention (q, k, v, output projections)",
    "mlp": "MLP (feed-forward)",
    "norms": "norms",
    "head": "head (untied output layer, pooler)",
}


def _shape_text(arch: Architecture) -> str:
    """One line with the numbers that define ``arch``."""
    if arch.family == "encoder-decoder":
        layers = f"{arch.n_layer} + {arch.decoder_layers} layers (encoder + decoder)"
    else:
        layers = f"{arch.n_layer} layers"
    heads = f"{arch.n_head} heads of {arch.head_dim}"
    if arch.kv_heads < arch.n_head:
        heads += f" ({arch.kv_heads} key/value heads: grouped-query)"
    window = f" (sliding window {arch.sliding_window:,})" if arch.sliding_window else ""
    norm = _NORM_NAMES[arch.norm]
    tied = "tied" if arch.tied_embeddings or not arch.lm_head else "untied"
    return " &middot; ".join(
        (
            arch.family,
            layers,
            heads,
            f"width {arch.d_model:,}",
            f"MLP {arch.d_ff:,} ({_MLP_NAMES[arch.mlp]}, {MLP_MATRICES[arch.mlp]} matrices)",
            f"vocabulary {arch.vocab_size:,}",
            f"context {arch.context:,}{window}",
            f"{arch.positions} positions",
            f"{norm}{'' if arch.norm_first else ' after each sub-layer'}",
            f"{tied} embeddings",
        )
    )


def _memory_row(label: str, sizes: list[int]) -> str:
    """A table row: a label, then one size per number format."""
    cells = "".join(f'<td style="{_CELL}">{format_bytes(n)}</td>' for n in sizes)
    return f'<tr><td style="{_LABEL}">{label}</td>{cells}</tr>'


class ArchitectureExplorer(widgets.VBox):
    """A model drop-down (``architecture.PRESETS``) and sliders for layers (per stack for an
    encoder-decoder), heads, width and context.

    Choosing a model sets the sliders to its shape; moving a slider changes that model's shape (the MLP
    keeps its width ratio, the query heads per key/value head are kept when they divide the new head
    count, else every head gets its own). Shown: the parameter count by part (with the published
    figure and its convention for an unmodified model), forward FLOPs per token at the context, memory
    of the weights and of one sequence's KV cache at fp32 / bf16 / int8.

    After every update: ``architecture`` (the shape shown, or the last valid one) and ``error`` (the
    message of an impossible slider combination, e.g. a width that the heads do not divide, else None).
    """

    def __init__(self, model: str = "GPT-2 small"):
        super().__init__()
        check_preset_name("model", model)
        self.model = dropdown(options=list(PRESETS), value=model, description="model")
        self.layers = slider(widgets.IntSlider, min=1, max=96, description="layers")
        self.heads = slider(widgets.IntSlider, min=1, max=64, description="heads")
        self.width = slider(widgets.IntSlider, min=64, max=8192, step=64, description="width (d_model)")
        self.context = slider(widgets.IntSlider, min=16, max=32768, step=16, description="context (tokens)")
        self.output = new_output()
        self._loading = False
        sliders = [self.layers, self.heads, self.width, self.context]
        finish_layout(self, "architecture", [self.model, *sliders], self.output)
        self.model.observe(self._load_model, names="value")
        for control in sliders:
            control.observe(self._update, names="value")
        self._load_model()

    def _load_model(self, change: dict | None = None) -> None:
        """Set the sliders to the chosen model's shape, then draw once."""
        arch = PRESETS[self.model.value].architecture
        self._loading = True
        try:
            self.layers.value, self.heads.value = arch.n_layer, arch.n_head
            self.width.value, self.context.value = arch.d_model, arch.context
        finally:
            self._loading = False
        self._update()

    def _from_sliders(self, *, n_head: int | None = None, width: int | None = None) -> Architecture:
        """The chosen model with the sliders' shape, or with ``n_head`` / ``width`` instead of those two
        sliders' values (raises CourseInputError for an impossible shape)."""
        base = PRESETS[self.model.value].architecture
        group = base.n_head // base.kv_heads  # query heads per key/value head
        n_head = self.heads.value if n_head is None else n_head
        width = self.width.value if width is None else width
        return replace(
            base,
            n_layer=self.layers.value,
            n_head=n_head,
            n_kv_head=None if group == 1 or n_head % group else n_head // group,
            d_model=width,
            d_ff=max(1, round(base.d_ff * width / base.d_model)),
            context=self.context.value,
        )

    def _possible(self, *, n_head: int | None = None, width: int | None = None) -> bool:
        """Whether the sliders' shape with this ``n_head`` or ``width`` is a valid Architecture."""
        try:
            self._from_sliders(n_head=n_head, width=width)
        except CourseInputError:
            return False
        return True

    def _fix_hint(self) -> str:
        """The slider values that repair an impossible shape: heads for this width, widths for these heads."""
        heads = [h for h in range(self.heads.min, self.heads.max + 1) if self._possible(n_head=h)]
        widths = range(self.width.min, self.width.max + 1, self.width.step)
        nearest = sorted(
            (w for w in widths if self._possible(width=w)), key=lambda w: abs(w - self.width.value)
        )
        heads_text = ", ".join(map(str, heads)) or "none"
        widths_text = ", ".join(f"{w:,}" for w in sorted(nearest[:3])) or "none"
        return (
            f"With width {self.width.value:,}, these head counts work: {heads_text}. "
            f"With {self.heads.value} heads, the nearest widths that work: {widths_text}."
        )

    def _update(self, change: dict | None = None) -> None:
        if self._loading:
            return
        try:
            self.architecture = self._from_sliders()
        except CourseInputError as error:
            self.error = str(error)
            self.output.value = (
                f'<div class="course-architecture-view course-error" style="{FONT}">'
                f'<p style="margin: 4px 0; color: #b00020;">This shape is impossible: '
                f'{html.escape(self.error)}</p><p class="course-fix" style="margin: 4px 0;">'
                f"{html.escape(self._fix_hint())}</p></div>"
            )
            return
        self.error = None
        self.output.value = self._html(self.architecture)

    def caption(self) -> str:
        """The model's name, with ", modified" once a slider changed its shape."""
        preset = PRESETS[self.model.value]
        return preset.name + ("" if self.architecture == preset.architecture else ", modified")

    def _html(self, arch: Architecture) -> str:
        counts = parameter_count(arch)
        return (
            f'<div class="course-architecture-view" data-parameters="{counts.total}" style="{FONT}">'
            f'<p style="margin: 4px 0;"><b>{html.escape(self.caption())}</b>: {_shape_text(arch)}</p>'
            f"{self._parameters_html(arch)}{self._costs_html(arch)}</div>"
        )

    def _parameters_html(self, arch: Architecture) -> str:
        """The total (and the published figure), then one row with a bar per part."""
        counts = parameter_count(arch)
        preset = PRESETS[self.model.value]
        if arch != preset.architecture:
            published = "the published figure describes the unmodified model"
        elif preset.published is None:
            published = html.escape(preset.convention)
        else:
            published = f"published: <b>{preset.published}</b>. {html.escape(preset.convention)}"
        rows = []
        for part, n in counts.parts().items():
            share = 100 * n / counts.total
            rows.append(
                f'<tr><td style="{_LABEL}">{_PART_NAMES[part]}</td><td style="{_CELL}">{format_count(n)}</td>'
                f'<td><div style="width: {_BAR_WIDTH_PX}px; height: 12px; background: #f2f2f2;">'
                f'<div style="width: {share:.2f}%; height: 100%; background: {viz.KEPT_COLOR};"></div>'
                f"</div></td>"
                f'<td style="{_CELL}">{share:.1f}%</td></tr>'
            )
        return (
            f'<p style="margin: 8px 0 4px;">Parameters: <b class="course-parameter-count">'
            f"{format_count(counts.total)}</b> ({counts.total:,}); without embeddings and head "
            f"{format_count(counts.non_embedding)}.</p>"
            f'<p style="margin: 0 0 4px; color: #666; max-width: 760px;">{published}</p>'
            f'<table style="border-collapse: collapse;">{"".join(rows)}</table>'
        )

    def _costs_html(self, arch: Architecture) -> str:
        """FLOPs per token, then a table of memory by number format."""
        flops = forward_flops_per_token(arch)
        matmul = 2 * matmul_parameters(arch)
        dtypes = list(DTYPE_BYTES)
        header = "".join(f'<th style="{_CELL}">{dtype}</th>' for dtype in dtypes)
        rows = [_memory_row("weights", [weight_bytes(arch, d) for d in dtypes])]
        if arch.family == "encoder-only":
            rows.append(
                f'<tr><td style="{_LABEL}">KV cache</td><td colspan="{len(dtypes)}" style="{_LABEL}">'
                "none: an encoder reads its input at once and generates nothing</td></tr>"
            )
        else:
            note = " + as many source tokens" if arch.family == "encoder-decoder" else ""
            if arch.sliding_window and arch.sliding_window < arch.context:
                note = f" (only the last {arch.sliding_window:,} are kept)"
            rows += [
                _memory_row("KV cache per token", [kv_cache_bytes_per_token(arch, d) for d in dtypes]),
                _memory_row(
                    f"KV cache at {arch.context:,} tokens{note}",
                    [kv_cache_bytes(arch, dtype=d) for d in dtypes],
                ),
            ]
        body = "".join(rows)
        return (
            f'<p style="margin: 8px 0 4px;">Forward pass: <b class="course-flops">{format_flops(flops)}</b> '
            f"per token at {arch.context:,} tokens of context = {format_flops(matmul)} (2 x each weight it "
            f"multiplies) + {format_flops(flops - matmul)} (attention scores and weighted values).</p>"
            f'<table style="border-collapse: collapse; margin-bottom: 8px;"><tr><th style="{_LABEL}">memory'
            f"</th>{header}</tr>{body}</table>"
        )

    def static_figure(self) -> Figure:
        """Parameters by part and memory, as a matplotlib Figure."""
        return viz.plot_architecture_costs(self.architecture, title=self.caption())
