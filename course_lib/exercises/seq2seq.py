"""Notebook 05's exercises: the encoder-decoder's teacher-forcing pair, and the decoder-only training row.

Both checks use the "dates" task's vocabulary and one example, "3/4/2021" -> "2021-04-03", and compare the
student's token ids with ``course_lib.tasks``' framing, then with each usual mistake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from course_lib.exercises.feedback import ExerciseFeedback, not_attempted
from course_lib.tasks import IGNORE_INDEX, Seq2SeqVocab

TeacherForcingFn = Callable[[list[int], int, int], tuple[Sequence[int], Sequence[int]]]
DecoderOnlyRowFn = Callable[..., tuple[Sequence[int], Sequence[int]]]

_VOCAB = Seq2SeqVocab.for_task("dates")
_SOURCE, _TARGET = "3/4/2021", "2021-04-03"
BOS, EOS, SEP, IGN = _VOCAB.bos_id, _VOCAB.eos_id, _VOCAB.sep_id, IGNORE_INDEX


def _as_ids(name: str, value: object) -> list[int]:
    """A list or 1-D tensor of ints -> list of ints, or feedback on what was returned instead."""
    if isinstance(value, torch.Tensor):
        if value.dim() != 1:
            raise ExerciseFeedback(
                f"{name} must be one row of ids (1-D); yours has shape {tuple(value.shape)}."
            )
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not all(isinstance(i, int) for i in value):
        raise ExerciseFeedback(f"{name} must be a list of token ids (ints); you returned {value!r}.")
    return list(value)


def _as_pair(result: object, names: tuple[str, str]) -> tuple[list[int], list[int]]:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ExerciseFeedback(f"Return two lists of ids, ({names[0]}, {names[1]}); you returned {result!r}.")
    return _as_ids(names[0], result[0]), _as_ids(names[1], result[1])


def _match(got: tuple[list[int], list[int]], want: tuple[list[int], list[int]], mistakes: dict) -> None:
    """Print success, or raise the feedback of the mistake ``got`` equals (a generic hint otherwise)."""
    if got == want:
        return
    for feedback, wrong in mistakes.items():
        if got == wrong:
            raise ExerciseFeedback(feedback)
    raise ExerciseFeedback(
        f"Not yet. For {_SOURCE!r} -> {_TARGET!r} the right answer is two rows of {len(want[0])} ids; you "
        f"returned {got[0]} and {got[1]}. Write both rows out by hand for a 2-token target first."
    )


# ---------------------------------------------------------------- exercise 1: teacher forcing


def check_teacher_forcing(student: TeacherForcingFn) -> None:
    """Check ``student(target_ids, bos_id, eos_id) -> (tgt_in, tgt_out)``: BOS + target, target + EOS.

    Raises ExerciseFeedback naming the mistake: no shift (input and output equal), the two swapped, BOS
    missing, EOS fed to the decoder, EOS missing from the output, BOS among the predictions.
    """
    target = _VOCAB.encode(_TARGET)
    if not_attempted(student, list(target), BOS, EOS):
        print("Not attempted yet: replace the `...` with your code, then run this cell again.")
        return
    got = _as_pair(student(list(target), BOS, EOS), ("tgt_in", "tgt_out"))
    mistakes = {
        "tgt_in and tgt_out are the same row: the decoder would learn to copy the token it reads. Shift by "
        "one: it reads BOS + target and predicts target + EOS.": ([BOS, *target], [BOS, *target]),
        "tgt_in and tgt_out are the same row (both target + EOS): the decoder would copy what it reads. It "
        "reads BOS + target and predicts target + EOS.": ([*target, EOS], [*target, EOS]),
        "tgt_in and tgt_out are swapped: the decoder reads BOS + target and must predict target + EOS.": (
            [*target, EOS],
            [BOS, *target],
        ),
        "tgt_in has no BOS: with nothing to read at the first step, the decoder cannot be asked for the "
        "first target token. Start tgt_in with bos_id.": (list(target), [*target, EOS]),
        "tgt_in ends with EOS: the decoder never reads EOS (generation stops there), and the rows must "
        "have the same length. tgt_in = BOS + target.": ([BOS, *target, EOS], [*target, EOS]),
        "tgt_out has no EOS: the model never learns to stop, so at generation time it writes on past the "
        "date. tgt_out = target + EOS.": ([BOS, *target], list(target)),
        "tgt_out starts with BOS: BOS is given, never predicted. tgt_out = target + EOS.": (
            [BOS, *target],
            [BOS, *target, EOS],
        ),
    }
    _match(got, ([BOS, *target], [*target, EOS]), mistakes)
    print("Correct! The decoder reads BOS + target and predicts target + EOS, one position later.")


# ---------------------------------------------------------------- exercise 2: the decoder-only row


def check_decoder_only_row(student: DecoderOnlyRowFn) -> None:
    """Check ``student(source_ids, target_ids, *, bos_id, sep_id, eos_id) -> (inputs, labels)``.

    inputs = (BOS source SEP target EOS)[:-1]; labels = the next token where it belongs to target + EOS,
    -100 elsewhere. Raises ExerciseFeedback naming the mistake: loss on the source (and SEP) too, labels
    not shifted, the SEP prediction counted, the first target token masked, EOS kept in the inputs.
    """
    source, target = _VOCAB.encode(_SOURCE), _VOCAB.encode(_TARGET)
    ids = dict(bos_id=BOS, sep_id=SEP, eos_id=EOS)
    if not_attempted(lambda: student(list(source), list(target), **ids)):
        print("Not attempted yet: replace the `...` with your code, then run this cell again.")
        return
    got = _as_pair(student(list(source), list(target), **ids), ("inputs", "labels"))
    sequence = [BOS, *source, SEP, *target, EOS]
    prefix = len(source) + 1  # positions reading BOS, source: they predict source and SEP
    want = (sequence[:-1], [IGN] * prefix + [*target, EOS])
    mistakes = {
        "The loss covers the source too: labels = sequence[1:] asks the model to predict the source, which "
        "it is given. Put -100 at every position that predicts a source token or SEP.": (
            sequence[:-1],
            sequence[1:],
        ),
        "Your labels are not shifted: position p must be labelled with token p + 1 (what comes next), not "
        "with the token it reads. The first label that counts sits at the SEP position.": (
            sequence[:-1],
            [IGN] * (prefix + 1) + list(target),
        ),
        "The position that predicts SEP counts in the loss: SEP is part of the prompt (the model is given "
        "it), so mask it with -100 like the source.": (
            sequence[:-1],
            [IGN] * (prefix - 1) + [SEP, *target, EOS],
        ),
        "One position too many is masked: the SEP position predicts the first target token, and that "
        "prediction must count.": (sequence[:-1], [IGN] * (prefix + 1) + [*target[1:], EOS]),
        "inputs still end with EOS: nothing comes after EOS to predict, so the inputs drop the last token "
        "(inputs = sequence[:-1]).": (sequence, [IGN] * prefix + [*target, EOS, IGN]),
    }
    _match(got, want, mistakes)
    print("Correct! One sequence, and the loss only where the model must produce the answer.")
