"""SelfAssessmentQuiz: choosing an option shows its feedback and updates the score; order is shuffled."""

from __future__ import annotations

import time

import pytest

from course_lib.quiz import WEEK_QUIZ
from course_lib.validation import CourseInputError
from course_lib.widgets.quiz import SelfAssessmentQuiz, display_order


def right_choice(index: int) -> int:
    return next(i for i, option in enumerate(WEEK_QUIZ[index].options) if option.correct)


def test_choosing_shows_feedback_and_score() -> None:
    quiz = SelfAssessmentQuiz()
    assert "0 of 9 right (0 answered)" in quiz.score.value.replace(str(len(WEEK_QUIZ)), "9")
    start = time.perf_counter()
    quiz.buttons[0].value = right_choice(0)
    elapsed_ms = (time.perf_counter() - start) * 1e3
    assert "Yes." in quiz.feedback[0].value and quiz.correct == 1
    wrong = (right_choice(1) + 1) % len(WEEK_QUIZ[1].options)
    quiz.buttons[1].value = wrong
    assert "Not this one." in quiz.feedback[1].value
    assert WEEK_QUIZ[1].options[wrong].feedback.split(":")[0] in quiz.feedback[1].value
    assert f"1 of {len(WEEK_QUIZ)} right (2 answered)" in quiz.score.value
    assert elapsed_ms < 100


def test_the_right_option_is_not_always_shown_first() -> None:
    firsts = {display_order(i, len(q.options))[0] for i, q in enumerate(WEEK_QUIZ)}
    assert len(firsts) > 1 and sorted(display_order(0, 3)) == [0, 1, 2]
    quiz = SelfAssessmentQuiz()
    assert [value for _, value in quiz.buttons[0].options] == display_order(0, len(WEEK_QUIZ[0].options))


def test_static_html_lists_every_question_and_is_escaped() -> None:
    page = SelfAssessmentQuiz().static_html()
    assert page.count("<li><b>") == len(WEEK_QUIZ)
    assert "sqrt(d_k)" in page


def test_an_empty_quiz_is_refused() -> None:
    with pytest.raises(CourseInputError, match="questions must be at least one Question"):
        SelfAssessmentQuiz(())
