"""``python -m course_lib.generate``: continue a prompt with a saved decoder-only model (a GPT).

Example::

    python -m course_lib.generate --checkpoint data/checkpoints/char_gpt_python_docs \\
        --prompt "The for statement" --max-new-tokens 200 --strategy sample --temperature 0.8 --seed 0

Only the continuation is printed (not the prompt). Bad input (a missing or damaged checkpoint, prompt
characters the model has never seen, impossible sampling settings) prints one line starting with
``error:`` to stderr and exits with status 2; every option is checked before the checkpoint is loaded.
Limits keep a run to seconds or minutes: at most ``MAX_BEAMS`` beams and ``MAX_NEW_TOKENS`` new tokens,
a note when beams x new tokens exceeds that, and a temperature of 0 (greedy) or at least
``MIN_TEMPERATURE`` (far smaller values overflow the logits to infinity).
"""

from __future__ import annotations

import argparse
import sys

import torch

from course_lib.checkpoints import load_checkpoint
from course_lib.cli import run_command, set_threads
from course_lib.decoding import MIN_TEMPERATURE, beam_search, check_sampling_options, generate
from course_lib.models import is_encoder_decoder
from course_lib.validation import MAX_SEED, check_int, check_seed, fail

STRATEGIES = ("greedy", "sample", "beam")
SAMPLING_OPTIONS = ("temperature", "top_k", "top_p", "seed")  # used only by --strategy sample
DEFAULT_TEMPERATURE = 1.0
DEFAULT_BEAMS = 4
MAX_BEAMS = 64
MAX_NEW_TOKENS = 20_000  # also the beams x new tokens above which a note says the run may take minutes
# Below this, sampling is greedy in all but name; far smaller values (1e-45) overflow logits / T to infinity.


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m course_lib.generate`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.generate",
        description="Continue a prompt with a decoder-only model saved by `python -m course_lib.train` or "
        "`make checkpoints`, and print the continuation.",
    )
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="checkpoint directory (holds model.safetensors and checkpoint.json)",
    )
    parser.add_argument(
        "--prompt",
        required=True,
        help="text to continue; a character-level model knows only the characters of its training text",
    )
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=200,
        help="how many tokens to add, at most "
        f"{MAX_NEW_TOKENS:,} (one token = one character for char-level models; default: 200)",
    )
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="sample",
        help="greedy: always the most likely token; sample: draw from the (filtered) distribution; "
        "beam: keep the --beams most likely continuations (default: sample)",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="sample only: divide the logits by T before softmax; < 1 is safer, > 1 more surprising, "
        f"0 means greedy, otherwise at least {MIN_TEMPERATURE} (default: 1.0)",
    )
    parser.add_argument(
        "--top-k",
        type=int,
        default=None,
        help="sample only: keep only the K most likely tokens (default: keep all)",
    )
    parser.add_argument(
        "--top-p",
        type=float,
        default=None,
        help="sample only: keep the smallest set of tokens whose probabilities add up to P, "
        "0 < P <= 1 (nucleus sampling; default: keep all)",
    )
    parser.add_argument(
        "--beams",
        type=int,
        default=None,
        help=f"beam only: number of beams kept per step, 1 to {MAX_BEAMS} (default: {DEFAULT_BEAMS})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help=f"sample only: random seed, 0 to {MAX_SEED}; the same seed gives the same text "
        "(default: a new one each run)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch (default: torch's choice, at most the number of CPU cores)",
    )
    return parser


def check_options(args: argparse.Namespace) -> None:
    """Fail early, naming the command-line option, before the checkpoint is loaded."""
    check_int("--max-new-tokens", args.max_new_tokens, minimum=0, maximum=MAX_NEW_TOKENS, fix="Use e.g. 200.")
    for option in ("temperature", "top_k", "top_p"):  # the library's own checks, named as typed
        if getattr(args, option) is not None:
            check_sampling_options(
                **{option: getattr(args, option)}, argument="--" + option.replace("_", "-")
            )
    if args.beams is not None:
        check_int(
            "--beams", args.beams, minimum=1, maximum=MAX_BEAMS, fix="Use e.g. 4 (1 is the same as greedy)."
        )
    if args.seed is not None:
        check_seed("--seed", args.seed)
    if not args.prompt:
        fail(
            "--prompt",
            "at least one character",
            "an empty string",
            'Give some text to continue, e.g. --prompt "The ".',
        )
    check_options_fit_strategy(args)


def beam_count(args: argparse.Namespace) -> int:
    """How many beams ``--strategy beam`` keeps: ``--beams`` or the default."""
    return DEFAULT_BEAMS if args.beams is None else args.beams


def warn_if_long(args: argparse.Namespace) -> None:
    """A note on stderr when beam search will take more than ``MAX_NEW_TOKENS`` token steps (minutes)."""
    if args.strategy != "beam":
        return
    beams = beam_count(args)
    steps = args.max_new_tokens * beams
    if steps > MAX_NEW_TOKENS:
        print(
            f"note: {args.max_new_tokens:,} new tokens x {beams} beams = {steps:,} token steps; this may "
            "take minutes (Ctrl-C stops it). Fewer --beams or --max-new-tokens is faster.",
            file=sys.stderr,
        )


def check_options_fit_strategy(args: argparse.Namespace) -> None:
    """An option the chosen strategy would ignore is an error, so nobody wonders why it changed nothing."""
    if args.strategy != "sample":
        for name in SAMPLING_OPTIONS:
            if getattr(args, name) is not None:
                option = "--" + name.replace("_", "-")
                fail(
                    option,
                    "used with --strategy sample",
                    f"--strategy {args.strategy}",
                    f"Add --strategy sample (the default) to sample, or drop {option}.",
                )
    if args.strategy != "beam" and args.beams is not None:
        fail(
            "--beams",
            "used with --strategy beam",
            f"--strategy {args.strategy}",
            "Add --strategy beam to run beam search, or drop --beams.",
        )


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    """Prompt -> token ids; characters a character-level model never saw fail with a message naming them."""
    known = getattr(tokenizer, "stoi", None)  # CharTokenizer: its vocabulary
    if known is not None:
        unknown = sorted(set(prompt) - known.keys())
        if unknown:
            fail(
                "--prompt",
                "made of characters the model knows",
                f"unknown character(s) {', '.join(map(repr, unknown))}",
                f"Remove or replace them: this character-level model knows only the {len(known)} characters "
                "of the text it was trained on.",
            )
    return tokenizer.encode(prompt)


def continue_prompt(args: argparse.Namespace) -> str:
    """Load the checkpoint, continue the prompt, return the continuation text."""
    check_options(args)
    set_threads(args.threads)
    warn_if_long(args)
    checkpoint = load_checkpoint(args.checkpoint)
    model, tokenizer = checkpoint.model, checkpoint.tokenizer
    if is_encoder_decoder(model):
        fail(
            "--checkpoint",
            "a decoder-only (GPT) model",
            type(model).__name__,
            "This command continues prompts; encoder-decoder models need a source (see generate_seq2seq).",
        )
    prompt_ids = encode_prompt(tokenizer, args.prompt)
    idx = torch.tensor([prompt_ids], dtype=torch.long)  # (1, T)
    if args.strategy == "beam":
        sequence = beam_search(
            model, idx, args.max_new_tokens, num_beams=beam_count(args)
        ).sequence  # (1, T + n)
    else:
        temperature = DEFAULT_TEMPERATURE if args.temperature is None else args.temperature
        sequence = generate(
            model,
            idx,
            args.max_new_tokens,
            strategy=args.strategy,
            temperature=temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            seed=args.seed,
        )  # (1, T + n)
    return tokenizer.decode(sequence[0, len(prompt_ids) :].tolist())


def run_cli(args: argparse.Namespace) -> int:
    """Print the continuation the command line asks for; returns the exit status."""
    print(continue_prompt(args))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit status (2 with a one-line message for bad input)."""
    return run_command(run_cli, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
