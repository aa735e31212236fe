"""Notebook 05's self-checks accept right answers and name each usual mistake."""

from __future__ import annotations

import pytest
import torch

from course_lib.exercises import ExerciseFeedback
from course_lib.exercises.seq2seq import check_decoder_only_row, check_teacher_forcing

# ---------------------------------------------------------------- teacher forcing


def right_pair(target, bos, eos):
    return [bos, *target], [*target, eos]


TEACHER_FORCING_MISTAKES = {
    "both_bos": (lambda t, bos, eos: ([bos, *t], [bos, *t]), "same row"),
    "both_eos": (lambda t, bos, eos: ([*t, eos], [*t, eos]), r"same row \(both target \+ EOS\)"),
    "swapped": (lambda t, bos, eos: ([*t, eos], [bos, *t]), "swapped"),
    "no_bos": (lambda t, bos, eos: (list(t), [*t, eos]), "tgt_in has no BOS"),
    "eos_in_input": (lambda t, bos, eos: ([bos, *t, eos], [*t, eos]), "tgt_in ends with EOS"),
    "no_eos": (lambda t, bos, eos: ([bos, *t], list(t)), "tgt_out has no EOS"),
    "bos_in_output": (lambda t, bos, eos: ([bos, *t], [bos, *t, eos]), "tgt_out starts with BOS"),
    "unrelated": (lambda t, bos, eos: ([bos], [eos]), "Not yet"),
}


def test_teacher_forcing_accepts_lists_and_tensors(capsys):
    check_teacher_forcing(right_pair)
    check_teacher_forcing(lambda t, bos, eos: tuple(torch.tensor(row) for row in right_pair(t, bos, eos)))
    assert capsys.readouterr().out.count("Correct!") == 2


@pytest.mark.parametrize("name", TEACHER_FORCING_MISTAKES)
def test_teacher_forcing_names_the_mistake(name):
    student, feedback = TEACHER_FORCING_MISTAKES[name]
    with pytest.raises(ExerciseFeedback, match=feedback):
        check_teacher_forcing(student)


def test_teacher_forcing_not_attempted_and_wrong_types(capsys):
    def placeholder(target, bos, eos): ...  # your code here

    check_teacher_forcing(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out
    with pytest.raises(ExerciseFeedback, match="Return two lists of ids"):
        check_teacher_forcing(lambda t, bos, eos: [bos, *t])
    with pytest.raises(ExerciseFeedback, match="tgt_in must be a list of token ids"):
        check_teacher_forcing(lambda t, bos, eos: ("ab", [eos]))


# ---------------------------------------------------------------- the decoder-only row

IGN = -100


def right_row(source, target, *, bos_id, sep_id, eos_id):
    sequence = [bos_id, *source, sep_id, *target, eos_id]
    return sequence[:-1], [IGN] * (len(source) + 1) + [*target, eos_id]


def loss_on_source(source, target, *, bos_id, sep_id, eos_id):
    sequence = [bos_id, *source, sep_id, *target, eos_id]
    return sequence[:-1], sequence[1:]


def not_shifted(source, target, *, bos_id, sep_id, eos_id):
    sequence = [bos_id, *source, sep_id, *target, eos_id]
    return sequence[:-1], [IGN] * (len(source) + 2) + list(target)


def sep_counted(source, target, *, bos_id, sep_id, eos_id):
    sequence = [bos_id, *source, sep_id, *target, eos_id]
    return sequence[:-1], [IGN] * len(source) + [sep_id, *target, eos_id]


def first_target_masked(source, target, *, bos_id, sep_id, eos_id):
    sequence = [bos_id, *source, sep_id, *target, eos_id]
    return sequence[:-1], [IGN] * (len(source) + 2) + [*target[1:], eos_id]


def eos_in_inputs(source, target, *, bos_id, sep_id, eos_id):
    sequence = [bos_id, *source, sep_id, *target, eos_id]
    return sequence, [IGN] * (len(source) + 1) + [*target, eos_id, IGN]


ROW_MISTAKES = {
    loss_on_source: "The loss covers the source too",
    not_shifted: "labels are not shifted",
    sep_counted: "predicts SEP counts in the loss",
    first_target_masked: "One position too many is masked",
    eos_in_inputs: "inputs still end with EOS",
}


def test_decoder_only_row_accepts_the_right_answer(capsys):
    check_decoder_only_row(right_row)
    assert "Correct!" in capsys.readouterr().out


@pytest.mark.parametrize("student", ROW_MISTAKES, ids=[f.__name__ for f in ROW_MISTAKES])
def test_decoder_only_row_names_the_mistake(student):
    with pytest.raises(ExerciseFeedback, match=ROW_MISTAKES[student]):
        check_decoder_only_row(student)


def test_decoder_only_row_not_attempted_and_unknown_mistake(capsys):
    def placeholder(source, target, *, bos_id, sep_id, eos_id): ...  # your code here

    check_decoder_only_row(placeholder)
    assert "Not attempted yet" in capsys.readouterr().out
    with pytest.raises(ExerciseFeedback, match="Not yet"):
        check_decoder_only_row(lambda s, t, **ids: ([1, 2], [3, 4]))
    with pytest.raises(ExerciseFeedback, match="labels must be one row of ids"):
        check_decoder_only_row(lambda s, t, **ids: ([1], torch.zeros(2, 2, dtype=torch.long)))
