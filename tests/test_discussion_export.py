"""Export for hand-in, collect for the class, and the two commands of ``python -m course_lib.discussion``."""

import base64
import re
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib.discussion.__main__ import main
from course_lib.discussion.collect import collect_exports
from course_lib.discussion.export import build_export, evidence_table, export_answers, read_marker
from course_lib.discussion.store import AnswerStore
from course_lib.validation import CourseInputError

P1, P2 = "05-encoder-vs-decoder", "07-high-resolution"
REPO = Path(__file__).resolve().parents[1]
EVIDENCE_07 = {"full attention's pairs grow as T^p, p =": 2.0, "256 x 256 fits in memory here": False}


def answers_of(tmp_path: Path, name: str, texts: dict[str, str]) -> AnswerStore:
    store = AnswerStore(tmp_path / name)
    for prompt_id, text in texts.items():
        store.save(prompt_id, text, base=0)
    return store


@pytest.fixture
def store(tmp_path) -> AnswerStore:
    return answers_of(
        tmp_path,
        "ada",
        {P1: "One stream vs. two.\n<script>alert('x')</script> & a | pipe", P2: "Tokens grow as H x W."},
    )


def test_export_writes_markdown_and_html_with_the_evidence(store, tmp_path):
    evidence = {P1: [("exact match, hard", "0.41"), ("work per token", 3)], P2: EVIDENCE_07}
    md_path, html_path = export_answers(
        tmp_path / "hand-in.md", store=store, evidence=evidence, student="Ada"
    )
    assert (md_path.name, html_path.name) == ("hand-in.md", "hand-in.html")
    md, page = md_path.read_text(encoding="utf-8"), html_path.read_text(encoding="utf-8")
    assert md.startswith("# ") and md.splitlines()[-1].startswith("<!-- course-answers-export 1 ")
    assert "# Week 7: Transformers for Generative Tasks, discussion answers: Ada" in md
    assert "## 05-encoder-vs-decoder: How do decoder-only transformers differ" in md
    assert "> One stream vs. two.  \n> &lt;script&gt;alert('x')&lt;/script&gt; &amp; a | pipe  \n" in md
    assert "| exact match, hard | 0.41 |" in md and "| 256 x 256 fits in memory here | False |" in md
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; a | pipe" in page
    assert "<td>full attention&#x27;s pairs grow as T^p, p =</td><td>2.0</td>" in page
    for external in ("<script", "http://", "https://", "<link", "src="):
        assert external not in page
    assert "<style>" in page
    exported = build_export(store, evidence=evidence, student="Ada")
    assert read_marker(md_path) == read_marker(html_path) == exported
    assert [a["text"] for a in exported["answers"]] == [store.load(P1).text, store.load(P2).text]


def test_export_defaults_and_a_chosen_prompt(store):
    md_path, html_path = export_answers(store=store, prompt_ids=[P2])
    assert md_path == store.folder / "week07_answers.md" and html_path.exists()
    assert [a["prompt_id"] for a in read_marker(md_path)["answers"]] == [P2]
    assert store.prompt_ids() == [P1, P2]  # the export is not mistaken for an answer


def test_export_refuses_what_it_cannot_export(store, tmp_path):
    with pytest.raises(
        CourseInputError, match=r"prompt_ids must be prompts with a saved answer .* got '07-typo'"
    ):
        export_answers(tmp_path / "x", store=store, prompt_ids=["07-typo"])
    with pytest.raises(
        CourseInputError, match=r"evidence must be keyed by exported prompt ids .* got '07-high"
    ):
        export_answers(tmp_path / "x", store=store, prompt_ids=[P1], evidence={P2: EVIDENCE_07})
    with pytest.raises(
        CourseInputError, match=r"prompt_ids must be at least one answered prompt, got none saved"
    ):
        export_answers(tmp_path / "x", store=AnswerStore(tmp_path / "empty"))
    with pytest.raises(
        CourseInputError, match=r"evidence\['05-encoder-vs-decoder'\] must be rows of two cells"
    ):
        export_answers(tmp_path / "x", store=store, evidence={P1: [("only a label",)]})
    assert not list(tmp_path.glob("x*"))  # nothing half-written


def test_evidence_tables_in_three_shapes():
    rows = {"header": ["evidence", "value"], "rows": [["a", "1"], ["b", "True"]]}
    assert evidence_table("e", [("a", 1), ("b", True)]) == rows
    assert evidence_table("e", {"a": 1, "b": True}) == rows
    table = "| model | exact match |\n|---|:---:|\n| encoder-decoder | 0.98 |\n| decoder-only | 0.95 |"
    assert evidence_table("e", table) == {
        "header": ["model", "exact match"],
        "rows": [["encoder-decoder", "0.98"], ["decoder-only", "0.95"]],
    }
    for bad in ("just words", "| a | b |\n| - | - |\n| only one |", [], "a"):
        with pytest.raises(CourseInputError, match=r"^e must be"):
            evidence_table("e", bad)


