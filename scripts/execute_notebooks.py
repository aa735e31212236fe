"""Execute notebooks in place so they are committed with outputs (students read them on the web first).

    python scripts/execute_notebooks.py notebooks/week07_generative_transformers [NOTEBOOK ...]

Runs each notebook top to bottom in the course kernel with the offline guard on, saves the widget state
(so a reopened notebook still shows its widgets), and stops at the first failing notebook.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
KERNEL_NAME = "week07-transformers"


def notebooks_in(arguments: list[str]) -> list[Path]:
    paths: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        paths.extend(sorted(path.glob("*.ipynb")) if path.is_dir() else [path])
    return paths


def execute(path: Path) -> float:
    """Run ``path`` in place; return the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # old timestamps: they would only add noise to every diff
    start = time.perf_counter()
    NotebookClient(
        notebook,
        kernel_name=KERNEL_NAME,
        timeout=300,
        store_widget_state=True,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    nbformat.write(notebook, path)
    return time.perf_counter() - start


def main(arguments: list[str]) -> None:
    os.environ.update(
        COURSE_OFFLINE="1",
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(REPO / "tests" / "offline_site"), os.environ.get("PYTHONPATH")])
        ),
    )
    for path in notebooks_in(arguments):
        print(f"{path}: executed in {execute(path):.1f} s", flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
