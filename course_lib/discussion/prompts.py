"""The week's discussion prompts and the rule for prompt ids.

A prompt id is a short slug that starts with the number of the notebook that asks it, e.g.
``05-encoder-vs-decoder``: it names the answer's file (``answers/05-encoder-vs-decoder.json``) and its
section in an export, so it is checked once, wherever a person types one.
"""

from __future__ import annotations

import re

from course_lib.validation import fail

PROMPTS: dict[str, str] = {
    "05-encoder-vs-decoder": (
        "How do decoder-only transformers differ from encoder-decoder transformers in generative tasks?"
    ),
    "07-high-resolution": (
        "What challenges arise when using transformers for high-resolution image or video generation?"
    ),
}

_PROMPT_ID = re.compile(r"[0-9]{2}-[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_PROMPT_ID_LENGTH = 60


def check_prompt_id(argument: str, prompt_id: str) -> None:
    """``prompt_id`` must be a slug: two digits (the notebook), then lowercase words joined by hyphens."""
    fix = f"Use the notebook's number and a few lowercase words, e.g. {next(iter(PROMPTS))!r}."
    if not isinstance(prompt_id, str):
        fail(argument, "a string", f"{prompt_id!r} ({type(prompt_id).__name__})", fix)
    if len(prompt_id) > MAX_PROMPT_ID_LENGTH or not _PROMPT_ID.fullmatch(prompt_id):
        fail(argument, f"a prompt id like {next(iter(PROMPTS))!r}", repr(prompt_id), fix)


def prompt_text(argument: str, prompt_id: str, prompt: str | None = None) -> str:
    """The question asked by ``prompt_id``: ``prompt`` when given, else the course's own wording.

    An id that is not one of the course's prompts needs its question given, so a typo in a notebook
    (``05-encoder-vs-decodr``) is an error instead of a new, empty answer.
    """
    check_prompt_id(argument, prompt_id)
    if prompt is not None:
        if not isinstance(prompt, str) or not prompt.strip():
            fail("prompt", "the question as text", repr(prompt), "Pass the question the student answers.")
        return prompt
    if prompt_id not in PROMPTS:
        fail(
            argument,
            f"one of the course's prompts ({', '.join(map(repr, PROMPTS))})",
            repr(prompt_id),
            "Check the spelling, or pass prompt='...' with the question for a prompt of your own.",
        )
    return PROMPTS[prompt_id]
