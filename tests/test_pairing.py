"""Every notebook is a jupytext pair (.ipynb + py:percent .py) whose cells agree, and every notebook
stores the course kernelspec. The check itself is shown to fail on a deliberate breakage."""

from __future__ import annotations

import shutil
from pathlib import Path

import jupytext
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.rglob("*.ipynb"))
KERNEL_NAME = "week07-transformers"
FIX = "run `make sync` (jupytext --sync), which updates the older file of the pair from the newer one"


def cell_summary(path: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    """Each cell as (type, source, tags): what the two files of a pair must agree on."""
    notebook = jupytext.read(path)
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", ()))) for c in notebook.cells]


def pairing_problems(ipynb: Path) -> list[str]:
    """What is wrong with one pair, in words a student can act on ([] when the pair is in sync)."""
    twin = ipynb.with_suffix(".py")
    if not twin.exists():
        return [
            f"{ipynb.name} has no jupytext twin {twin.name}: run `jupytext --set-formats ipynb,py:percent "
            f"{ipynb}`"
        ]
    problems = []
    formats = jupytext.read(ipynb).metadata.get("jupytext", {}).get("formats", "")
    if "py:percent" not in formats:
        problems.append(f"{ipynb.name} is not paired with py:percent (formats={formats!r})")
    left, right = cell_summary(ipynb), cell_summary(twin)
    if len(left) != len(right):
        problems.append(f"{ipynb.name} has {len(left)} cells but {twin.name} has {len(right)}: {FIX}")
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        if a != b:
            problems.append(f"cell {index} of {ipynb.name} differs from {twin.name}: {FIX}")
            break
    return problems


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, f"no notebooks found under {NOTEBOOK_DIR}"


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_and_twin_are_in_sync(ipynb: Path) -> None:
    assert pairing_problems(ipynb) == []


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_stores_the_course_kernel(ipynb: Path) -> None:
    kernelspec = jupytext.read(ipynb).metadata.get("kernelspec", {})
    assert kernelspec.get("name") == KERNEL_NAME, (
        f"{ipynb.name} stores kernelspec {kernelspec!r}: choose the '{KERNEL_NAME}' kernel and save, "
        "or JupyterLab will ask students which kernel to use"
    )


@pytest.fixture
def copied_pair(tmp_path: Path) -> Path:
    ipynb = NOTEBOOKS[0]
    shutil.copy(ipynb, tmp_path / ipynb.name)
    shutil.copy(ipynb.with_suffix(".py"), tmp_path / ipynb.with_suffix(".py").name)
    return tmp_path / ipynb.name


def test_check_catches_an_edited_twin(copied_pair: Path) -> None:
    twin = copied_pair.with_suffix(".py")
    text = twin.read_text()
    twin.write_text(text.replace("import", "import  ", 1))
    problems = pairing_problems(copied_pair)
    assert problems and "make sync" in problems[0]


def test_check_catches_an_added_cell(copied_pair: Path) -> None:
    twin = copied_pair.with_suffix(".py")
    twin.write_text(twin.read_text() + "\n# %%\nprint('a cell only the .py has')\n")
    assert any("cells but" in p for p in pairing_problems(copied_pair))


def test_check_catches_a_missing_twin(copied_pair: Path) -> None:
    copied_pair.with_suffix(".py").unlink()
    assert "has no jupytext twin" in pairing_problems(copied_pair)[0]
