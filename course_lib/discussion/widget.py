"""``AnswerBox``: a discussion prompt's answer box that saves as the student types.

The text is saved (``AnswerStore``) at most once per ``debounce_s`` while typing, and ``debounce_s`` after
the last key press at the latest; "Save now" saves at once. The status line says "Saved at HH:MM:SS",
"Not saved: ..." (the text stays in the box) or that another tab changed the answer. Earlier versions
can be previewed and restored. Creating the box again (a rerun cell, a restarted kernel) loads the
saved answer; loading never saves, so a reload cannot overwrite an answer with an empty box.

If the kernel dies, at most the last ``debounce_s`` of typing is lost.

The timer is the kernel's event loop (``loop.call_later``, on the thread that runs the widgets), or a
``threading.Timer`` outside a kernel; tests pass their own ``clock`` and ``schedule``.
"""

from __future__ import annotations

import asyncio
import html
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import ipywidgets as widgets

from course_lib.discussion.prompts import prompt_text
from course_lib.discussion.store import Answer, AnswerStore, SaveResult, Version, new_session
from course_lib.validation import CourseInputError, check_number, fail
from course_lib.widgets._common import FONT, dropdown, finish_layout, new_output

PREVIEW_CHARACTERS = 400
_COLORS = {"saved": "#1b5e20", "waiting": "#555", "problem": "#b71c1c", "conflict": "#8a4b00"}


class Cancellable(Protocol):
    def cancel(self) -> object: ...


Schedule = Callable[[float, Callable[[], None]], Cancellable]


def schedule_later(delay: float, callback: Callable[[], None]) -> Cancellable:
    """Call ``callback`` after ``delay`` seconds: on the event loop inside a Jupyter kernel, else on a
    timer thread. (Outside a kernel a loop may look "running" without ever turning, e.g. while Playwright's
    synchronous API is in use, so only a kernel's loop is trusted.)"""
    loop = _kernel_loop()
    if loop is not None:
        return loop.call_later(delay, callback)
    timer = threading.Timer(delay, callback)
    timer.daemon = True
    timer.start()
    return timer


