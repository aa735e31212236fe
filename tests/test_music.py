"""Tests for course_lib.music: the ABC tokenizer, the bar metric, pitches and sound, the tune model."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import torch

from course_lib.checkpoints import METADATA_FILE, CheckpointError, save_checkpoint
from course_lib.models import build_model
from course_lib.music import (
    END,
    START,
    Note,
    TuneTokenizer,
    bar_accuracy,
    bar_sums,
    corpus_line,
    drop_rare_tokens,
    encode_tunes,
    generate_tunes,
    key_accidentals,
    length_value,
    load_tune_model,
    load_tunes,
    midi_frequency,
    mu_law_tokens,
    note_pitch,
    parses_with_music21,
    split_abc_body,
    synthesize,
    to_abc,
    train_tune_model,
    tune_metrics,
    tune_model_config,
    tune_notes,
)
from course_lib.validation import CourseInputError

JIG = "M:6/8 L:1/8 K:G D | G 2 A B 2 c | d 2 B G 2 D | (3 A B c d 3 |"


def test_split_abc_body_gives_one_token_per_symbol():
    assert split_abc_body("^c'2 B,/2 z|: (3abc :|2 A>B-B||") == [
        "^c'", "2", "B,", "/2", "z", "|:", "(3", "a", "b", "c", ":|2", "A", ">", "B", "-", "B", "||",
    ]  # fmt: skip


def test_split_abc_body_names_the_first_unknown_symbol_and_where_it_is():
    with pytest.raises(CourseInputError, match=r"body must be ABC the tokenizer knows, got '\[CEG\]' at 4"):
        split_abc_body("A B [CEG]")


def test_tokenizer_round_trips_a_corpus_line_and_wraps_it_in_start_and_end():
    tokenizer = TuneTokenizer.from_tunes([JIG])
    ids = tokenizer.encode(JIG)
    assert tokenizer.tokens[ids[0]] == START and tokenizer.tokens[ids[-1]] == END
    assert tokenizer.decode(ids) == JIG
    assert TuneTokenizer.from_dict(tokenizer.to_dict()).tokens == tokenizer.tokens


def test_tokenizer_rejects_missing_headers_and_unknown_tokens():
    tokenizer = TuneTokenizer.from_tunes([JIG])
    with pytest.raises(CourseInputError, match="tune must be headers M:, L: and K:"):
        tokenizer.encode("G 2 A B 2 c |")
    with pytest.raises(CourseInputError, match=r"unknown token\(s\) \['\^f'\]"):
        tokenizer.encode("M:6/8 L:1/8 K:G ^f 3 |")
    with pytest.raises(CourseInputError, match="tokens must be distinct tokens starting with"):
        TuneTokenizer(["A", "B"])


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("2", 2),
        ("/2", Fraction(1, 2)),
        ("/", Fraction(1, 2)),
        ("//", Fraction(1, 4)),
        ("3/2", Fraction(3, 2)),
    ],
)
def test_length_tokens_count_units_of_l(token, value):
    assert length_value(token) == value


def test_bar_sums_leave_out_the_pickup_and_count_triplets_as_two_thirds():
    sums, target = bar_sums(JIG)
    assert target == 6  # 6/8 in eighths
    assert sums == [6, 6, 5]  # the pickup D is left out; (3 A B c = 2 units, d 3 = 3


def test_bar_accuracy_counts_bars_that_fit_and_punishes_garbage():
    assert bar_accuracy([JIG]) == pytest.approx(2 / 3)
    assert bar_accuracy([JIG, "not a tune"]) == pytest.approx(2 / 4)


def test_real_tunes_mostly_fill_their_bars():
    tunes = load_tunes()
    assert len(tunes) > 1500
    assert 0.8 < bar_accuracy(tunes) < 0.95


def test_corpus_line_keeps_headers_drops_decorations_and_refuses_chords():
    abc = 'X:1\nT:Title\nM:C|\nL:1/8\nK:D\n"D"~A2 {g}B(cd) | d4 z4 |]\n'
    assert corpus_line(abc) == "M:2/2 L:1/8 K:D A 2 B c d | d 4 z 4 |]"
    assert corpus_line(abc.replace("d4", "[df]4")) is None
    assert corpus_line(abc.replace("K:D\n", "K:D\nM:3/4\n")) is None  # a metre change in the body


def test_drop_rare_tokens_keeps_tunes_made_of_common_tokens():
    rare = "M:6/8 L:1/8 K:G _B 6 |"
    assert drop_rare_tokens([JIG, JIG, rare], min_count=2) == [JIG, JIG]


def test_key_signatures_and_pitches():
    assert key_accidentals("K:D") == {"F": 1, "C": 1}
    assert key_accidentals("K:Gm") == {"B": -1, "E": -1}
    assert key_accidentals("K:Ador") == {"F": 1}  # A dorian: A major's C# and G# dropped
    assert key_accidentals("K:Dmix") == {"F": 1}
    assert [note_pitch(t, {}) for t in ("C", "c", "c'", "C,", "^C", "A")] == [60, 72, 84, 48, 60, 69]
    assert note_pitch("F", key_accidentals("K:D")) == 66


def test_tune_notes_apply_the_key_and_accidentals_until_the_bar_line():
    notes = tune_notes("M:2/4 L:1/8 K:D F =F F z | F 4 |", seconds_per_quarter=0.5)
    assert [n.pitch for n in notes] == [66, 65, 65, 66]
    assert [n.start for n in notes] == [0.0, 0.25, 0.5, 1.0]
    assert notes[-1].length == pytest.approx(1.0)


def test_synthesize_sounds_at_the_note_s_frequency():
    wave = synthesize([Note(69, 0.0, 1.0)], sample_rate=8000)
    assert wave.dtype == np.float32 and np.abs(wave).max() == pytest.approx(1.0)
    spectrum = np.abs(np.fft.rfft(wave))
    assert np.fft.rfftfreq(len(wave), 1 / 8000)[spectrum.argmax()] == pytest.approx(440, abs=2)
    assert midi_frequency(81) == pytest.approx(880)


def test_synthesize_stops_at_max_seconds_and_checks_its_arguments():
    assert len(synthesize([Note(60, 0.0, 30.0)], sample_rate=1000, max_seconds=2.0)) == 2001
    with pytest.raises(CourseInputError, match=r"sample_rate must be an integer, got 44\.1"):
        synthesize([], sample_rate=44.1)


def test_mu_law_tokens_are_256_levels_and_resolve_quiet_sounds_finely():
    tokens = mu_law_tokens(np.array([-1.0, 0.0, 1.0, 0.01, 0.02]))
    assert tokens[:3].tolist() == [0, 128, 255]
    assert tokens[4] - tokens[3] >= 4  # mu-law spends its levels on quiet samples


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    tokenizer = TuneTokenizer.from_tunes([JIG])
    torch.manual_seed(0)
    model = build_model(tune_model_config(tokenizer.vocab_size, n_layer=1, n_embd=16))
    return save_checkpoint(tmp_path_factory.mktemp("tunes") / "tiny", model, tokenizer, {"seed": 0})


def test_load_tune_model_round_trips_and_generates_reproducibly(tiny_checkpoint):
    loaded = load_tune_model(tiny_checkpoint)
    assert loaded.metadata["seed"] == 0 and not loaded.model.training
    first = generate_tunes(loaded.model, loaded.tokenizer, count=3, seed=1, max_tokens=20)
    assert len(first) == 3 and all(isinstance(tune, str) for tune in first)
    assert generate_tunes(loaded.model, loaded.tokenizer, count=3, seed=1, max_tokens=20) == first


def test_load_tune_model_refuses_an_edited_tokenizer(tiny_checkpoint, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in tiny_checkpoint.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    record = json.loads((copy / METADATA_FILE).read_text())
    record["tokenizer"]["tokens"][2], record["tokenizer"]["tokens"][3] = record["tokenizer"]["tokens"][3:1:-1]
    (copy / METADATA_FILE).write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="does not match its recorded sha256"):
        load_tune_model(copy)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_tune_model(tmp_path / "nowhere")


def test_encode_tunes_concatenates_start_to_end():
    tokenizer = TuneTokenizer.from_tunes([JIG])
    ids = encode_tunes([JIG, JIG], tokenizer)
    assert ids.shape == (2 * len(tokenizer.encode(JIG)),)
    assert (ids == tokenizer.stoi[START]).sum() == 2


def test_to_abc_writes_a_standard_file_and_music21_reads_even_garbage():
    assert to_abc(JIG).splitlines()[:5] == ["X:1", "T:Generated", "M:6/8", "L:1/8", "K:G"]
    assert to_abc(JIG).splitlines()[5].startswith("D|G2AB2c|")
    assert parses_with_music21(JIG)
    assert parses_with_music21("M:6/8 L:1/8 K:G | | 2 2 :| > A - - |")  # why parsing is a weak test


def test_train_tune_model_learns_and_tune_metrics_records_how_it_was_measured():
    tunes = load_tunes()[:40]
    model, tokenizer, history = train_tune_model(tunes, n_layer=1, n_embd=16, steps=20, seed=0)
    assert tokenizer.vocab_size == model.config.vocab_size and not model.training
    assert history.val_loss[-1] < history.val_loss[0]
    metrics = tune_metrics(model, tokenizer, count=4, seed=1)
    assert metrics["samples"] == 4 and metrics["sample_seed"] == 1
    assert 0.0 <= metrics["bar_accuracy"] <= 1.0
