"""Classroom mode (``make demo``): Voilà serves classroom/demo.ipynb as a page of live widgets, and a
headless Chromium drives it offline.

One Voilà server (loopback, a token, its own config/data/runtime folders) and one page for the whole
module: the page loads with every course widget and no code, one slider of each widget changes its
picture, and no request leaves this machine. Screenshots go to artifacts/screenshots/classroom_demo/.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from labdriver import (
    REPO,
    SCREENSHOTS,
    VIEWPORT,
    LabPage,
    NetworkLog,
    ensure_course_kernel,
    free_port,
    fresh_jupyter_env,
    is_external,
)

pytestmark = pytest.mark.browser

DEMO = REPO / "classroom" / "demo.ipynb"
TEMPLATES_ROOT = REPO / "classroom"  # holds voila/templates/classroom (JUPYTER_PATH points here)
SHOTS = SCREENSHOTS / "classroom_demo"
WIDGET_KINDS = (  # in page order: the CSS class each view carries
    "course-attention-explorer",
    "course-step-through",
    "course-sampling-playground",
    "course-beam-tree",
    "course-image-generation",
    "course-attention-cost",
)
# As `make demo` runs it: a kernel runs the notebook before anyone asks, so the page opens in seconds.
DEMO_OPTIONS = ("--preheat_kernel=True", "--pool_size=1")
SERVER_START_S = 60
PAGE_LOAD_S = 90  # the first page waits for the preheated kernel to finish the notebook (about 10 s)


@dataclass
class VoilaServer:
    """``make demo``'s command on a free loopback port with a token; ``stop()`` always ends it."""

    port: int
    token: str
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    @classmethod
    def start(cls, base: Path) -> VoilaServer:
        env = fresh_jupyter_env(base, JUPYTER_PATH=str(TEMPLATES_ROOT))
        ensure_course_kernel(env)
        port, token = free_port(), secrets.token_hex(16)
        command = [
            *(sys.executable, "-m", "voila", str(DEMO), "--no-browser", "--template=classroom"),
            *("--Voila.ip=127.0.0.1", f"--port={port}", "--Voila.port_retries=0", f"--token={token}"),
            *DEMO_OPTIONS,
        ]
        log_path = base / "voila.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command, env=env, cwd=base, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        server = cls(port, token, process, log_path)
        try:
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"Voilà exited early:\n{self.log_tail()}"
            try:  # a static file: answers without starting a kernel
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/voila/static/favicon.ico", timeout=5)
                return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"Voilà did not answer within {SERVER_START_S} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM (Voilà shuts its kernels down), then kill the process group if anything lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@dataclass
class DemoPage:
    lab: LabPage  # LabPage's widget helpers (arm, press_slider) work on any page
    network: NetworkLog
    requests: list[str]
    load_s: float


