"""bertviz's head view and model view, drawn offline and on the first run, with a static picture beside.

bertviz (pinned in pyproject.toml) loads require.js, d3 and jQuery from a CDN: offline it draws nothing,
and in JupyterLab its first run can fail even online ("require is not defined"). ``head_view`` and
``model_view`` here call bertviz with ``html_action="return"`` and rewrite its HTML so that it needs no
network and no global AMD loader:

- d3 5.7.0 comes from the ``mpld3`` package (``mpld3/js/d3.v5.min.js``) and jQuery 3.7.1 from
  ``XStatic-jQuery`` (``xstatic/pkg/jquery/data/jquery.min.js``), both installed from PyPI with the course.
  They run inside a closure that shadows ``define``/``module``/``exports``, so no page global is touched.
- bertviz's ``require.config`` and its CDN ``<script src>`` are removed; its ``requirejs(['jquery', 'd3'],
  function ($, d3) {...})`` becomes ``courseBertviz.draw(id, function ($, d3) {...})``, which runs at once
  when the libraries are on the page, or as soon as they arrive (outputs may render in any order).
- The two libraries (about 320 KB) are inlined once per kernel session: into the first view a kernel
  returns, not into every view. Each view adds its script (14-18 KB), the attention numbers (rounded to
  3 decimals, 0.0 written as 0) and its static picture: about 70 KB for 31 tokens, 2 layers and 4 heads.
  Pass ``include_libraries=True`` to inline them again, e.g. when the page was reloaded without saving
  while the kernel kept running (such a view shows its static picture until the libraries arrive).
- Every view carries a PNG of ``course_lib.viz.plot_attention_heads`` for one layer (128 colours). A
  notebook whose outputs are not trusted runs no scripts, so a reader sees that picture and no empty menus;
  the script shows the interactive view and removes the picture once an SVG is drawn. ``jupyter trust
  NOTEBOOK.ipynb`` lets a saved notebook draw its views on opening, without running.
- The model view, 970 px wide in bertviz, is narrowed to the output area (at least 500 px).

Attention comes as one tensor per layer, each (1, H, T_q, T_k) (a batch of one) or (H, T_q, T_k): a
course_lib model's ``model(ids, return_attention=True).attentions`` or Hugging Face's
``outputs.attentions`` tuple. With ``transformers`` 5 the weights come back only from a model loaded with
``attn_implementation="eager"``; an empty tuple or ``None`` entries are refused with that hint.

The view's HTML is deterministic (ids come from its content and a per-kernel counter), so nbval can
compare it: run the notebook from the top, as nbval does, and the same views come out.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import bertviz
import torch
from bertviz.util import format_special_chars
from IPython.display import HTML
from matplotlib.figure import Figure
from PIL import Image

from course_lib.validation import check_int, fail
from course_lib.viz import as_float_tensor, check_attention_rows, check_labels, display_token
from course_lib.viz.attention import plot_attention_heads

BERTVIZ_VERSION = "1.4.1"  # the HTML that _rewrite expects; pinned in pyproject.toml
EAGER_HINT = (
    "Pass a list with one (1, H, T_q, T_k) tensor per layer: a course_lib model's "
    "model(ids, return_attention=True).attentions, or a Hugging Face model's outputs.attentions from a model "
    'loaded with attn_implementation="eager" and called with output_attentions=True.'
)
ATTENTION_DECIMALS = 3  # enough for line opacities; keeps the saved notebook small
FALLBACK_DPI = 72
FALLBACK_COLORS = 128

_BERTVIZ_CDN_SCRIPT = (
    '<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js"></script>'
)
_REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);\s*", re.DOTALL)
_REQUIREJS_CALL = re.compile(r"requirejs\(\['jquery', 'd3'\], function ?\(\$, d3\) \{")
# bertviz fills its template marker twice: in `const params = PYTHON_PARAMS;` and in the comment after it.
_PARAMS_COMMENT = re.compile(
    r"(const params = (.*); )// HACK: \2 is a template marker that is replaced by actual params\."
)
_MODEL_VIEW_WIDTH = "const DIV_WIDTH = 970;"
_BERTVIZ_ID = re.compile(r"bertviz-[0-9a-f]{32}")
_ATTENTION_JSON = re.compile(r'"attn": [\[\]0-9., e-]+')  # numbers and brackets only: never a token
_WHOLE_NUMBER = re.compile(r"(?<=[\[ ])(\d+)\.0(?=[,\]])")

# Defines window.courseBertviz once per page: draw(id, fn) runs fn($, d3) now or when provide() brings the
# libraries. The interactive part (bertviz's menus and drawing) stays hidden until then, and the static
# picture is removed once an SVG is drawn: without scripts (an untrusted notebook) only the picture shows.
_LOADER_JS = """(function () {
  if (window.courseBertviz) return;
  var libraries = null, waiting = [];
  function run(id, draw) {
    var view = document.getElementById(id).closest(".course-bertviz");
    var interactive = view.querySelector(".course-bertviz-interactive");
    try {
      interactive.style.display = "";
      draw(libraries.$, libraries.d3);
      if (!view.querySelector("#" + id + " svg")) throw new Error("no SVG was drawn");
      view.querySelector(".course-bertviz-fallback").remove();
    } catch (error) {
      interactive.style.display = "none";
      console.error("course_lib bertviz view " + id + " did not draw:", error);
    }
  }
  window.courseBertviz = {
    provide: function (d3, $) {
      libraries = {d3: d3, $: $};
      waiting.splice(0).forEach(function (view) { run(view[0], view[1]); });
    },
    draw: function (id, draw) { if (libraries) run(id, draw); else waiting.push([id, draw]); }
  };
})();"""

_session = {"libraries_sent": False}
_view_numbers = itertools.count(1)


# ---------------------------------------------------------------------------------------- the libraries


def d3_path() -> Path:
    """d3 v5 as shipped by the ``mpld3`` package."""
    return _package_folder("mpld3") / "js" / "d3.v5.min.js"


def jquery_path() -> Path:
    """jQuery 3 as shipped by the ``XStatic-jQuery`` package."""
    return _package_folder("xstatic.pkg.jquery") / "data" / "jquery.min.js"


def library_versions() -> dict[str, str]:
    """The versions written in the two files' headers, e.g. ``{"d3": "5.7.0", "jquery": "3.7.1"}``."""
    d3_header = d3_path().read_text(encoding="utf-8")[:200]
    jquery_header = jquery_path().read_text(encoding="utf-8")[:200]
    return {
        "d3": _header_version(r"d3js\.org v(\d+\.\d+\.\d+)", d3_header, d3_path()),
        "jquery": _header_version(r"jQuery v(\d+\.\d+\.\d+)", jquery_header, jquery_path()),
    }


