"""Tests for benchmarks/run.py: its arithmetic and its reports (the benchmark itself is `make bench`, not
a test)."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import run as bench
from course_lib.configs import DecoderOnlyConfig
from course_lib.models import build_model
from course_lib.train import History


def history(val_loss: list[float]) -> History:
    steps = [100 * i for i in range(len(val_loss))]
    return History(
        step=steps,
        train_loss=val_loss,
        val_loss=val_loss,
        lr=[0.1] * len(val_loss),
        seconds=[10.0 * i for i in range(len(val_loss))],
        wall_seconds=[12.0 * i for i in range(len(val_loss))],
    )


def test_time_to_reach_interpolates_between_evaluations():
    crossing = bench.time_to_reach(history([3.0, 2.0, 1.5, 1.0]), target=1.25)
    assert crossing == pytest.approx({"step": 250.0, "seconds": 25.0, "wall_seconds": 30.0})


def test_time_to_reach_takes_the_first_crossing_and_none_when_never_reached():
    assert bench.time_to_reach(history([3.0, 1.0, 2.0, 0.5]), target=1.0)["step"] == pytest.approx(100.0)
    assert bench.time_to_reach(history([3.0, 2.0, 1.5]), target=1.0) is None


@pytest.mark.parametrize("positional, position_params", [("learned", 16 * 8), ("rotary", 0)])
def test_flops_per_token_counts_matmul_weights_and_attention(positional, position_params):
    torch.manual_seed(0)
    model = build_model(
        DecoderOnlyConfig(vocab_size=10, block_size=16, n_layer=2, n_head=2, n_embd=8, positional=positional)
    )
    n_params = sum(p.numel() for p in model.parameters())
    expected = 6 * (n_params - position_params) + 12 * 2 * 8 * 16
    assert bench.training_flops_per_token(model) == expected


def test_artifact_tables_render_both_reports_and_skip_odd_entries():
    artifacts = {
        "notebook_budget": {"01_attention.ipynb": {"seconds": 12.5, "memory_peak_mb": 410.0}},
        "browser_latency": {
            "overall": {"p50_ms": 30.0},
            "widgets": [
                {
                    "widget": "sampling",
                    "controls": [{"latency_ms": 20.0}, {"latency_ms": 40.0}, {"latency_ms": None}],
                },
                {"widget": "empty", "controls": []},
            ],
        },
    }
    text = "\n".join(bench.artifact_tables(artifacts))
    assert "| 01_attention.ipynb | 12.5 | 410.0 |" in text
    assert "| sampling | 2 | 30.0 | 40.0 |" in text and "empty" not in text
    assert bench.artifact_tables({}) == []


def test_verdicts_compare_against_the_targets_in_the_right_direction():
    assert (
        bench.verdict(0.44, 0.5, at_most=True) == "met" and bench.verdict(0.6, 0.5, at_most=True) == "missed"
    )
    assert (
        bench.verdict(3.5, 3.0, at_most=False) == "met" and bench.verdict(2.0, 3.0, at_most=False) == "missed"
    )
    assert bench.verdict(None, 0.5, at_most=True) == "not reached"


def test_curve_gap_compares_the_evaluations_both_runs_made():
    a = {"history": {"step": [0, 10, 20], "val_loss": [4.0, 2.0, 1.5]}}
    b = {"history": {"step": [0, 20], "val_loss": [4.0, 1.8]}}
    assert bench.curve_gap(a, b) == pytest.approx(0.3)


def test_readme_table_replaces_only_the_text_between_the_markers():
    results = json.loads((bench.RESULTS_DIR / "results.json").read_text(encoding="utf-8"))
    start, end = bench.README_MARKERS
    readme = f"intro\n{start}\nold table\n{end}\noutro\n"
    updated = bench.readme_with_table(readme, results)
    assert updated == f"intro\n{start}\n{bench.readme_table(results)}{end}\noutro\n"
    with pytest.raises(SystemExit, match="markers"):
        bench.readme_with_table("no markers here", results)


def test_readme_benchmark_table_is_rendered_from_the_committed_results():
    results = json.loads((bench.RESULTS_DIR / "results.json").read_text(encoding="utf-8"))
    readme = bench.README.read_text(encoding="utf-8")
    assert bench.readme_with_table(readme, results) == readme, (
        "README.md's benchmark table differs from benchmarks/results.json: run `make bench` and commit both."
    )


def test_committed_report_is_the_committed_results_rendered(tmp_path):
    results = json.loads((bench.RESULTS_DIR / "results.json").read_text(encoding="utf-8"))
    assert (bench.RESULTS_DIR / "results.md").read_text(encoding="utf-8") == bench.markdown_report(results), (
        "benchmarks/results.md does not match results.json: run `make bench` and commit all three files."
    )
    assert not results["quick"], "the committed results come from a --quick smoke run: run `make bench`."
    bench.plot_results(results, tmp_path / "results.png")
    assert (tmp_path / "results.png").stat().st_size > 10_000


def test_widget_latency_moves_every_control_of_a_view_and_only_real_changes():
    import ipywidgets

    from benchmarks import widget_latency
    from course_lib.widgets import TemperaturePreview

    view = TemperaturePreview(temperature=1.0)
    (slider,) = widget_latency.controls_of(view)
    values = []
    slider.observe(lambda change: values.append(change["new"]), names="value")
    for move in widget_latency.moves(slider):
        move()
    assert len(values) == len(widget_latency.moves(slider)) >= widget_latency.SLIDER_STOPS
    assert min(values) == slider.min and max(values) == slider.max and slider.value == 1.0
    disabled = ipywidgets.VBox([ipywidgets.IntSlider(disabled=True), ipywidgets.Checkbox()])
    assert [type(c) for c in widget_latency.controls_of(disabled)] == [ipywidgets.Checkbox]
    (row,) = widget_latency.time_view("preview", view, repeats=1)
    assert row["control"] == "FloatSlider 'temperature'" and 0 < row["median_ms"] <= row["max_ms"]


def test_headline_rows_judge_the_slowest_widget_against_100_ms():
    worst = {"widget": "W", "control": "IntSlider 'x'", "p95_ms": 150.0}
    results = {
        "corpora": {},
        "generation": {"rows": [], "against_nanogpt_recipe": 2.5},
        "widgets": {"worst": worst},
    }
    results["corpora"][bench.CORPORA[0]] = {
        "runs": {"course-default": {"efficiency": 0.5, "time_ratio": 0.4}}
    }
    (row,) = [r for r in bench.headline_rows(results) if r[0].startswith("widget")]
    assert row[1:] == ("150 ms", "<= 100 ms", "missed")