@pytest.fixture(scope="module")
def demo(tmp_path_factory, chromium) -> DemoPage:
    """The page, in a fresh context of the browser suite's Chromium (one Playwright per session: a second
    synchronous Playwright inside the first one's event loop is refused)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    server = VoilaServer.start(tmp_path_factory.mktemp("voila"))
    context = chromium.new_context(viewport=VIEWPORT)
    try:
        network = NetworkLog()
        network.attach(context)
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        lab = LabPage(page, server, SHOTS)
        start = time.monotonic()
        page.goto(server.url, wait_until="domcontentloaded")
        count = f"document.querySelectorAll('.course-widget').length >= {len(WIDGET_KINDS)}"
        try:
            page.wait_for_function(f"() => {count}", timeout=PAGE_LOAD_S * 1000, polling=250)
        except Exception:
            page.screenshot(path=SHOTS / "load_failed.png")
            pytest.fail(f"the widgets did not appear within {PAGE_LOAD_S} s:\n{server.log_tail()}")
        load_s = time.monotonic() - start
        print(f"classroom demo: every widget shown {load_s:.1f} s after the page was requested")
        page.wait_for_timeout(500)  # let layout settle before screenshots
        yield DemoPage(lab, network, requests, load_s)
    finally:
        context.close()
        server.stop()


def widget(demo: DemoPage, kind: str):
    return demo.lab.page.locator(f".course-widget.{kind}")


def test_every_widget_is_shown_once_with_its_picture(demo):
    for kind in WIDGET_KINDS:
        views = widget(demo, kind)
        assert views.count() == 1, f"{kind}: {views.count()} views on the page"
        output = views.locator(".course-widget-output")
        assert output.inner_text().strip(), f"{kind}: its picture is empty"
    text = demo.lab.page.inner_text("body")
    for problem in ("Error displaying widget", "Traceback", "There was an error when executing cell"):
        assert problem not in text, f"the page shows {problem!r}"
    stderr = demo.lab.page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    assert stderr.count() == 0, f"warnings on the projector: {stderr.all_inner_texts()}"


def test_no_code_is_shown(demo):
    page = demo.lab.page
    visible_inputs = page.locator(
        ".jp-CodeCell .jp-InputArea, .jp-InputArea-editor, .CodeMirror, .cm-editor, .jp-InputPrompt"
    ).evaluate_all("(els) => els.filter((el) => el.getBoundingClientRect().height > 0).length")
    assert visible_inputs == 0
    text = page.inner_text("body")
    for code in ("import torch", "load_checkpoint(", "AttentionExplorer("):
        assert code not in text, f"code is visible on the page: {code!r}"


def test_text_is_projector_sized(demo):
    page = demo.lab.page
    size = "(el) => parseFloat(getComputedStyle(el).fontSize)"
    assert page.locator(".jp-RenderedMarkdown p").first.evaluate(size) >= 20
    assert page.locator(".jp-RenderedMarkdown h1").first.evaluate(size) >= 40
    assert page.locator(".jp-RenderedMarkdown h2").first.evaluate(size) >= 32
    assert page.locator(".course-widget .widget-label").first.evaluate(size) >= 18


@pytest.mark.parametrize("kind", WIDGET_KINDS)
def test_one_slider_of_each_widget_changes_its_picture(demo, kind):
    view = widget(demo, kind)
    view.scroll_into_view_if_needed()
    handle = view.locator(".noUi-handle").first
    label = handle.evaluate("(h) => h.closest('.widget-slider').querySelector('.widget-label').innerText")
    before = view.locator(".course-widget-output").inner_html()
    latency, presses = None, 0
    for key in ("ArrowRight", "ArrowLeft"):  # whichever way the slider can move
        latency, presses = demo.lab.press_slider(view, handle, key)
        if presses:
            break
    assert presses, f"{kind}: slider {label!r} does not move with the arrow keys"
    assert latency is not None, f"{kind}: moving slider {label!r} did not change the picture"
    assert view.locator(".course-widget-output").inner_html() != before
    print(f"{kind}: slider {label!r} answered in {latency:.0f} ms")
    # The section as the room sees it: its heading at the top of the screen.
    view.evaluate(
        "(el) => { const top = el.getBoundingClientRect().top;"
        " const above = [...document.querySelectorAll('h2')]"
        "   .filter((h) => h.getBoundingClientRect().top < top);"
        " if (above.length) above[above.length - 1].scrollIntoView({block: 'start'}); }"
    )
    demo.lab.page.wait_for_timeout(200)
    demo.lab.page.screenshot(path=SHOTS / f"{WIDGET_KINDS.index(kind) + 1}_{kind}.png")


def test_no_request_leaves_this_machine(demo):
    demo.lab.page.locator("h1").first.evaluate("(h) => h.scrollIntoView({block: 'start'})")
    demo.lab.page.screenshot(path=SHOTS / "0_title.png")
    assert demo.network.blocked == [], f"blocked requests to other hosts: {demo.network.blocked}"
    assert demo.requests, "no request was recorded"
    assert not [url for url in demo.requests if is_external(url)]
