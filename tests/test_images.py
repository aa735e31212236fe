"""Tests for course_lib.images: digits as tokens, tokenizers, the judge, raster and MaskGIT generation."""

import itertools

import numpy as np
import pytest
import torch

from course_lib import images
from course_lib.models import build_model
from course_lib.validation import CourseInputError


@pytest.fixture(scope="module")
def split():
    return images.load_digit_images()


def tiny(method: str):
    torch.manual_seed(0)
    return build_model(images.image_model_config(method, n_layer=1, n_embd=16))


def test_digits_load_offline_as_grey_levels_with_a_stratified_split(split):
    assert split.train_images.shape == (1437, 8, 8) and split.test_images.shape == (360, 8, 8)
    assert split.train_images.min() == 0 and split.train_images.max() == 16
    assert np.bincount(split.test_labels).min() >= 35  # every digit is in the test split


def test_pixel_tokens_are_lossless_and_the_vocabulary_has_28_ids(split):
    tokens = images.pixel_tokens(split.train_images[:5])
    assert tokens.shape == (5, 64) and tokens.dtype == torch.long
    assert np.array_equal(images.images_from_tokens(tokens), split.train_images[:5])
    assert images.digit_tokenizer().vocab_size == images.VOCAB_SIZE == 28
    assert images.digit_tokenizer().decode([images.CLASS_OFFSET + 3, 0, 16, images.MASK_ID]) == "D0g?"


