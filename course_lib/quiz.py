"""The week's self-assessment quiz (notebook 09): questions, options and feedback for every option.

Each wrong option's feedback names the misconception it stands for and the notebook that clears it up;
the right option's feedback says why it is right. ``feedback(question, choice)`` is what the quiz widget
shows; ``score(choices)`` counts right answers.

    from course_lib.quiz import WEEK_QUIZ, feedback
    feedback(WEEK_QUIZ[0], 1)   # -> Feedback(correct=..., text=...)
"""

from __future__ import annotations

from dataclasses import dataclass

from course_lib.validation import check_int, fail


@dataclass(frozen=True)
class Option:
    """One answer to a question and what the student is told after choosing it."""

    text: str
    feedback: str
    correct: bool = False


@dataclass(frozen=True)
class Question:
    """A multiple-choice question with exactly one right option."""

    prompt: str
    options: tuple[Option, ...]
    notebook: str  # where the idea is taught, e.g. "01"

    def __post_init__(self) -> None:
        if sum(option.correct for option in self.options) != 1:
            fail("options", "exactly one correct option", self.prompt, "Mark one Option correct=True.")


@dataclass(frozen=True)
class Feedback:
    """What the quiz says about one choice."""

    correct: bool
    text: str


WEEK_QUIZ: tuple[Question, ...] = (
    Question(
        "Why does a GPT's attention use a causal mask during training?",
        (
            Option(
                "So every position predicts its next token from earlier tokens only, as it will when "
                "generating, while all positions train in one pass.",
                "Right: the mask makes training match generation, and one pass trains T predictions.",
                correct=True,
            ),
            Option(
                "To halve the cost of attention.",
                "Not quite: the masked scores are still computed, then set to -inf. The mask is about "
                "what each position may see (notebook 01).",
            ),
            Option(
                "To ignore padding tokens.",
                "That is a padding mask, a different thing. The causal mask hides the future (notebook 01).",
            ),
        ),
        notebook="01",
    ),
    Question(
        "What happens to self-attention without any positional encoding?",
        (
            Option(
                "Shuffling the input tokens shuffles the outputs the same way: order is invisible.",
                "Right: attention is permutation-equivariant; positions are what tell 'dog bites man' "
                "from 'man bites dog' (notebook 02).",
                correct=True,
            ),
            Option(
                "It cannot be trained at all.",
                "It trains, but it cannot learn anything that depends on order, such as reversing a "
                "string (notebook 02 measures this).",
            ),
            Option(
                "It becomes causal.",
                "Causality comes from the mask, not from positions (notebooks 01 and 02).",
            ),
        ),
        notebook="02",
    ),
    Question(
        "Why are attention scores divided by sqrt(d_k) before the softmax?",
        (
            Option(
                "A dot product of d_k random unit-variance terms has variance d_k; dividing keeps the "
                "scores near unit variance so the softmax does not saturate.",
                "Right: without it, large heads give near one-hot weights and tiny gradients (notebook 01).",
                correct=True,
            ),
            Option(
                "To make the weights sum to 1.",
                "The softmax already does that; the scaling controls how peaked it is (notebook 01).",
            ),
            Option(
                "To save memory.",
                "Scaling changes no sizes; it changes the spread of the scores (notebook 01).",
            ),
        ),
        notebook="01",
    ),
    Question(
        "What does a KV cache store, and what does it save?",
        (
            Option(
                "Every layer's keys and values of the tokens so far, so each new token runs one position "
                "through the model instead of the whole sequence.",
                "Right: memory grows by a fixed number of bytes per token; work per token stops growing "
                "with length (notebook 04).",
                correct=True,
            ),
            Option(
                "The logits of earlier steps, so they need not be recomputed.",
                "Old logits are never needed again; the next token needs the past keys and values "
                "(notebook 04).",
            ),
            Option(
                "The queries of earlier tokens.",
                "Only the newest token's query is used at each step; the keys and values are what earlier "
                "tokens contribute (notebook 04).",
            ),
        ),
        notebook="04",
    ),
    Question(
        "How does an encoder-decoder model read its input while it writes the output?",
        (
            Option(
                "The encoder reads the whole input once in both directions; each decoder layer looks at "
                "it through cross-attention.",
                "Right (notebook 05): the input is encoded once, and every output token can consult "
                "all of it.",
                correct=True,
            ),
            Option(
                "The input and the output so far form one sequence under a causal mask.",
                "That is the decoder-only way (GPT): notebook 05 trains both and compares them.",
            ),
            Option(
                "The decoder re-encodes the input at every output token.",
                "The encoder runs once; only the decoder runs per token (notebook 05 counts the FLOPs).",
            ),
        ),
        notebook="05",
    ),
    Question(
        "What does top-p (nucleus) sampling with p = 0.9 keep?",
        (
            Option(
                "The smallest set of most likely tokens whose probabilities add up to at least 0.9.",
                "Right: the set is small when the model is sure and large when it is not (notebook 06).",
                correct=True,
            ),
            Option(
                "Every token whose probability is at least 0.9.",
                "That would usually keep nothing; a threshold relative to the top token is min-p "
                "(notebook 06).",
            ),
            Option(
                "The 90% most likely tokens of the vocabulary.",
                "That would keep almost everything; top-p adds probabilities, it does not count tokens "
                "(notebook 06).",
            ),
        ),
        notebook="06",
    ),
    Question(
        "Why can MaskGIT draw an image faster than raster-order generation?",
        (
            Option(
                "It fills many tokens per forward pass, committing the most confident ones over K rounds "
                "instead of one token per pass.",
                "Right: K passes instead of one per token; notebook 07 measures when that wins and what it "
                "costs in variety.",
                correct=True,
            ),
            Option(
                "Its model is smaller.",
                "Notebook 07 gives both models the same size; the saving is in the number of passes.",
            ),
            Option(
                "It does not use attention.",
                "It uses bidirectional attention over all positions (notebook 07).",
            ),
        ),
        notebook="07",
    ),
    Question(
        "An image tokenizer makes one token per 16x16 patch. Doubling the image side multiplies the "
        "work of one full attention layer's score table by about…",
        (
            Option(
                "16: four times the tokens, and every token attends to every token.",
                "Right: tokens grow with the area, pairs with the square of the tokens (notebook 07's lab).",
                correct=True,
            ),
            Option(
                "2.",
                "The side doubles, but the number of patches grows with the area (x4), and the pairs with "
                "its square (notebook 07).",
            ),
            Option(
                "4.",
                "That is the growth of the tokens; attention compares every pair of tokens (notebook 07).",
            ),
        ),
        notebook="07",
    ),
    Question(
        "SmolLM2 has 9 query heads but only 3 key/value heads. What does that buy?",
        (
            Option(
                "A KV cache three times smaller for the same number of query heads.",
                "Right: grouped-query attention shares each key/value head among 3 query heads "
                "(notebook 08 checks the bytes).",
                correct=True,
            ),
            Option(
                "Three times fewer attention maps.",
                "There are still 9 attention maps, one per query head; what shrinks is what is stored "
                "(notebook 08).",
            ),
            Option(
                "Longer context.",
                "The context length is set by the positions and training; GQA saves memory per token "
                "(notebook 08).",
            ),
        ),
        notebook="08",
    ),
)


def feedback(question: Question, choice: int) -> Feedback:
    """The feedback for option ``choice`` (numbered from 0) of ``question``."""
    count = len(question.options)
    check_int("choice", choice, minimum=0, maximum=count - 1, fix=f"Options are numbered 0 to {count - 1}.")
    option = question.options[choice]
    return Feedback(option.correct, option.feedback)


def score(choices: list[int | None], questions: tuple[Question, ...] = WEEK_QUIZ) -> int:
    """How many of ``choices`` (one per question; None: not answered) are right."""
    if len(choices) != len(questions):
        fail("choices", f"one entry per question ({len(questions)})", len(choices), "Use None for a skip.")
    return sum(
        choice is not None and feedback(question, choice).correct
        for question, choice in zip(questions, choices, strict=True)
    )
