"""course_lib.evidence: the prompts' evidence comes from the checkpoint records and arithmetic, and a
notebook's saved table round-trips (bad or missing files read as "not run here")."""

from __future__ import annotations

import json

import pytest

from course_lib import evidence
from course_lib.validation import CourseInputError


def test_families_evidence_is_the_checkpoint_records() -> None:
    rows = evidence.recorded_evidence("05-encoder-vs-decoder")
    ed = evidence.recorded_metrics("dates_encoder_decoder")
    do = evidence.recorded_metrics("dates_decoder_only")
    assert rows["exact match, 4 unseen date formats"] == (
        f"{ed['hard_exact_match']:.1%} vs {do['hard_exact_match']:.1%}"
    )
    assert rows["parameters (encoder-decoder vs decoder-only)"].startswith(f"{ed['params']:,}")


def test_high_resolution_evidence_is_arithmetic_and_records() -> None:
    rows = evidence.recorded_evidence("07-high-resolution", available_bytes=8 * 2**30)
    assert rows["256 x 256 image, one token per pixel: tokens"] == "65,536"
    # two float32 tables of 65,536^2 numbers
    assert rows["its attention table, one head, one layer (written out)"] == "32 GiB"
    assert rows["free memory on this machine"] == "8.0 GiB"
    assert rows["doubling the side multiplies full attention's pairs by"] == "16"
    assert rows["digits, raster vs MaskGIT (K = 8): sequential passes"] == "64 vs 8"
    assert rows["10 s of 512 px video at 24 fps, 16 px patches: tokens"] == f"{240 * 32 * 32:,}"
    assert rows["its KV cache (24 layers, width 1,024, bf16)"] == (
        f"{2 * 24 * 240 * 1024 * 1024 * 2 / 2**30:.1f} GiB"
    )


def test_unknown_prompt_or_checkpoint_is_named() -> None:
    with pytest.raises(CourseInputError, match="prompt_id must be one of"):
        evidence.recorded_evidence("09-something-else")
    with pytest.raises(CourseInputError, match="checkpoint must be a shipped checkpoint's name"):
        evidence.recorded_metrics("nope")


def test_saved_evidence_round_trips_as_text(tmp_path) -> None:
    path = evidence.save_notebook_evidence(
        "07-high-resolution", {"exponent": 2.0, "fits": False}, notebook="07", folder=tmp_path
    )
    assert path == tmp_path / "evidence" / "07-high-resolution.json"
    assert evidence.load_notebook_evidence("07-high-resolution", folder=tmp_path) == {
        "notebook": "07",
        "rows": {"exponent": "2.0", "fits": "False"},
    }
    assert not list((tmp_path / "evidence").glob(".*")), "temporary file left behind"


@pytest.mark.parametrize("content", ["{broken", json.dumps({"format": "other"}), json.dumps([1, 2])])
def test_a_missing_or_unreadable_file_reads_as_not_run(tmp_path, content) -> None:
    assert evidence.load_notebook_evidence("05-encoder-vs-decoder", folder=tmp_path) is None
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "05-encoder-vs-decoder.json").write_text(content)
    assert evidence.load_notebook_evidence("05-encoder-vs-decoder", folder=tmp_path) is None


def test_bad_evidence_and_unwritable_folders_are_named(tmp_path) -> None:
    with pytest.raises(CourseInputError, match="evidence must be a non-empty dict"):
        evidence.save_notebook_evidence("05-encoder-vs-decoder", {}, notebook="05", folder=tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CourseInputError, match=r"a folder you can write to.*COURSE_ANSWERS_DIR"):
        evidence.save_notebook_evidence(
            "05-encoder-vs-decoder", {"a": 1}, notebook="05", folder=blocker / "x"
        )
