"""Tests for course_lib.train: schedule, optimizer groups, the loop (reproducible, stoppable) and the CLI."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from course_lib import train as train_module
from course_lib.checkpoints import METADATA_FILE, WEIGHTS_FILE, load_checkpoint
from course_lib.configs import DecoderOnlyConfig
from course_lib.models import DecoderOnlyLM, build_model
from course_lib.train import History, TrainConfig, lr_at, make_optimizer, train
from course_lib.validation import CourseInputError

REPO = Path(__file__).resolve().parents[1]
TEXT = "the cat sat on the mat. the dog sat on the log. " * 20  # 980 characters, 14 distinct
VOCAB = sorted(set(TEXT))


def tiny_setup(seed: int = 0) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    ids = torch.tensor([VOCAB.index(c) for c in TEXT])
    model = build_model(
        DecoderOnlyConfig(vocab_size=len(VOCAB), block_size=16, n_layer=1, n_head=2, n_embd=16)
    )
    return model, ids[:850], ids[850:]


def quick_config(**changes) -> TrainConfig:
    settings = dict(
        max_steps=30,
        batch_size=8,
        learning_rate=1e-2,
        min_lr=1e-3,
        warmup_steps=5,
        eval_interval=10,
        eval_iters=2,
        seed=0,
    )
    settings.update(changes)
    return TrainConfig(**settings)


# ----------------------------------------------------------------------------------------------- schedule


def test_lr_warms_up_linearly_then_decays_along_a_cosine_to_min_lr():
    cfg = TrainConfig(max_steps=110, learning_rate=1.0, min_lr=0.1, warmup_steps=10)
    assert lr_at(0, cfg) == pytest.approx(1 / 11)
    assert lr_at(4, cfg) == pytest.approx(5 / 11)
    assert lr_at(10, cfg) == pytest.approx(1.0)  # peak right after warmup
    assert lr_at(60, cfg) == pytest.approx(0.55)  # halfway through the decay: (peak + min) / 2
    assert lr_at(110, cfg) == pytest.approx(0.1)
    assert lr_at(500, cfg) == pytest.approx(0.1)  # stays at min_lr past the end
    decay = [lr_at(step, cfg) for step in range(10, 111)]
    assert all(a > b for a, b in itertools.pairwise(decay))


def test_no_warmup_starts_at_the_peak():
    cfg = TrainConfig(max_steps=100, learning_rate=3e-3, min_lr=3e-4, warmup_steps=0)
    assert lr_at(0, cfg) == pytest.approx(3e-3)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"max_steps": 0}, r"max_steps must be an integer >= 1, got 0\. Use e\.g\. 2000"),
        ({"batch_size": 2.5}, r"batch_size must be an integer, got 2\.5 \(float\)"),
        ({"learning_rate": 0.0}, r"learning_rate must be in \(0\.0, inf\], got 0\.0"),
        (
            {"min_lr": 0.1},
            r"min_lr must be in \[0\.0, 0\.001\], got 0\.1\. Use a value between 0 and learning_rate",
        ),
        ({"warmup_steps": -1}, r"warmup_steps must be an integer >= 0"),
        ({"weight_decay": -0.1}, r"weight_decay must be in \[0\.0, inf\]"),
        ({"beta2": 1.0}, r"beta2 must be in \[0\.0, 1\.0\), got 1\.0"),
        ({"grad_clip": -1.0}, r"grad_clip must be in \[0\.0, inf\].*0 = no clipping"),
        ({"eval_interval": 0}, r"eval_interval must be an integer >= 1"),
        ({"eval_iters": 0}, r"eval_iters must be an integer >= 1"),
        ({"max_seconds": 0}, r"max_seconds must be in \(0\.0, inf\], got 0\. Use e\.g\. 60, or None"),
        ({"max_seconds": math.nan}, r"max_seconds must be in \(0\.0, inf\], got nan"),
        ({"learning_rate": math.inf}, r"learning_rate must be in \(0\.0, inf\], got inf"),
        ({"seed": -3}, r"seed must be an integer from 0 to 9223372036854775807, got -3"),
        ({"seed": 2**63}, r"seed must be an integer from 0 to 9223372036854775807, got 9223372036854775808"),
    ],
)
def test_bad_settings_fail_with_a_clear_message(changes, message):
    with pytest.raises(CourseInputError, match=message):
        TrainConfig(**changes)


def test_weight_decay_applies_to_matrices_only():
    model, _, _ = tiny_setup()
    decay, no_decay = make_optimizer(model, TrainConfig(weight_decay=0.2)).param_groups
    assert decay["weight_decay"] == 0.2 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"]) and all(p.dim() == 1 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


# ----------------------------------------------------------------------------------------------- the loop


def test_training_lowers_the_loss_and_records_a_history():
    model, train_ids, val_ids = tiny_setup()
    history = train(model, train_ids, val_ids, quick_config(max_steps=60), progress=False)
    assert history.step == [0, 10, 20, 30, 40, 50, 60]
    columns = (history.train_loss, history.val_loss, history.lr, history.seconds, history.wall_seconds)
    assert all(len(column) == len(history.step) for column in columns)
    assert history.val_loss[0] == pytest.approx(math.log(len(VOCAB)), abs=0.3)  # untrained: about uniform
    assert history.val_loss[-1] < 0.6 * history.val_loss[0]
    assert history.seconds == sorted(history.seconds) and history.seconds[-1] <= history.wall_seconds[-1]
    final = history.final
    assert final["steps"] == 60 and final["stopped_by"] == "max_steps"
    assert final["val_loss"] == history.val_loss[-1] and final["train_loss"] == history.train_loss[-1]
    assert final["tokens_per_second"] == pytest.approx(60 * 8 * 16 / final["seconds"])
    assert not model.training
    assert json.loads(json.dumps(history.to_dict()))["step"] == history.step


def test_the_same_seed_gives_the_same_losses_and_another_seed_does_not():
    runs = []
    for seed in (0, 0, 1):
        model, train_ids, val_ids = tiny_setup()
        runs.append(train(model, train_ids, val_ids, quick_config(seed=seed), progress=False))
    assert runs[0].train_loss == runs[1].train_loss and runs[0].val_loss == runs[1].val_loss
    assert runs[0].val_loss[1:] != runs[2].val_loss[1:]


def test_evaluating_more_often_does_not_change_training():
    weights = []
    for interval in (1, 30):
        model, train_ids, val_ids = tiny_setup()
        train(model, train_ids, val_ids, quick_config(eval_interval=interval), progress=False)
        weights.append(model.lm_head.weight.detach().clone())
    assert torch.equal(weights[0], weights[1])


def test_max_seconds_stops_early_and_still_evaluates(monkeypatch):
    clock = iter(range(1000))  # every call to the clock moves time on by one second
    monkeypatch.setattr(train_module.time, "perf_counter", lambda: float(next(clock)))
    model, train_ids, val_ids = tiny_setup()
    history = train(model, train_ids, val_ids, quick_config(max_steps=1000, max_seconds=10), progress=False)
    assert history.final["stopped_by"] == "max_seconds"
    assert 0 < history.final["steps"] < 10
    assert history.step[-1] == history.final["steps"]


def test_gradients_are_clipped_only_when_asked(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda params, max_norm: calls.append(max_norm))
    for clip in (0.0, 0.5):
        model, train_ids, val_ids = tiny_setup()
        train(model, train_ids, val_ids, quick_config(max_steps=3, grad_clip=clip), progress=False)
    assert calls == [0.5, 0.5, 0.5]


def test_progress_bar_shows_the_loss(capsys):
    model, train_ids, val_ids = tiny_setup()
    train(model, train_ids, val_ids, quick_config(max_steps=5), progress=True)
    err = capsys.readouterr().err
    assert "training" in err and "loss=" in err and "5/5" in err


def test_train_wants_a_train_config():
    model, train_ids, val_ids = tiny_setup()
    with pytest.raises(
        CourseInputError, match=r"cfg must be a TrainConfig, got dict\. Build one with TrainConfig"
    ):
        train(model, train_ids, val_ids, {"max_steps": 3})


def test_history_plots_with_viz():
    from course_lib.viz import plot_training_history

    history = History(
        step=[0, 10],
        train_loss=[3.0, 2.0],
        val_loss=[3.1, 2.2],
        lr=[0.1, 0.1],
        seconds=[0, 1],
        wall_seconds=[0, 1],
    )
    figure = plot_training_history(history)
    assert len(figure.axes[0].lines) == 2


def test_presets_pair_model_and_training_settings():
    for name, (model_preset, train_preset) in train_module.PRESETS.items():
        config, cfg = model_preset(65), train_preset()
        assert isinstance(config, DecoderOnlyConfig) and isinstance(cfg, TrainConfig), name
    reference = train_module.PRESETS["baby-gpt-reference"][1]()
    assert (reference.max_steps, reference.batch_size, reference.learning_rate) == (2000, 12, 1e-3)


# ----------------------------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One real run of ``python -m course_lib.train`` on a tiny text (shared by the CLI tests)."""
    folder = tmp_path_factory.mktemp("cli")
    text = folder / "tiny.txt"
    text.write_text(
        TEXT[:490], encoding="utf-8"
    )  # its 49-character validation part is shorter than a context
    out = folder / "model"
    command = [
        sys.executable,
        "-m",
        "course_lib.train",
        "--text",
        str(text),
        "--out",
        str(out),
        "--max-steps",
        "3",
        "--seed",
        "1",
        "--threads",
        "1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    return out, result


def test_cli_prints_a_json_summary_last_and_saves_a_checkpoint(trained):
    out, result = trained
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("val_loss", "train_loss", "steps", "seconds", "params", "tokens_per_second"):
        assert key in summary, key
    assert summary["steps"] == 3 and summary["params"] > 0 and math.isfinite(summary["val_loss"])
    assert "loss=" in result.stderr  # the tqdm bar
    checkpoint = load_checkpoint(out)
    assert checkpoint.metadata["metrics"]["val_loss"] == summary["val_loss"]
    assert checkpoint.metadata["seed"] == 1 and len(checkpoint.metadata["data_sha256"]) == 64
    assert checkpoint.tokenizer.chars == VOCAB
    assert checkpoint.model.config.block_size == 48  # shrunk to fit the 49-character validation part
    assert "block_size is reduced" in result.stderr


def test_cli_help_explains_every_option():
    result = subprocess.run(
        [sys.executable, "-m", "course_lib.train", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0
    for option in ("--text", "--out", "--config", "--max-steps", "--max-seconds", "--seed", "--threads"):
        assert option in result.stdout, option
    assert "last 10%" in result.stdout and "tokens_per_second" in result.stdout


def test_cli_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path):
    command = [
        sys.executable,
        "-m",
        "course_lib.train",
        "--text",
        str(tmp_path / "missing.txt"),
        "--out",
        str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: --text must be ") and "missing.txt" in result.stderr


@pytest.mark.parametrize(
    "content, extra, message",
    [
        (b"", [], r"--text must be a file with some text in it, got .* \(empty or only whitespace\)"),
        (b"caf\xe9 " * 50, [], r"--text must be a UTF-8 text file"),
        (b"abc" * 20, [], r"--text must be a text of at least 90 characters.*got 60 characters"),
        (TEXT.encode(), ["--max-steps", "0"], r"--max-steps must be an integer >= 1, got 0"),
        (TEXT.encode(), ["--max-seconds", "-5"], r"--max-seconds must be in \(0\.0, inf\], got -5\.0"),
        (TEXT.encode(), ["--seed", "-1"], r"--seed must be an integer from 0 to 9223372036854775807, got -1"),
        (TEXT.encode(), ["--threads", "0"], r"--threads must be an integer >= 1, got 0"),
    ],
)
def test_cli_error_messages(tmp_path, capsys, content, extra, message):
    text = tmp_path / "text.txt"
    text.write_bytes(content)
    status = train_module.main(["--text", str(text), "--out", str(tmp_path / "out"), *extra])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert err.startswith("error: ")
    assert re.search(message, err), err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--max-seconds", "nan"], r"--max-seconds must be in \(0\.0, inf\], got nan\. Use e\.g\. 60"),
        (["--max-seconds", "inf"], r"--max-seconds must be in \(0\.0, inf\], got inf"),
        (["--max-seconds=-inf"], r"--max-seconds must be in \(0\.0, inf\], got -inf"),
        (["--max-steps", "-3"], r"--max-steps must be an integer >= 1, got -3"),
        (
            ["--seed", str(2**63)],
            r"--seed must be an integer from 0 to 9223372036854775807, got 9223372036854775808",
        ),
        (["--seed", str(2**70)], r"--seed must be an integer from 0 to 9223372036854775807"),
        (["--threads", "-1"], r"--threads must be an integer >= 1, got -1"),
    ],
)
def test_cli_checks_every_number_before_reading_the_text(tmp_path, capsys, monkeypatch, extra, message):
    monkeypatch.setattr(train_module, "load_corpus", refuse("read the text before checking the options"))
    status = train_module.main(["--text", "never-read.txt", "--out", str(tmp_path / "out"), *extra])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert re.search("^error: " + message, err), err
    assert not (tmp_path / "out").exists()


def refuse(what: str):
    """A stand-in for a function the code under test must not reach."""

    def stand_in(*args, **kwargs):
        raise AssertionError(what)

    return stand_in


def out_cases(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """--out values that must be refused: (value, message), in a folder with a file and a checkpoint."""
    (tmp_path / "notes.txt").write_text("a file", encoding="utf-8")
    (tmp_path / "old_run").mkdir()
    (tmp_path / "old_run" / METADATA_FILE).write_text("{}", encoding="utf-8")
    file, old = str(tmp_path / "notes.txt"), str(tmp_path / "old_run")
    return {
        "empty": ("", r"--out must be a folder name, got an empty string\. Give a folder"),
        "spaces": ("  ", r"--out must be a folder name, got an empty string"),
        "a file": (
            file,
            rf"--out must be a folder \(new or existing\), got '{re.escape(file)}', which is a file",
        ),
        "under a file": (
            file + "/run",
            rf"--out must be a folder \(new or existing\), got '{re.escape(file)}/run', and "
            rf"'{re.escape(file)}' is a file",
        ),
        "not creatable": (
            "/proc/course_lib_test/run",
            r"--out must be a folder you can write to, got '/proc/",
        ),
        "holds a checkpoint": (
            old,
            r"--out must be a folder without a checkpoint, got .*old_run', which already holds one\. "
            r"Choose another folder, or add --overwrite",
        ),
    }


@pytest.mark.parametrize(
    "case", ["empty", "spaces", "a file", "under a file", "not creatable", "holds a checkpoint"]
)
def test_cli_refuses_a_bad_out_before_any_work(tmp_path, capsys, monkeypatch, case):
    monkeypatch.setattr(train_module, "load_corpus", refuse("read the text before checking --out"))
    monkeypatch.setattr(train_module, "train", refuse("trained before checking --out"))
    out, message = out_cases(tmp_path)[case]
    before = sorted(str(path) for path in tmp_path.rglob("*"))
    status = train_module.main(["--text", "never-read.txt", "--out", out])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert re.search("^error: " + message, err), err
    assert sorted(str(path) for path in tmp_path.rglob("*")) == before  # nothing created or changed


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_cli_refuses_an_out_in_a_read_only_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(train_module, "load_corpus", refuse("read the text before checking --out"))
    (tmp_path / "locked").mkdir(mode=0o555)
    status = train_module.main(["--text", "never-read.txt", "--out", str(tmp_path / "locked" / "run")])
    assert status == 2
    assert re.search(
        r"^error: --out must be a folder you can write to, got .*Permission denied", capsys.readouterr().err
    )


@pytest.fixture
def tiny_presets(monkeypatch):
    """The CLI's default preset shrunk to a 1-layer model and 5 quick steps."""

    def model_preset(vocab_size: int) -> DecoderOnlyConfig:
        return DecoderOnlyConfig(vocab_size=vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)

    def train_preset() -> TrainConfig:
        return quick_config(max_steps=5, eval_interval=5, eval_iters=1)

    monkeypatch.setitem(train_module.PRESETS, "course-default", (model_preset, train_preset))


def test_cli_overwrites_a_checkpoint_only_when_asked(tmp_path, capsys, tiny_presets):
    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "run"
    arguments = ["--text", str(text), "--out", str(out)]
    assert train_module.main(arguments) == 0
    weights = (out / WEIGHTS_FILE).read_bytes()
    assert train_module.main([*arguments, "--seed", "5"]) == 2
    assert "--out must be a folder without a checkpoint" in capsys.readouterr().err
    assert (out / WEIGHTS_FILE).read_bytes() == weights  # the first run is kept
    assert train_module.main([*arguments, "--seed", "5", "--overwrite"]) == 0
    assert (out / WEIGHTS_FILE).read_bytes() != weights
    assert load_checkpoint(out).metadata["seed"] == 5


def interrupt_at_step(monkeypatch, number: int) -> list:
    """Make the ``number``-th training step raise KeyboardInterrupt (Ctrl-C); returns the parameters as they
    were after the last complete step (filled in as training runs)."""
    real_step, calls, weights = train_module.train_step, [], []

    def step(model, *args, **kwargs):
        calls.append(1)
        if len(calls) == number:
            raise KeyboardInterrupt
        loss = real_step(model, *args, **kwargs)
        weights[:] = [p.detach().clone() for p in model.parameters()]
        return loss

    monkeypatch.setattr(train_module, "train_step", step)
    return weights


def test_ctrl_c_keeps_the_steps_so_far_and_a_complete_history(monkeypatch):
    model, train_ids, val_ids = tiny_setup()
    after_seven_steps = interrupt_at_step(monkeypatch, 8)
    history = train(model, train_ids, val_ids, quick_config(max_steps=30), progress=False)
    assert history.final["stopped_by"] == "interrupted" and history.final["steps"] == 7
    assert history.step == [0, 7]  # evaluated at the start and where Ctrl-C stopped it
    columns = (history.train_loss, history.val_loss, history.lr, history.seconds, history.wall_seconds)
    assert all(len(column) == 2 for column in columns)
    assert history.val_loss[1] < history.val_loss[0] and history.final["val_loss"] == history.val_loss[1]
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), after_seven_steps, strict=True))
    assert not model.training