def test_patches_round_trip_and_a_bigger_codebook_reconstructs_better(split):
    for patch in (1, 2, 4):
        patches = images.image_patches(split.train_images[:3], patch)
        assert patches.shape == (3, (8 // patch) ** 2, patch * patch)
        assert np.array_equal(images.images_from_patches(patches, patch), split.train_images[:3])
    errors = []
    for size in (4, 64):
        codebook = images.PatchCodebook(split.train_images, patch=2, size=size)
        tokens = codebook.encode(split.test_images)
        assert tokens.shape == (360, 16) and codebook.tokens_per_image == 16
        errors.append(images.reconstruction_error(split.test_images, codebook.decode(tokens)))
    assert errors[1] < errors[0]
    with pytest.raises(CourseInputError, match="patch must be one of 1, 2, 4, 8"):
        images.PatchCodebook(split.train_images, patch=3)


def test_the_judge_labels_real_test_digits_well(split):
    judge = images.train_judge(split)
    accuracy = images.conditional_accuracy(judge, split.test_images, list(split.test_labels))
    assert accuracy > 0.94


def test_maskgit_batches_mask_pixels_never_the_class_and_target_only_masked_ones(split):
    seqs = images.sequences(split.train_images[:200], split.train_labels[:200])
    assert (
        seqs.shape == (200, 65)
        and (seqs[:, 0] == images.CLASS_OFFSET + torch.tensor(split.train_labels[:200])).all()
    )
    inputs, targets = images.maskgit_batch(seqs, torch.Generator().manual_seed(0))
    masked = inputs == images.MASK_ID
    assert not masked[:, 0].any() and masked.sum(1).min() >= 1
    assert torch.equal(targets != -100, masked)
    assert torch.equal(targets[masked], seqs[masked])
    assert masked.float().mean().item() == pytest.approx(2 / np.pi, abs=0.06)  # mean of cos(pi/2 u)


def test_the_cosine_schedule_goes_from_64_masked_to_none():
    counts = [images.maskgit_still_masked(step, 8) for step in range(9)]
    assert counts[0] == 64 and counts[-1] == 0
    assert all(a > b for a, b in itertools.pairwise(counts))


def test_maskgit_commits_pixels_for_good_in_k_rounds():
    canvases = []
    tokens = images.generate_maskgit(tiny("maskgit"), [1, 7], steps=5, on_step=canvases.append)
    assert len(canvases) == 5 and tokens.shape == (2, 64)
    assert (tokens < images.N_LEVELS).all()  # no [MASK] and no class token left
    for before, after in itertools.pairwise(canvases):
        kept = before != images.MASK_ID
        assert torch.equal(after[kept], before[kept])  # a committed pixel never changes
    masked_counts = [int((c[0] == images.MASK_ID).sum()) for c in canvases]
    assert masked_counts == [images.maskgit_still_masked(step, 5) for step in range(1, 6)]


def test_raster_generation_fills_one_pixel_per_forward_pass_in_order():
    canvases = []
    tokens = images.generate_raster(tiny("raster"), [0, 9, 4], temperature=0.7, on_step=canvases.append)
    assert len(canvases) == 64 and tokens.shape == (3, 64) and (tokens < images.N_LEVELS).all()
    assert [int((c[0] != images.MASK_ID).sum()) for c in canvases] == list(range(1, 65))
    again = images.generate_raster(tiny("raster"), [0, 9, 4], temperature=0.7)
    assert torch.equal(tokens, again)  # seeded


def test_measures_of_samples():
    a, b = np.zeros((8, 8), dtype=np.int64), np.full((8, 8), 4)
    assert images.exact_copies(np.stack([a, b, a]), np.stack([a])) == 2
    assert images.within_class_diversity(np.stack([a, b, a, a]), [0, 0, 1, 1]) == pytest.approx(2.0)
    assert images.requested_digits(2)[:4] == [0, 0, 1, 1]


def test_training_lowers_the_loss_and_stops_by_steps(split):
    seqs = images.sequences(split.train_images, split.train_labels)
    for method in images.METHODS:
        model = tiny(method)
        before = images.image_loss(model, seqs[:300])
        losses = images.train_image_model(model, seqs, steps=30, batch_size=32, learning_rate=1e-2)
        assert len(losses) == 30 and images.image_loss(model, seqs[:300]) < before


def test_bad_arguments_say_what_to_do():
    with pytest.raises(CourseInputError, match="method must be one of"):
        images.image_model_config("diffusion")
    with pytest.raises(CourseInputError, match="each digit must be an integer from 0 to 9"):
        images.generate_raster(tiny("raster"), [10])
    with pytest.raises(CourseInputError, match="temperature must be in"):
        images.generate_maskgit(tiny("maskgit"), [1], temperature=0.0)
    with pytest.raises(CourseInputError, match="exactly one of them"):
        images.train_image_model(tiny("raster"), torch.zeros(4, 65, dtype=torch.long))
    with pytest.raises(CourseInputError, match="model must be a DecoderOnlyLM or an EncoderOnlyLM"):
        images.generate_images(torch.nn.Linear(2, 2), [1])


def test_codebook_sequences_and_the_codebook_mini_dalle(split):
    codebook = images.PatchCodebook(split.train_images, patch=2, size=32)
    seqs = images.codebook_sequences(codebook, split.train_images[:6], split.train_labels[:6])
    assert seqs.shape == (6, 17) and codebook.size == 32
    assert torch.equal(seqs[:, 0], torch.tensor(split.train_labels[:6]) + 32)  # class tokens after the codes
    assert np.array_equal(seqs[:, 1:].numpy(), codebook.encode(split.train_images[:6]))
    config = images.codebook_model_config(codebook, n_layer=1, n_embd=16)
    assert (config.vocab_size, config.block_size) == (42, 17)
    torch.manual_seed(0)
    model = build_model(config)
    losses = images.train_image_model(model, seqs, steps=3, batch_size=4)  # a raster model trains on codes
    assert len(losses) == 3
    codes = images.generate_codes(model, codebook, [2, 5, 2], temperature=0.8, seed=3)
    assert codes.shape == (3, 16) and codes.min() >= 0 and codes.max() < 32  # never a class token
    assert torch.equal(codes, images.generate_codes(model, codebook, [2, 5, 2], temperature=0.8, seed=3))
    assert codebook.decode(codes).shape == (3, 8, 8)
    with pytest.raises(CourseInputError, match="model must be a DecoderOnlyLM with 42 token ids"):
        images.generate_codes(tiny("raster"), codebook, [1])


def test_memorised_copies_are_counted_in_token_space_too():
    training = np.array([[1, 2, 3], [4, 5, 6]])
    samples = np.array([[4, 5, 6], [1, 2, 4], [1, 2, 3], [4, 5, 6]])
    assert images.exact_copies(samples, training) == 3  # rows equal to some training row
    assert images.exact_copies(torch.tensor(samples), training) == 3  # token tensors work as they are
