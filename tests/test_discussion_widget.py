"""AnswerBox: type, save (debounced), reload, two tabs, earlier versions, and problems shown in the box."""

import asyncio
import re
import statistics
import time
from datetime import datetime

import pytest
from ipywidgets.embed import dependency_state

from course_lib.discussion import store as store_module
from course_lib.discussion.store import AnswerStore
from course_lib.discussion.widget import AnswerBox, schedule_later
from course_lib.validation import CourseInputError
from course_lib.widgets import CONTAINER_CLASS, OUTPUT_CLASS

P1 = "05-encoder-vs-decoder"


class FakeTime:
    """A monotonic clock and a scheduler that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[FakeTimer] = []

    def clock(self) -> float:
        return self.now

    def schedule(self, delay: float, callback) -> "FakeTimer":
        timer = FakeTimer(self.now + delay, callback)
        self.timers.append(timer)
        return timer

    def advance(self, seconds: float) -> None:
        """Move time on and fire the timers that are due."""
        self.now += seconds
        for timer in [t for t in self.timers if t.due <= self.now and not t.cancelled]:
            self.timers.remove(timer)
            timer.callback()

    @property
    def pending(self) -> int:
        return sum(not t.cancelled for t in self.timers)


class FakeTimer:
    def __init__(self, due: float, callback) -> None:
        self.due, self.callback, self.cancelled = due, callback, False

    def cancel(self) -> None:
        self.cancelled = True


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def store(tmp_path) -> AnswerStore:
    return AnswerStore(tmp_path / "answers")


def box_for(store: AnswerStore, fake: FakeTime, **options) -> AnswerBox:
    return AnswerBox(P1, store=store, clock=fake.clock, schedule=fake.schedule, **options)


def status(box: AnswerBox) -> str:
    """The status line's text (no tags)."""
    return re.sub(r"<[^>]+>", " ", box.output.value).replace("&#x27;", "'")


def test_classes_prompt_and_saved_state(store, fake):
    box = box_for(store, fake)
    assert CONTAINER_CLASS in box._dom_classes and "course-answer" in box._dom_classes
    assert OUTPUT_CLASS in box.output._dom_classes
    assert "How do decoder-only transformers differ" in box.question.value
    assert box.text.continuous_update
    saved = [
        s["state"].get("value") for s in dependency_state(box).values() if s["model_name"] == "HTMLModel"
    ]
    assert box.output.value in saved
    assert "Nothing saved yet" in status(box) and str(store.path(P1)) in status(box)
    assert "<script" not in box.output.value
    assert not box.save_button.disabled and not box.reload_button.disabled
    assert box.versions.disabled and box.restore_button.disabled  # nothing to restore yet


def test_typing_saves_at_most_once_a_second_and_a_new_box_reloads_it(store, fake, monkeypatch):
    saves = []
    real_save = store.save
    monkeypatch.setattr(store, "save", lambda *a, **k: saves.append(a[1]) or real_save(*a, **k))
    box = box_for(store, fake)
    box.text.value = "D"  # the first key press saves at once
    assert saves == ["D"] and "Saved at" in status(box)
    for text in ("De", "Dec", "Deco"):  # three more within the second: one timer, no save yet
        fake.advance(0.2)
        box.text.value = text
    assert saves == ["D"] and fake.pending == 1 and "Unsaved changes" in status(box)
    fake.advance(0.4)  # one second after the first save
    assert saves == ["D", "Deco"] and fake.pending == 0
    assert re.search(r"Saved at \d\d:\d\d:\d\d \(version 2\)", status(box))
    fake.advance(5)
    box.text.value = "Decoder-only models read everything causally."
    assert saves[-1] == "Decoder-only models read everything causally."  # idle for 5 s: at once

    reopened = box_for(store, fake)  # a rerun cell or a restarted kernel
    assert reopened.text.value == "Decoder-only models read everything causally."
    assert "Loaded your answer saved at" in status(reopened)
    assert len(saves) == 3  # loading saved nothing
    assert len(store.history(P1)) == 1  # one box's typing is one version (a draft)


def test_save_now_and_flush_save_pending_text_at_once(store, fake):
    box = box_for(store, fake)
    box.text.value = "first"
    box.text.value = "first words"
    assert fake.pending == 1
    box.flush()
    assert store.load(P1).text == "first words" and fake.pending == 0
    box.text.value = "first words, then more"
    box.save_now()
    assert store.load(P1).text == "first words, then more" and fake.pending == 0
    box.save_now()
    assert "Nothing new to save: version" in status(box)


def test_an_empty_box_is_saved_only_with_save_now(store, fake):
    store.save(P1, "an answer worth keeping", base=0)
    box = box_for(store, fake)
    fake.advance(5)
    box.text.value = ""  # select all, delete: not an answer
    assert store.load(P1).text == "an answer worth keeping"
    assert "The box is empty, so nothing was saved. Press 'Save now'" in status(box)
    box.save_now()
    assert store.load(P1).text == "" and store.load(P1).revision == 2


