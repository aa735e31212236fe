"""Images as tokens: scikit-learn's 8x8 handwritten digits, a mini DALL-E and a mini MaskGIT (notebook 07).

- The data: ``load_digit_images`` (1,797 images of 8x8 pixels, grey levels 0..16, labels 0..9), offline.
- Two tokenizers: one token per pixel (``pixel_tokens``: 64 tokens, lossless) and a learned codebook over
  small patches (``PatchCodebook``: k-means over p x p patches, (8 / p)^2 tokens, lossy).
- The judge: ``train_judge`` fits a logistic regression on the real training digits; it labels samples.
- One vocabulary for both generators: ids 0..16 are grey levels, 17..26 the classes 0..9 (the "prompt"),
  27 is [MASK]. A sequence is [class] + 64 pixel tokens in raster order (row by row).
- A mini DALL-E: ``DecoderOnlyLM`` predicts pixel t+1 from the class and pixels 0..t
  (``generate_raster``: 64 forward passes with a KV cache). The same model over codebook tokens
  (``codebook_sequences``: [class] + 16 codes, ``generate_codes``: 16 passes) trains faster per step
  (17 positions instead of 65; notebook 07 measures it).
- A mini MaskGIT: ``EncoderOnlyLM`` fills masked pixels, trained with a cosine masking ratio
  (``generate_maskgit``: K forward passes, each commits the most confident of the still-masked pixels).

Shapes: N = images, B = batch, T = 65 positions, V = 28 token ids (pixel vocabulary); P = tokens per image.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.checkpoints import load_checkpoint
from course_lib.configs import DecoderOnlyConfig, EncoderOnlyConfig
from course_lib.data import DATA_DIR
from course_lib.models import DecoderOnlyLM, EncoderOnlyLM
from course_lib.timing import best_seconds
from course_lib.tokenizers import CharTokenizer
from course_lib.validation import check_int, check_number, check_seed, fail

if TYPE_CHECKING:  # scikit-learn is imported where it is used: importing course_lib.widgets stays fast
    from sklearn.linear_model import LogisticRegression

SIDE = 8  # pixels per row and per column
N_PIXELS = SIDE * SIDE  # 64 tokens per image in raster order
N_LEVELS = 17  # grey levels 0..16: token ids 0..16
N_CLASSES = 10
CLASS_OFFSET = N_LEVELS  # the class token of digit d is id 17 + d
MASK_ID = CLASS_OFFSET + N_CLASSES  # 27
VOCAB_SIZE = MASK_ID + 1  # 28
BLOCK_SIZE = 1 + N_PIXELS  # [class] + 64 pixels
# One printable character per token id, so checkpoints store the vocabulary as a CharTokenizer record:
# grey levels as 0-9 a-g, classes as A-J, [MASK] as '?'.
TOKEN_CHARS = "0123456789abcdefg" + "ABCDEFGHIJ" + "?"
METHODS = ("raster", "maskgit")
CHECKPOINTS = {"raster": "digits_raster_gpt", "maskgit": "digits_maskgit"}  # under data/checkpoints/


def digit_tokenizer() -> CharTokenizer:
    """The generators' vocabulary as a CharTokenizer (28 ids): decode a sequence to read it as text."""
    return CharTokenizer(list(TOKEN_CHARS))


# ------------------------------------------------------------------------------------------------------------
# Data and the two tokenizers
# ------------------------------------------------------------------------------------------------------------


@dataclass
class DigitSplit:
    """Train and test images (N, 8, 8) of grey levels 0..16 (int64) with labels (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def load_digit_images(*, test_fraction: float = 0.2, seed: int = 0) -> DigitSplit:
    """scikit-learn's digits (read from the installed package, no download), split stratified by class."""
    check_number("test_fraction", test_fraction, low=0.05, high=0.5, fix="Use e.g. 0.2.")
    check_seed("seed", seed)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.int64)  # (1797, 8, 8), values 0..16
    split = train_test_split(
        images, digits.target, test_size=test_fraction, random_state=seed, stratify=digits.target
    )
    return DigitSplit(*split[0::2], *split[1::2])


