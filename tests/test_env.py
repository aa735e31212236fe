"""course_lib.env: each check passes here and gives a specific fix when its condition fails."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

from course_lib import checkpoints, env


def test_every_check_passes_in_the_course_environment() -> None:
    failed = [c.line() for c in env.run_checks() if not c.ok]
    assert not failed, "\n".join(failed)


def test_expected_torch_matches_the_pyproject_pin() -> None:
    deps = tomllib.loads((env.REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"torch=={env.EXPECTED_TORCH}" in deps


def test_old_python_is_reported_with_a_fix() -> None:
    check = env.check_python((3, 9, 1))
    assert not check.ok and "3.9.1" in check.found and "Python 3.11" in check.fix


def test_wrong_torch_and_cuda_build_are_reported() -> None:
    assert not env.check_torch("2.1.0", None).ok
    cuda = env.check_torch(env.EXPECTED_TORCH, "12.4")
    assert not cuda.ok and "CPU build" in cuda.fix


def test_missing_package_is_reported() -> None:
    check = env.check_package("no-such-course-package", 1)
    assert not check.ok and check.found == "not installed" and "make lab" in check.fix


def test_changed_and_missing_data_are_reported(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(env.DATA_DIR / "corpus", data / "corpus")
    shutil.copy(env.DATA_DIR / "MANIFEST.json", data / "MANIFEST.json")
    assert env.check_data(data).found.startswith("missing ['tasks/")
    manifest = json.loads((data / "MANIFEST.json").read_text())
    manifest["files"] = {k: v for k, v in manifest["files"].items() if k.startswith("corpus/")}
    (data / "MANIFEST.json").write_text(json.dumps(manifest))
    assert env.check_data(data).ok
    with open(data / "corpus" / "python_docs.txt", "a") as corpus:
        corpus.write("a student's edit")
    check = env.check_data(data)
    assert (
        not check.ok and "changed ['corpus/python_docs.txt']" in check.found and "git checkout" in check.fix
    )


def test_report_names_what_to_fix(capsys) -> None:
    env.print_report([env.Check("Python", True, "3.11"), env.Check("PyTorch", False, "torch 1.0", "do X")])
    out = capsys.readouterr().out
    assert "[FIX] PyTorch: torch 1.0\n      -> do X" in out and "Please fix: PyTorch." in out


def test_shipped_checkpoints_are_checked(tmp_path: Path) -> None:
    assert env.check_checkpoints().ok
    assert "no checkpoints" in env.check_checkpoints(tmp_path).found
    copy = tmp_path / "char_gpt_python_docs"
    shutil.copytree(env.DATA_DIR / "checkpoints" / "char_gpt_python_docs", copy)
    with open(copy / "model.safetensors", "r+b") as weights:
        weights.seek(-4, 2)
        weights.write(b"\x00\x01\x02\x03")  # a corrupted download or a bad merge
    check = env.check_checkpoints(tmp_path)
    assert (
        not check.ok and check.found.startswith("char_gpt_python_docs (") and "make checkpoints" in check.fix
    )


def test_an_edited_checkpoint_config_is_reported_with_the_one_checkpoint_fix(tmp_path: Path) -> None:
    copy = tmp_path / "char_gpt_python_docs"
    shutil.copytree(env.DATA_DIR / "checkpoints" / "char_gpt_python_docs", copy)
    record = copy / "checkpoint.json"
    text = record.read_text(encoding="utf-8")
    assert '"n_head": 4' in text
    record.write_text(text.replace('"n_head": 4', '"n_head": 2'), encoding="utf-8")
    check = env.check_checkpoints(tmp_path)
    assert not check.ok and "checkpoint.json does not match its recorded sha256" in check.found
    assert check.fix == checkpoints.RETRAIN_HINT and "git checkout -- data/checkpoints" in check.fix
