"""The answer store: a student's answers to the discussion prompts, saved so that they are never lost.

Where: ``answers/`` in the course folder (git ignores it), or the folder named by the environment
variable ``COURSE_ANSWERS_DIR``, or the ``folder`` argument (tests pass ``tmp_path``).

One JSON file per prompt (``answers/05-encoder-vs-decoder.json``), not one file for all. Why: a save
rewrites (and fsyncs) only the answer being typed, so it stays small and fast; a damaged file costs at
most one answer, never the others; and two notebooks open at once (05 and 07) never touch the same file,
so only two views of the *same* answer can ever conflict.

A file holds the current answer and its earlier versions (at most ``HISTORY_LIMIT`` besides the current
one), each with a revision number, the time it was saved and a note ("typed", "conflict copy" or
"restored from version 3")::

    {"format": "course-answer/1", "prompt_id": "05-encoder-vs-decoder", "current": 7,
     "versions": [{"revision": 5, "text": "...", "saved_at": "2026-11-25T23:41:07+00:00",
                   "started_at": "...", "note": "typed", "session": "3f2a..."}, ...]}

How nothing is lost:

- Atomic save: the new file is written to a temporary file in the same folder, flushed and fsynced,
  then ``os.replace``-d over the old one, and the folder is fsynced. A crash or a kill at any moment
  leaves the old file or the new one, never a mix (``tests/test_discussion_store.py`` kills a saving
  process 50 times to check it).
- Versions: a widget that keeps typing updates its newest version for ``draft_seconds`` (5 minutes),
  then starts a new one, so the history spans hours of work, not the last 20 keystrokes.
- Two tabs: every save names the revision it started from (``base``). If the file has moved on since,
  the save is a conflict: the other tab's text stays the answer and this text is kept as a
  "conflict copy" version; nothing is overwritten, and ``SaveResult.conflict`` says so.
- Bad files: a file that is not valid JSON or not an answer file is renamed aside
  (``05-encoder-vs-decoder.corrupt-20261125-234107.json``), never deleted, and ``Answer.notice`` says where.
- An empty answer is saved only when asked for (``allow_empty=True``), never by accident.
- Saves from several processes take turns through a lock file (``fcntl``; on Windows, without one);
  under the lock, the temporary file a killed save left behind is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from course_lib.discussion.prompts import check_prompt_id
from course_lib.validation import CourseInputError, check_int, fail

try:
    import fcntl
except ImportError:  # Windows: saves are not serialised between processes (they take milliseconds)
    fcntl = None

REPO = Path(__file__).resolve().parents[2]
DEFAULT_FOLDER = REPO / "answers"
FOLDER_VARIABLE = "COURSE_ANSWERS_DIR"
FILE_FORMAT = "course-answer/1"
HISTORY_LIMIT = 20  # earlier versions kept besides the current one
DRAFT_SECONDS = 300.0
LOCK_NAME = ".lock"


@dataclass(frozen=True)
class Version:
    """One saved text of an answer. Times are ISO 8601 local times with their UTC offset."""

    revision: int
    text: str
    saved_at: str  # when this text was written
    started_at: str  # when this version was first written (a draft is updated for a few minutes)
    note: str  # "typed", "conflict copy" or "restored from version 3"
    session: str  # which widget wrote it ("" when saved from code)


@dataclass(frozen=True)
class Answer:
    """The saved state of one prompt's answer. ``revision`` 0 and ``text`` "": nothing saved yet."""

    prompt_id: str
    path: Path
    revision: int
    versions: tuple[Version, ...]  # oldest first; the current one is among them
    notice: str = ""  # what happened while loading (a damaged file kept aside), else ""

    @property
    def current(self) -> Version | None:
        """The version that is the answer (None when nothing is saved)."""
        return next((v for v in self.versions if v.revision == self.revision), None)

    @property
    def text(self) -> str:
        """The answer's text ("" when nothing is saved)."""
        return self.current.text if self.current else ""

    @property
    def earlier(self) -> list[Version]:
        """The versions a student can restore, newest first (the current one left out)."""
        return [v for v in reversed(self.versions) if v.revision != self.revision]

    def version(self, revision: int) -> Version:
        """The version with this revision number (an error names the ones there are)."""
        found = next((v for v in self.versions if v.revision == revision), None)
        if found is None:
            kept = ", ".join(str(v.revision) for v in self.versions) or "none yet"
            fail(
                "revision", f"one of the saved versions ({kept})", repr(revision), "List them with history()."
            )
        return found


@dataclass(frozen=True)
class SaveResult:
    """What a save did. ``conflict``: the file had moved on from ``base``, so ``version`` was kept as a
    conflict copy and ``answer.current`` is still the other tab's text."""

    version: Version
    answer: Answer
    conflict: bool


