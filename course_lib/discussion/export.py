"""Export for hand-in: a student's answers, with the notebooks' evidence tables, as one Markdown file and
one self-contained HTML file (inline CSS, no JavaScript, every text escaped).

Both files end with the same machine-readable marker, an HTML comment that holds the export as
base64-encoded JSON (base64, so no answer text can end the comment early; and every visible text is
escaped, so none can fake a marker)::

    <!-- course-answers-export 1 eyJmb3JtYXQiOi... -->

``collect`` reads that marker, never the visible text, so a file whose text was edited by hand still
collects as exported, and any other file is recognised as not being an export.

Evidence for a prompt is a table given by the notebook, in any of three shapes: a list of
(label, value) rows, a dict {label: value}, or a small Markdown pipe table (a string).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from course_lib.discussion.prompts import PROMPTS, check_prompt_id
from course_lib.discussion.store import AnswerStore, atomic_write_text
from course_lib.validation import CourseInputError, fail

EXPORT_FORMAT = "course-answers-export/1"
MARKER = "course-answers-export"
_MARKER_LINE = re.compile(r"<!-- " + MARKER + r" 1 ([A-Za-z0-9+/=]+) -->")
DEFAULT_NAME = "week07_answers"
MAX_EXPORT_BYTES = 5_000_000  # a class's exports are a few kB each; collect reads no larger file
TITLE = "Week 7: Transformers for Generative Tasks, discussion answers"

Table = dict[str, list]  # {"header": [str, ...], "rows": [[str, ...], ...]}
Evidence = Sequence[tuple[object, object]] | Mapping[object, object] | str

STYLE = (
    "body { font-family: system-ui, sans-serif; max-width: 52em; margin: 2em auto; padding: 0 1em; "
    "line-height: 1.45; color: #222; }"
    " h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }"
    " .answer { white-space: pre-wrap; border-left: 4px solid #4a6fa5; padding: 0.3em 0.8em; "
    "background: #f5f7fb; }"
    " .meta { color: #666; font-size: 0.9em; }"
    " table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }"
    " th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }"
    " th { background: #eee; }"
)


def evidence_table(argument: str, evidence: Evidence) -> Table:
    """One of the three evidence shapes as {"header": [...], "rows": [[...], ...]} of strings."""
    fix = "Give a list of (label, value) rows, a dict {label: value}, or a Markdown table string."
    if isinstance(evidence, str):
        return _parse_markdown_table(argument, evidence, fix)
    if isinstance(evidence, Mapping):
        evidence = list(evidence.items())
    if not isinstance(evidence, Sequence) or not evidence:
        fail(argument, "a non-empty evidence table", f"{evidence!r}"[:80], fix)
    rows = []
    for row in evidence:
        if isinstance(row, str) or not isinstance(row, Sequence) or len(row) != 2:
            fail(argument, "rows of two cells (label, value)", repr(row)[:80], fix)
        rows.append([str(cell) for cell in row])
    return {"header": ["evidence", "value"], "rows": rows}


def _parse_markdown_table(argument: str, text: str, fix: str) -> Table:
    lines = [line.strip() for line in text.strip().splitlines()]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    is_table = len(lines) >= 3 and all(line.startswith("|") for line in lines)
    if not is_table or not all(re.fullmatch(r":?-+:?", c) for c in cells[1]):
        fail(argument, "a Markdown table (| header |, | --- |, then rows)", repr(text[:60]), fix)
    if any(len(row) != len(cells[0]) for row in cells[2:]):
        fail(argument, f"a Markdown table whose rows have {len(cells[0])} cells", repr(text[:60]), fix)
    return {"header": cells[0], "rows": cells[2:]}


def build_export(
    store: AnswerStore,
    *,
    prompt_ids: Sequence[str] | None = None,
    evidence: Mapping[str, Evidence] | None = None,
    student: str = "",
    prompts: Mapping[str, str] | None = None,
) -> dict:
    """The export as data: {"format", "student", "answers": [{"prompt_id", "prompt", "text", "revision",
    "saved_at", "evidence"}]}; every prompt with a saved answer, or those in ``prompt_ids``."""
    saved = store.prompt_ids()
    if prompt_ids is None:
        prompt_ids = saved
    if isinstance(prompt_ids, str):
        prompt_ids = [prompt_ids]
    if not prompt_ids:
        fail(
            "prompt_ids",
            "at least one answered prompt",
            f"none saved in {str(store.folder)!r}",
            "Answer one first.",
        )
    for prompt_id in prompt_ids:
        check_prompt_id("prompt_ids", prompt_id)
        if prompt_id not in saved:
            known = ", ".join(map(repr, saved)) or "none yet"
            fail("prompt_ids", f"prompts with a saved answer ({known})", repr(prompt_id), "Check the id.")
    evidence = dict(evidence or {})
    for prompt_id in evidence:
        if prompt_id not in prompt_ids:
            exported = ", ".join(prompt_ids)
            fail("evidence", f"keyed by exported prompt ids ({exported})", repr(prompt_id), "Check the id.")
    if not isinstance(student, str):
        fail("student", "a name (a string)", repr(student), "Use e.g. student='Ada'.")
    prompts = {**PROMPTS, **(prompts or {})}
    answers = []
    for prompt_id in prompt_ids:
        answer = store.load(prompt_id)
        table = (
            evidence_table(f"evidence[{prompt_id!r}]", evidence[prompt_id]) if prompt_id in evidence else None
        )
        answers.append(
            {
                "prompt_id": prompt_id,
                "prompt": prompts.get(prompt_id, ""),
                "text": answer.text,
                "revision": answer.revision,
                "saved_at": answer.current.saved_at if answer.current else "",
                "evidence": table,
            }
        )
    return {"format": EXPORT_FORMAT, "student": student.strip(), "answers": answers}


def export_answers(
    out: str | Path | None = None,
    *,
    store: AnswerStore | None = None,
    prompt_ids: Sequence[str] | None = None,
    evidence: Mapping[str, Evidence] | None = None,
    student: str = "",
    prompts: Mapping[str, str] | None = None,
) -> tuple[Path, Path]:
    """Write the answers (all, or ``prompt_ids``) and their ``evidence`` tables to ``out``.md and .html.

    out: a path without suffix (or ending in .md/.html); default ``week07_answers`` in the answers folder.
    evidence: {prompt_id: table} (see the module docstring). prompts: questions for prompt ids that are
    not the course's own. Returns the two paths written.
    """
    store = store if store is not None else AnswerStore()
    export = build_export(store, prompt_ids=prompt_ids, evidence=evidence, student=student, prompts=prompts)
    stem = output_stem("out", out, default=store.folder / DEFAULT_NAME)
    heading = TITLE + (f": {export['student']}" if export["student"] else "")
    return write_page(stem, export, heading=heading, sections=[(a, [a]) for a in export["answers"]])


def output_stem(argument: str, out: str | Path | None, *, default: Path) -> Path:
    """The output named by ``out`` without its .md/.html suffix (``default`` when None)."""
    if out is None:
        return default
    if not isinstance(out, (str, Path)) or not str(out).strip():
        fail(argument, "a file name", repr(out), "Give e.g. 'my_answers' (writes my_answers.md and .html).")
    path = Path(out).expanduser()
    return path.with_suffix("") if path.suffix in (".md", ".html") else path


def write_page(
    stem: Path,
    payload: dict,
    *,
    heading: str,
    sections: list[tuple[dict, list[dict]]],
    out_argument: str = "out",
) -> tuple[Path, Path]:
    """Write ``stem``.md and ``stem``.html: ``heading``, then per section its prompt and its answers.

    sections: (prompt entry, answer entries) pairs; an answer entry may name its "student". The
    ``payload`` is embedded as the marker (an export's own data, or a collected page's). An error
    names the output as ``out_argument``.
    """
    marker = f"<!-- {MARKER} 1 {encode_marker(payload)} -->"
    md, body = [f"# {markdown_text(heading)}", ""], []
    for prompt, answers in sections:
        title = f"{prompt['prompt_id']}: {prompt['prompt']}" if prompt["prompt"] else prompt["prompt_id"]
        md += [f"## {markdown_text(title)}", ""]
        body.append(f"<h2>{html.escape(title)}</h2>")
        for entry in answers:
            md += _markdown_answer(entry)
            body.append(_html_answer(entry))
    md_path, html_path = stem.with_name(stem.name + ".md"), stem.with_name(stem.name + ".html")
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(heading)}</title><style>{STYLE}</style></head>\n<body>"
        f"<h1>{html.escape(heading)}</h1>\n" + "\n".join(body) + f"\n{marker}\n</body></html>\n"
    )
    try:
        stem.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(md_path, "\n".join([*md, marker]) + "\n")
        atomic_write_text(html_path, page)
    except OSError as error:
        fail(
            out_argument,
            "a file you can write",
            f"{str(stem)!r} ({error.strerror or error})",
            "Choose another folder.",
        )
    return md_path, html_path


def _markdown_answer(entry: dict) -> list[str]:
    lines = [f"**{markdown_text(entry['student'])}**", ""] if entry.get("student") else []
    text = entry["text"] or "(no answer)"
    lines += ["> " + markdown_text(line) + "  " for line in text.splitlines()] + [""]  # "  ": line break
    lines.append(f"*{_version_line(entry)}*")
    lines.append("")
    table = entry["evidence"]
    if table:
        cells = [table["header"], ["---"] * len(table["header"]), *table["rows"]]
        lines += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in cells] + [""]
    return lines


def _html_answer(entry: dict) -> str:
    parts = [f"<h3>{html.escape(entry['student'])}</h3>"] if entry.get("student") else []
    text = html.escape(entry["text"]) if entry["text"] else "<i>(no answer)</i>"
    parts.append(f'<div class="answer">{text}</div>')
    parts.append(f'<p class="meta">{html.escape(_version_line(entry))}</p>')
    table = entry["evidence"]
    if table:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in table["header"])
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table["rows"]
        )
        parts.append(f'<table class="evidence"><tr>{head}</tr>{rows}</table>')
    return "\n".join(parts)


def _version_line(entry: dict) -> str:
    """'Version 3, saved 25 Nov 2026 at 23:41.' (the time as the student's computer showed it)."""
    if not entry["saved_at"]:
        return "Not saved."
    saved = datetime.fromisoformat(entry["saved_at"]).strftime("%d %b %Y at %H:%M")
    return f"Version {entry['revision']}, saved {saved}."


def markdown_text(text: str) -> str:
    """Text that shows as typed in Markdown: ``<`` and ``&`` escaped, so no HTML (or marker) gets in."""
    return html.escape(text, quote=False)


def markdown_cell(text: str) -> str:
    """Text for one Markdown table cell: one line, pipes escaped."""
    return markdown_text(" ".join(text.split())).replace("|", "\\|")


def encode_marker(payload: dict) -> str:
    return base64.b64encode(json.dumps(payload, ensure_ascii=False).encode("utf-8")).decode("ascii")


def read_marker(path: Path) -> dict:
    """The payload in a file's marker; CourseInputError naming the file if it has none (or a broken one)."""
    fix = "Hand in the .md or .html file that the export wrote (python -m course_lib.discussion export)."
    if path.stat().st_size > MAX_EXPORT_BYTES:
        fail(str(path), "an answer export", f"a file of {path.stat().st_size:,} bytes (too large)", fix)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(str(path), "an answer export", "a file that is not UTF-8 text", fix)
    found = _MARKER_LINE.search(text)
    if found is None:
        fail(str(path), "an answer export", f"a file without the {MARKER!r} marker", fix)
    try:
        payload = json.loads(base64.b64decode(found.group(1), validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise CourseInputError(f"{path} has a damaged {MARKER!r} marker ({error}). {fix}") from error
    return payload