def _package_folder(module: str) -> Path:
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # xstatic itself is missing
        spec = None
    if spec is None or not spec.submodule_search_locations:
        package = "mpld3" if module == "mpld3" else "XStatic-jQuery"
        raise ModuleNotFoundError(
            f"{module} is not installed; the offline bertviz views need it. Run `make setup` "
            f"(it installs {package} with the pin in pyproject.toml)."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _header_version(pattern: str, header: str, path: Path) -> str:
    match = re.search(pattern, header)
    if match is None:
        raise RuntimeError(f"{path} has no version in its header; reinstall it with `make setup`.")
    return match.group(1)


def libraries_script() -> str:
    """A <script> that runs d3 and jQuery in a closure (no page globals) and hands them to the views."""
    versions = library_versions()
    if not (versions["d3"].startswith("5.") and versions["jquery"].startswith("3.")):
        raise RuntimeError(f"bertviz draws with d3 5 and jQuery 3, found {versions}; run `make setup`.")
    factories = [
        f"load(function (module, exports, define) {{\n{path.read_text(encoding='utf-8')}\n}})"
        for path in (d3_path(), jquery_path())
    ]
    return (
        "<script>\n(function () {\n"
        "  function load(factory) {\n"
        "    var module = {exports: {}};\n"
        "    factory.call({}, module, module.exports, undefined);\n"
        "    return module.exports;\n"
        "  }\n"
        f"  var d3 = {factories[0]};\n"
        f"  var $ = {factories[1]};\n"
        "  window.courseBertviz.provide(d3, $);\n"
        "})();\n</script>"
    )


# ---------------------------------------------------------------------------------------- the inputs


@dataclass(frozen=True)
class _Attention:
    """One validated attention argument: weights (L, H, T_q, T_k) with its query and key labels."""

    weights: torch.Tensor
    query_tokens: list[str]
    key_tokens: list[str]

    def as_bertviz(self) -> list[torch.Tensor]:
        """Per layer (1, H, T_q, T_k), rounded so that the JSON in the page stays short."""
        rounded = self.weights.double().round(decimals=ATTENTION_DECIMALS)
        return [layer.unsqueeze(0) for layer in rounded]


def _layer_stack(argument: str, attention: object) -> torch.Tensor:
    """A list of per-layer (1, H, T_q, T_k) or (H, T_q, T_k) tensors -> one (L, H, T_q, T_k) tensor."""
    if isinstance(attention, torch.Tensor) or not isinstance(attention, Sequence) or not attention:
        given = "an empty sequence" if isinstance(attention, Sequence) else type(attention).__name__
        fail(argument, "a non-empty list with one attention tensor per layer", given, EAGER_HINT)
    layers = []
    for index, layer in enumerate(attention):
        name = f"{argument}[{index}]"
        if layer is None:
            fail(name, "a tensor", "None", EAGER_HINT)
        layer = as_float_tensor(name, layer)
        if layer.dim() == 4 and layer.shape[0] == 1:
            layer = layer[0]
        if layer.dim() != 3:
            fail(
                name,
                "of shape (1, H, T_q, T_k) or (H, T_q, T_k): one sequence, every head",
                f"shape {tuple(layer.shape)}",
                "For a batch, select one sequence, e.g. [a[i : i + 1] for a in attentions].",
            )
        if layers and layer.shape != layers[0].shape:
            fail(
                name,
                f"of the same shape as {argument}[0] {tuple(layers[0].shape)}",
                f"shape {tuple(layer.shape)}",
                "Pass the attentions of one forward pass.",
            )
        check_attention_rows(name, layer)
        layers.append(layer)
    return torch.stack(layers)


def _attention(
    argument: str,
    attention: object,
    *,
    tokens_argument: str,
    tokens: Sequence[str] | None,
    key_tokens_argument: str | None = None,
    key_tokens: Sequence[str] | None = None,
) -> _Attention:
    """Validate one attention argument against its token labels (keys default to the queries)."""
    weights = _layer_stack(argument, attention)
    _, _, t_q, t_k = weights.shape
    queries = _labels(tokens_argument, tokens, argument, t_q, "T_q")
    if key_tokens_argument is None:  # self-attention: the queries are the keys
        check_labels(tokens_argument, queries, argument, t_k, "T_k")
        return _Attention(weights, queries, queries)
    return _Attention(weights, queries, _labels(key_tokens_argument, key_tokens, argument, t_k, "T_k"))


def _labels(
    argument: str, tokens: Sequence[str] | None, tensor_argument: str, size: int, dimension: str
) -> list[str]:
    """Tokens as the views show them: sub-word markers dropped ("Ġthe" -> " the", as bertviz does), then
    whitespace made visible (" the" -> "␣the", as course_lib.viz does), so both pictures agree."""
    if tokens is None:
        fail(argument, "one string per token", "None", f"Pass {argument}= along with {tensor_argument}=.")
    labels = check_labels(argument, tokens, tensor_argument, size, dimension)
    return [display_token(token) for token in format_special_chars(labels)]


def _check_layer_counts(given: dict[str, _Attention]) -> int:
    """Every attention argument of one view must have the same number of layers; returns it."""
    (first_name, first), *others = given.items()
    for name, other in others:
        if len(other.weights) != len(first.weights):
            fail(
                name,
                f"as many layers as {first_name} ({len(first.weights)})",
                f"{len(other.weights)} layers",
                "bertviz shows one layer menu for all of them: call the view once for the encoder and "
                "once for the decoder (decoder_attention with cross_attention).",
            )
    return len(first.weights)


def _attention_arguments(
    *,
    attention: object,
    tokens: Sequence[str] | None,
    encoder_attention: object,
    decoder_attention: object,
    cross_attention: object,
    encoder_tokens: Sequence[str] | None,
    decoder_tokens: Sequence[str] | None,
) -> dict[str, _Attention]:
    """Validate either the self-attention form or the encoder-decoder form, keyed by argument name."""
    encoder_decoder = {
        "encoder_attention": encoder_attention,
        "decoder_attention": decoder_attention,
        "cross_attention": cross_attention,
    }
    if attention is not None:
        mixed = [name for name, value in encoder_decoder.items() if value is not None]
        if mixed:
            fail(
                "attention", "given alone", f"attention and {', '.join(mixed)}", "Use one form or the other."
            )
        return {"attention": _attention("attention", attention, tokens_argument="tokens", tokens=tokens)}
    if all(value is None for value in encoder_decoder.values()):
        fail(
            "attention",
            "given (or encoder_attention, decoder_attention, cross_attention)",
            "none of them",
            EAGER_HINT,
        )
    given = {}
    if encoder_attention is not None:
        given["encoder_attention"] = _attention(
            "encoder_attention", encoder_attention, tokens_argument="encoder_tokens", tokens=encoder_tokens
        )
    if decoder_attention is not None:
        given["decoder_attention"] = _attention(
            "decoder_attention", decoder_attention, tokens_argument="decoder_tokens", tokens=decoder_tokens
        )
    if cross_attention is not None:
        given["cross_attention"] = _attention(
            "cross_attention",
            cross_attention,
            tokens_argument="decoder_tokens",
            tokens=decoder_tokens,
            key_tokens_argument="encoder_tokens",
            key_tokens=encoder_tokens,
        )
    return given


def _head_indices(heads: Sequence[int] | None, n_head: int) -> list[int] | None:
    if heads is None:
        return None
    if isinstance(heads, (str, bytes)) or not isinstance(heads, Sequence) or not heads:
        fail(
            "heads",
            "a non-empty list of head indices",
            repr(heads),
            f"Use e.g. heads=[0] (0 to {n_head - 1}).",
        )
    for head in heads:
        check_int("heads", head, minimum=0, maximum=n_head - 1, fix="Each entry is one head's index.")
    return list(heads)


def _check_sentence_b_start(sentence_b_start: int | None, given: dict[str, _Attention]) -> None:
    if sentence_b_start is None:
        return
    if "attention" not in given:
        fail("sentence_b_start", "None with encoder-decoder attention", sentence_b_start, "Leave it out.")
    last = len(given["attention"].query_tokens) - 1
    fix = "It is the index of sentence B's first token (sentence A is tokens[:sentence_b_start])."
    check_int("sentence_b_start", sentence_b_start, minimum=1, maximum=last, fix=fix)


# ---------------------------------------------------------------------------------------- the views


def head_view(
    attention: Sequence[torch.Tensor] | None = None,
    tokens: Sequence[str] | None = None,
    *,
    sentence_b_start: int | None = None,
    layer: int | None = None,
    heads: Sequence[int] | None = None,
    encoder_attention: Sequence[torch.Tensor] | None = None,
    decoder_attention: Sequence[torch.Tensor] | None = None,
    cross_attention: Sequence[torch.Tensor] | None = None,
    encoder_tokens: Sequence[str] | None = None,
    decoder_tokens: Sequence[str] | None = None,
    include_libraries: bool | None = None,
) -> HTML:
    """bertviz's head view (one layer, lines from each token to the tokens it attends to), offline.

    attention: per layer (1, H, T, T) or (H, T, T); tokens: T strings (a str is split into characters).
    Or the encoder-decoder form: encoder_attention per layer (1, H, S, S) with encoder_tokens (S),
    decoder_attention (1, H, T, T) with decoder_tokens (T), cross_attention (1, H, T, S).
    sentence_b_start: index of the first token of a second sentence (adds A->B menus); layer: the layer
    shown first (default 0); heads: the heads selected first (default all). include_libraries: inline d3
    and jQuery (default: only into the first view of this kernel session).
    """
    given = _attention_arguments(
        attention=attention,
        tokens=tokens,
        encoder_attention=encoder_attention,
        decoder_attention=decoder_attention,
        cross_attention=cross_attention,
        encoder_tokens=encoder_tokens,
        decoder_tokens=decoder_tokens,
    )
    n_layer = _check_layer_counts(given)
    first = next(iter(given.values()))
    _check_sentence_b_start(sentence_b_start, given)
    if layer is not None:
        check_int("layer", layer, minimum=0, maximum=n_layer - 1, fix="Use e.g. layer=0.")
    heads = _head_indices(heads, first.weights.shape[1])
    html = bertviz.head_view(
        **_bertviz_arguments(given),
        sentence_b_start=sentence_b_start,
        layer=layer,
        heads=heads,
        html_action="return",
    ).data
    return _offline_view(html, given, layer=layer or 0, include_libraries=include_libraries)


def model_view(
    attention: Sequence[torch.Tensor] | None = None,
    tokens: Sequence[str] | None = None,
    *,
    sentence_b_start: int | None = None,
    encoder_attention: Sequence[torch.Tensor] | None = None,
    decoder_attention: Sequence[torch.Tensor] | None = None,
    cross_attention: Sequence[torch.Tensor] | None = None,
    encoder_tokens: Sequence[str] | None = None,
    decoder_tokens: Sequence[str] | None = None,
    display_mode: str = "light",
    include_libraries: bool | None = None,
) -> HTML:
    """bertviz's model view (a thumbnail per layer and head; click one to enlarge it), offline.

    Takes the same attention and token arguments as ``head_view``. display_mode: "light" or "dark".
    The static picture shows layer 0's heads.
    """
    given = _attention_arguments(
        attention=attention,
        tokens=tokens,
        encoder_attention=encoder_attention,
        decoder_attention=decoder_attention,
        cross_attention=cross_attention,
        encoder_tokens=encoder_tokens,
        decoder_tokens=decoder_tokens,
    )
    _check_layer_counts(given)
    _check_sentence_b_start(sentence_b_start, given)
    if display_mode not in ("light", "dark"):
        fail("display_mode", '"light" or "dark"', repr(display_mode), 'Use display_mode="light".')
    html = bertviz.model_view(
        **_bertviz_arguments(given),
        sentence_b_start=sentence_b_start,
        display_mode=display_mode,
        html_action="return",
    ).data
    return _offline_view(_fit_width(html), given, layer=0, include_libraries=include_libraries)


def _bertviz_arguments(given: dict[str, _Attention]) -> dict[str, object]:
    """The validated attention and token labels as bertviz's keyword arguments."""
    if "attention" in given:
        return {"attention": given["attention"].as_bertviz(), "tokens": given["attention"].query_tokens}
    arguments: dict[str, object] = {name: value.as_bertviz() for name, value in given.items()}
    for name, value in given.items():
        if name == "encoder_attention":
            arguments["encoder_tokens"] = value.query_tokens
        else:  # decoder and cross attention: the decoder's tokens are the queries
            arguments["decoder_tokens"] = value.query_tokens
        if name == "cross_attention":
            arguments["encoder_tokens"] = value.key_tokens
    return arguments


# ---------------------------------------------------------------------------------------- the page


def _offline_view(
    html: str, given: dict[str, _Attention], *, layer: int, include_libraries: bool | None
) -> HTML:
    """Rewrite bertviz's returned HTML to draw offline, and add the loader, libraries and static picture."""
    view_id = _view_id(html)
    html = _rewrite(_BERTVIZ_ID.sub(view_id, html), view_id)
    if include_libraries is None:
        include_libraries = not _session["libraries_sent"]
    parts = ['<div class="course-bertviz">', f"<script>\n{_LOADER_JS}\n</script>"]
    if include_libraries:
        parts.append(libraries_script())
        _session["libraries_sent"] = True
    parts += [
        _fallback(given, layer=layer),
        f'<div class="course-bertviz-interactive" style="display: none">{html}</div>',
        "</div>",
    ]
    return HTML("\n".join(parts))


def _rewrite(html: str, view_id: str) -> str:
    """Drop the CDN script and require.config; run bertviz's drawing through courseBertviz.draw."""
    found = (
        html.count(_BERTVIZ_CDN_SCRIPT),
        len(_REQUIRE_CONFIG.findall(html)),
        len(_REQUIREJS_CALL.findall(html)),
        len(_PARAMS_COMMENT.findall(html)),
    )
    if found != (1, 1, 1, 1) or metadata.version("bertviz") != BERTVIZ_VERSION:
        raise RuntimeError(
            f"course_lib.bertviz_offline rewrites the HTML of bertviz {BERTVIZ_VERSION}, but bertviz "
            f"{metadata.version('bertviz')} is installed; run `make setup` to install the pinned one."
        )
    html = _compact_numbers(html.replace(_BERTVIZ_CDN_SCRIPT, ""))
    html = _PARAMS_COMMENT.sub(lambda match: match.group(1), _REQUIRE_CONFIG.sub("", html))
    draw = f'window.courseBertviz.draw("{view_id}", function ($, d3) {{'
    return _REQUIREJS_CALL.sub(lambda _: draw, html)


def _fit_width(html: str) -> str:
    """The model view is 970 px wide: narrow it to the output area (at least 500 px), e.g. in JupyterLab
    with the file browser open, so that the last heads are not cut off."""
    if html.count(_MODEL_VIEW_WIDTH) != 1:
        raise RuntimeError(
            f"course_lib.bertviz_offline rewrites the HTML of bertviz {BERTVIZ_VERSION}, whose model view "
            "sets `const DIV_WIDTH = 970;`; run `make setup` to install the pinned bertviz."
        )
    fitted = "const DIV_WIDTH = Math.max(500, Math.min(970, $(`#${params.root_div_id}`).width() || 970));"
    return html.replace(_MODEL_VIEW_WIDTH, fitted)


def _view_id(html: str) -> str:
    """An id from the view's content and its number in this kernel session: unique on a page, and the
    same each time a notebook is run from the top (so saved outputs compare equal)."""
    content = _BERTVIZ_ID.sub("", html)
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()[:12]
    return f"bertviz-{digest}-{next(_view_numbers)}"


def _fallback(given: dict[str, _Attention], *, layer: int) -> str:
    """The static picture: one panel per head of the view's first attention at ``layer``, as a PNG."""
    name, shown = next(iter(given.items()))
    n_layer = len(shown.weights)
    what = name.replace("_", " ")
    figure = plot_attention_heads(
        shown.weights[layer],
        shown.query_tokens,
        shown.key_tokens,
        ncols=min(4, math.ceil(math.sqrt(len(shown.weights[layer])))),  # 4 heads: 2 x 2, 12: 4 x 3
        title=f"{what}, layer {layer} of {n_layer} (static picture)",
    )
    png = base64.b64encode(_small_png(figure)).decode("ascii")
    caption = "A static picture: run this cell in a trusted notebook to explore every layer and head."
    return (
        '<div class="course-bertviz-fallback">'
        f'<img src="data:image/png;base64,{png}" alt="{what}, layer {layer}: one attention map per head" '
        'style="max-width: 100%">'
        f'<div style="font-size: 12px; color: #555">{caption}</div></div>'
    )


def _small_png(figure: Figure) -> bytes:
    """The figure as a PNG with a palette of FALLBACK_COLORS colours (about a third of the RGBA size)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FALLBACK_DPI, metadata={"Software": None})
    image = Image.open(buffer).convert("RGB").quantize(colors=FALLBACK_COLORS)
    small = io.BytesIO()
    image.save(small, format="png", optimize=True)
    return small.getvalue()


def _compact_numbers(html: str) -> str:
    """Write the attention numbers without a trailing ".0" (0.0 -> 0): a third shorter for causal maps."""

    def compact(match: re.Match[str]) -> str:
        return _WHOLE_NUMBER.sub(r"\1", match.group(0))

    return _ATTENTION_JSON.sub(compact, html)
