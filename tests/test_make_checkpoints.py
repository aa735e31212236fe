"""data/checkpoints/ holds what scripts/make_checkpoints.py makes, and each checkpoint still fits the data."""

from __future__ import annotations

import sys
from dataclasses import asdict

import pytest

from course_lib.checkpoints import load_checkpoint
from course_lib.data import encode_corpus, load_corpus, split_train_val, text_checksum
from course_lib.env import REPO
from course_lib.models import count_parameters
from course_lib.tasks import Seq2SeqVocab
from course_lib.train import estimate_loss

sys.path.insert(0, str(REPO / "scripts"))
import make_checkpoints

RECIPES = sorted(make_checkpoints.RECIPES.items())


@pytest.mark.parametrize(("name", "recipe"), RECIPES, ids=[name for name, _ in RECIPES])
def test_shipped_checkpoint_is_small_and_made_by_its_recipe(name, recipe) -> None:
    directory = make_checkpoints.OUT_DIR / name
    size = make_checkpoints.checkpoint_bytes(directory)
    assert size <= make_checkpoints.MAX_BYTES, f"{name} is {size:,} bytes"
    metadata = load_checkpoint(directory).metadata  # also verifies the weights' sha256
    assert (metadata["corpus"], metadata["preset"], metadata["seed"]) == (
        recipe.corpus,
        recipe.preset,
        recipe.seed,
    )
    assert metadata["metrics"]["steps"] == recipe.max_steps
    assert metadata["data_sha256"] == text_checksum(load_corpus(recipe.corpus)), (
        f"data/checkpoints/{name} was trained on another version of the {recipe.corpus!r} corpus: "
        "run `make checkpoints`."
    )


@pytest.mark.parametrize(("name", "recipe"), RECIPES, ids=[name for name, _ in RECIPES])
def test_shipped_weights_reproduce_their_recorded_validation_loss(name, recipe) -> None:
    checkpoint = load_checkpoint(make_checkpoints.OUT_DIR / name)
    text = load_corpus(recipe.corpus)
    _, val_ids = split_train_val(encode_corpus(text, checkpoint.tokenizer), val_fraction=0.1)
    cfg = checkpoint.metadata["train_config"]
    val_loss = estimate_loss(
        checkpoint.model, val_ids, cfg["batch_size"], cfg["eval_iters"], seed=cfg["seed"] + 1
    )
    assert val_loss == pytest.approx(checkpoint.metadata["metrics"]["val_loss"], abs=1e-4)
    assert val_loss < 2.0, "a character model this size should do far better than chance (ln 90 = 4.5)"


# ------------------------------------------------------------------------------------------------------------
# The task models of notebook 05: an encoder-decoder and a decoder-only model on the "dates" task
# ------------------------------------------------------------------------------------------------------------

TASK_RECIPES = sorted(make_checkpoints.TASK_RECIPES.items())


@pytest.fixture(scope="module")
def task_checkpoints():
    return {name: load_checkpoint(make_checkpoints.OUT_DIR / name) for name, _ in TASK_RECIPES}


@pytest.mark.parametrize(("name", "recipe"), TASK_RECIPES, ids=[name for name, _ in TASK_RECIPES])
def test_task_checkpoint_is_small_and_made_by_its_recipe(name, recipe, task_checkpoints) -> None:
    size = make_checkpoints.checkpoint_bytes(make_checkpoints.OUT_DIR / name)
    assert size <= make_checkpoints.MAX_BYTES, f"{name} is {size:,} bytes"
    checkpoint = task_checkpoints[name]
    vocab = Seq2SeqVocab.from_tokenizer(checkpoint.tokenizer)
    assert vocab.chars == Seq2SeqVocab.for_task(recipe.task).chars
    assert checkpoint.metadata["recipe"] == asdict(recipe)
    assert checkpoint.model.config == recipe.config(vocab.vocab_size)
    assert checkpoint.metadata["metrics"]["steps"] == recipe.steps
    assert checkpoint.metadata["metrics"]["params"] == count_parameters(checkpoint.model)


