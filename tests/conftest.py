"""Test-session setup shared by every test, the notebook suite (nbval) and the browser suite.

- Offline: the guard in ``course_lib.offline`` is on in this process, and ``tests/offline_site`` (a
  ``sitecustomize``) turns it on in every child Python process (kernels, JupyterLab, CLI runs). Every
  blocked connection is logged; the session fails if the log is not empty, even when a library
  swallowed the error.
- Answers: ``COURSE_ANSWERS_DIR`` points every process (kernels, JupyterLab, Voila) at a fresh temporary
  folder, so a test run never reads or writes a student's own answers in ``answers/``.
- Notebook budget: each notebook's run time and its kernel's memory peak are written to
  ``artifacts/notebook_budget.json`` for ``make bench`` (a report, not a timed test).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "artifacts"
OFFLINE_SITE = Path(__file__).resolve().parent / "offline_site"


def pytest_configure(config: pytest.Config) -> None:
    log = Path(tempfile.mkdtemp(prefix="course-offline-")) / "blocked.log"
    log.touch()
    config._course_offline_log = log  # type: ignore[attr-defined]
    os.environ.update(
        COURSE_OFFLINE="1",
        COURSE_OFFLINE_LOG=str(log),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        COURSE_ANSWERS_DIR=tempfile.mkdtemp(prefix="course-answers-"),
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(OFFLINE_SITE), str(REPO), os.environ.get("PYTHONPATH")])
        ),
    )
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from course_lib.offline import install_guard

    install_guard()
    config.pluginmanager.register(NotebookBudget(), "course-notebook-budget")

    import matplotlib

    matplotlib.use("Agg")
    import torch

    # Unit tests use tiny models, which run fastest on one thread (no thread start-up per op).
    torch.set_num_threads(1)


def _kernel_peak_mb(item: pytest.Item) -> float | None:
    """The peak resident memory (VmHWM) of the kernel that nbval started for ``item``'s notebook, in MB."""
    kernel = getattr(item.parent, "kernel", None)
    process = getattr(getattr(getattr(kernel, "km", None), "provisioner", None), "process", None)
    status = Path(f"/proc/{getattr(process, 'pid', -1)}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


class NotebookBudget:
    """Each notebook's run time and kernel memory peak, written to artifacts/notebook_budget.json.

    A plugin object rather than conftest hooks: hooks in tests/conftest.py would only see the items under
    tests/, and the notebooks live in notebooks/.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.peak_mb: dict[str, float] = defaultdict(float)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        start = time.perf_counter()
        yield
        notebook = item.nodeid.split("::")[0]
        if notebook.endswith(".ipynb"):
            self.seconds[notebook] += time.perf_counter() - start
            peak = _kernel_peak_mb(item)
            if peak is not None:
                self.peak_mb[notebook] = max(self.peak_mb[notebook], peak)

    def pytest_sessionfinish(self) -> None:
        if not self.seconds:
            return
        ARTIFACTS.mkdir(exist_ok=True)
        report = {
            notebook: {
                "seconds": round(seconds, 2),
                "memory_peak_mb": round(self.peak_mb.get(notebook, 0.0), 1),
            }
            for notebook, seconds in sorted(self.seconds.items())
        }
        (ARTIFACTS / "notebook_budget.json").write_text(json.dumps(report, indent=2) + "\n")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    log = Path(session.config._course_offline_log)  # type: ignore[attr-defined]
    blocked = log.read_text().strip() if log.exists() else ""
    if blocked:
        print(f"\nOFFLINE GUARD: these network connections were attempted during the tests:\n{blocked}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
