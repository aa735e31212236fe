"""The classroom page (classroom/demo.ipynb, served by `make demo`) is a jupytext pair like the course's
notebooks, stores the course kernel, and ships without outputs (Voilà runs it fresh on every visit).

tests/test_pairing.py covers notebooks/ only; this file covers classroom/.
"""

from __future__ import annotations

from pathlib import Path

import jupytext

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "classroom" / "demo.ipynb"
FIX = (
    "run `jupytext --sync classroom/demo.ipynb`, which updates the older file of the pair from the newer one"
)


def cells(path: Path) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in jupytext.read(path).cells]


def test_demo_and_its_twin_agree() -> None:
    twin = DEMO.with_suffix(".py")
    assert twin.exists(), f"{DEMO.name} has no jupytext twin {twin.name}"
    assert "py:percent" in jupytext.read(DEMO).metadata.get("jupytext", {}).get("formats", "")
    assert cells(DEMO) == cells(twin), FIX


def test_demo_stores_the_course_kernel_and_no_outputs() -> None:
    notebook = jupytext.read(DEMO)
    assert notebook.metadata["kernelspec"]["name"] == "week07-transformers"
    with_outputs = [i for i, cell in enumerate(notebook.cells) if cell.get("outputs")]
    assert with_outputs == [], (
        f"cells {with_outputs} carry outputs: clear them (Voilà runs the notebook itself)"
    )


def test_make_demo_serves_the_page_the_browser_suite_drives() -> None:
    import subprocess

    command = subprocess.run(
        ["make", "--no-print-directory", "-n", "--always-make", "demo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    voila = next(line for line in command.splitlines() if "voila" in line and "classroom/demo.ipynb" in line)
    served = voila + command.split(voila, 1)[1].split("\n", 2)[1]  # the recipe's continuation line
    for option in ("--Voila.ip=127.0.0.1", "--template=classroom", "--preheat_kernel=True", "--no-browser"):
        assert option in served, served
    assert "JUPYTER_PATH=" in voila and "/classroom" in voila
