"""``collect``: a class's answer exports merged into one page (Markdown + HTML), grouped by prompt.

Each file in the folder is read by its export marker (see ``export``). A file that is not an export
(another document, a damaged or hand-made file) is reported by name and left out, and the page is still
written from the good ones: in class, one stray file should not hold up the discussion of thirty
answers. The command then exits with status 2, so a script notices. The .md and .html of one export
count once, and a collected page in the folder (from an earlier run) is skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from course_lib.discussion.export import EXPORT_FORMAT, TITLE, output_stem, read_marker, write_page
from course_lib.discussion.prompts import PROMPTS
from course_lib.validation import CourseInputError, fail

COLLECTION_FORMAT = "course-answers-collection/1"
DEFAULT_NAME = "class_answers"
_ANSWER_KEYS = {"prompt_id": str, "prompt": str, "text": str, "revision": int, "saved_at": str}


@dataclass
class CollectResult:
    """The pages written, how many exports they hold, and one message per file left out."""

    markdown: Path
    html: Path
    exports: int
    problems: list[str] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # earlier collected pages


def check_export(path: Path, payload: object) -> None:
    """``payload`` (read from ``path``'s marker) must have an export's shape."""
    fix = "Export the answers again (python -m course_lib.discussion export) and hand in that file."
    answers = payload.get("answers") if isinstance(payload, dict) else None
    if (
        not isinstance(payload, dict)
        or payload.get("format") != EXPORT_FORMAT
        or not isinstance(answers, list)
    ):
        fail(str(path), f"an answer export in the {EXPORT_FORMAT!r} format", "a marker of another shape", fix)
    for entry in answers:
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), t) for k, t in _ANSWER_KEYS.items()
        ):
            fail(str(path), "an export whose answers have all their fields", f"{entry!r}"[:80], fix)
        if not _is_table(entry.get("evidence")):
            fail(str(path), "an export whose evidence is a table", repr(entry.get("evidence"))[:80], fix)
    if not isinstance(payload.get("student"), str):
        fail(str(path), "an export that names its student (or leaves it empty)", "no student field", fix)


def _is_table(table: object) -> bool:
    """None (no evidence), or {"header": [str, ...], "rows": [[str, ...], ...]} with rows as wide as the
    header."""
    if table is None:
        return True
    if not isinstance(table, dict) or not isinstance(table.get("rows"), list):
        return False
    header, rows = table.get("header"), table["rows"]
    lines = [header, *rows]
    return all(
        isinstance(line, list) and len(line) == len(header) and all(isinstance(c, str) for c in line)
        for line in lines
    )


def collect_exports(folder: str | Path, *, out: str | Path | None = None) -> CollectResult:
    """Merge the exports in ``folder`` into ``out``.md and ``out``.html (default ``folder/class_answers``)."""
    if not isinstance(folder, (str, Path)) or not Path(folder).is_dir():
        fail(
            "FOLDER",
            "a folder of exported answer files",
            repr(str(folder)),
            "Give the folder they were put in.",
        )
    folder = Path(folder)
    stem = output_stem("--out", out, default=folder / DEFAULT_NAME)
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    exports: list[tuple[Path, dict]] = []
    problems, skipped, seen = [], [], set()
    for path in files:
        try:
            payload = read_marker(path)
            if isinstance(payload, dict) and payload.get("format") == COLLECTION_FORMAT:
                skipped.append(path)
                continue
            check_export(path, payload)
        except CourseInputError as error:
            problems.append(str(error))
            continue
        key = json.dumps(payload, sort_keys=True)
        if key not in seen:
            seen.add(key)
            exports.append((path, payload))
    if not exports:
        fail(
            "FOLDER",
            "a folder with at least one answer export",
            f"{str(folder)!r} ({len(files)} files, none of them an export)",
            "Put the students' exported .md or .html files in it.",
        )
    sections = _by_prompt(exports)
    names = {entry["student"] for _, entries in sections for entry in entries}
    heading = f"{TITLE}: the class ({len(names)} student{'' if len(names) == 1 else 's'})"
    payload = {"format": COLLECTION_FORMAT, "exports": len(exports)}
    markdown, page = write_page(stem, payload, heading=heading, sections=sections, out_argument="--out")
    return CollectResult(markdown, page, len(exports), problems, skipped)


def _by_prompt(exports: list[tuple[Path, dict]]) -> list[tuple[dict, list[dict]]]:
    """(prompt, answers) per prompt id: the course's prompts in order, then others sorted; each answer
    names its student (the export's name, else its file's name)."""
    groups: dict[str, tuple[dict, list[dict]]] = {}
    for path, payload in exports:
        for entry in payload["answers"]:
            prompt = groups.setdefault(
                entry["prompt_id"], ({"prompt_id": entry["prompt_id"], "prompt": ""}, [])
            )
            prompt[0]["prompt"] = prompt[0]["prompt"] or entry["prompt"]
            prompt[1].append({**entry, "student": payload["student"] or path.stem})
    order = [p for p in PROMPTS if p in groups] + sorted(set(groups) - PROMPTS.keys())
    return [groups[p] for p in order]
