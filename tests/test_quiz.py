"""course_lib.quiz: every question has one right option, feedback for every option, and clear errors."""

from __future__ import annotations

import pytest

from course_lib.quiz import WEEK_QUIZ, Option, Question, feedback, score
from course_lib.validation import CourseInputError


def test_every_question_has_one_right_option_and_feedback_for_each() -> None:
    assert len(WEEK_QUIZ) >= 8
    for question in WEEK_QUIZ:
        assert sum(option.correct for option in question.options) == 1
        assert len(question.options) >= 3
        assert all(option.feedback and option.text for option in question.options)
        wrong = [option for option in question.options if not option.correct]
        # a wrong answer's feedback points to the notebook that teaches the idea
        assert all(
            f"notebook {question.notebook}" in option.feedback
            or "notebooks" in option.feedback
            or "Notebook" in option.feedback
            for option in wrong
        ), question.prompt


def test_the_quiz_covers_the_week() -> None:
    assert {question.notebook for question in WEEK_QUIZ} >= {"01", "02", "04", "05", "06", "07", "08"}


def test_feedback_says_right_or_wrong() -> None:
    question = WEEK_QUIZ[0]
    right = next(i for i, option in enumerate(question.options) if option.correct)
    assert feedback(question, right).correct
    assert not feedback(question, (right + 1) % len(question.options)).correct


def test_score_counts_right_answers_and_skips() -> None:
    right = [next(i for i, o in enumerate(q.options) if o.correct) for q in WEEK_QUIZ]
    assert score(right) == len(WEEK_QUIZ)
    wrong_first = [(right[0] + 1) % len(WEEK_QUIZ[0].options), *right[1:]]
    assert score(wrong_first) == len(WEEK_QUIZ) - 1
    assert score([None] * len(WEEK_QUIZ)) == 0


def test_bad_input_names_the_argument() -> None:
    with pytest.raises(CourseInputError, match=r"choice must be .* got 7\. Options are numbered 0 to 2"):
        feedback(WEEK_QUIZ[0], 7)
    with pytest.raises(CourseInputError, match=r"choices must be one entry per question"):
        score([0])
    with pytest.raises(CourseInputError, match=r"options must be exactly one correct option"):
        Question("?", (Option("a", "x"), Option("b", "y")), notebook="01")