def test_two_tabs_are_told_and_nothing_is_overwritten(store, fake):
    tab_1, tab_2 = box_for(store, fake), box_for(store, fake)
    tab_1.text.value = "Tab one's answer."
    fake.advance(5)
    tab_2.text.value = "Tab two's answer."
    assert store.load(P1).text == "Tab one's answer."
    saved_at = datetime.fromisoformat(store.load(P1).current.saved_at).strftime("%H:%M:%S")
    message = status(tab_2)
    assert f"This answer was changed in another tab or window at {saved_at} (version 1)" in message
    assert "your text was kept as version 2 (conflict copy)" in message
    assert "Choose: 'Save now' makes your text the answer, 'Reload saved' puts the other text" in message
    fake.advance(5)
    tab_2.text.value = "Tab two's answer, longer."  # still a conflict: the same copy, updated
    assert [v.note for v in store.history(P1)] == ["conflict copy", "typed"]
    tab_2.save_now()  # "keep mine"
    assert store.load(P1).text == "Tab two's answer, longer."
    assert tab_2.conflict is None and "Saved at" in status(tab_2)
    fake.advance(5)
    tab_1.text.value = "Tab one's answer, edited."  # now tab 1 is behind, and is told so
    assert "changed in another tab or window" in status(tab_1)
    tab_1.reload()  # "use the other text"
    assert tab_1.text.value == "Tab two's answer, longer." and not tab_1.conflict
    assert "Reloaded the saved answer: version 4" in status(tab_1)
    assert "Tab one's answer, edited." in [v.text for v in store.history(P1)]


def test_earlier_versions_can_be_previewed_and_restored(store, fake):
    for n, text in enumerate(["version one", "version two", "version three"]):
        store.save(P1, text, base=n)
    box = box_for(store, fake)
    labels = [label for label, _ in box.versions.options]
    assert len(labels) == 2 and labels[0].startswith("v2 · ") and labels[0].endswith("typed · version two")
    assert box.versions.value is None
    box.restore()
    assert "Choose a version in 'Earlier versions' first." in status(box)
    box.versions.value = 1
    assert "v1" in status(box) and "version one" in status(box) and "press Restore" in status(box)
    box.restore()
    assert box.text.value == "version one" and store.load(P1).text == "version one"
    assert "Restored version 1 as version 4" in status(box)
    assert "version three" in [v.text for v in store.history(P1)]
    fake.advance(5)
    box.text.value = "version one, edited"  # typing goes on from the restored version: no conflict
    assert store.load(P1).text == "version one, edited"


def test_problems_are_shown_in_the_box_and_the_text_stays(store, fake, monkeypatch):
    store.folder.mkdir()
    store.path(P1).write_text("{ damaged")
    box = box_for(store, fake)
    assert "was damaged" in status(box) and ".corrupt-" in status(box)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(store_module, "atomic_write_text", refuse)
    box.text.value = "typed while the folder is read-only"
    assert "Not saved: folder must be a folder you can read and write" in status(box)
    assert "Your text is still in the box" in status(box)
    assert box.text.value == "typed while the folder is read-only"
    monkeypatch.undo()
    fake.advance(5)
    box.text.value += "!"
    assert store.load(P1).text == "typed while the folder is read-only!"


def test_bad_arguments_are_refused(store, fake):
    with pytest.raises(CourseInputError, match="prompt_id must be one of the course's prompts"):
        AnswerBox("05-encoder-vs-decodr", store=store)
    with pytest.raises(CourseInputError, match=r"debounce_s must be in \[0.0, 60.0\], got -1"):
        box_for(store, fake, debounce_s=-1)
    with pytest.raises(CourseInputError, match=r"store must be an AnswerStore, got str"):
        AnswerBox(P1, store="answers")
    assert "Discussion prompt." in AnswerBox("09-own-prompt", prompt="Why?", store=store).question.value


def test_static_html_shows_the_saved_answer_escaped(store, fake):
    store.save(P1, "<b>bold?</b> & more", base=0)
    page = box_for(store, fake).static_html()
    assert "&lt;b&gt;bold?&lt;/b&gt; &amp; more" in page and "Version 1, saved at" in page


def test_the_default_timer_saves_the_last_words(store):
    """Outside a kernel the timer is a thread; inside one it is the event loop."""
    box = AnswerBox(P1, store=store, debounce_s=0.05)
    box.text.value = "one"
    box.text.value = "one two"
    deadline = time.monotonic() + 5
    while store.load(P1).text != "one two" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.load(P1).text == "one two"


def test_inside_a_kernel_the_timer_is_the_kernels_event_loop(monkeypatch):
    import threading
    from types import SimpleNamespace

    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: SimpleNamespace(kernel=object()))

    async def on_a_loop() -> tuple[list[str], object]:
        fired: list[str] = []
        handle = schedule_later(0.01, lambda: fired.append("fired"))
        await asyncio.sleep(0.05)
        return fired, handle

    result = {}  # a thread of its own: this one may already hold a loop (Playwright's, in the full suite)
    thread = threading.Thread(target=lambda: result.update(value=asyncio.run(on_a_loop())))
    thread.start()
    thread.join(5)
    fired, handle = result["value"]
    assert fired == ["fired"] and isinstance(handle, asyncio.TimerHandle)


def test_a_key_press_answers_within_100_ms(store):
    """Kernel time of one key press that saves (the slowest case): the median of 20."""
    box = AnswerBox(P1, store=store, debounce_s=0.0)
    times = []
    for n in range(20):
        start = time.perf_counter()
        box.text.value = "word " * (n + 50)
        times.append(1000 * (time.perf_counter() - start))
    print(
        f"AnswerBox key press with a save: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms"
    )
    assert statistics.median(times) < 100