def test_ctrl_c_during_an_evaluation_still_ends_with_a_complete_row(monkeypatch):
    real, calls = train_module.estimate_loss, []

    def estimate(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:  # the validation loss at step 10
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "estimate_loss", estimate)
    model, train_ids, val_ids = tiny_setup()
    history = train(model, train_ids, val_ids, quick_config(max_steps=30), progress=False)
    assert history.step == [0, 10] and len(history.val_loss) == len(history.wall_seconds) == 2
    assert history.final["stopped_by"] == "interrupted" and history.final["steps"] == 10


def test_drop_partial_row_cuts_every_column_to_the_complete_rows():
    history = History(
        step=[0, 10], train_loss=[3.0, 2.0], val_loss=[3.1], lr=[0.1], seconds=[0.0], wall_seconds=[0.0]
    )
    train_module.drop_partial_row(history)
    assert history.step == [0] and history.train_loss == [3.0] and history.val_loss == [3.1]


def test_cli_ctrl_c_saves_the_steps_so_far_and_says_where(tmp_path, capsys, monkeypatch, tiny_presets):
    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    interrupt_at_step(monkeypatch, 3)
    status = train_module.main(["--text", str(text), "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert status == 130
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["stopped_by"] == "interrupted" and summary["steps"] == 2
    assert (
        f"interrupted (Ctrl-C) after 2 steps: saved the checkpoint so far to {tmp_path / 'run'}"
        in captured.err
    )
    assert load_checkpoint(tmp_path / "run").metadata["metrics"]["steps"] == 2


def test_a_real_ctrl_c_saves_a_checkpoint(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "run"
    command = [sys.executable, "-m", "course_lib.train", "--text", str(text), "--out", str(out)]
    command += ["--max-steps", "100000", "--threads", "1"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err, deadline = b"", time.monotonic() + 120
    while not re.search(rb"\| [1-9][0-9]*/100000", err) and time.monotonic() < deadline:  # steps done
        chunk = os.read(process.stderr.fileno(), 4096)
        if not chunk:
            break
        err += chunk
    process.send_signal(signal.SIGINT)
    out_bytes, rest = process.communicate(timeout=120)
    err = (err + rest).decode()
    assert process.returncode == 130, err
    assert f"saved the checkpoint so far to {out}" in err and "Traceback" not in err
    assert json.loads(out_bytes.decode().strip().splitlines()[-1])["stopped_by"] == "interrupted"
    assert load_checkpoint(out).metadata["metrics"]["stopped_by"] == "interrupted"


def test_precision_must_be_a_known_name():
    with pytest.raises(
        CourseInputError, match=r"precision must be one of \('float32', 'bfloat16'\), got 'fp16'"
    ):
        TrainConfig(precision="fp16")


def test_bfloat16_autocast_learns_like_float32():
    """The same seed and batches under bfloat16 autocast end near the float32 loss (weights stay float32)."""
    data = torch.randint(0, 11, (4000,), generator=torch.Generator().manual_seed(0)) % 5  # a learnable text
    finals = {}
    for precision in ("float32", "bfloat16"):
        torch.manual_seed(0)
        model = DecoderOnlyLM(DecoderOnlyConfig(vocab_size=11, block_size=16, n_layer=1, n_head=2, n_embd=32))
        cfg = TrainConfig(max_steps=60, batch_size=8, warmup_steps=5, eval_interval=60, eval_iters=4,
                          learning_rate=3e-3, precision=precision)  # fmt: skip
        finals[precision] = train(model, data, data, cfg, progress=False).final["val_loss"]
        assert next(model.parameters()).dtype == torch.float32
    assert finals["float32"] < 1.8  # it learned: a uniform guess over 5 symbols is ln 5 = 1.61... of 11 ids
    assert abs(finals["bfloat16"] - finals["float32"]) < 0.05