@pytest.mark.parametrize(("name", "recipe"), TASK_RECIPES, ids=[name for name, _ in TASK_RECIPES])
def test_task_checkpoint_reproduces_its_recorded_metrics(name, recipe, task_checkpoints) -> None:
    checkpoint = task_checkpoints[name]
    vocab = Seq2SeqVocab.from_tokenizer(checkpoint.tokenizer)
    recorded = checkpoint.metadata["metrics"]
    measured = make_checkpoints.task_metrics(checkpoint.model, vocab, task=recipe.task)
    assert measured["val_loss"] == pytest.approx(recorded["val_loss"], abs=1e-4)
    for split in ("val", "test", "hard"):  # greedy answers: 1 of 500 may flip on another CPU's rounding
        key = f"{split}_exact_match"
        assert measured[key] == pytest.approx(recorded[key], abs=0.0021), key


def test_the_two_task_models_share_a_parameter_budget_and_the_encoder_decoder_passes(
    task_checkpoints,
) -> None:
    params = [count_parameters(checkpoint.model) for checkpoint in task_checkpoints.values()]
    assert max(params) / min(params) < 1.10, params
    metrics = task_checkpoints["dates_encoder_decoder"].metadata["metrics"]
    assert metrics["test_exact_match"] >= 0.95


# ------------------------------------------------------------------------------------------------------------
# The folk-tune model of notebook 07 (course_lib.music)
# ------------------------------------------------------------------------------------------------------------


def test_tune_checkpoint_is_small_made_by_its_recipe_and_reproduces_its_bar_accuracy() -> None:
    from course_lib import music

    directory = make_checkpoints.OUT_DIR / "tunes_gpt"
    assert make_checkpoints.checkpoint_bytes(directory) <= make_checkpoints.MAX_BYTES
    loaded = music.load_tune_model(directory)  # also verifies the sha256 of weights, config and tokenizer
    recorded = loaded.metadata["metrics"]
    assert loaded.metadata["recipe"] == asdict(make_checkpoints.TUNE_RECIPES["tunes_gpt"])
    assert loaded.metadata["data_sha256"] == text_checksum(music.TUNES_FILE.read_text(encoding="utf-8")), (
        "data/checkpoints/tunes_gpt was trained on another version of the tunes: run `make checkpoints`."
    )
    measured = music.tune_metrics(loaded.model, loaded.tokenizer, count=recorded["samples"])
    # sampled tunes: another CPU's rounding may change a few of the 100 samples
    assert measured["bar_accuracy"] == pytest.approx(recorded["bar_accuracy"], abs=0.03)
    assert recorded["bar_accuracy"] >= 0.5, "the shipped model fills at least half its bars correctly"


# ------------------------------------------------------------------------------------------------------------
# The digits generators of notebook 07 (course_lib.images): a mini DALL-E and a mini MaskGIT
# ------------------------------------------------------------------------------------------------------------

IMAGE_RECIPES = sorted(make_checkpoints.IMAGE_RECIPES.items())


@pytest.mark.parametrize(("name", "recipe"), IMAGE_RECIPES, ids=[name for name, _ in IMAGE_RECIPES])
def test_digits_checkpoint_is_small_made_by_its_recipe_and_reproduces_its_metrics(name, recipe) -> None:
    from course_lib import images

    directory = make_checkpoints.OUT_DIR / name
    assert make_checkpoints.checkpoint_bytes(directory) <= make_checkpoints.MAX_BYTES
    checkpoint = load_checkpoint(directory)  # also verifies the sha256 of weights, config and tokenizer
    assert checkpoint.metadata["recipe"] == asdict(recipe)
    assert checkpoint.model.config == images.image_model_config(recipe.method, dropout=recipe.dropout)
    split = images.load_digit_images()
    recorded = checkpoint.metadata["metrics"]
    measured = images.checkpoint_metrics(checkpoint.model, split, images.train_judge(split))
    assert measured["test_loss"] == pytest.approx(recorded["test_loss"], abs=1e-4)
    # sampled digits: another CPU's rounding may change a few of the 100 samples
    assert measured["accuracy"] == pytest.approx(recorded["accuracy"], abs=0.03)
    promised = 0.97 if recipe.method == "raster" else 0.9  # notebook 07 promises 97% for the mini DALL-E
    assert recorded["accuracy"] >= promised, f"{name} draws too few digits the judge labels as requested"