def check_text(argument: str, text: str, *, allow_empty: bool) -> None:
    """An answer is a string; an empty (or blank) one only when ``allow_empty``."""
    if not isinstance(text, str):
        fail(argument, "a string", f"{text!r} ({type(text).__name__})", "Pass the answer as text.")
    if not text.strip() and not allow_empty:
        fail(
            argument,
            "non-empty text (an empty answer is saved only on request)",
            repr(text),
            "Type the answer, or pass allow_empty=True to clear it (earlier versions stay in the history).",
        )


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` (UTF-8) so that a crash at any moment leaves the old file or the new one.

    Temporary file in the same folder, flush and fsync, ``os.replace``, then fsync the folder (so the
    rename itself survives a power cut; folders cannot be fsynced on Windows).
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if os.name == "posix":
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _local_now() -> datetime:
    return datetime.now().astimezone()


class AnswerStore:
    """Saves and loads answers, one JSON file per prompt, in ``folder`` (see the module docstring).

    ``folder``: where the files go; default ``$COURSE_ANSWERS_DIR``, else ``answers/`` in the course
    folder. ``clock`` gives the current time (tests pass a fake one). ``draft_seconds``: how long one
    widget keeps updating its newest version before starting a new one.
    """

    def __init__(
        self,
        folder: str | Path | None = None,
        *,
        clock: Callable[[], datetime] = _local_now,
        draft_seconds: float = DRAFT_SECONDS,
    ):
        if folder is not None:
            self.folder_argument = "folder"
        elif os.environ.get(FOLDER_VARIABLE):
            folder, self.folder_argument = os.environ[FOLDER_VARIABLE], FOLDER_VARIABLE
        else:
            folder, self.folder_argument = DEFAULT_FOLDER, "the answers folder"
        if not isinstance(folder, (str, Path)) or not str(folder).strip():
            fail(self.folder_argument, "a folder name", repr(folder), "Give a folder, e.g. 'answers'.")
        self.folder = Path(folder).expanduser()
        if self.folder.exists() and not self.folder.is_dir():
            fail(self.folder_argument, "a folder", f"{str(self.folder)!r}, a file", "Choose another name.")
        self.clock = clock
        self.draft_seconds = draft_seconds

    def path(self, prompt_id: str) -> Path:
        """The file that holds ``prompt_id``'s answer."""
        check_prompt_id("prompt_id", prompt_id)
        return self.folder / f"{prompt_id}.json"

    def prompt_ids(self) -> list[str]:
        """The prompts with a saved answer file, sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("[0-9][0-9]-*.json") if ".corrupt-" not in p.name)

    def load(self, prompt_id: str) -> Answer:
        """The saved answer (revision 0 if none); a damaged file is renamed aside, ``notice`` says where."""
        path = self.path(prompt_id)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Answer(prompt_id, path, 0, ())
        except UnicodeDecodeError as error:
            return self._set_aside(prompt_id, path, f"it is not UTF-8 text ({error})")
        except OSError as error:
            self._folder_error(error)
        try:
            return _parse(prompt_id, path, json.loads(raw))
        except (ValueError, TypeError, KeyError) as error:
            return self._set_aside(prompt_id, path, f"it is not a valid answer file ({error})")

    def history(self, prompt_id: str) -> list[Version]:
        """Every kept version, newest first (the current one included)."""
        return list(reversed(self.load(prompt_id).versions))

    def save(
        self, prompt_id: str, text: str, *, base: int, session: str = "", allow_empty: bool = False
    ) -> SaveResult:
        """Save ``text`` as the answer, if the file is still at revision ``base`` (the one the caller loaded).

        Otherwise another tab or window saved in between: that text stays the answer and ``text`` is
        kept as a "conflict copy" version (``SaveResult.conflict`` is True). ``session`` names the
        widget saving: its newest version is updated in place for ``draft_seconds``.
        """
        check_prompt_id("prompt_id", prompt_id)
        check_text("text", text, allow_empty=allow_empty)
        check_int("base", base, minimum=0, fix="Pass the revision you loaded (0 when nothing was saved).")
        with self._locked():
            answer = self.load(prompt_id)
            conflict = answer.revision not in (0, base)
            note = "conflict copy" if conflict else "typed"
            result = self._write(answer, text, note=note, session=session, make_current=not conflict)
        return SaveResult(result.version, result.answer, conflict)

    def restore(self, prompt_id: str, revision: int, *, session: str = "") -> SaveResult:
        """Make an earlier version the answer again (as a new version: the text it replaces is kept)."""
        check_prompt_id("prompt_id", prompt_id)
        with self._locked():
            answer = self.load(prompt_id)
            text = answer.version(revision).text
            return self._write(
                answer, text, note=f"restored from version {revision}", session=session, make_current=True
            )

    def _write(self, answer: Answer, text: str, *, note: str, session: str, make_current: bool) -> SaveResult:
        now = self.clock().isoformat(timespec="seconds")
        versions = list(answer.versions)
        revision = max((v.revision for v in versions), default=0) + 1
        newest = versions[-1] if versions else None
        started = now
        if (
            newest
            and session
            and newest.session == session
            and newest.note == note
            and self._is_draft(newest)
        ):
            versions.pop()  # still this widget's draft: update it instead of adding a version
            started = newest.started_at
        version = Version(revision, text, now, started, note, session)
        versions.append(version)
        current = revision if make_current else answer.revision
        while len(versions) > HISTORY_LIMIT + 1:
            versions.remove(next(v for v in versions if v.revision != current))
        document = {
            "format": FILE_FORMAT,
            "prompt_id": answer.prompt_id,
            "current": current,
            "versions": [asdict(v) for v in versions],
        }
        if fcntl is not None:  # under the lock, a temporary file of this answer is a killed save's
            for stale in answer.path.parent.glob(f".{answer.path.name}.*.tmp"):
                stale.unlink(missing_ok=True)
        try:
            atomic_write_text(answer.path, json.dumps(document, ensure_ascii=False, indent=1) + "\n")
        except OSError as error:
            self._folder_error(error)
        return SaveResult(version, replace(answer, revision=current, versions=tuple(versions)), False)

    def _is_draft(self, version: Version) -> bool:
        """Was ``version`` started less than ``draft_seconds`` ago?"""
        age = self.clock() - datetime.fromisoformat(version.started_at)
        return age.total_seconds() < self.draft_seconds

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Create the folder if needed and hold its lock file (one save at a time, across processes)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            lock = open(self.folder / LOCK_NAME, "a")  # noqa: SIM115 (closed below, after unlocking)
        except OSError as error:
            self._folder_error(error)
        with lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
            yield

    def _set_aside(self, prompt_id: str, path: Path, reason: str) -> Answer:
        """Rename a damaged answer file to ``<id>.corrupt-<time>.json`` (never delete it)."""
        stamp = self.clock().strftime("%Y%m%d-%H%M%S")
        aside = path.with_name(f"{prompt_id}.corrupt-{stamp}.json")
        for count in range(2, 1000):
            if not aside.exists():
                break
            aside = path.with_name(f"{prompt_id}.corrupt-{stamp}-{count}.json")
        try:
            os.replace(path, aside)
        except OSError as error:
            self._folder_error(error)
        notice = (
            f"The saved answer file {path.name} was damaged ({reason}), so it was kept aside as {aside}. "
            "Open that file in a text editor to copy your text back; this answer starts empty."
        )
        return Answer(prompt_id, path, 0, (), notice)

    def _folder_error(self, error: OSError) -> NoReturn:
        fix = (
            f"Make it yours (chmod u+rwx '{self.folder}'), or save answers elsewhere: set "
            f"{FOLDER_VARIABLE}=/a/folder/you/own before starting Jupyter (or pass folder= to AnswerStore)."
        )
        given = f"{str(self.folder)!r} ({error.strerror or error})"
        try:
            fail(self.folder_argument, "a folder you can read and write", given, fix)
        except CourseInputError as course_error:
            raise course_error from error


def new_session() -> str:
    """A random id for one widget (its versions are its drafts)."""
    return secrets.token_hex(6)


def _parse(prompt_id: str, path: Path, document: object) -> Answer:
    """The ``Answer`` in a parsed JSON document; ValueError/TypeError/KeyError if it has the wrong shape."""
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise ValueError(f"no {FILE_FORMAT!r} format marker")
    if document["prompt_id"] != prompt_id:
        raise ValueError(f"it holds the answer to {document['prompt_id']!r}")
    versions = tuple(Version(**v) for v in document["versions"])
    for v in versions:
        if not (isinstance(v.revision, int) and all(isinstance(s, str) for s in _text_fields(v))):
            raise TypeError(f"version {v.revision!r} has a field of the wrong type")
        datetime.fromisoformat(v.saved_at)
        datetime.fromisoformat(v.started_at)
    current = document["current"]
    if not any(v.revision == current for v in versions):
        raise ValueError(f"its current version {current!r} is missing")
    return Answer(prompt_id, path, current, versions)


def _text_fields(version: Version) -> tuple[str, ...]:
    """The fields of a version that must be strings."""
    return (version.text, version.saved_at, version.started_at, version.note, version.session)
