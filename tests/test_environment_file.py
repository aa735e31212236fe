"""environment.yml (conda, Binder, JupyterHub) and pyproject.toml (make lab / make test) cannot drift,
and the installed torch is the pinned CPU build."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + [
        req for group in project["optional-dependencies"].values() for req in group
    ]
    return dict(parse_pin(line) for line in lines)


def environment_pip_requirements() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(
        item["pip"] for item in env["dependencies"] if isinstance(item, dict) and "pip" in item
    )
    return dict(parse_pin(line) for line in pip_section if not line.startswith("-"))


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
    pip_section = next(
        item["pip"] for item in env["dependencies"] if isinstance(item, dict) and "pip" in item
    )
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
