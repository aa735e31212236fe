"""What ``python -m course_lib.train`` and ``python -m course_lib.generate`` share.

Both commands check every option before any work starts (nothing is loaded, trained or generated with a
bad value), name the option as it was typed (``--max-seconds``, not ``max_seconds``), and turn bad input
into one ``error: ...`` line on stderr with exit status 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from course_lib.checkpoints import holds_checkpoint
from course_lib.validation import CourseInputError, check_int, fail

BAD_INPUT_STATUS = 2
INTERRUPTED_STATUS = 130  # the shell's convention for a command stopped by Ctrl-C (128 + SIGINT)


def one_line_error(error: BaseException) -> str:
    """The message a command prints for bad input: ``error: ...`` on a single line, no traceback."""
    return "error: " + " ".join(str(error).split())


def run_command(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Call ``run(args)`` and return its exit status; bad input and Ctrl-C print one line, no traceback."""
    try:
        return run(args)
    except (CourseInputError, OSError) as error:
        print(one_line_error(error), file=sys.stderr)
        return BAD_INPUT_STATUS
    except KeyboardInterrupt:
        print("error: interrupted (Ctrl-C)", file=sys.stderr)
        return INTERRUPTED_STATUS


def for_option(error: CourseInputError, *, argument: str, option: str) -> CourseInputError:
    """``error`` from a library check of ``argument``, reworded to name the command-line ``option``."""
    message = str(error)
    if message.startswith(argument + " "):
        return CourseInputError(option + message[len(argument) :])
    return CourseInputError(f"{option}: {message}")


def set_threads(threads: int | None) -> None:
    """Use ``--threads`` torch CPU threads, or never more than there are CPU cores."""
    if threads is None:
        threads = min(torch.get_num_threads(), os.cpu_count() or 1)
    check_int("--threads", threads, minimum=1, fix="Use e.g. 2 (the number of CPU cores).")
    torch.set_num_threads(threads)


def check_out_dir(out: str, *, overwrite: bool) -> Path:
    """``--out`` must name a folder that can be created (or exists) and holds no checkpoint unless
    ``overwrite``. Checked without creating anything, so a run refused later leaves no empty folder."""
    if not out.strip():
        fail(
            "--out",
            "a folder name",
            "an empty string",
            "Give a folder for the checkpoint, e.g. --out runs/my_gpt.",
        )
    path = Path(out)
    existing = next(folder for folder in (path, *path.parents) if folder.exists())
    if not existing.is_dir():
        where = "which is a file" if existing == path else f"and {str(existing)!r} is a file"
        fail("--out", "a folder (new or existing)", f"{out!r}, {where}", "Choose another folder name.")
    if existing == path and holds_checkpoint(path) and not overwrite:
        fail(
            "--out",
            "a folder without a checkpoint",
            f"{out!r}, which already holds one",
            "Choose another folder, or add --overwrite to replace that checkpoint.",
        )
    try:
        with tempfile.TemporaryDirectory(dir=existing):
            pass  # proves that folders can be made here
    except OSError as error:
        fail(
            "--out",
            "a folder you can write to",
            f"{out!r} ({error.strerror} when creating a folder in {str(existing)!r})",
            "Choose a folder under your home or the course folder, e.g. --out runs/my_gpt.",
        )
    return path
