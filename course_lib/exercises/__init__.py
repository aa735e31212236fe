"""Self-checks for the notebooks' exercises, one module per notebook.

A check runs the student's function on cases chosen to catch the usual mistakes and answers with
specific feedback: ``ExerciseFeedback`` (an AssertionError) says what is wrong and how to fix it; an
exercise not attempted yet (the body is still ``...``) only prints a reminder, so "Run All" still works.
"""

from course_lib.exercises.feedback import ExerciseFeedback, not_attempted

__all__ = ["ExerciseFeedback", "not_attempted"]