def _kernel_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop when this code runs in an IPython kernel (Jupyter, Voila), else None."""
    shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
    if getattr(shell, "kernel", None) is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def clock_time(iso: str) -> str:
    """'23:41:07' from an ISO time."""
    return datetime.fromisoformat(iso).strftime("%H:%M:%S")


def day_and_time(iso: str) -> str:
    """'25 Nov 23:41:07' from an ISO time."""
    return datetime.fromisoformat(iso).strftime("%d %b %H:%M:%S")


def version_label(version: Version) -> str:
    """A drop-down entry: number, day and time, note and the first words."""
    words = " ".join(version.text.split())
    words = words[:40] + ("…" if len(words) > 40 else "")
    return f"v{version.revision} · {day_and_time(version.saved_at)} · {version.note} · {words or '(empty)'}"


def button(description: str, tooltip: str) -> widgets.Button:
    """A button as wide as its label."""
    return widgets.Button(description=description, tooltip=tooltip, layout=widgets.Layout(width="auto"))


class AnswerBox(widgets.VBox):
    """The answer box of one discussion prompt (CSS classes ``course-widget course-answer``).

    prompt_id: e.g. "05-encoder-vs-decoder" (``PROMPTS`` gives its question; pass ``prompt`` for another).
    store: where answers are saved (default ``AnswerStore()``: ``answers/`` in the course folder).
    debounce_s: at most one save per this many seconds while typing. clock (seconds, monotonic) and
    schedule (delay, callback) -> handle with ``cancel()`` are injectable for tests.
    """

    def __init__(
        self,
        prompt_id: str,
        *,
        prompt: str | None = None,
        store: AnswerStore | None = None,
        debounce_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        schedule: Schedule = schedule_later,
    ):
        super().__init__()
        question = prompt_text("prompt_id", prompt_id, prompt)
        check_number("debounce_s", debounce_s, low=0.0, high=60.0, fix="Use e.g. 1.0 (seconds).")
        if store is not None and not isinstance(store, AnswerStore):
            fail(
                "store", "an AnswerStore", type(store).__name__, "Pass AnswerStore(folder), or leave it out."
            )
        self.prompt_id, self.store = prompt_id, store if store is not None else AnswerStore()
        self.debounce_s, self._clock, self._schedule = debounce_s, clock, schedule
        self.session = new_session()
        self._lock = threading.RLock()
        self._timer: Cancellable | None = None
        self._last_save = -float("inf")
        self._loading = False
        self.conflict: SaveResult | None = None

        self.question = widgets.HTML(
            f'<div style="{FONT} font-size: 14px;"><b>Discussion prompt.</b> {html.escape(question)}</div>'
        )
        self.text = widgets.Textarea(
            placeholder="Type your answer here: it is saved as you type.",
            continuous_update=True,
            layout=widgets.Layout(width="100%", height="160px"),
        )
        self.save_button = button("Save now", "Save the text in the box now")
        self.reload_button = button("Reload saved", "Put the saved answer in the box")
        self.versions = dropdown(description="Earlier versions", layout={"width": "380px"})
        self.restore_button = button("Restore", "Make the chosen version the answer")
        self.output = new_output()
        controls = [self.save_button, self.reload_button, self.versions, self.restore_button]
        finish_layout(self, "answer", controls, self.output)
        self.children = (self.question, self.text, *self.children)

        self.text.observe(self._on_typing, names="value")
        self.versions.observe(lambda change: self._show_status(), names="value")
        self.save_button.on_click(lambda button: self.save_now())
        self.restore_button.on_click(lambda button: self.restore())
        self.reload_button.on_click(lambda button: self.reload())

        self.answer = self.store.load(prompt_id)
        self.base = self.answer.revision
        self._set_text(self.answer.text)
        if self.answer.notice:
            self._say("problem", self.answer.notice)
        elif self.answer.current:
            self._say("saved", f"Loaded your answer saved at {clock_time(self.answer.current.saved_at)}.")
        else:
            self._say("waiting", "Nothing saved yet: type your answer in the box.")

    # ---------------------------------------------------------------- actions
    def save_now(self) -> None:
        """Save the box's text at once (an empty box clears the answer: asked for, so allowed). After a
        conflict, this makes the box's text the answer (the other text stays a version)."""
        with self._lock:
            self._cancel_timer()
            if self.conflict is not None:
                self.base = self.store.load(self.prompt_id).revision
                self.conflict = None
                self._save(explicit=True)
            elif self.answer.current and self.text.value == self.answer.text:
                saved = clock_time(self.answer.current.saved_at)
                message = f"Nothing new to save: version {self.base} (saved at {saved}) holds this text."
                self._say("saved", message)
            else:
                self._save(explicit=True)

    def flush(self) -> None:
        """Save what is typed but not saved yet (before exporting, or in tests)."""
        with self._lock:
            if self._timer is not None:
                self._cancel_timer()
                self._save(explicit=False)

    def restore(self) -> None:
        """Make the version chosen in "Earlier versions" the answer (the current text stays a version)."""
        with self._lock:
            chosen = self.versions.value
            if chosen is None:
                return self._say("waiting", "Choose a version in 'Earlier versions' first.")
            self.flush()  # text typed in the last second becomes a version too
            try:
                result = self.store.restore(self.prompt_id, chosen, session=self.session)
            except CourseInputError as error:
                return self._say("problem", f"Not restored: {error}")
            self.conflict = None
            self._accept(result.answer)
            self.versions.value = None  # done: no preview left waiting for a Restore
            saved = clock_time(result.version.saved_at)
            message = f"Restored version {chosen} as version {result.version.revision} at {saved}; "
            self._say("saved", message + "the text it replaced is kept in 'Earlier versions'.")

    def reload(self) -> None:
        """Put the saved answer in the box (after a conflict: the other tab's text). Text typed and not
        saved yet is saved first, so it stays a version."""
        with self._lock:
            self.flush()
            self.conflict = None
            self._accept(self.store.load(self.prompt_id))
            if self.answer.notice:
                return self._say("problem", self.answer.notice)
            if not self.answer.current:
                return self._say("waiting", "Nothing saved yet: type your answer in the box.")
            saved = clock_time(self.answer.current.saved_at)
            self._say("saved", f"Reloaded the saved answer: version {self.base}, saved at {saved}.")

    def static_html(self) -> str:
        """The prompt and the saved answer as plain HTML (for a notebook viewed without a kernel)."""
        answer = self.store.load(self.prompt_id)
        saved = f"saved at {clock_time(answer.current.saved_at)}" if answer.current else "nothing saved yet"
        text = html.escape(answer.text) or "<i>(no answer yet)</i>"
        return (
            f'<div class="course-answer-preview" style="{FONT}">{self.question.value}'
            f'<div style="white-space: pre-wrap; border-left: 3px solid #999; padding: 4px 8px; '
            f'margin: 4px 0;">{text}</div>'
            f'<div style="color: #555;">Version {answer.revision}, {saved}.</div></div>'
        )

    # ---------------------------------------------------------------- typing and saving
    def _on_typing(self, change: dict) -> None:
        if self._loading:
            return
        with self._lock:
            wait = self._last_save + self.debounce_s - self._clock()
            if wait <= 0:
                self._cancel_timer()
                self._save(explicit=False)
            elif self._timer is None:
                self._timer = self._schedule(wait, self._on_timer)
                self._say("waiting", "Unsaved changes: saving in a moment…")

    def _on_timer(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer = None
                self._save(explicit=False)

    def _save(self, *, explicit: bool) -> None:
        text = self.text.value
        if not text.strip() and not explicit:
            return self._say(
                "waiting",
                "The box is empty, so nothing was saved. Press 'Save now' to save an empty answer "
                "(earlier versions stay in the history).",
            )
        self._last_save = self._clock()
        try:
            result = self.store.save(
                self.prompt_id, text, base=self.base, session=self.session, allow_empty=explicit
            )
        except (CourseInputError, OSError) as error:
            return self._say(
                "problem",
                f"Not saved: {error} Your text is still in the box: copy it somewhere safe until this "
                "is fixed.",
            )
        self.answer = result.answer
        if result.conflict:
            self.conflict = result
            other = result.answer.current
            self._say(
                "conflict",
                f"This answer was changed in another tab or window at {clock_time(other.saved_at)} "
                f"(version {other.revision}). Nothing was overwritten: that text is still the saved "
                f"answer, and your text was kept as version {result.version.revision} (conflict copy) "
                "in 'Earlier versions'. Choose: 'Save now' makes your text the answer, 'Reload saved' "
                "puts the other text in this box.",
            )
        else:
            self.base = result.version.revision
            notice = f" {result.answer.notice}" if result.answer.notice else ""
            self._say(
                "saved", f"Saved at {clock_time(result.version.saved_at)} (version {self.base}).{notice}"
            )

    def _accept(self, answer: Answer) -> None:
        """Show ``answer`` (restored or loaded) in the box and continue from it."""
        self.answer, self.base = answer, answer.revision
        self._set_text(answer.text)
        self._last_save = self._clock()

    def _set_text(self, text: str) -> None:
        """Put text in the box without saving it (a load is never a save)."""
        self._loading = True
        try:
            self.text.value = text
        finally:
            self._loading = False

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ---------------------------------------------------------------- view
    def _say(self, kind: str, message: str) -> None:
        """Show ``message`` in the status line (kind: saved, waiting, problem or conflict)."""
        self._status = (kind, message)
        self._refresh()

    def _refresh(self) -> None:
        """Update the version list and the status line."""
        earlier = self.answer.earlier
        options = [(version_label(v), v.revision) for v in earlier]
        if options != list(self.versions.options):
            chosen = self.versions.value
            self.versions.options = options
            self.versions.value = chosen if any(chosen == r for _, r in options) else None
        self.versions.disabled = self.restore_button.disabled = not options
        self._show_status()

    def _show_status(self) -> None:
        kind, message = self._status
        where = html.escape(str(self.store.path(self.prompt_id)))
        preview = ""
        if self.versions.value is not None:
            version = self.answer.version(self.versions.value)
            text = version.text[:PREVIEW_CHARACTERS] + ("…" if len(version.text) > PREVIEW_CHARACTERS else "")
            preview = (
                f'<div class="course-answer-version" style="margin-top: 6px; color: #333;">'
                f"<b>{html.escape(version_label(version).split(' · ')[0])}</b> "
                f"({html.escape(version.note)}, saved {day_and_time(version.saved_at)}); "
                f"press Restore to make it the answer:"
                f'<div style="white-space: pre-wrap; border-left: 3px solid #bbb; padding: 2px 8px;">'
                f"{html.escape(text) or '<i>(empty)</i>'}</div></div>"
            )
        self.output.value = (
            f'<div class="course-answer-status course-answer-{kind}" style="{FONT} margin: 4px 0;">'
            f'<span style="color: {_COLORS[kind]};">{html.escape(message)}</span>'
            f'<div style="color: #777; font-size: 12px;">Answer file: {where}</div>{preview}</div>'
        )
