"""``SelfAssessmentQuiz``: the week's quiz with feedback for every answer (notebook 09)."""

from __future__ import annotations

import html

import ipywidgets as widgets

from course_lib.quiz import WEEK_QUIZ, Question, feedback
from course_lib.validation import fail
from course_lib.widgets._common import CONTAINER_CLASS, FONT, OUTPUT_CLASS

# ipywidgets gives every radio label one fixed-height line, so a long option would spill over the next
# one; let labels wrap and grow instead (scoped to the quiz).
LABEL_STYLE = (
    "<style>.course-quiz .widget-radio-box label { display: flex; flex-wrap: nowrap; align-items: flex-start;"
    " gap: 4px; height: auto; min-height: 22px; line-height: 1.35; white-space: normal; margin-bottom: 6px; }"
    " .course-quiz .widget-radio-box input { order: -1; flex: none; margin: 3px 4px 0 0; }</style>"
)
RIGHT_COLOUR = "#1b7837"  # green and purple: told apart with red-green colour blindness too
WRONG_COLOUR = "#762a83"


def display_order(question_index: int, option_count: int) -> list[int]:
    """The options of question ``question_index`` in the order shown: rotated, so the right one (stored
    first) moves around instead of always being the top choice."""
    shift = (question_index * 2 + 1) % option_count
    return [(position + shift) % option_count for position in range(option_count)]


class SelfAssessmentQuiz(widgets.VBox):
    """One radio-button group per question; choosing an option shows its feedback and updates the score.

    ``choices`` holds the chosen option of each question (numbered as in ``course_lib.quiz``; None: not
    answered yet). Nothing is stored: the quiz is for the student's own check.
    """

    def __init__(self, questions: tuple[Question, ...] = WEEK_QUIZ) -> None:
        super().__init__()
        if not questions:
            fail("questions", "at least one Question", "an empty tuple", "Pass course_lib.quiz.WEEK_QUIZ.")
        self.questions = questions
        self.choices: list[int | None] = [None] * len(questions)
        self.buttons: list[widgets.RadioButtons] = []
        self.feedback: list[widgets.HTML] = []
        self.score = widgets.HTML()
        self.score.add_class(OUTPUT_CLASS)
        blocks = [self._question_block(index, question) for index, question in enumerate(questions)]
        self.children = [widgets.HTML(LABEL_STYLE), *blocks, self.score]
        self.add_class(CONTAINER_CLASS)
        self.add_class("course-quiz")
        self._show_score()

    def _question_block(self, index: int, question: Question) -> widgets.VBox:
        order = display_order(index, len(question.options))
        buttons = widgets.RadioButtons(
            options=[(question.options[i].text, i) for i in order],
            value=None,
            layout=widgets.Layout(width="auto"),
        )
        note = widgets.HTML()
        buttons.observe(lambda change, index=index: self._chosen(index, change["new"]), names="value")
        self.buttons.append(buttons)
        self.feedback.append(note)
        title = widgets.HTML(
            f'<p style="{FONT} font-weight: bold; margin: 12px 0 4px;">{index + 1}. '
            f"{html.escape(question.prompt)}</p>"
        )
        return widgets.VBox([title, buttons, note])

    def _chosen(self, index: int, choice: int | None) -> None:
        self.choices[index] = choice
        if choice is None:
            self.feedback[index].value = ""
        else:
            verdict = feedback(self.questions[index], choice)
            colour, word = (RIGHT_COLOUR, "Yes.") if verdict.correct else (WRONG_COLOUR, "Not this one.")
            self.feedback[index].value = (
                f'<p style="{FONT} color: {colour}; margin: 2px 0 8px 24px;"><b>{word}</b> '
                f"{html.escape(verdict.text)}</p>"
            )
        self._show_score()

    @property
    def correct(self) -> int:
        """How many questions are answered right."""
        return sum(
            choice is not None and feedback(question, choice).correct
            for question, choice in zip(self.questions, self.choices, strict=True)
        )

    def _show_score(self) -> None:
        answered = sum(choice is not None for choice in self.choices)
        self.score.value = (
            f'<p style="{FONT} font-weight: bold;">{self.correct} of {len(self.questions)} right '
            f"({answered} answered).</p>"
        )

    def static_html(self) -> str:
        """The questions and their options as plain HTML, for a notebook read without a kernel."""
        items = []
        for index, question in enumerate(self.questions):
            options = "".join(
                f"<li>{html.escape(question.options[i].text)}</li>"
                for i in display_order(index, len(question.options))
            )
            items.append(f"<li><b>{html.escape(question.prompt)}</b><ol type='a'>{options}</ol></li>")
        return f'<ol style="{FONT}">{"".join(items)}</ol>'
