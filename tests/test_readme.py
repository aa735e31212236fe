"""The README's notebook map lists every notebook of the week, with the time its own header states."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks" / "week07_generative_transformers"


def map_rows() -> dict[str, list[str]]:
    rows = {}
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"\d\d", cells[0]):
            rows[cells[0]] = cells
    return rows


def test_every_notebook_is_in_the_map_with_its_own_time_estimate() -> None:
    rows = map_rows()
    for notebook in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py")):
        number = notebook.name[:2]
        assert number in rows, f"README's notebook map has no row for {notebook.name}"
        header = re.search(r"\*\*Time:\*\* about (\d+) minutes", notebook.read_text(encoding="utf-8"))
        assert header, f"{notebook.name} does not state its time ('**Time:** about N minutes')"
        assert rows[number][3] == f"{header.group(1)} min", (number, rows[number][3], header.group(1))
    assert set(rows) == {p.name[:2] for p in NOTEBOOKS.glob("[0-9][0-9]_*.py")}, "a row without a notebook"
