"""``BeamTreeExplorer``: beam search on the character GPT, drawn as a tree that redraws as you move a slider.

Type a prompt; the search guesses the next word (a beam finishes when it produces a space, as in
notebook 06). Sliders set the number of beams, the length penalty and how many characters a beam may
add. The view draws every beam kept at every step (its character and cumulative log-probability), the
best word's path in bold, and the finished words ranked by their length-penalised score.

One search takes about 10 ms on a laptop CPU (KV cache on, a few beams, a dozen characters); the tree is
inline SVG inside the HTML output (no JavaScript, nothing fetched).
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure
from torch import nn

from course_lib import decoding, viz
from course_lib.tokenizers import CharTokenizer
from course_lib.validation import check_int, check_number, fail
from course_lib.viz.beam_tree import beam_layout, path_of
from course_lib.widgets._common import (
    FONT,
    TOKEN_FONT,
    check_char_model,
    finish_layout,
    float_slider,
    new_output,
    slider,
    text_problem,
    token_html,
)

DEFAULT_PROMPT = "The function "
MAX_BEAMS = 8
MAX_NEW = 12
COLUMN_PX, ROW_PX = 78, 46  # spacing of the tree's steps (x) and beams (y)
BOX_W, BOX_H = 64, 36  # one node: its character above its cumulative log-probability
HEADINGS = ("finished word", "log-prob", "score (ranks them)")
BEST, KEPT, DROPPED, FINISHED = "#1f77b4", "#1f77b4", "#bbbbbb", "#2ca02c"


def tree_svg(result: decoding.BeamSearchResult, tokenizer: CharTokenizer, *, prompt_length: int) -> str:
    """The beam tree of ``result`` as an inline SVG string (prompt on the left, one column per step)."""
    trace = result.trace
    rows = beam_layout(trace)
    best = path_of(trace, result.sequence[0, prompt_length:].tolist())
    widest = max(len(step) for step in trace)
    width, height = COLUMN_PX * (len(trace) + 1), ROW_PX * widest + 8

    def centre(t: int, row: float) -> tuple[float, float]:  # t = 0: the prompt
        return COLUMN_PX * t + COLUMN_PX / 2, height / 2 + ROW_PX * row

    edges, nodes = [], []
    px, py = centre(0, 0.0)
    nodes.append(_node_svg(px, py, "prompt", "", fill="#eeeeee", stroke="#555555", bold=False))
    for t, step in enumerate(trace):
        continued = {node.parent for node in trace[t + 1]} if t + 1 < len(trace) else set(range(len(step)))
        for i, node in enumerate(step):
            x, y = centre(t + 1, rows[t][i])
            parent_x, parent_y = centre(t, rows[t - 1][node.parent] if t else 0.0)
            on_best = (t, i) in best
            colour, line = (BEST, 3) if on_best else ("#aaaaaa", 1.5)
            edges.append(
                f'<line x1="{parent_x + BOX_W / 2:.0f}" y1="{parent_y:.0f}" x2="{x - BOX_W / 2:.0f}" '
                f'y2="{y:.0f}" stroke="{colour}" stroke-width="{line}"/>'
            )
            if node.finished:
                fill, stroke = "#d9f2d9", FINISHED
            elif i in continued:
                fill, stroke = "#ffffff", KEPT
            else:
                fill, stroke = "#f2f2f2", DROPPED
            label = token_html(tokenizer.decode([node.token]))
            nodes.append(
                _node_svg(x, y, label, f"{node.log_prob:.2f}", fill=fill, stroke=stroke, bold=on_best)
            )
    return (
        f'<svg class="course-beam-tree-svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
        f"{''.join(edges)}{''.join(nodes)}</svg>"
    )


def _node_svg(x: float, y: float, label: str, number: str, *, fill: str, stroke: str, bold: bool) -> str:
    """One box centred on (x, y): ``label`` (already HTML-escaped) above ``number``."""
    weight = "bold" if bold else "normal"
    text_y = y if not number else y - 4
    number_svg = (
        f'<text x="{x:.0f}" y="{y + 12:.0f}" text-anchor="middle" font-size="12" fill="#444">{number}</text>'
        if number
        else ""
    )
    return (
        f'<rect x="{x - BOX_W / 2:.0f}" y="{y - BOX_H / 2:.0f}" width="{BOX_W}" height="{BOX_H}" rx="6" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="{2.5 if bold else 1.2}"/>'
        f'<text x="{x:.0f}" y="{text_y:.0f}" text-anchor="middle" font-family="monospace" font-size="15" '
        f'font-weight="{weight}">{label}</text>{number_svg}'
    )


class BeamTreeExplorer(widgets.VBox):
    """Prompt, number of beams, length penalty and maximum new characters over the character GPT.

    model: a ``DecoderOnlyLM`` with its ``CharTokenizer`` (e.g. the shipped checkpoint's). After every
    update ``result`` holds the ``decoding.BeamSearchResult`` drawn, and ``words`` the finished words,
    best score first. Characters outside the vocabulary are reported in the view (the last search stays).
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: CharTokenizer,
        *,
        prompt: str = DEFAULT_PROMPT,
        num_beams: int = 4,
        length_penalty: float = 1.0,
        max_new_tokens: int = 10,
    ) -> None:
        super().__init__()
        check_char_model(model, tokenizer)
        if not isinstance(prompt, str) or text_problem(prompt, tokenizer):
            problem = text_problem(prompt, tokenizer) if isinstance(prompt, str) else "Pass a string."
            fail("prompt", "non-empty text in the model's vocabulary", repr(prompt), problem)
        check_int("num_beams", num_beams, minimum=1, maximum=MAX_BEAMS, fix=f"Use 1 to {MAX_BEAMS}.")
        check_number("length_penalty", length_penalty, low=0.0, high=2.0, fix="The slider covers 0 to 2.")
        check_int("max_new_tokens", max_new_tokens, minimum=1, maximum=MAX_NEW, fix=f"Use 1 to {MAX_NEW}.")
        self.model, self.tokenizer = model.eval(), tokenizer
        self.prompt = widgets.Text(
            value=prompt, description="prompt", continuous_update=False, layout={"width": "400px"}
        )
        self.num_beams = slider(widgets.IntSlider, value=num_beams, min=1, max=MAX_BEAMS, description="beams")
        self.length_penalty = float_slider("length penalty", length_penalty, low=0.0, high=2.0, step=0.1)
        self.max_new = slider(
            widgets.IntSlider, value=max_new_tokens, min=1, max=MAX_NEW, description="max new characters"
        )
        self.output = new_output()
        controls = [self.prompt, self.num_beams, self.length_penalty, self.max_new]
        finish_layout(self, "beam-tree", controls, self.output)
        self.message = ""
        self._search_text = prompt
        for control in controls:
            control.observe(self._update, names="value")
        self._update()

    def _update(self, change: dict | None = None) -> None:
        """Search again with the current settings (a bad prompt keeps the last search) and redraw."""
        self.message = text_problem(self.prompt.value, self.tokenizer)
        if not self.message:
            self._search_text = self.prompt.value
        ids = torch.tensor([self.tokenizer.encode(self._search_text)])
        self.result = decoding.beam_search(
            self.model,
            ids,
            self.max_new.value,
            num_beams=self.num_beams.value,
            length_penalty=self.length_penalty.value,
            eos_id=self.tokenizer.stoi[" "],
        )
        start = ids.shape[1]
        self.words = [
            (self.tokenizer.decode(h.tokens[start:].tolist()), h.log_prob, h.score)
            for h in self.result.finished
        ]
        self._render(start)

    def _render(self, prompt_length: int) -> None:
        rows = "".join(
            f'<tr><td style="{TOKEN_FONT} padding: 1px 12px 1px 0;">{token_html(word)}</td>'
            f'<td style="padding: 1px 12px 1px 0;">{log_prob:.2f}</td><td>{score:.2f}</td></tr>'
            for word, log_prob, score in self.words
        )
        tree = tree_svg(self.result, self.tokenizer, prompt_length=prompt_length)
        header = "".join(
            f'<th style="text-align: left; padding-right: 12px;">{name}</th>' for name in HEADINGS
        )
        header = f"<tr>{header}</tr>"
        warning = f'<p style="color: #c0392b;">{html.escape(self.message)}</p>' if self.message else ""
        self.output.value = (
            f'<div class="course-beam-tree-view" style="{FONT}">{warning}'
            f"<p>after <code>{token_html(self._search_text[-24:])}</code>: best word "
            f"<b>{token_html(self.words[0][0])}</b> (bold path; green: ended with a space; grey: dropped)</p>"
            f'<div style="overflow-x: auto;">{tree}'
            f'</div><table style="border-collapse: collapse; margin-top: 6px;">{header}{rows}</table></div>'
        )

    def static_figure(self) -> Figure:
        """The current tree drawn with ``viz.plot_beam_tree`` (for printouts and exported notebooks)."""
        start = len(self.tokenizer.encode(self._search_text))
        return viz.plot_beam_tree(
            self.result.trace,
            self.tokenizer.chars,
            best=self.result.sequence[0, start:],
            prompt=self._search_text,
            title=f"{self.num_beams.value} beams, length penalty {self.length_penalty.value:.1f}: "
            f"best word {self.words[0][0]!r}",
        )
