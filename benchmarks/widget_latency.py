"""Kernel time of every course widget: move each control as a person would and time the redraw.

Setting a control's value runs the widget's observers synchronously in the kernel, so the time of
``control.value = new`` is the kernel's share of a slider move (the browser's drawing comes on top; the
browser suite measures the whole round trip). Target: under 100 ms per move of a slider, drop-down,
check box or radio button. Buttons (e.g. "sample many") start longer actions, and a text box recomputes
everything for the new text when it is submitted (Enter): both are reported, with the slowest text box
as its own headline figure, but not held to the target. Measured
with one torch thread, as notebooks 04 and 06 set it: a model this small runs as fast on one thread, and
two threads on a busy 2-core machine made single slider moves take seconds.

    python -m benchmarks.widget_latency      # a table on stdout; ``make bench`` adds it to results.json
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

import ipywidgets as widgets
import torch

TARGET_MS = 100.0
SLIDER_STOPS = 8  # values visited across a slider's range, there and back


def controls_of(view: widgets.Widget) -> Iterator[widgets.Widget]:
    """Every enabled control inside ``view`` (sliders, drop-downs, check boxes, text boxes, buttons)."""
    kinds = (
        widgets.IntSlider,
        widgets.FloatSlider,
        widgets.Dropdown,
        widgets.Checkbox,
        widgets.Text,
        widgets.Textarea,
        widgets.RadioButtons,
        widgets.Button,
    )
    if isinstance(view, kinds) and not getattr(view, "disabled", False):
        yield view
    for child in getattr(view, "children", ()):
        yield from controls_of(child)


def moves(control: widgets.Widget) -> list[Callable[[], None]]:
    """The changes a person would make to ``control``, each as a function that makes one."""
    if isinstance(control, widgets.Button):
        return [control.click]
    if isinstance(control, (widgets.IntSlider, widgets.FloatSlider)):
        low, high, kind = control.min, control.max, type(control.value)
        stops = [kind(low + (high - low) * i / (SLIDER_STOPS - 1)) for i in range(SLIDER_STOPS)]
        values = stops + stops[::-1] + [control.value]
    elif isinstance(control, (widgets.Dropdown, widgets.RadioButtons)):
        values = [*control.options, control.value]
        values = [value[1] if isinstance(value, tuple) else value for value in values]
    elif isinstance(control, widgets.Checkbox):
        values = [not control.value, control.value]
    else:  # a text box: type a word, then take it back
        values = [control.value + " the", control.value]

    def setter(value: object) -> Callable[[], None]:
        return lambda: setattr(control, "value", value)

    changes = [b for a, b in zip([control.value, *values], values, strict=False) if a != b]  # real moves only
    return [setter(value) for value in changes]


def label_of(control: widgets.Widget) -> str:
    kind = type(control).__name__
    name = getattr(control, "description", "") or getattr(control, "placeholder", "")
    return f"{kind} '{name}'" if name else kind


def time_view(name: str, view: widgets.Widget, repeats: int) -> list[dict]:
    """One row per control of ``view``: median, 95th percentile and worst kernel time of a move, in ms."""
    rows = []
    for control in list(controls_of(view)):
        times = []
        for _ in range(repeats):
            for move in moves(control):
                start = time.perf_counter()
                move()
                times.append(1000 * (time.perf_counter() - start))
        times.sort()
        rows.append(
            {
                "widget": name,
                "control": label_of(control),
                "moves": len(times),
                "median_ms": statistics.median(times),
                "p95_ms": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
                "max_ms": times[-1],
            }
        )
    return rows


def course_views(answers_folder: str) -> dict[str, Callable[[], widgets.Widget]]:
    """Every widget the notebooks and the classroom page show, built as they build it (answer boxes save
    into ``answers_folder``)."""
    from course_lib import images
    from course_lib.checkpoints import load_checkpoint
    from course_lib.discussion import AnswerBox, AnswerStore
    from course_lib.pretrained_lm import load_smollm2
    from course_lib.tasks import Seq2SeqVocab, load_split
    from course_lib.widgets import (
        ArchitectureExplorer,
        AttentionCostExplorer,
        AttentionExplorer,
        AttentionMapWidget,
        BeamTreeExplorer,
        CrossAttentionExplorer,
        ImageGenerationWidget,
        PositionalExplorer,
        SamplingPlayground,
        SamplingWidget,
        SelfAssessmentQuiz,
        StepThroughGenerator,
        TemperaturePreview,
    )

    checkpoint = load_checkpoint("data/checkpoints/char_gpt_python_docs")
    model, tokenizer = checkpoint.model.eval(), checkpoint.tokenizer
    text = "for item in items:\n    print(item)"
    ids = torch.tensor([tokenizer.encode(text)])
    with torch.no_grad():
        out = model(ids, return_attention=True)
    labels = [tokenizer.decode([i]) for i in range(tokenizer.vocab_size)]
    dates = load_checkpoint("data/checkpoints/dates_encoder_decoder")
    dates_sources = [source for source, _ in load_split("dates", "test")[:8]]
    smol, smol_tokenizer = load_smollm2()
    return {
        "TemperaturePreview (00)": TemperaturePreview,
        "AttentionExplorer (01)": lambda: AttentionExplorer(model, tokenizer),
        "PositionalExplorer (02)": lambda: PositionalExplorer(scheme="rotary", dimension=2, position=10),
        "ArchitectureExplorer (03)": ArchitectureExplorer,
        "StepThroughGenerator (04)": lambda: StepThroughGenerator(
            model, tokenizer, prompt="The for statement ", steps=4, layer=1, head=2
        ),
        "CrossAttentionExplorer (05)": lambda: CrossAttentionExplorer(
            dates.model, Seq2SeqVocab.from_tokenizer(dates.tokenizer), sources=dates_sources, layer=1, head=1
        ),
        "AnswerBox (05, 07, 09)": lambda: AnswerBox(
            "05-encoder-vs-decoder", store=AnswerStore(answers_folder)
        ),
        "SamplingPlayground (06)": lambda: SamplingPlayground(model, tokenizer, temperature=0.8, top_p=0.9),
        "ImageGenerationWidget (07)": lambda: ImageGenerationWidget(
            *images.load_shipped_models(),
            images.train_judge(images.load_digit_images()),
            digit=4,
            method="maskgit",
            steps=8,
        ),
        "AttentionCostExplorer (07)": lambda: AttentionCostExplorer(side=256, patch=16, frames=8),
        "StepThroughGenerator (08, SmolLM2)": lambda: StepThroughGenerator(
            smol, smol_tokenizer, prompt="The capital of France is", steps=2, layer=2
        ),
        "SamplingPlayground (08, SmolLM2)": lambda: SamplingPlayground(
            smol, smol_tokenizer, prompt="My favourite food is", temperature=0.8, top_p=0.9
        ),
        "SelfAssessmentQuiz (09)": SelfAssessmentQuiz,
        "BeamTreeExplorer (classroom)": lambda: BeamTreeExplorer(
            model, tokenizer, prompt="The function ", num_beams=4
        ),
        "AttentionMapWidget": lambda: AttentionMapWidget(out.attentions, list(text)),
        "SamplingWidget": lambda: SamplingWidget(out.logits[0, -1], labels),
    }


def measure(repeats: int = 3) -> dict:
    """Kernel-time rows for every course widget, and the worst 95th percentile of a control that is moved
    (buttons start longer actions, e.g. "sample many", and are reported but not held to the target)."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as notebooks 04 and 06 set it for their small models
    try:
        rows = []
        with tempfile.TemporaryDirectory(prefix="bench-answers-") as answers:
            for name, build in course_views(answers).items():
                rows += time_view(name, build(), repeats)
    finally:
        torch.set_num_threads(threads)
    moved = [row for row in rows if not row["control"].startswith(("Button", "Text"))]
    worst = max(moved, key=lambda row: row["p95_ms"])
    typed = [row for row in rows if row["control"].startswith("Text")]
    worst_text = max(typed, key=lambda row: row["p95_ms"])
    return {
        "target_ms": TARGET_MS,
        "rows": rows,
        "worst_p95_ms": worst["p95_ms"],
        "worst": worst,
        "worst_text": worst_text,
    }


def table(facts: dict) -> list[str]:
    """Markdown rows for results.md."""
    lines = [
        "| widget | control | moves | median ms | p95 ms | max ms |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in facts["rows"]:
        lines.append(
            f"| {row['widget']} | {row['control']} | {row['moves']} | {row['median_ms']:.1f} | "
            f"{row['p95_ms']:.1f} | {row['max_ms']:.1f} |"
        )
    return lines


if __name__ == "__main__":
    facts = measure()
    print("\n".join(table(facts)))
    print(f"worst p95 of a moved control: {facts['worst_p95_ms']:.1f} ms (target under {TARGET_MS:.0f} ms)")
    text = facts["worst_text"]
    print(f"slowest text box: {text['widget']}, p95 {text['p95_ms']:.1f} ms (reported, no target)")
    sys.exit(0)
