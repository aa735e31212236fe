"""Fixtures for the browser suite: one headless Chromium and one JupyterLab server per test session.

The server works on a temporary copy of notebooks/ (the real files are never touched). Everything the
suite sees is kept under artifacts/ (git-ignored): screenshots in artifacts/screenshots/, the widget
latencies in artifacts/browser_latency.json, the server log in artifacts/browser/jupyterlab.log.

Set COURSE_BROWSER_NOTEBOOKS=DIR to run the suite on the notebooks in another folder (handy when
trying the suite on a scratch notebook).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time

import pytest
from labdriver import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    CHROMIUM_MISSING,
    NOTEBOOKS_DIR,
    LabServer,
    percentile,
)
from playwright.sync_api import sync_playwright

LATENCY_FILE = ARTIFACTS / "browser_latency.json"


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (Debian's /usr/bin/chromium; Playwright cannot download its own here)."""
    if not CHROMIUM.exists():
        pytest.fail(CHROMIUM_MISSING, pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    """JupyterLab on 127.0.0.1 over a copy of the notebooks; stopped (kernels included) at the end."""
    server = LabServer.start(NOTEBOOKS_DIR, tmp_path_factory.mktemp("jupyterlab"))
    try:
        yield server
    finally:
        server.stop()
        (ARTIFACTS / "browser").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(server.log_path, ARTIFACTS / "browser" / "jupyterlab.log")


@pytest.fixture(scope="session")
def latency_log(chromium):
    """Collects one record per course widget (each control's latency); written to
    artifacts/browser_latency.json."""
    records: list[dict] = []
    yield records
    latencies = [ms for record in records for ms in record["latencies_ms"]]
    overall = {"count": len(latencies)}
    if latencies:
        overall.update(
            p50_ms=percentile(latencies, 50), p95_ms=percentile(latencies, 95), max_ms=max(latencies)
        )
    report = {
        "what": "time from the input event (key press, click) to the widget's visible output changing, "
        "measured in the page with performance.now() and a MutationObserver",
        "browser": f"Chromium {chromium.version} (headless)",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "overall": overall,
        "widgets": records,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    LATENCY_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
