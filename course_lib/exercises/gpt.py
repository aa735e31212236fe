"""Notebook 04's exercises: (input, target) windows for next-token training, and a sampling loop."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from course_lib.checkpoints import load_checkpoint
from course_lib.data import DATA_DIR
from course_lib.decoding import generate
from course_lib.exercises.feedback import ExerciseFeedback, not_attempted
from course_lib.validation import CourseInputError

PairsFn = Callable[[torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]
SampleFn = Callable[[nn.Module, torch.Tensor, int, torch.Generator], torch.Tensor]

# ---------------------------------------------------------------- exercise 1: (input, target) windows

# Distinct ids, so every wrong window is told apart from the right one; (N, block_size) pairs.
_PAIR_CASES = ((torch.arange(20, 32), 4), (torch.arange(50, 57), 3))

NOT_SHIFTED = (
    "Your targets equal your inputs: the model would learn to copy the token it already sees. The target "
    "at each position is the NEXT token: targets = ids[start + 1 : start + 1 + block_size]."
)
WRONG_WAY = (
    "Your targets are shifted the wrong way: each target is the token BEFORE its input. Inputs are "
    "ids[start : start + block_size], targets the same window one to the right, "
    "ids[start + 1 : start + 1 + block_size]."
)
LAST_START_MISSING = (
    "You left out the last window. A window starting at s needs ids up to s + block_size (its last "
    "target), so the starts are range(len(ids) - block_size): the last one is len(ids) - block_size - 1."
)
ONE_TOO_MANY = (
    "Your last window runs past the end of ids: its targets would need one token more than there is. "
    "The starts are range(len(ids) - block_size)."
)


def _right_pairs(ids: torch.Tensor, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    starts = range(len(ids) - block_size)
    inputs = torch.stack([ids[s : s + block_size] for s in starts])  # (M, T)
    targets = torch.stack([ids[s + 1 : s + 1 + block_size] for s in starts])  # (M, T)
    return inputs, targets


def _pairs_shape_problem(got: tuple[torch.Tensor, torch.Tensor], ids: torch.Tensor, block_size: int) -> str:
    """What is wrong with the shapes of (inputs, targets), or "" when both are (M, block_size)."""
    rows = len(ids) - block_size
    inputs, targets = got
    if inputs.shape != targets.shape:
        return (
            f"inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} must have the same shape: one "
            "target per input position."
        )
    if inputs.dim() != 2:
        return f"Return 2-D tensors (windows, block_size); yours have shape {tuple(inputs.shape)}."
    if inputs.size(1) != block_size:
        return (
            f"Your windows are {inputs.size(1)} tokens long, not block_size = {block_size}: slice "
            "ids[start : start + block_size] for the inputs (the targets are as long, one token later)."
        )
    if inputs.size(0) == rows - 1:
        return LAST_START_MISSING
    if inputs.size(0) != rows:
        return (
            f"For {len(ids)} ids and block_size {block_size} there are {rows} windows (one per start in "
            f"range(len(ids) - block_size)); you returned {inputs.size(0)}."
        )
    return ""


def check_training_pairs(student: PairsFn) -> None:
    """Check ``student(ids (N,), block_size) -> (inputs (M, T), targets (M, T))`` with M = N - block_size.

    Raises ExerciseFeedback naming the mistake: targets not shifted, shifted the wrong way, windows of the
    wrong length, the last start left out, a window past the end, or a wrong return type.
    """
    ids, block_size = _PAIR_CASES[0]
    try:
        attempted = not not_attempted(student, ids.clone(), block_size)
    except (RuntimeError, IndexError):  # attempted, but failing: the loop below says why
        attempted = True
    if not attempted:
        print("Not attempted yet: replace the `...` with your code, then run this cell again.")
        return
    for ids, block_size in _PAIR_CASES:
        try:
            got = student(ids.clone(), block_size)
        except (RuntimeError, IndexError) as error:
            raise ExerciseFeedback(f"{ONE_TOO_MANY} (Your function failed with: {error})") from None
        if not (isinstance(got, tuple) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got)):
            raise ExerciseFeedback("Return a pair of tensors: (inputs, targets).")
        problem = _pairs_shape_problem(got, ids, block_size)
        if problem:
            raise ExerciseFeedback(problem)
        inputs, targets = got
        want_inputs, want_targets = _right_pairs(ids, block_size)
        if torch.equal(inputs, want_inputs) and torch.equal(targets, want_targets):
            continue
        if torch.equal(inputs, targets):
            raise ExerciseFeedback(NOT_SHIFTED)
        if torch.equal(inputs, want_targets) and torch.equal(targets, want_inputs):
            raise ExerciseFeedback(WRONG_WAY)
        if torch.equal(inputs[:, :-1], targets[:, 1:]):  # each target is the token before its input
            raise ExerciseFeedback(WRONG_WAY)
        raise ExerciseFeedback(
            f"For ids {ids.tolist()} and block_size {block_size} the first window should be inputs "
            f"{want_inputs[0].tolist()}, targets {want_targets[0].tolist()}; yours is {inputs[0].tolist()}, "
            f"{targets[0].tolist()}. Windows go in order of their start, 0, 1, 2, ..."
        )
    print(
        "Correct! Every start gives block_size (input, next token) pairs: the targets are the inputs shifted."
    )


# ---------------------------------------------------------------- exercise 2: the sampling loop

_SEED, _NEW_TOKENS = 7, 8
_PROMPTS = (  # two rows of 60 characters: 8 new tokens run past the model's 64-character context
    "The for statement is used to iterate over the elements of a ",
    "Return a new sorted list from the items in iterable. Keyword",
)

NO_CROP = (
    "The model refused your sequence once it grew past its context (block_size = {block_size}). Feed it "
    "only the last block_size tokens: idx[:, -model.config.block_size:]."
)
CROPPED_FRONT = (
    "You cropped the wrong end: idx[:, :block_size] keeps the first tokens, so once the sequence is longer "
    "than block_size the model stops seeing what it just wrote. Keep the last ones: idx[:, -block_size:]."
)
FIRST_POSITION = (
    "You took the logits of the first position (logits[:, 0, :]): they predict the second token of the "
    "window. The next token comes from the last position: logits[:, -1, :]."
)
SOFTMAX_AXIS = (
    "Your softmax runs over the batch (dim=0): each row's probabilities over the vocabulary must sum to 1, "
    "so use softmax(dim=-1) on the (B, V) logits."
)
GREEDY = (
    "You took the most likely token (argmax): that is greedy decoding, not sampling. Draw from the "
    "probabilities: torch.multinomial(probs, num_samples=1, generator=generator)."
)
FROM_LOGITS = (
    "torch.multinomial failed: {error}. Did you sample from the logits? Turn them into probabilities with "
    "softmax(dim=-1) first."
)
NO_GENERATOR = (
    "Your tokens differ from the expected draws. Pass the generator to torch.multinomial "
    "(generator=generator) so the draws are repeatable, and sample from softmax(logits[:, -1, :], dim=-1)."
)


def _variant(
    model: nn.Module,
    idx: torch.Tensor,
    generator: torch.Generator,
    *,
    crop_front: bool = False,
    position: int = -1,
    softmax_dim: int = -1,
    greedy: bool = False,
) -> torch.Tensor:
    """The sampling loop with one of the usual mistakes switched on (none: the right answer)."""
    block_size = model.config.block_size
    for _ in range(_NEW_TOKENS):
        context = idx[:, :block_size] if crop_front else idx[:, -block_size:]
        logits = model(context).logits[:, position, :]  # (B, V)
        probs = logits.softmax(dim=softmax_dim)
        if greedy:
            next_id = probs.argmax(dim=-1, keepdim=True)  # (B, 1)
        else:
            next_id = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
        idx = torch.cat([idx, next_id], dim=1)
    return idx


def _sampling_mistakes(model: nn.Module, idx: torch.Tensor) -> dict[str, torch.Tensor]:
    """Feedback -> the tokens that mistake produces from ``idx`` with the check's seed."""
    options = {
        CROPPED_FRONT: {"crop_front": True},
        FIRST_POSITION: {"position": 0},
        SOFTMAX_AXIS: {"softmax_dim": 0},
        GREEDY: {"greedy": True},
    }
    return {
        feedback: _variant(model, idx, torch.Generator().manual_seed(_SEED), **switches)
        for feedback, switches in options.items()
    }


