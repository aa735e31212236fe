"""Notebook 03's exercises: the pre-LN decoder block with cross-attention, and the three mask patterns."""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_lib.blocks import DecoderBlock
from course_lib.configs import EncoderDecoderConfig
from course_lib.exercises.feedback import ExerciseFeedback, not_attempted

BlockFn = Callable[[torch.Tensor, torch.Tensor, DecoderBlock], torch.Tensor]
MasksFn = Callable[[int, int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]

_BATCH, _TARGET, _SOURCE, _WIDTH = 2, 4, 6, 16  # S != T, so a swapped pair of lengths shows in the shapes
_PRE_LN_HINT = "Pre-LN: x = x + sublayer(norm(x)) for self-attention, cross-attention, then the MLP."


# ---------------------------------------------------------------- exercise 1: the block


def _test_block() -> tuple[torch.Tensor, torch.Tensor, DecoderBlock]:
    """x (B, T, C), memory (B, S, C) and a pre-LN block with cross-attention whose three LayerNorms differ
    (at initialisation they are all identical, which would hide a mixed-up norm)."""
    generator = torch.Generator().manual_seed(0)
    config = EncoderDecoderConfig(vocab_size=8, block_size=8, n_head=2, n_embd=_WIDTH)
    block = DecoderBlock(config, cross_attention=True).eval()
    with torch.no_grad():
        for parameter in block.parameters():
            parameter.copy_(0.5 * torch.randn(parameter.shape, generator=generator))
        for norm in (block.ln_attn, block.ln_cross, block.ln_mlp):
            norm.weight.add_(1.0)
    x = torch.randn(_BATCH, _TARGET, _WIDTH, generator=generator)
    memory = torch.randn(_BATCH, _SOURCE, _WIDTH, generator=generator)
    return x, memory, block


def _sublayers(block: DecoderBlock, memory: torch.Tensor) -> dict[str, tuple]:
    """name -> (norm, sub-layer as a function of the normalised stream) for the three sub-layers."""
    return {
        "self-attention": (block.ln_attn, block.attn),
        "cross-attention": (block.ln_cross, lambda h: block.cross_attn(h, context=memory)),
        "MLP": (block.ln_mlp, block.mlp),
    }


def _run(
    x: torch.Tensor,
    block: DecoderBlock,
    memory: torch.Tensor,
    *,
    order: tuple[str, ...] = ("self-attention", "cross-attention", "MLP"),
    post_ln: bool = False,
    no_residual: str | None = None,
    no_norm: str | None = None,
) -> torch.Tensor:
    """The block computed with one of the usual mistakes switched on (none: the right answer)."""
    parts = _sublayers(block, memory)
    for name in order:
        norm, sublayer = parts[name]
        if post_ln:
            x = norm(x + sublayer(x))
        elif name == no_residual:
            x = sublayer(norm(x))
        elif name == no_norm:
            x = x + sublayer(x)
        else:
            x = x + sublayer(norm(x))
    return x


def _block_mistakes(x: torch.Tensor, memory: torch.Tensor, block: DecoderBlock) -> dict[str, torch.Tensor]:
    """Feedback -> what the block computes with that mistake."""
    names = ("self-attention", "cross-attention", "MLP")
    mistakes = {
        "You normalised after the residual add: x = norm(x + sublayer(x)) is post-LN (the 2017 layout). "
        "Pre-LN normalises only the sub-layer's input: x = x + sublayer(norm(x)).": _run(
            x, block, memory, post_ln=True
        ),
        "You ran the MLP before the attention sub-layers: first self-attention, then cross-attention, "
        "then the MLP.": _run(x, block, memory, order=("MLP", "self-attention", "cross-attention")),
        "You ran cross-attention before self-attention: the target positions first talk to each other "
        "(self-attention), then read the source (cross-attention), then the MLP.": _run(
            x, block, memory, order=("cross-attention", "self-attention", "MLP")
        ),
    }
    for name in names:
        mistakes[
            f"The residual connection around the {name} is missing: add its output to x "
            f"(x = x + ...) instead of replacing x."
        ] = _run(x, block, memory, no_residual=name)
        mistakes[
            f"The {name} reads x without its LayerNorm: give it the normalised stream, "
            f"x = x + sublayer(norm(x))."
        ] = _run(x, block, memory, no_norm=name)
    mistakes[
        "You passed the memory through ln_cross too: only the decoder's stream is normalised before the "
        "cross-attention (the encoder's output already left its stack normalised): "
        "block.cross_attn(block.ln_cross(x), context=memory)."
    ] = _run(x, block, block.ln_cross(memory))
    return mistakes


def check_cross_attention_block(student: BlockFn) -> None:
    """Check ``student(x (B, T, C), memory (B, S, C), block) -> (B, T, C)`` against ``block(x, memory)``.

    ``block`` is a pre-LN ``DecoderBlock`` with cross-attention. Raises ExerciseFeedback naming the
    mistake: post-LN, a missing residual or LayerNorm (and where), the sub-layers in the wrong order,
    the memory normalised too, or the queries taken from the memory.
    """
    x, memory, block = _test_block()
    if not_attempted(student, x.clone(), memory.clone(), block):
        print("Not attempted yet: replace the `...` with your code, then run this cell again.")
        return
    with torch.no_grad():
        got = student(x.clone(), memory.clone(), block)
        want = block(x, memory)
        if not isinstance(got, torch.Tensor):
            raise ExerciseFeedback(f"Return the new x as a torch.Tensor; you returned {type(got).__name__}.")
        if got.shape == memory.shape:
            raise ExerciseFeedback(
                f"Your output has the memory's shape {tuple(memory.shape)}, not x's {tuple(x.shape)}: the "
                "queries came from the memory. In cross-attention the decoder asks (queries from x) and the "
                "encoder's memory answers (keys and values): block.cross_attn(block.ln_cross(x), "
                "context=memory)."
            )
        if got.shape != want.shape:
            raise ExerciseFeedback(f"Return x's shape {tuple(want.shape)}; yours is {tuple(got.shape)}.")
        if torch.allclose(got, want, atol=1e-5):
            print("Correct! Three residual sub-layers, each reading a normalised copy of the stream.")
            return
        for feedback, wrong in _block_mistakes(x, memory, block).items():
            if torch.allclose(got, wrong, atol=1e-5):
                raise ExerciseFeedback(feedback)
    raise ExerciseFeedback(f"Your output differs from block(x, memory). {_PRE_LN_HINT}")


# ---------------------------------------------------------------- exercise 2: the masks


def _as_masks(result: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The student's three masks, or feedback on what was returned instead."""
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        length = f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""
        raise ExerciseFeedback(
            "Return three masks: (encoder_mask, decoder_mask, cross_mask); you returned "
            f"{type(result).__name__}{length}."
        )
    for name, mask in zip(("encoder_mask", "decoder_mask", "cross_mask"), result, strict=True):
        if not isinstance(mask, torch.Tensor):
            raise ExerciseFeedback(f"{name} must be a torch.Tensor; it is a {type(mask).__name__}.")
        if mask.dtype != torch.bool:
            raise ExerciseFeedback(
                f"{name} has dtype {mask.dtype}: return boolean masks (True = may attend), e.g. "
                "torch.ones(n, m, dtype=torch.bool)."
            )
    return tuple(result)


def _encoder_feedback(mask: torch.Tensor, source: int) -> str | None:
    if mask.shape != (source, source):
        return (
            f"encoder_mask must be (S, S) = ({source}, {source}): source positions look at source "
            f"positions; yours is {tuple(mask.shape)}."
        )
    if torch.equal(mask, torch.ones(source, source, dtype=torch.bool).tril()):
        return "encoder_mask is causal: an encoder reads the whole input at once, so every entry is True."
    if not mask.all():
        return "encoder_mask hides some positions: an encoder's self-attention is all-visible (all True)."
    return None


def _decoder_feedback(mask: torch.Tensor, target: int) -> str | None:
    if mask.shape != (target, target):
        return (
            f"decoder_mask must be (T, T) = ({target}, {target}): target positions look at target "
            f"positions; yours is {tuple(mask.shape)}."
        )
    ones = torch.ones(target, target, dtype=torch.bool)
    wrong = {
        "decoder_mask is off by one: it hides the diagonal, but a position may see itself (and the "
        "first position would see nothing). Use tril() with the default diagonal=0.": ones.tril(-1),
        "decoder_mask is inverted: True must mean 'may attend' (as in scaled_dot_product_attention), so "
        "the past and the diagonal are True and the future False.": ones.triu(1),
        "decoder_mask is the upper triangle: each position would see the future, not the past. Use "
        "tril().": ones.triu(),
        "decoder_mask lets every position see every other: a decoder must be causal (lower triangle).": ones,
    }
    for feedback, mistake in wrong.items():
        if torch.equal(mask, mistake):
            return feedback
    if not torch.equal(mask, ones.tril()):
        return "decoder_mask is not the causal pattern: True on and below the diagonal, False above."
    return None


def _cross_feedback(mask: torch.Tensor, source: int, target: int) -> str | None:
    if mask.shape == (source, target):
        return (
            f"cross_mask is transposed: {tuple(mask.shape)} = (S, T). Rows are queries, which come from the "
            f"decoder (T_tgt = {target}), columns are keys from the encoder (T_src = {source}): (T, S)."
        )
    if mask.shape != (target, source):
        return f"cross_mask must be (T, S) = ({target}, {source}); yours is {tuple(mask.shape)}."
    if torch.equal(mask, torch.ones(target, source, dtype=torch.bool).tril()):
        return (
            "cross_mask is causal: the source is given in full before generation starts, so every target "
            "position may read every source position (all True)."
        )
    if not mask.all():
        return "cross_mask hides some source positions: every target position may read the whole source."
    return None


def check_mask_patterns(student: MasksFn) -> None:
    """Check ``student(source_length, target_length) -> (encoder (S, S), decoder (T, T), cross (T, S))``.

    Raises ExerciseFeedback naming the mistake: a causal or partial encoder mask; a decoder mask off by
    one, inverted, upper-triangular or not causal; a transposed or causal cross mask; wrong types.
    """
    source, target = 5, 4
    if not_attempted(student, source, target):
        print("Not attempted yet: replace the `...` with your code, then run this cell again.")
        return
    encoder, decoder, cross = _as_masks(student(source, target))
    for feedback in (
        _encoder_feedback(encoder, source),
        _decoder_feedback(decoder, target),
        _cross_feedback(cross, source, target),
    ):
        if feedback is not None:
            raise ExerciseFeedback(feedback)
    print("Correct! Encoder: all visible. Decoder: the past and itself. Cross: the whole source.")
