"""Drive JupyterLab in a real (headless) Chromium the way a student does, and read back what they would see.

- ``LabServer``   a throwaway JupyterLab over a temporary copy of notebooks/, with the course's user
                  settings, its own config/data/runtime folders, and a free loopback port.
- ``NetworkLog``  blocks and records every browser request to a host other than this machine.
- ``LabPage``     one browser page: open a notebook, Run All, inspect every cell's outputs in the DOM,
                  move the course widgets' controls and time the answer, save, close, reopen, screenshot.

The page is reached through ``window.jupyterapp`` (the server runs with ``expose_app_in_browser``), so the
tests run JupyterLab's own commands (``notebook:run-all-cells``, ``docmanager:save``) instead of clicking
through menus whose layout changes between versions. Widget controls are moved with the keyboard and
mouse, as a person would.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Locator, Page, Route, WebSocketRoute
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from course_lib.offline import is_local

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
# COURSE_BROWSER_NOTEBOOKS=DIR runs the suite on the notebooks in another folder (e.g. a scratch notebook).
NOTEBOOKS_DIR = Path(os.environ.get("COURSE_BROWSER_NOTEBOOKS", REPO / "notebooks")).resolve()
KERNEL_NAME = "week07-transformers"
KERNEL_DISPLAY_NAME = "Week 7 (transformers)"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM_MISSING = (
    f"The browser tests need Chromium at {CHROMIUM}, which is missing. Install it (Debian/Ubuntu, as root) "
    "with `sudo make browser-deps`, i.e. `sudo apt-get install chromium chromium-driver`, then run the "
    "tests again."
)
VIEWPORT = {"width": 1280, "height": 800}  # a common laptop screen

SERVER_START_S = 90  # JupyterLab's first start builds nothing, but a busy shared CPU is slow
RUN_ALL_S = 150  # one notebook's Run All; nbval's per-cell limit is 120 s
WIDGET_RENDER_S = 20  # widget views appear after their cell finished
CHANGE_S = 5  # a widget must answer a control change within this (functional bound, not the 300 ms target)


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_lab_settings() -> dict[str, dict[str, object]]:
    """The user settings students get from ``make lab`` (scripts/lab_settings.py), so the tests use the
    same."""
    spec = importlib.util.spec_from_file_location("course_lab_settings", REPO / "scripts" / "lab_settings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SETTINGS


def fresh_jupyter_env(base: Path, **extra: str) -> dict[str, str]:
    """This process's environment with Jupyter's config, data, runtime and IPython folders moved into
    ``base`` (nothing of the user's own Jupyter set-up leaks in), unbuffered output, plus ``extra``."""
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        IPYTHONDIR=str(base / "ipython"),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


@dataclass
class LabServer:
    """A JupyterLab process serving a copy of the notebooks; ``stop()`` always ends it."""

    base: Path  # temporary folder holding everything this server writes
    root: Path  # the copy of notebooks/ it serves
    port: int
    token: str
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, notebooks_dir: Path, base: Path) -> LabServer:
        root = base / "notebooks"
        shutil.copytree(
            notebooks_dir, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
        )
        env = fresh_jupyter_env(
            base,
            JUPYTERLAB_SETTINGS_DIR=str(base / "lab" / "user-settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(base / "lab" / "workspaces"),
        )
        for relative, values in load_lab_settings().items():
            path = base / "lab" / "user-settings" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values, indent=2), encoding="utf-8")
        ensure_course_kernel(env)

        port, token = free_port(), secrets.token_hex(16)
        log_path = base / "jupyterlab.log"
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
        ]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command, env=env, cwd=base, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        server = cls(base, root, port, token, process, log_path)
        try:
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
        return server

    def api(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel this server runs (one notebook's kernels must not pile up during the session)."""
        for kernel in self.api("/api/kernels"):
            self.api(f"/api/kernels/{kernel['id']}", method="DELETE")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with code {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                self.api("/api/status")
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(
            f"JupyterLab did not answer on {self.url} within {SERVER_START_S} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Ask JupyterLab to shut down (kernels too), then kill its process group if it lingers."""
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.api("/api/shutdown", method="POST")
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)
        else:  # the server is gone; make sure no kernel it started survives
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 9)


def ensure_course_kernel(env: dict[str, str]) -> None:
    """Register the course kernel in this server's own data folder if the venv does not provide it yet.

    ``make setup`` registers it with ``--sys-prefix``; before that has run (or in a venv made by hand)
    the tests would otherwise meet JupyterLab's "Select Kernel" dialog.
    """
    listing = subprocess.run(
        [sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    if KERNEL_NAME not in json.loads(listing.stdout)["kernelspecs"]:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ipykernel",
                "install",
                "--user",
                "--name",
                KERNEL_NAME,
                "--display-name",
                KERNEL_DISPLAY_NAME,
            ],
            env=env,
            capture_output=True,
            check=True,
            timeout=60,
        )


# ---------------------------------------------------------------- the network


def is_external(url: str) -> bool:
    """True for http(s)/ws(s) URLs whose host is not this machine (data:, blob: and the like stay local)."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and not is_local(parts.hostname or "")


@dataclass
class NetworkLog:
    """Every request the browser tried to send off this machine (all of them are blocked)."""

    blocked: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.route(is_external, self._block)
        context.route_web_socket(is_external, self._block_socket)

    def _block(self, route: Route) -> None:
        self.blocked.append(route.request.url)
        route.abort("blockedbyclient")

    def _block_socket(self, socket_route: WebSocketRoute) -> None:
        self.blocked.append(socket_route.url)
        socket_route.close()


# ---------------------------------------------------------------- scripts run in the page

# Open a notebook and keep a handle on its panel in window.__courseNb.
_OPEN = """async (path) => {
  const app = window.jupyterapp;
  await app.restored;
  const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  window.__courseNb = panel;
  app.shell.activateById(panel.id);
  await panel.context.ready;
  return panel.id;
}"""

# Where the open notebook stands: kernel state, a dialog if one is up.
_STATE = """() => {
  const panel = window.__courseNb;
  const dialog = document.querySelector('.jp-Dialog');
  const session = panel && panel.sessionContext;
  return {
    sessionReady: !!(session && session.isReady),
    kernel: session && session.session && session.session.kernel ? session.session.kernel.name : null,
    status: session ? session.kernelDisplayStatus : null,
    dialog: dialog ? dialog.innerText.slice(0, 500) : null,
  };
}"""

_RUN_ALL = """async () => {
  const app = window.jupyterapp;
  app.shell.activateById(window.__courseNb.id);
  return await app.commands.execute('notebook:run-all-cells');
}"""

_SAVE = """async () => {
  const app = window.jupyterapp;
  app.shell.activateById(window.__courseNb.id);
  await app.commands.execute('docmanager:save');
  return !window.__courseNb.context.model.dirty;
}"""

# Shut the kernel down (as when JupyterLab is closed) and close the tab.
_SHUTDOWN_AND_CLOSE = """async () => {
  const panel = window.__courseNb;
  await panel.sessionContext.shutdown();
  panel.close();  // closing is asynchronous: the panel is disposed a moment later
  for (let i = 0; i < 200 && !panel.isDisposed; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return panel.isDisposed;
}"""


def _as_task(script: str) -> str:
    """Wrap an async page function so it runs in the background; its outcome lands in window.__courseTask.

    page.evaluate would wait for ever on a promise that never settles (e.g. behind a dialog);
    a task is waited for with a time limit instead.
    """
    return (
        "(arg) => { const task = window.__courseTask = {done: false, value: null, error: null};"
        f" ({script})(arg).then((value) => {{ task.value = value; task.done = true; }},"
        " (error) => { task.error = String(error); task.done = true; }); }"
    )


# Run All finished, the kernel is idle, and no code cell is still queued ("[*]").
_RUN_FINISHED = """() => {
  const panel = window.__courseNb;
  if (!window.__courseTask.done) return false;
  const status = panel.sessionContext.kernelDisplayStatus;
  if (status !== 'idle') return false;
  return !panel.content.widgets.some((cell) => cell.model.type === 'code' && cell.promptNode
      && cell.promptNode.textContent.includes('*'));
}"""

# Every cell: model facts (type, execution count, outputs) and what the DOM shows, measured after scrolling
# the element into view (JupyterLab skips drawing cells off screen).
_INSPECT = """async () => {
  const panel = window.__courseNb;
  const WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json';
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  const box = async (el) => {
    el.scrollIntoView({block: 'nearest'});
    await frame();
    // A cell scrolled back into view is re-attached asynchronously; on a busy machine that takes more than
    // two frames. Wait up to 2 s for a size: an element that is really hidden still measures 0 after that.
    for (let waited = 0; waited < 2000 && el.getBoundingClientRect().width === 0; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const rect = el.getBoundingClientRect();
    const visible = el.checkVisibility({visibilityProperty: true, opacityProperty: true});
    return {width: Math.round(rect.width), height: Math.round(rect.height), visible};
  };
  const text = (el) => (el.innerText || el.textContent || '').trim();
  const cells = [];
  for (const [index, cell] of panel.content.widgets.entries()) {
    const model = cell.model;
    const info = {index, type: model.type, count: null, outputs: [], stderr: [], widgetAreas: [],
                  courseWidgets: [], pictures: [], bertviz: [], errorDisplaying: false};
    cells.push(info);
    if (model.type !== 'code') continue;
    info.count = model.executionCount;
    await box(cell.node);
    const children = cell.outputArea.widgets;  // one child per output, in order
    for (let j = 0; j < model.outputs.length; j++) {
      const output = model.outputs.get(j).toJSON();
      const data = output.data || {};
      const child = children[j] ? children[j].node : null;
      info.outputs.push({type: output.output_type, name: output.name || null, mimes: Object.keys(data),
                         ename: output.ename || null, evalue: output.evalue || null,
                         shownText: child ? text(child).length : 0,
                         shownPictures: child ? child.querySelectorAll('img, svg, canvas').length : 0});
      if (data[WIDGET_VIEW]) {
        const area = child ? child.querySelector('.jp-OutputArea-output') : null;
        const view = area ? area.querySelector('.jupyter-widgets') : null;  // the widget's own element
        info.widgetAreas.push(view ? {output: j, children: area.querySelectorAll('.jupyter-widgets').length,
                                      ...(await box(view))}
                                   : {output: j, children: 0, width: 0, height: 0, visible: false});
      }
    }
    const node = cell.outputArea.node;
    info.errorDisplaying = text(node).includes('Error displaying widget');
    const stderr = '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]';
    for (const el of node.querySelectorAll(stderr)) {
      info.stderr.push(text(el).slice(0, 500));
    }
    for (const el of node.querySelectorAll('.course-widget')) {
      const out = el.querySelector('.course-widget-output');
      info.courseWidgets.push({classes: el.className, ...(await box(el)),
        output: out ? {text: text(out).slice(0, 200), children: out.querySelectorAll('*').length,
                       ...(await box(out))} : null});
    }
    for (const el of node.querySelectorAll('img, canvas, svg')) {
      if (el.tagName.toLowerCase() === 'svg' && el.parentElement.closest('svg')) continue;  // part of a bigger svg
      if (el.closest('button, .jp-OutputArea-prompt')) continue;  // icons, not outputs
      info.pictures.push({tag: el.tagName.toLowerCase(), loaded: el.tagName !== 'IMG' || el.naturalWidth > 0,
                          ...(await box(el))});
    }
    for (const el of node.querySelectorAll('[id^="bertviz"]')) {
      const svg = el.querySelector('svg');
      info.bertviz.push({id: el.id, svgChildren: svg ? svg.querySelectorAll('*').length : 0,
                         ...(svg ? await box(svg) : {width: 0, height: 0, visible: false})});
    }
  }
  const outputs = [...document.querySelectorAll('.jp-OutputArea')].map(text).join(' ');
  return {cells, errorDisplayingAnywhere: outputs.includes('Error displaying widget')};
}"""

# Count widget views that are still being drawn (an output with a widget model but no widget inside yet).
_WIDGETS_PENDING = """() => {
  let pending = 0;
  for (const cell of window.__courseNb.content.widgets) {
    if (cell.model.type !== 'code') continue;
    for (let j = 0; j < cell.model.outputs.length; j++) {
      if (!cell.model.outputs.get(j).data['application/vnd.jupyter.widget-view+json']) continue;
      const child = cell.outputArea.widgets[j];
      const node = child ? child.node : null;
      if (!node || !(node.querySelector('.jupyter-widgets') || node.innerText.includes('Error displaying widget'))) {
        pending++;
      }
    }
  }
  return pending;
}"""

# The element that scrolls the notebook, and how far.
_SCROLLER = """(top) => {
  const panel = window.__courseNb;
  const candidates = [panel.content.node, ...panel.content.node.querySelectorAll('*')];
  const scroller = candidates.find((el) => el.scrollHeight > el.clientHeight + 2
      && ['auto', 'scroll'].includes(getComputedStyle(el).overflowY)) || panel.content.node;
  if (top !== null) scroller.scrollTop = top;
  const cells = panel.content.widgets;  // the end of the last cell, not the blank space JupyterLab adds after it
  const end = cells.length ? cells[cells.length - 1].node.getBoundingClientRect().bottom
      - scroller.getBoundingClientRect().top + scroller.scrollTop : scroller.scrollHeight;
  return {top: scroller.scrollTop, height: scroller.clientHeight, total: Math.min(end, scroller.scrollHeight)};
}"""

# Arm a probe on one course widget: the first input event starts the clock, the first change of the
# visible output (.course-widget-output) stops it. Both times come from performance.now() in the page.
_ARM = """(widget) => {
  const out = widget.querySelector('.course-widget-output');
  const probe = {start: null, changed: null, before: out.innerHTML};
  if (window.__courseProbe) window.__courseProbe.stop();
  window.__courseProbe = probe;
  const events = ['keydown', 'pointerdown', 'input', 'change'];
  const onInput = () => { if (probe.start === null) probe.start = performance.now(); };
  events.forEach((type) => window.addEventListener(type, onInput, true));
  const observer = new MutationObserver(() => {
    if (probe.changed === null && out.innerHTML !== probe.before) probe.changed = performance.now();
  });
  observer.observe(out, {subtree: true, childList: true, characterData: true, attributes: true});
  probe.stop = () => {
    observer.disconnect();
    events.forEach((type) => window.removeEventListener(type, onInput, true));
  };
}"""

# Where a slider's handle sits (its readout and its offset): unchanged after a key press = at the end.
_SLIDER_POSITION = """(handle) => {
  const slider = handle.closest('.widget-slider');
  const readout = slider ? slider.querySelector('.widget-readout') : null;
  return (readout ? readout.innerText : '') + ' ' + handle.parentElement.style.transform;
}"""

_PROBE = """() => {
  const probe = window.__courseProbe;
  return {start: probe.start, changed: probe.changed};
}"""


# ---------------------------------------------------------------- results


@dataclass
class Interaction:
    """One control change on one course widget."""

    widget: str  # e.g. "week07_generative_transformers/00_welcome.ipynb, cell 7, course-temperature-preview"
    control: str  # e.g. "slider 'temperature' ArrowRight (1 press)"
    latency_ms: float | None  # None: the output did not change
    presses: int = 1  # key presses / clicks it took until the output changed


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in (0, 100]) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class LabPage:
    """One browser page on a LabServer."""

    def __init__(self, page: Page, server: LabServer, shots: Path):
        self.page = page
        self.server = server
        self.shots = shots
        self.console_errors: list[str] = []
        page.on(
            "console", lambda message: message.type == "error" and self.console_errors.append(message.text)
        )
        page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))

    def task(self, script: str, what: str, arg: object = None, timeout_s: float = 30) -> object:
        """Run an async page function with a time limit; its value, or AssertionError naming ``what``."""
        self.page.evaluate(_as_task(script), arg)
        try:
            self.page.wait_for_function(
                "() => window.__courseTask.done", timeout=timeout_s * 1000, polling=100
            )
        except PlaywrightTimeout:
            dialog = self.state()["dialog"]
            raise AssertionError(
                f"{what} did not finish within {timeout_s} s"
                + (f"; this dialog is open:\n{dialog}" if dialog else "")
            ) from None
        outcome = self.page.evaluate("() => window.__courseTask")
        if outcome["error"]:
            raise AssertionError(f"{what} failed in the page: {outcome['error']}")
        return outcome["value"]

    def goto_lab(self) -> None:
        self.page.goto(
            f"{self.server.url}/lab?reset&token={self.server.token}", wait_until="domcontentloaded"
        )
        self.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60_000)
        self.task("async () => { await window.jupyterapp.restored; }", "loading JupyterLab", timeout_s=60)

    def state(self) -> dict:
        return self.page.evaluate(_STATE)

    def open_notebook(self, path: str) -> dict:
        """Open ``path`` (relative to the server root) and wait for its kernel; return the final state.

        Raises AssertionError if a dialog (e.g. "Select Kernel") appears instead.
        """
        self.task(_OPEN, f"{path}: opening the notebook", path)
        deadline = time.monotonic() + 60
        while True:
            state = self.state()
            if state["dialog"] is not None:
                metadata = json.loads((self.server.root / path).read_text(encoding="utf-8")).get(
                    "metadata", {}
                )
                kernel = metadata.get("kernelspec", {}).get("name")
                raise AssertionError(
                    f"{path}: a dialog appeared on opening the notebook (it stores kernel {kernel!r}; the "
                    "course "
                    f"kernel is {KERNEL_NAME!r}):\n{state['dialog']}"
                )
            if state["sessionReady"] and state["status"] == "idle":
                return state
            assert time.monotonic() < deadline, (
                f"{path}: the kernel did not start within 60 s (state {state})"
            )
            self.page.wait_for_timeout(250)

    def run_all(self, timeout_s: float = RUN_ALL_S) -> bool:
        """Run > Run All Cells; True when every cell finished and the kernel is idle within the time limit."""
        self.page.evaluate(_as_task(_RUN_ALL))
        try:
            self.page.wait_for_function(_RUN_FINISHED, timeout=timeout_s * 1000, polling=250)
        except PlaywrightTimeout:
            return False
        self.wait_widgets_drawn()
        return True

    def wait_widgets_drawn(self) -> None:
        with contextlib.suppress(PlaywrightTimeout):  # inspect() reports the empty widget areas
            self.page.wait_for_function(f"() => ({_WIDGETS_PENDING})() === 0", timeout=WIDGET_RENDER_S * 1000)
        self.page.wait_for_timeout(300)  # let layout settle before measuring

    def inspect(self) -> dict:
        return self.page.evaluate(_INSPECT)

    def screenshot_pages(self, stem: str, limit: int = 40) -> list[Path]:
        """Screenshots from the top of the notebook to its end, one viewport at a time."""
        paths = []
        position = self.page.evaluate(_SCROLLER, 0)
        step = max(200, position["height"] - 80)  # a little overlap between consecutive shots
        top = 0
        for number in range(1, limit + 1):
            position = self.page.evaluate(_SCROLLER, top)
            self.page.wait_for_timeout(150)
            path = self.shots / f"{stem}_{number:02d}.png"
            self.page.screenshot(path=path)
            paths.append(path)
            if position["top"] + position["height"] >= position["total"] - 2:
                break
            top = position["top"] + step
        self.page.evaluate(_SCROLLER, 0)
        return paths

    def save(self) -> None:
        """File > Save; AssertionError if the notebook is still unsaved afterwards (or a dialog blocks it)."""
        assert self.task(_SAVE, "saving the notebook"), "the notebook is still marked unsaved after saving"

    def shutdown_and_close(self) -> None:
        """Shut the notebook's kernel down (as after closing JupyterLab) and close its tab."""
        closed = self.task(_SHUTDOWN_AND_CLOSE, "shutting the kernel down and closing the tab")
        assert closed, "the notebook's tab is still open after closing it"

    # ------------------------------------------------------------ widgets

    def course_widgets(self) -> Locator:
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .course-widget")

    def cell_of(self, widget: Locator) -> int:
        return widget.evaluate(
            "(el) => window.__courseNb.content.widgets.findIndex((c) => c.node.contains(el))"
        )

    def arm(self, widget: Locator) -> None:
        """Start watching ``widget``'s output; the next input event starts the clock."""
        widget.evaluate(_ARM)

    def wait_change(self) -> float | None:
        """Latency in ms of the armed probe, or None if the output did not change within CHANGE_S."""
        try:
            self.page.wait_for_function(
                "() => window.__courseProbe.changed !== null", timeout=CHANGE_S * 1000, polling="raf"
            )
        except PlaywrightTimeout:
            return None
        probe = self.page.evaluate(_PROBE)
        return None if probe["start"] is None else round(probe["changed"] - probe["start"], 1)

    def press_slider(
        self, widget: Locator, handle: Locator, key: str, max_presses: int = 5
    ) -> tuple[float | None, int]:
        """Focus a slider handle and press ``key`` until the widget's output changes.

        Some steps change nothing visible (min-p 0.00 -> 0.01 may remove no token), hence several presses.
        Returns (latency of the press that changed the output, presses used), or (None, presses) when it
        never changed. When the slider cannot move further that way, returns (None, presses before that).
        """
        for presses in range(1, max_presses + 1):
            before = handle.evaluate(_SLIDER_POSITION)
            self.arm(widget)
            handle.focus()
            self.page.keyboard.press(key)
            if handle.evaluate(_SLIDER_POSITION) == before:
                return None, presses - 1
            latency = self.wait_change()
            if latency is not None:
                return latency, presses
        return None, max_presses

    def click_and_time(self, widget: Locator, target: Locator) -> float | None:
        self.arm(widget)
        target.click()
        return self.wait_change()

    def type_and_time(self, widget: Locator, box: Locator, text: str) -> float | None:
        """Type into a text box; if the output does not follow the typing, press Enter (time from Enter)."""
        self.arm(widget)
        box.fill(text)
        latency = self.wait_change()
        if latency is None:
            self.arm(widget)
            box.press("Enter")
            latency = self.wait_change()
        return latency

    def select_and_time(self, widget: Locator, menu: Locator, index: int) -> float | None:
        self.arm(widget)
        menu.select_option(index=index)
        return self.wait_change()
