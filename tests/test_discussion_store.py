"""The answer store: round trip, versions, conflicts, damaged files, read-only folders, and kills mid-save."""

import json
import os
import random
import select
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from course_lib.discussion import store as store_module
from course_lib.discussion.prompts import PROMPTS, check_prompt_id, prompt_text
from course_lib.discussion.store import HISTORY_LIMIT, AnswerStore, atomic_write_text
from course_lib.validation import CourseInputError

P1, P2 = list(PROMPTS)
REPO = Path(__file__).resolve().parents[1]


class FakeClock:
    """A clock that only moves when told to (store times are whole seconds)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 23, 41, 7, tzinfo=timezone(timedelta(hours=1)))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path, clock) -> AnswerStore:
    return AnswerStore(tmp_path / "answers", clock=clock)


def test_round_trip_keeps_any_unicode_text(store, tmp_path):
    assert store.load(P1).revision == 0 and store.load(P1).text == ""
    text = "Decoder-only: one stream.\nEncoder–decoder: two. 注意力 🙂 مرحبا\n\n  indented\t"
    result = store.save(P1, text, base=0)
    assert not result.conflict and result.answer.revision == 1
    again = AnswerStore(tmp_path / "answers").load(P1)  # a new store: a restarted kernel
    assert again.text == text and again.revision == 1
    assert again.current.saved_at == "2026-11-25T23:41:07+01:00"
    assert store.prompt_ids() == [P1]
    assert json.loads(store.path(P1).read_text(encoding="utf-8"))["format"] == "course-answer/1"


def test_the_folder_comes_from_the_argument_then_the_variable_then_the_course(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ANSWERS_DIR", str(tmp_path / "from-env"))
    assert AnswerStore().folder == tmp_path / "from-env"
    assert AnswerStore(tmp_path / "given").folder == tmp_path / "given"
    monkeypatch.delenv("COURSE_ANSWERS_DIR")
    assert AnswerStore().folder == REPO / "answers"
    ignored = subprocess.run(["git", "check-ignore", "-q", "answers/05-x.json"], cwd=REPO, check=False)
    assert ignored.returncode == 0, "git must ignore the answers folder (.gitignore: /answers/)"
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(CourseInputError, match=r"folder must be a folder, got .*a-file'?, a file"):
        AnswerStore(tmp_path / "a-file")


@pytest.mark.parametrize(
    "prompt_id", ["", "5-short", "05_underscore", "05-Capital", "05-trailing-", "no-number", "05-" + "x" * 60]
)
def test_bad_prompt_ids_are_refused(store, prompt_id):
    with pytest.raises(CourseInputError, match=r"prompt_id must be a prompt id like '05-encoder-vs-decoder'"):
        store.save(prompt_id, "text", base=0)


def test_unknown_prompts_and_non_text_answers_are_refused(store):
    with pytest.raises(CourseInputError, match=r"prompt_id must be a string, got 5 \(int\)"):
        check_prompt_id("prompt_id", 5)
    with pytest.raises(CourseInputError, match=r"one of the course's prompts .* got '05-encoder-vs-decodr'"):
        prompt_text("prompt_id", "05-encoder-vs-decodr")
    assert prompt_text("prompt_id", "09-quiz", "What did you learn?") == "What did you learn?"
    with pytest.raises(CourseInputError, match=r"text must be a string, got \['a'\] \(list\)"):
        store.save(P1, ["a"], base=0)
    with pytest.raises(CourseInputError, match=r"revision must be one of the saved versions \(none yet\)"):
        store.restore(P1, 3)
    assert not store.folder.exists() or store.prompt_ids() == []  # nothing written by refused calls


def test_an_empty_answer_is_saved_only_when_asked(store):
    store.save(P1, "first thoughts", base=0)
    for empty in ("", "  \n "):
        with pytest.raises(CourseInputError, match=r"text must be non-empty text .*allow_empty=True"):
            store.save(P1, empty, base=1)
    assert store.load(P1).text == "first thoughts"
    cleared = store.save(P1, "", base=1, allow_empty=True)
    assert cleared.answer.text == "" and cleared.answer.revision == 2
    assert [v.text for v in store.history(P1)] == ["", "first thoughts"]


def test_history_keeps_the_last_versions_and_restores_any(store, clock):
    for n in range(1, 31):
        clock.advance(60)
        store.save(P1, f"draft {n}", base=n - 1)  # saved from code (no session): one version each
    history = store.history(P1)
    assert len(history) == HISTORY_LIMIT + 1 == 21
    assert [v.text for v in history[:2]] == ["draft 30", "draft 29"] and history[-1].text == "draft 10"
    result = store.restore(P1, 12)
    assert result.answer.text == "draft 12" and result.answer.revision == 31
    assert store.history(P1)[0].note == "restored from version 12"
    assert "draft 30" in [v.text for v in store.load(P1).earlier]  # the replaced text is kept
    with pytest.raises(CourseInputError, match=r"revision must be one of the saved versions \(11, 12, "):
        store.restore(P1, 2)  # dropped long ago


def test_a_widget_updates_its_draft_for_a_few_minutes_then_starts_a_new_version(store, clock):
    revision = 0
    for n in range(10):  # ten saves within 90 s: one version
        clock.advance(10)
        revision = store.save(P1, "word " * (n + 1), base=revision, session="tab-1").version.revision
    assert revision == 10 and len(store.history(P1)) == 1
    clock.advance(store.draft_seconds)
    revision = store.save(P1, "later", base=revision, session="tab-1").version.revision
    assert [v.text for v in store.history(P1)] == ["later", "word " * 10]
    started = datetime.fromisoformat(store.history(P1)[1].started_at)
    assert started == datetime(2026, 11, 25, 23, 41, 17, tzinfo=timezone(timedelta(hours=1)))


def test_two_tabs_never_overwrite_each_other(store, clock):
    first = store.save(P1, "tab 1 text", base=0, session="tab-1")
    tab_2_base = first.answer.revision  # tab 2 opens the notebook now
    clock.advance(5)
    store.save(P1, "tab 1, more", base=tab_2_base, session="tab-1")  # tab 1 goes on (a new revision)
    clock.advance(5)
    late = store.save(P1, "tab 2 text", base=tab_2_base, session="tab-2")
    assert late.conflict
    assert late.answer.text == "tab 1, more"  # the other tab's text is still the answer
    assert late.version.note == "conflict copy" and late.version.text == "tab 2 text"
    assert store.load(P1).text == "tab 1, more"
    clock.advance(5)
    again = store.save(P1, "tab 2 text, longer", base=tab_2_base, session="tab-2")
    assert again.conflict and again.version.text == "tab 2 text, longer"
    assert [v.note for v in store.history(P1)] == ["conflict copy", "typed"]  # one copy, updated
    # Tab 2 chooses to keep its text: it saves from the current revision, nothing is lost
    keep = store.save(P1, "tab 2 text, longer", base=store.load(P1).revision, session="tab-2")
    assert not keep.conflict and store.load(P1).text == "tab 2 text, longer"
    assert "tab 1, more" in [v.text for v in store.history(P1)]
    # a new answer file: saving with any base is no conflict (nothing to overwrite)
    assert not store.save(P2, "fresh", base=7).conflict


DAMAGED = {
    "not JSON": "this is not JSON {",
    "truncated": '{"format": "course-answer/1", "prompt_id": "05-encoder-vs-decoder", "current": 1, "vers',
    "wrong shape": "[1, 2, 3]",
    "another prompt's": json.dumps({"format": "course-answer/1", "prompt_id": "07-high-resolution"}),
    "missing current": json.dumps(
        {"format": "course-answer/1", "prompt_id": P1, "current": 9, "versions": []}
    ),
    "not UTF-8": b"\xff\xfe\x00 broken".decode("latin-1"),
}


@pytest.mark.parametrize("kind", list(DAMAGED))
def test_a_damaged_file_is_kept_aside_and_the_student_told_where(store, kind):
    store.folder.mkdir()
    raw = DAMAGED[kind].encode("latin-1" if kind == "not UTF-8" else "utf-8")
    store.path(P1).write_bytes(raw)
    answer = store.load(P1)
    aside = store.folder / "05-encoder-vs-decoder.corrupt-20261125-234107.json"
    assert answer.revision == 0 and answer.text == ""
    assert str(aside) in answer.notice and "text editor" in answer.notice
    assert aside.read_bytes() == raw  # kept as it was, never deleted
    assert not store.path(P1).exists()
    assert store.prompt_ids() == []
    assert store.save(P1, "starting again", base=0).answer.text == "starting again"


def test_a_save_over_a_damaged_file_keeps_it_aside_and_says_so(store):
    store.folder.mkdir()
    for n in range(2):  # two damaged files in the same second get different names
        store.path(P1).write_text("{ broken")
        result = store.save(P1, f"text {n}", base=0)
        assert result.answer.text == f"text {n}" and "kept aside" in result.answer.notice
    assert sorted(p.name for p in store.folder.glob("*.corrupt-*")) == [
        "05-encoder-vs-decoder.corrupt-20261125-234107-2.json",
        "05-encoder-vs-decoder.corrupt-20261125-234107.json",
    ]


FOLDER_MESSAGE = (
    r"must be a folder you can read and write, got '.*locked' \(Permission denied\)\. "
    r"Make it yours \(chmod u\+rwx .*\), or save answers elsewhere: set COURSE_ANSWERS_DIR="
)


def test_a_folder_that_cannot_be_written_names_the_folder_and_the_fix(store, tmp_path, monkeypatch):
    """Simulated, so that it also runs as root (root may write into read-only folders)."""

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(store_module, "atomic_write_text", refuse)
    locked = AnswerStore(tmp_path / "locked")
    with pytest.raises(CourseInputError, match="^folder " + FOLDER_MESSAGE):
        locked.save(P1, "text", base=0)
    monkeypatch.setenv("COURSE_ANSWERS_DIR", str(tmp_path / "locked"))
    with pytest.raises(CourseInputError, match="^COURSE_ANSWERS_DIR " + FOLDER_MESSAGE):
        AnswerStore().save(P1, "text", base=0)


def test_a_read_only_folder_names_the_folder_and_the_fix(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    AnswerStore(locked).save(P1, "saved before", base=0)
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("this user may write into read-only folders (root)")
        store = AnswerStore(locked)
        with pytest.raises(CourseInputError, match="^folder " + FOLDER_MESSAGE):
            store.save(P1, "text", base=1)
        assert store.load(P1).text == "saved before"  # reading still works
    finally:
        locked.chmod(0o755)


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "file.json"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two" and [p.name for p in tmp_path.iterdir()] == ["file.json"]


# ------------------------------------------------------------------------------- the kill test

KILLS = 50
PADDING = "x" * 20_000  # a long answer (x 21 versions): a save takes ~10 ms, often killed midway


def _save_forever(folder: Path, progress: int) -> None:
    """In the child: save numbered answers as fast as possible, reporting each completed save."""
    store = AnswerStore(folder)
    answer = store.load(P1)
    number = int(answer.text.split(":")[0]) if answer.text else 0
    base = answer.revision
    while True:
        number += 1
        base = store.save(P1, f"{number}:{PADDING}", base=base).version.revision
        os.write(progress, f"{number}\n".encode())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks a child (POSIX only)")
def test_killing_a_save_at_random_moments_never_loses_the_last_answer(tmp_path):
    """A forked child saves in a loop and is killed (SIGKILL) at a random moment, 50 times: after each
    kill the file parses and holds the last complete answer (reported by the child, or found in the
    file after the previous kill), or the one being saved (its rename can finish just before the
    kill). Forked, not started, so each round starts in microseconds instead of a second of imports."""
    folder = tmp_path / "answers"
    rng = random.Random(0)
    complete = reported = killed_mid_save = 0
    started = time.monotonic()
    for _ in range(KILLS):
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover (the child never returns)
            try:
                os.close(read_end)
                _save_forever(folder, write_end)
            finally:
                os._exit(1)
        os.close(write_end)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        lines = b""
        while select.select([read_end], [], [], 0)[0] and (chunk := os.read(read_end, 4096)):
            lines += chunk
        os.close(read_end)
        numbers = [int(n) for n in lines.split()]
        reported += len(numbers)
        complete = max([complete, *numbers])
        killed_mid_save += bool(list(folder.glob(".*.tmp")))  # its temporary file was left behind
        answer = AnswerStore(folder).load(P1)
        assert answer.notice == "", answer.notice  # parsed: not set aside
        saved = int(answer.text.split(":")[0]) if answer.text else 0
        assert answer.text.endswith(PADDING) or saved == 0
        assert complete <= saved <= complete + 1, (complete, saved)
        complete = saved
    assert reported > KILLS / 2  # the child did save between kills
    assert killed_mid_save > KILLS / 10, killed_mid_save
    assert len(list(folder.glob(".*.tmp"))) <= 1  # the next save removes a killed save's file
    assert not list(folder.glob("*.corrupt-*"))
    assert time.monotonic() - started < 20