def pixel_tokens(images: np.ndarray) -> torch.Tensor:
    """Images (N, 8, 8) of grey levels 0..16 -> token ids (N, 64), row by row. Lossless."""
    return torch.as_tensor(np.asarray(images), dtype=torch.long).reshape(-1, N_PIXELS)


def images_from_tokens(tokens: torch.Tensor) -> np.ndarray:
    """Pixel token ids (N, 64) -> images (N, 8, 8); [MASK] (27) becomes -1 (drawn as "not yet known")."""
    images = tokens.detach().cpu().reshape(-1, SIDE, SIDE).numpy().astype(np.int64)
    return np.where(images == MASK_ID, -1, images)


def image_patches(images: np.ndarray, patch: int) -> np.ndarray:
    """Images (N, 8, 8) -> patches (N, (8 / patch)^2, patch * patch), patches in raster order."""
    n, per_side = len(images), SIDE // patch
    blocks = np.asarray(images, dtype=np.float64).reshape(n, per_side, patch, per_side, patch)
    return blocks.transpose(0, 1, 3, 2, 4).reshape(n, per_side * per_side, patch * patch)


def images_from_patches(patches: np.ndarray, patch: int) -> np.ndarray:
    """The inverse of ``image_patches``: (N, (8 / patch)^2, patch * patch) -> (N, 8, 8)."""
    n, per_side = len(patches), SIDE // patch
    blocks = patches.reshape(n, per_side, per_side, patch, patch).transpose(0, 1, 3, 2, 4)
    return blocks.reshape(n, SIDE, SIDE)