def _prompt_ids(tokenizer: object) -> torch.Tensor:
    return torch.tensor([tokenizer.encode(prompt) for prompt in _PROMPTS])  # (2, 60)


def check_sampling_loop(student: SampleFn) -> None:
    """Check ``student(model, idx (B, T), max_new_tokens, generator) -> (B, T + max_new_tokens)``.

    Runs the shipped character GPT on two 60-character prompts for 8 tokens (past its 64-token context)
    and compares with ``course_lib.decoding.generate(strategy="sample", use_cache=False)`` with the same
    seed. Raises ExerciseFeedback naming the mistake: no crop to block_size, the wrong end cropped,
    the first position's logits, softmax over the batch, argmax instead of sampling, sampling from the
    logits, only the new tokens returned.
    """
    checkpoint = load_checkpoint(DATA_DIR / "checkpoints" / "char_gpt_python_docs")
    model, idx = checkpoint.model, _prompt_ids(checkpoint.tokenizer)
    block_size = model.config.block_size

    def run() -> object:
        with torch.no_grad():
            return student(model, idx.clone(), _NEW_TOKENS, torch.Generator().manual_seed(_SEED))

    try:
        result = run()
    except CourseInputError:
        raise ExerciseFeedback(NO_CROP.format(block_size=block_size)) from None
    except RuntimeError as error:
        raise ExerciseFeedback(FROM_LOGITS.format(error=str(error).splitlines()[0])) from None
    if result is None or result is Ellipsis:
        print("Not attempted yet: replace the `...` with your code, then run this cell again.")
        return
    want = generate(model, idx, _NEW_TOKENS, strategy="sample", seed=_SEED, use_cache=False)
    if not isinstance(result, torch.Tensor):
        raise ExerciseFeedback(
            f"Return the token ids as a torch.Tensor; you returned {type(result).__name__}."
        )
    if result.shape == (idx.size(0), _NEW_TOKENS):
        raise ExerciseFeedback(
            "You returned only the new tokens: return the whole sequence, prompt included, (B, T + n)."
        )
    if result.shape != want.shape:
        raise ExerciseFeedback(
            f"Return the prompt followed by the new tokens, shape (B, T + n) = {tuple(want.shape)}; yours "
            f"is {tuple(result.shape)}. Append one token per step: torch.cat([idx, next_id], dim=1)."
        )
    if torch.equal(result, want):
        print(
            "Correct! Crop, last position, softmax, draw, append: the same tokens as course_lib's generate."
        )
        return
    with torch.no_grad():
        for feedback, wrong in _sampling_mistakes(model, idx).items():
            if torch.equal(result, wrong):
                raise ExerciseFeedback(feedback)
    raise ExerciseFeedback(NO_GENERATOR)
