"""Answers that are never lost: the discussion prompts' answer boxes, their store, export and collect.

- ``AnswerStore``   saves each prompt's answer atomically, with its earlier versions, in ``answers/``
                    (git ignores it; ``COURSE_ANSWERS_DIR`` or ``folder=`` moves it); detects two tabs
                    editing one answer and keeps damaged files aside (``store``)
- ``AnswerBox``     the widget: a text area that saves as the student types, "saved at" status,
                    earlier versions to restore (``widget``; CSS class ``course-answer``)
- ``export_answers`` the answers and the notebooks' evidence tables as one Markdown and one HTML file to
                    hand in (``export``)
- ``collect_exports`` a class's exports merged into one page, grouped by prompt (``collect``)
- ``PROMPTS``       the week's discussion prompts by id (``prompts``)

Commands: ``python -m course_lib.discussion export`` (hand-in files), ``history PROMPT_ID`` and
``restore PROMPT_ID VERSION`` (without a notebook), ``collect FOLDER`` (the class page).
"""

from course_lib.discussion.collect import CollectResult, collect_exports
from course_lib.discussion.export import export_answers
from course_lib.discussion.prompts import PROMPTS
from course_lib.discussion.store import Answer, AnswerStore, SaveResult, Version
from course_lib.discussion.widget import AnswerBox

__all__ = [
    "PROMPTS",
    "Answer",
    "AnswerBox",
    "AnswerStore",
    "CollectResult",
    "SaveResult",
    "Version",
    "collect_exports",
    "export_answers",
]