class PatchCodebook:
    """A VQ-style tokenizer: k-means over p x p patches; a patch's token is its nearest centroid's index.

    tokens per image = (8 / p)^2 (16 for 2 x 2 patches); decoding pastes each token's centroid back.
    """

    def __init__(self, train_images: np.ndarray, *, patch: int = 2, size: int = 64, seed: int = 0) -> None:
        if patch not in (1, 2, 4, 8):
            fail("patch", "one of 1, 2, 4, 8 (it must divide 8)", repr(patch), "Use patch=2: 16 tokens.")
        check_int("size", size, minimum=2, maximum=1024, fix="Use e.g. size=64 codebook entries.")
        check_seed("seed", seed)
        self.patch = patch
        from sklearn.cluster import KMeans

        vectors = image_patches(train_images, patch).reshape(-1, patch * patch)  # (N * P, p * p)
        self.kmeans = KMeans(n_clusters=size, n_init=1, random_state=seed).fit(vectors)
        self.centroids = self.kmeans.cluster_centers_  # (size, p * p)

    @property
    def tokens_per_image(self) -> int:
        return (SIDE // self.patch) ** 2

    @property
    def size(self) -> int:
        """The number of codebook entries: token ids 0..size - 1."""
        return len(self.centroids)

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Images (N, 8, 8) -> token ids (N, tokens_per_image)."""
        patches = image_patches(images, self.patch)  # (N, P, p * p)
        return self.kmeans.predict(patches.reshape(-1, self.patch**2)).reshape(len(images), -1)

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        """Token ids (N, tokens_per_image) -> images (N, 8, 8) of real-valued grey levels."""
        return images_from_patches(self.centroids[np.asarray(tokens)], self.patch)


def reconstruction_error(images: np.ndarray, reconstructed: np.ndarray) -> float:
    """Mean absolute difference in grey levels (0..16) per pixel."""
    return float(np.abs(np.asarray(images, dtype=np.float64) - reconstructed).mean())


# ------------------------------------------------------------------------------------------------------------
# The judge
# ------------------------------------------------------------------------------------------------------------


def train_judge(split: DigitSplit) -> LogisticRegression:
    """A logistic regression on the real training digits (pixels / 16); it labels generated images."""
    from sklearn.linear_model import LogisticRegression

    judge = LogisticRegression(max_iter=2000)
    return judge.fit(split.train_images.reshape(len(split.train_images), -1) / 16.0, split.train_labels)


def judge_labels(judge: LogisticRegression, images: np.ndarray) -> np.ndarray:
    """The judge's digit (N,) for images (N, 8, 8)."""
    return judge.predict(np.asarray(images, dtype=np.float64).reshape(len(images), -1) / 16.0)


def load_shipped_models() -> tuple[DecoderOnlyLM, EncoderOnlyLM]:
    """The raster model and the MaskGIT model ``make checkpoints`` trained (checksums verified, eval mode)."""
    raster, maskgit = (load_checkpoint(DATA_DIR / "checkpoints" / CHECKPOINTS[m]).model for m in METHODS)
    return raster, maskgit


# ------------------------------------------------------------------------------------------------------------
# Sequences, models and training
# ------------------------------------------------------------------------------------------------------------


def class_tokens(labels: np.ndarray | list[int]) -> torch.Tensor:
    """Digits (N,) -> their class token ids (N, 1)."""
    return torch.as_tensor(np.asarray(labels), dtype=torch.long).reshape(-1, 1) + CLASS_OFFSET


def sequences(images: np.ndarray, labels: np.ndarray) -> torch.Tensor:
    """Images (N, 8, 8) and labels (N,) -> sequences (N, 65): [class] + 64 pixel tokens."""
    return torch.cat([class_tokens(labels), pixel_tokens(images)], dim=1)


def codebook_sequences(codebook: PatchCodebook, images: np.ndarray, labels: np.ndarray) -> torch.Tensor:
    """Images (N, 8, 8) and labels (N,) -> sequences (N, 1 + P): [class] + P codebook tokens in raster
    order. Codes keep their ids 0..size - 1; the class token of digit d is size + d."""
    codes = torch.as_tensor(codebook.encode(images), dtype=torch.long)  # (N, P)
    return torch.cat([codebook_class_tokens(codebook, labels), codes], dim=1)


def codebook_class_tokens(codebook: PatchCodebook, labels: np.ndarray | list[int]) -> torch.Tensor:
    """Digits (N,) -> their class token ids (N, 1) in a codebook vocabulary: size + digit."""
    return torch.as_tensor(np.asarray(labels), dtype=torch.long).reshape(-1, 1) + codebook.size


def codebook_model_config(
    codebook: PatchCodebook, *, n_layer: int = 2, n_embd: int = 64, dropout: float = 0.0
) -> DecoderOnlyConfig:
    """A GPT over ``codebook_sequences``: size + 10 token ids, 1 + P positions, 4 heads."""
    return DecoderOnlyConfig(
        vocab_size=codebook.size + N_CLASSES,
        block_size=1 + codebook.tokens_per_image,
        n_layer=n_layer,
        n_head=4,
        n_embd=n_embd,
        dropout=dropout,
    )


def image_model_config(
    method: str, *, n_layer: int = 2, n_embd: int = 64, dropout: float = 0.0
) -> DecoderOnlyConfig | EncoderOnlyConfig:
    """The model config for ``method`` ("raster": a GPT, "maskgit": a bidirectional encoder): 4 heads,
    learned positions over the 65 positions, 28 token ids; about 0.11M parameters at the defaults."""
    _check_method(method)
    kind = DecoderOnlyConfig if method == "raster" else EncoderOnlyConfig
    return kind(
        vocab_size=VOCAB_SIZE,
        block_size=BLOCK_SIZE,
        n_layer=n_layer,
        n_head=4,
        n_embd=n_embd,
        dropout=dropout,
    )


def _check_method(method: str) -> None:
    if method not in METHODS:
        fail("method", f"one of {METHODS}", repr(method), "Use 'raster' (a mini DALL-E) or 'maskgit'.")


def raster_batch(seqs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences (B, 65) -> inputs (B, 64) and next-token targets (B, 64): every pixel is a target."""
    return seqs[:, :-1], seqs[:, 1:]


def cosine_mask_ratio(u: torch.Tensor) -> torch.Tensor:
    """MaskGIT's schedule: the share of pixels still masked at progress u in [0, 1] is cos(pi / 2 * u)."""
    return torch.cos(math.pi / 2 * u)


def maskgit_batch(seqs: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences (B, 65) -> inputs with masked pixels (B, 65) and targets (B, 65): the original pixel
    where masked, -100 elsewhere. Each row masks ceil(64 * cos(pi / 2 * u)) pixels, u ~ uniform(0, 1)."""
    b = seqs.size(0)
    n_masked = torch.ceil(N_PIXELS * cosine_mask_ratio(torch.rand(b, 1, generator=generator))).clamp(min=1)
    ranks = torch.rand(b, N_PIXELS, generator=generator).argsort(dim=1).argsort(dim=1)  # random order
    masked = torch.cat([torch.zeros(b, 1, dtype=torch.bool), ranks < n_masked], dim=1)  # (B, 65)
    inputs = seqs.masked_fill(masked, MASK_ID)
    targets = seqs.masked_fill(~masked, -100)
    return inputs, targets


def train_image_model(
    model: nn.Module,
    seqs: torch.Tensor,
    *,
    steps: int | None = None,
    seconds: float | None = None,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    final_lr_fraction: float = 0.1,
    seed: int = 0,
) -> list[float]:
    """Train a raster (DecoderOnlyLM) or MaskGIT (EncoderOnlyLM) model on sequences (N, T): pixel sequences
    (T = 65), or codebook sequences (T = 1 + P, raster models only); returns the loss of every step.
    Stops after ``steps`` steps or ``seconds`` of wall time (give exactly one).
    AdamW; with ``steps`` the learning rate falls linearly to ``final_lr_fraction`` of itself (1.0: constant,
    better for very short runs), with ``seconds`` it stays constant."""
    if (steps is None) == (seconds is None):
        fail("steps / seconds", "exactly one of them", f"steps={steps}, seconds={seconds}", "Give one.")
    if steps is not None:
        check_int("steps", steps, minimum=1)
    else:
        check_number("seconds", seconds, low=0.0, low_inclusive=False, fix="Use e.g. seconds=10.")
    check_number("final_lr_fraction", final_lr_fraction, low=0.0, high=1.0, fix="Use 0.1, or 1.0 (constant).")
    check_seed("seed", seed)
    is_raster = isinstance(model, DecoderOnlyLM)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    model.train()
    losses, start = [], time.perf_counter()
    while (steps is not None and len(losses) < steps) or (
        seconds is not None and time.perf_counter() - start < seconds
    ):
        if steps is not None:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate * (1 - (1 - final_lr_fraction) * len(losses) / steps)
        rows = seqs[torch.randint(len(seqs), (batch_size,), generator=generator)]
        inputs, targets = raster_batch(rows) if is_raster else maskgit_batch(rows, generator)
        loss = model(inputs, targets).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


# ------------------------------------------------------------------------------------------------------------
# Generation
# ------------------------------------------------------------------------------------------------------------

# A step callback receives the pixel tokens so far (B, 64), [MASK] where not yet chosen.
StepCallback = Callable[[torch.Tensor], None]


def _token_probs(logits: torch.Tensor, choices: int, temperature: float) -> torch.Tensor:
    """Logits (..., V) -> probabilities over the image token ids 0..choices - 1 only (..., choices)."""
    return torch.softmax(logits[..., :choices] / temperature, dim=-1)


def _check_generation(digits: list[int], temperature: float) -> None:
    if not isinstance(digits, (list, tuple)) or not digits:
        fail("digits", "a non-empty list of digits", repr(digits), "Use e.g. [3] or list(range(10)).")
    for digit in digits:
        check_int("each digit", digit, minimum=0, maximum=9, fix="Digits are 0 to 9.")
    check_number("temperature", temperature, low=0.05, high=3.0, fix="Use 1.0 (the model's own odds).")


@torch.no_grad()
def _sample_in_order(
    model: DecoderOnlyLM,
    prompt: torch.Tensor,
    *,
    length: int,
    choices: int,
    blank: int,
    temperature: float,
    seed: int,
    on_step: StepCallback | None,
) -> torch.Tensor:
    """Class tokens (B, 1) -> ``length`` image tokens (B, length) sampled one by one from ids 0..choices - 1,
    with a KV cache; the canvas ``on_step`` sees holds ``blank`` where nothing is chosen yet."""
    generator = torch.Generator().manual_seed(seed)
    cache = model.new_cache(len(prompt))
    canvas = torch.full((len(prompt), length), blank, dtype=torch.long)
    token = prompt  # (B, 1)
    for position in range(length):
        probs = _token_probs(model.compute_logits(token, cache=cache)[:, -1], choices, temperature)
        token = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
        canvas[:, position] = token[:, 0]
        if on_step is not None:
            on_step(canvas.clone())
    return canvas


def generate_raster(
    model: DecoderOnlyLM,
    digits: list[int],
    *,
    temperature: float = 1.0,
    seed: int = 0,
    on_step: StepCallback | None = None,
) -> torch.Tensor:
    """A mini DALL-E: one image per entry of ``digits``, pixel by pixel in raster order, 64 forward passes
    with a KV cache. Returns pixel tokens (B, 64); ``on_step`` sees the canvas after every pixel."""
    _check_generation(digits, temperature)
    check_seed("seed", seed)
    return _sample_in_order(
        model,
        class_tokens(digits),
        length=N_PIXELS,
        choices=N_LEVELS,
        blank=MASK_ID,
        temperature=temperature,
        seed=seed,
        on_step=on_step,
    )


def generate_codes(
    model: DecoderOnlyLM,
    codebook: PatchCodebook,
    digits: list[int],
    *,
    temperature: float = 1.0,
    seed: int = 0,
) -> torch.Tensor:
    """The mini DALL-E over codebook tokens: one image per entry of ``digits``, code by code in raster
    order (P forward passes with a KV cache). Returns codebook tokens (B, P); ``codebook.decode`` draws
    them."""
    _check_generation(digits, temperature)
    check_seed("seed", seed)
    vocab_size = codebook.size + N_CLASSES
    if not isinstance(model, DecoderOnlyLM) or model.config.vocab_size != vocab_size:
        given = getattr(getattr(model, "config", None), "vocab_size", None)
        fail(
            "model",
            f"a DecoderOnlyLM with {vocab_size} token ids (this codebook's {codebook.size} + 10 classes)",
            f"a {type(model).__name__} with {given} token ids",
            "Build it with images.codebook_model_config(codebook).",
        )
    return _sample_in_order(
        model,
        codebook_class_tokens(codebook, digits),
        length=codebook.tokens_per_image,
        choices=codebook.size,
        blank=-1,
        temperature=temperature,
        seed=seed,
        on_step=None,
    )


def maskgit_still_masked(step: int, steps: int) -> int:
    """How many of the 64 pixels stay masked after round ``step`` of ``steps``: 64 cos(pi/2 step/steps)."""
    return math.floor(N_PIXELS * math.cos(math.pi / 2 * step / steps))


@torch.no_grad()
def generate_maskgit(
    model: EncoderOnlyLM,
    digits: list[int],
    *,
    steps: int = 8,
    temperature: float = 1.0,
    seed: int = 0,
    on_step: StepCallback | None = None,
) -> torch.Tensor:
    """A mini MaskGIT: start from 64 [MASK]s, run ``steps`` forward passes; each samples every masked pixel
    and commits the most confident ones (the probability of the sampled level), leaving
    ``maskgit_still_masked`` masked. Returns pixel tokens (B, 64); ``on_step`` sees the canvas each round."""
    _check_generation(digits, temperature)
    check_int("steps", steps, minimum=1, maximum=N_PIXELS, fix="Use 1 to 64 rounds (MaskGIT used 8 to 12).")
    check_seed("seed", seed)
    generator = torch.Generator().manual_seed(seed)
    canvas = torch.full((len(digits), N_PIXELS), MASK_ID, dtype=torch.long)
    for step in range(1, steps + 1):
        logits = model(torch.cat([class_tokens(digits), canvas], dim=1)).logits[:, 1:]  # (B, 64, V)
        probs = _token_probs(logits, N_LEVELS, temperature)  # (B, 64, 17)
        sampled = torch.multinomial(probs.reshape(-1, N_LEVELS), 1, generator=generator).reshape(canvas.shape)
        confidence = probs.gather(-1, sampled.unsqueeze(-1)).squeeze(-1)  # (B, 64)
        masked = canvas == MASK_ID
        confidence = confidence.masked_fill(~masked, -1.0)  # committed pixels stay as they are
        n_commit = int(masked[0].sum()) - maskgit_still_masked(step, steps)
        chosen = confidence.topk(n_commit, dim=1).indices  # (B, n_commit): the most confident masked pixels
        canvas.scatter_(1, chosen, sampled.gather(1, chosen))
        if on_step is not None:
            on_step(canvas.clone())
    return canvas


def generate_images(
    model: nn.Module, digits: list[int], *, steps: int = 8, temperature: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Images (B, 8, 8) from either generator (``steps`` is used by MaskGIT only)."""
    if isinstance(model, DecoderOnlyLM):
        tokens = generate_raster(model, digits, temperature=temperature, seed=seed)
    elif isinstance(model, EncoderOnlyLM):
        tokens = generate_maskgit(model, digits, steps=steps, temperature=temperature, seed=seed)
    else:
        fail("model", "a DecoderOnlyLM or an EncoderOnlyLM", type(model).__name__, "Load a digits model.")
    return images_from_tokens(tokens)


# ------------------------------------------------------------------------------------------------------------
# Measuring samples
# ------------------------------------------------------------------------------------------------------------


def requested_digits(per_class: int) -> list[int]:
    """0, 0, ..., 1, 1, ...: ``per_class`` requests of every digit."""
    return [digit for digit in range(N_CLASSES) for _ in range(per_class)]


def conditional_accuracy(judge: LogisticRegression, images: np.ndarray, digits: list[int]) -> float:
    """The share of images (N, 8, 8) the judge labels as the digit requested for them."""
    return float((judge_labels(judge, images) == np.asarray(digits)).mean())


def exact_copies(samples: np.ndarray, training: np.ndarray) -> int:
    """How many samples equal some training example exactly (memorised copies): images (N, 8, 8) pixel for
    pixel, or codebook tokens (N, P) code for code (a copy in token space)."""
    seen = {row.tobytes() for row in np.asarray(training, dtype=np.int64)}
    return sum(row.tobytes() in seen for row in np.asarray(samples, dtype=np.int64))


def within_class_diversity(images: np.ndarray, digits: list[int]) -> float:
    """Mean absolute grey-level difference between two samples of the same requested digit (0: identical)."""
    images, digits = np.asarray(images, dtype=np.float64), np.asarray(digits)
    distances = []
    for digit in np.unique(digits):
        group = images[digits == digit].reshape(-1, N_PIXELS)  # (n, 64)
        pairwise = np.abs(group[:, None] - group[None]).mean(-1)  # (n, n)
        n = len(group)
        if n > 1:
            distances.append(pairwise.sum() / (n * (n - 1)))
    return float(np.mean(distances))


def real_diversity(split: DigitSplit) -> float:
    """``within_class_diversity`` of the real training digits: the variety a perfect generator would have."""
    return within_class_diversity(split.train_images, list(split.train_labels))


@dataclass
class ComparisonRow:
    """One generator setting measured: forward passes, wall time (s), judge accuracy, diversity, copies."""

    method: str
    forward_passes: int
    seconds_one: float
    seconds_batch: float
    accuracy: float
    diversity: float
    copies: int


def compare_generators(
    raster: DecoderOnlyLM,
    maskgit: EncoderOnlyLM,
    judge: LogisticRegression,
    split: DigitSplit,
    *,
    maskgit_steps: tuple[int, ...] = (4, 8, 16),
    per_class: int = 10,
    repeats: int = 3,
    seed: int = 0,
) -> list[ComparisonRow]:
    """Raster order against MaskGIT with several K: per setting, the wall time for one image and for a
    batch of ``per_class`` x 10 images (the fastest of ``repeats`` runs), and the judge's accuracy, the
    within-class diversity and the exact training copies of that batch."""
    check_int("per_class", per_class, minimum=2, maximum=100, fix="Use e.g. 10 (a batch of 100).")
    check_int("repeats", repeats, minimum=1, maximum=20, fix="Use e.g. 3.")
    digits = requested_digits(per_class)
    settings = [("raster", raster, N_PIXELS)] + [("maskgit", maskgit, k) for k in maskgit_steps]
    rows = []
    for method, model, passes in settings:

        def run(batch: list[int], model=model, passes=passes) -> np.ndarray:
            return generate_images(model, batch, steps=passes, seed=seed)

        images = run(digits)
        rows.append(
            ComparisonRow(
                method=method if method == "raster" else f"maskgit K={passes}",
                forward_passes=passes,
                seconds_one=best_seconds(lambda run=run: run([3]), repeats=repeats, warmup=False),
                seconds_batch=best_seconds(lambda run=run: run(digits), repeats=repeats, warmup=False),
                accuracy=conditional_accuracy(judge, images, digits),
                diversity=within_class_diversity(images, digits),
                copies=exact_copies(images, split.train_images),
            )
        )
    return rows


def comparison_table(rows: list[ComparisonRow]) -> str:
    """The rows of ``compare_generators`` as a fixed-width text table."""
    lines = [
        f"{'method':<16}{'passes':>7}{'1 image ms':>12}{'100 images ms':>15}{'accuracy':>10}"
        f"{'diversity':>11}{'copies':>8}"
    ]
    for row in rows:
        lines.append(
            f"{row.method:<16}{row.forward_passes:>7}{1000 * row.seconds_one:>12.0f}"
            f"{1000 * row.seconds_batch:>15.0f}{row.accuracy:>10.2f}{row.diversity:>11.2f}{row.copies:>8}"
        )
    return "\n".join(lines)


def image_loss(model: nn.Module, seqs: torch.Tensor, *, seed: int = 0) -> float:
    """Mean loss on sequences (N, 65) in one batch: next-pixel cross-entropy for a raster model, masked-pixel
    cross-entropy (masks drawn with ``seed``) for a MaskGIT model. Deterministic: used by checkpoint tests."""
    with torch.no_grad():
        if isinstance(model, DecoderOnlyLM):
            inputs, targets = raster_batch(seqs)
        else:
            inputs, targets = maskgit_batch(seqs, torch.Generator().manual_seed(seed))
        logits = model(inputs).logits
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100).item()


def checkpoint_metrics(model: nn.Module, split: DigitSplit, judge: LogisticRegression) -> dict:
    """What a digits checkpoint records and its test reproduces: the loss on the test digits, and for 500
    samples (50 per digit, seed 0, temperature 1, K=8 for MaskGIT) the judge's accuracy, the within-class
    diversity and the exact copies of training images. (With 100 samples the accuracy of one model moved
    by 3 points from seed to seed: too noisy for a promise of 97%.)"""
    digits = requested_digits(50)
    images = generate_images(model, digits, steps=8, seed=0)
    return {
        "test_loss": image_loss(model, sequences(split.test_images, split.test_labels)),
        "accuracy": conditional_accuracy(judge, images, digits),
        "diversity": within_class_diversity(images, digits),
        "copies": exact_copies(images, split.train_images),
    }