@pytest.fixture
def class_folder(tmp_path, store) -> Path:
    """Two students' hand-ins (Ada: .md and .html; an unnamed student: .html) and three stray files."""
    folder = tmp_path / "hand-ins"
    export_answers(folder / "ada", store=store, student="Ada")
    other = answers_of(tmp_path, "bo", {P1: "Cross-attention reads the source once."})
    export_answers(folder / "student-2", store=other)
    (folder / "student-2.md").unlink()
    (folder / "notes.txt").write_text("my notes, not an export")
    (folder / "essay.md").write_text("# My answers\n\nNo marker here.")
    (folder / "damaged.html").write_text("<!-- course-answers-export 1 bm90IGpzb24= -->")
    bad_table = '{"format": "course-answers-export/1", "student": "", "answers": [{"prompt_id": "05-a", '
    bad_table += '"prompt": "", "text": "", "revision": 1, "saved_at": "", "evidence": {"rows": 3}}]}'
    marker = base64.b64encode(bad_table.encode()).decode()
    (folder / "hand-made.md").write_text(f"<!-- course-answers-export 1 {marker} -->")
    return folder


NO_MARKER = r" must be an answer export, got a file without the 'course-answers-export' marker"
BAD_FILES = {
    "notes.txt": r"notes\.txt" + NO_MARKER,
    "essay.md": r"essay\.md" + NO_MARKER,
    "damaged.html": r"damaged\.html has a damaged 'course-answers-export' marker",
    "hand-made.md": r"hand-made\.md must be an export whose evidence is a table, got \{'rows': 3\}",
}


def test_collect_groups_the_class_by_prompt_and_names_each_bad_file(class_folder):
    result = collect_exports(class_folder)
    assert result.exports == 2  # Ada's .md and .html are one export
    assert len(result.problems) == 4
    for problem, pattern in zip(
        sorted(result.problems), [BAD_FILES[k] for k in sorted(BAD_FILES)], strict=True
    ):
        assert re.search(pattern, problem), problem
    md = result.markdown.read_text(encoding="utf-8")
    assert result.markdown == class_folder / "class_answers.md"
    assert "the class (2 students)" in md
    p1_section, p2_section = md.split("## 07-high-resolution")
    assert "**Ada**" in p1_section and "**student-2**" in p1_section  # unnamed: the file's name
    assert "Cross-attention reads the source once." in p1_section
    assert "**Ada**" in p2_section and "student-2" not in p2_section
    page = result.html.read_text(encoding="utf-8")
    assert "<h3>Ada</h3>" in page and "&lt;script&gt;" in page and "<script" not in page
    again = collect_exports(class_folder, out=class_folder / "second")
    assert again.exports == 2 and again.skipped == [class_folder / "class_answers.html", result.markdown]


def test_collect_refuses_a_folder_without_exports(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CourseInputError, match=r"FOLDER must be a folder with at least one answer export"):
        collect_exports(tmp_path)
    with pytest.raises(
        CourseInputError, match=r"FOLDER must be a folder of exported answer files, got '.*nowhere'"
    ):
        collect_exports(tmp_path / "nowhere")


def test_collect_command_exit_status_and_one_line_errors(class_folder, capsys):
    assert main(["collect", str(class_folder)]) == 2  # the page is written, the bad files are named
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert len(errors) == 4 and all(e.startswith("error: ") and e.endswith("(left out)") for e in errors)
    assert "from 2 exports; 4 files left out" in captured.out
    for name in BAD_FILES:
        (class_folder / name).unlink()
    assert main(["collect", str(class_folder), "--out", str(class_folder / "page")]) == 0
    assert (class_folder / "page.html").exists() and capsys.readouterr().err == ""
    assert main(["collect", str(class_folder / "nowhere")]) == 2
    assert re.fullmatch(
        r"error: FOLDER must be a folder of exported answer files, got .*\n", capsys.readouterr().err
    )


def test_export_command(store, tmp_path, capsys):
    out = tmp_path / "mine"
    arguments = ["export", "--answers-dir", str(store.folder), "--out", str(out), "--student", "Ada"]
    assert main(arguments) == 0
    assert (
        capsys.readouterr().out.startswith("wrote ")
        and read_marker(out.with_suffix(".html"))["student"] == "Ada"
    )
    # the command carries the same evidence as notebook 09's export cell (course_lib.evidence)
    assert "exact match, 4 unseen date formats" in out.with_suffix(".md").read_text()
    assert main([*arguments, "--prompt", "05-typo"]) == 2
    assert re.fullmatch(r"error: --prompt must be prompts with a saved answer .*\n", capsys.readouterr().err)
    assert main(["export", "--answers-dir", str(tmp_path / "empty")]) == 2
    assert "error: --prompt must be at least one answered prompt" in capsys.readouterr().err


def test_the_module_runs_as_a_command(class_folder):
    done = subprocess.run(
        [sys.executable, "-m", "course_lib.discussion", "collect", str(class_folder)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 4 and "wrote " in done.stdout


def test_history_and_restore_commands(store, capsys):
    folder = ["--answers-dir", str(store.folder)]
    store.save(P1, "second thoughts", base=1)
    assert main(["history", P1, *folder]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        len(lines) == 2 and lines[0].startswith("v2 · ") and lines[0].endswith("second thoughts  (current)")
    )
    assert main(["restore", P1, "1", *folder]) == 0
    assert "restored version 1 as version 3" in capsys.readouterr().out
    assert store.load(P1).text.startswith("One stream vs. two.")
    assert main(["restore", P1, "9", *folder]) == 2
    assert re.fullmatch(
        r"error: VERSION must be one of the saved versions \(1, 2, 3\), got 9\. .*\n", capsys.readouterr().err
    )
    assert main(["history", "05_bad", *folder]) == 2
    assert capsys.readouterr().err.startswith("error: PROMPT_ID must be a prompt id like")
