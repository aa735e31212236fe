"""``python -m course_lib.discussion export | history | restore | collect``.

export   writes your saved answers, with each prompt's evidence (course_lib.evidence), to one Markdown
         and one HTML file to hand in: the same file as notebook 09's export cell
history  lists the kept versions of one answer (``history 05-encoder-vs-decoder``)
restore  makes a kept version the answer again (``restore 05-encoder-vs-decoder 3``)
collect  merges a class's exported files into one page, grouped by prompt

Bad input prints one ``error: ...`` line per problem and exits with status 2 (course_lib.cli).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from course_lib.cli import BAD_INPUT_STATUS, for_option, one_line_error, run_command
from course_lib.discussion.collect import collect_exports
from course_lib.discussion.export import export_answers
from course_lib.discussion.prompts import PROMPTS
from course_lib.discussion.store import FOLDER_VARIABLE, AnswerStore
from course_lib.discussion.widget import version_label
from course_lib.evidence import week_evidence
from course_lib.validation import CourseInputError

# library argument -> what the command line calls it, for error messages
_AS_TYPED = {
    "out": "--out",
    "prompt_ids": "--prompt",
    "folder": "--answers-dir",
    "student": "--student",
    "prompt_id": "PROMPT_ID",
    "revision": "VERSION",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.discussion",
        description="Export your discussion answers, or collect a class's exports into one page.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="write your answers to FILE.md and FILE.html")
    export.add_argument(
        "--out", help="file name without suffix (default: week07_answers in the answers folder)"
    )
    export.add_argument("--prompt", action="append", help="a prompt id to export (repeat it; default: all)")
    export.add_argument(
        "--answers-dir", help=f"where the answers are (default: ${FOLDER_VARIABLE} or answers/)"
    )
    export.add_argument("--student", default="", help="your name, shown on the page")
    history = commands.add_parser("history", help="list the kept versions of one answer")
    restore = commands.add_parser("restore", help="make a kept version the answer again")
    for command in (history, restore):
        command.add_argument("prompt_id", metavar="PROMPT_ID", help="e.g. 05-encoder-vs-decoder")
        command.add_argument(
            "--answers-dir", help=f"where the answers are (default: ${FOLDER_VARIABLE} or answers/)"
        )
    restore.add_argument("revision", metavar="VERSION", type=int, help="the version number (see history)")
    collect = commands.add_parser("collect", help="merge a class's exported files into one page")
    collect.add_argument("folder", metavar="FOLDER", help="the folder holding the exported .md/.html files")
    collect.add_argument("--out", help="file name without suffix (default: FOLDER/class_answers)")
    return parser


def run_export(args: argparse.Namespace) -> int:
    store = AnswerStore(args.answers_dir)
    prompt_ids = args.prompt or store.prompt_ids()
    evidence = {
        prompt_id: week_evidence(prompt_id, folder=args.answers_dir)
        for prompt_id in prompt_ids
        if prompt_id in PROMPTS
    }
    written = export_answers(
        args.out, store=store, prompt_ids=args.prompt, evidence=evidence, student=args.student
    )
    print("wrote " + " and ".join(map(str, written)))
    return 0


def run_history(args: argparse.Namespace) -> int:
    answer = AnswerStore(args.answers_dir).load(args.prompt_id)
    if answer.notice:
        print(answer.notice, file=sys.stderr)
    if not answer.versions:
        print(f"no answer saved for {args.prompt_id} in {answer.path.parent}")
    for version in reversed(answer.versions):
        current = "  (current)" if version.revision == answer.revision else ""
        print(f"{version_label(version)}{current}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    result = AnswerStore(args.answers_dir).restore(args.prompt_id, args.revision)
    print(f"restored version {args.revision} as version {result.version.revision} in {result.answer.path}")
    return 0


def as_typed(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``run``, with errors naming each argument as it is typed on the command line."""

    def wrapped(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except CourseInputError as error:
            for argument, option in _AS_TYPED.items():
                if str(error).startswith(argument + " "):
                    raise for_option(error, argument=argument, option=option) from error
            raise

    return wrapped


def run_collect(args: argparse.Namespace) -> int:
    result = collect_exports(args.folder, out=args.out)
    for problem in result.problems:
        print(one_line_error(CourseInputError(problem + " (left out)")), file=sys.stderr)
    left_out = f"; {len(result.problems)} files left out (see the errors above)" if result.problems else ""
    print(f"wrote {result.markdown} and {result.html} from {result.exports} exports{left_out}")
    return BAD_INPUT_STATUS if result.problems else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit status (2 with one-line messages for bad input)."""
    args = build_parser().parse_args(argv)
    commands = {"export": run_export, "history": run_history, "restore": run_restore, "collect": run_collect}
    return run_command(as_typed(commands[args.command]), args)


if __name__ == "__main__":
    sys.exit(main())
