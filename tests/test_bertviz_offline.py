"""course_lib.bertviz_offline: bertviz's views as HTML that needs no network and no global require.js,
with d3 v5 and jQuery 3 from installed packages, a static picture, and input errors naming the argument.
Drawing in a real browser is tested in tests/browser/test_bertviz_offline_browser.py."""

import matplotlib

matplotlib.use("Agg")

import base64
import io
import itertools
import json
import re
import warnings

import pytest
import torch
from IPython.display import HTML
from PIL import Image

from course_lib import bertviz_offline
from course_lib.checkpoints import load_checkpoint
from course_lib.configs import EncoderDecoderConfig
from course_lib.models import EncoderDecoderLM
from course_lib.validation import CourseInputError

CHECKPOINT = "data/checkpoints/char_gpt_python_docs"
TEXT = "def add(a, b):\n    return a + b"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def causal(*shape: int) -> torch.Tensor:
    """Random causal attention weights of ``shape`` (..., T, T) whose rows sum to 1."""
    torch.manual_seed(0)
    t = shape[-1]
    scores = torch.randn(*shape).masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), float("-inf"))
    return scores.softmax(dim=-1)


GOOD = [causal(1, 2, 3, 3), causal(1, 2, 3, 3)]
NAN = causal(1, 2, 3, 3).clone()
NAN[0, 1, 2, 0] = float("nan")
CROSS = [torch.randn(1, 2, 2, 3).softmax(dim=-1)] * 2  # per layer (1, H, T=2, S=3)


@pytest.fixture(scope="module")
def char_gpt():
    """Attention of the shipped character-level GPT on a line of Python: (attentions, tokens)."""
    checkpoint = load_checkpoint(CHECKPOINT)
    ids = torch.tensor([checkpoint.tokenizer.encode(TEXT)])
    with torch.no_grad():
        out = checkpoint.model(ids, return_attention=True)
    return out.attentions, [checkpoint.tokenizer.decode([i]) for i in ids[0].tolist()]


@pytest.fixture(scope="module")
def encoder_decoder():
    """A course_lib encoder-decoder on random weights: its three kinds of attention and both token lists."""
    torch.manual_seed(0)
    config = EncoderDecoderConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    model = EncoderDecoderLM(config).eval()
    with torch.no_grad():
        out = model(torch.tensor([[3, 4, 5, 6, 7]]), torch.tensor([[1, 8, 9]]), return_attention=True)
    return {
        "encoder_attention": out.encoder_attentions,
        "decoder_attention": out.attentions,
        "cross_attention": out.cross_attentions,
        "encoder_tokens": ["the", "cat", "sat", "down", "."],
        "decoder_tokens": ["<s>", "le", "chat"],
    }


@pytest.fixture
def fresh_session(monkeypatch):
    """As in a new kernel: no view returned yet, so the next one inlines the libraries and is number 1."""
    monkeypatch.setitem(bertviz_offline._session, "libraries_sent", False)
    monkeypatch.setattr(bertviz_offline, "_view_numbers", itertools.count(1))


def fallback_png(html: str) -> bytes:
    match = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert match, "the view has no static picture"
    return base64.b64decode(match.group(1))


# ------------------------------------------------------------------------------------------- the libraries


def test_d3_v5_and_jquery_v3_come_from_installed_packages():
    assert bertviz_offline.d3_path().is_file() and bertviz_offline.d3_path().parent.parent.name == "mpld3"
    assert bertviz_offline.jquery_path().is_file() and "xstatic" in bertviz_offline.jquery_path().parts
    versions = bertviz_offline.library_versions()
    assert versions["d3"].startswith("5."), versions  # v6 changed the event handlers' arguments
    assert versions["jquery"].startswith("3."), versions


@pytest.mark.parametrize("view", [bertviz_offline.head_view, bertviz_offline.model_view])
def test_first_view_inlines_the_libraries_and_later_views_do_not(view, char_gpt, fresh_session):
    first, second = view(*char_gpt), view(*char_gpt)
    assert isinstance(first, HTML)
    d3 = bertviz_offline.d3_path().read_text(encoding="utf-8")
    jquery = bertviz_offline.jquery_path().read_text(encoding="utf-8")
    assert d3 in first.data and jquery in first.data
    assert d3 not in second.data and jquery not in second.data
    assert "courseBertviz.provide(d3, $)" in first.data and "courseBertviz.provide" not in second.data
    assert len(second.data) < 120_000, f"a view without the libraries takes {len(second.data)} characters"
    forced = view(*char_gpt, include_libraries=True)
    assert d3 in forced.data and jquery in forced.data
    assert d3 not in view(*char_gpt, include_libraries=False).data


# ------------------------------------------------------------------------------------------- the HTML


@pytest.mark.parametrize("view", [bertviz_offline.head_view, bertviz_offline.model_view])
def test_view_loads_nothing_from_the_network_and_calls_no_global_require(view, char_gpt, fresh_session):
    html = view(*char_gpt).data
    assert not re.search(r"<script[^>]*\ssrc\s*=", html), "a script is loaded from a URL"
    assert "cdnjs" not in html and "require.min.js" not in html
    assert not re.search(r"(?<![\w.$])(require|requirejs)\s*[.(]", html), "a global require call is left"
    view_id = re.search(r'window\.courseBertviz\.draw\("(bertviz-[0-9a-f]+-\d+)", function \(\$, d3\)', html)
    assert view_id, "bertviz's drawing is not run through courseBertviz.draw"
    assert f'<div id="{view_id.group(1)}"' in html
    assert '<div class="course-bertviz-interactive" style="display: none">' in html  # until it draws
    assert '<div class="course-bertviz-fallback">' in html


@pytest.mark.parametrize("view", [bertviz_offline.head_view, bertviz_offline.model_view])
def test_view_carries_a_static_picture_of_the_attention(view, char_gpt):
    png = fallback_png(view(*char_gpt).data)
    assert png.startswith(PNG_SIGNATURE)
    width, height = Image.open(io.BytesIO(png)).size
    assert width > 300 and height > 300, (width, height)  # 4 heads as 2 x 2 panels


def test_view_shows_whitespace_tokens_visibly_and_writes_short_numbers(char_gpt):
    html = bertviz_offline.head_view(*char_gpt).data
    assert json.dumps("␣") in html and json.dumps("↵") in html  # a space and a line break in TEXT
    assert "[[[[1, 0, 0" in html, "whole numbers are not shortened (0.0 -> 0)"
    assert html.count('"left_text"') == 1, "bertviz's params are written twice"


def test_view_is_the_same_when_run_again_from_the_top(char_gpt, monkeypatch):
    """nbval compares saved outputs with a fresh run: the HTML must not change between kernel sessions."""
    runs = []
    for _ in range(2):
        monkeypatch.setitem(bertviz_offline._session, "libraries_sent", False)
        monkeypatch.setattr(bertviz_offline, "_view_numbers", itertools.count(1))
        runs.append([bertviz_offline.head_view(*char_gpt).data, bertviz_offline.model_view(*char_gpt).data])
    assert runs[0] == runs[1]
    again = bertviz_offline.head_view(*char_gpt).data
    ids = {re.search(r'courseBertviz\.draw\("([^"]+)"', html).group(1) for html in [*runs[0], again]}
    assert len(ids) == 3, "two views on one page share an id"


def test_sub_word_markers_are_dropped_and_whitespace_shown_as_in_course_plots():
    html = bertviz_offline.head_view(GOOD, ["Ġthe", "▁cat", "sat</w>"]).data
    assert json.dumps(["␣the", "␣cat", "sat"]) in html


def test_sentence_pair_layer_and_heads_reach_bertviz(char_gpt):
    attentions, tokens = char_gpt
    html = bertviz_offline.head_view(attentions, tokens, sentence_b_start=15, layer=1, heads=[0, 2]).data
    assert '<option value="3">Sentence A -> Sentence B</option>' in html
    assert '"layer": 1' in html and '"heads": [0, 2]' in html
    assert 'alt="attention, layer 1:' in html  # the static picture shows the layer the view opens on


@pytest.mark.parametrize("view", [bertviz_offline.head_view, bertviz_offline.model_view])
def test_encoder_decoder_form_shows_encoder_decoder_and_cross_attention(view, encoder_decoder):
    html = view(**encoder_decoder).data
    for name in ("Encoder", "Decoder", "Cross"):
        assert f">{name}</option>" in html
    assert fallback_png(html).startswith(PNG_SIGNATURE)
    cross_only = view(
        cross_attention=encoder_decoder["cross_attention"],
        encoder_tokens=encoder_decoder["encoder_tokens"],
        decoder_tokens=encoder_decoder["decoder_tokens"],
    ).data
    assert (
        '"left_text": ["<s>", "le", "chat"], "right_text": ["the", "cat", "sat", "down", "."]' in cross_only
    )


def test_hugging_face_attentions_work_with_eager_and_sdpa_is_refused_with_the_fix():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from transformers import GPT2Config, GPT2LMHeadModel
    config = GPT2Config(vocab_size=50, n_positions=16, n_embd=16, n_layer=2, n_head=2, bos_token_id=0)
    config.eos_token_id = 0
    tokens = ["a", "b", "c", "d"]
    for implementation in ("eager", "sdpa"):
        torch.manual_seed(0)
        model = GPT2LMHeadModel._from_config(config, attn_implementation=implementation).eval()
        with torch.no_grad():
            attentions = model(torch.tensor([[1, 2, 3, 4]]), output_attentions=True).attentions
        if implementation == "eager":
            assert isinstance(attentions, tuple) and len(attentions) == 2  # never empty: the view needs them
            assert "courseBertviz.draw" in bertviz_offline.head_view(attentions, tokens).data
        else:
            with pytest.raises(CourseInputError, match=r'^attention must be .*attn_implementation="eager"'):
                bertviz_offline.head_view(attentions, tokens)


# ------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"attention": [], "tokens": "abc"}, r"^attention must be a non-empty list .*eager"),
        ({"attention": GOOD[0], "tokens": "abc"}, r"^attention must be a non-empty list"),
        ({"attention": [None, None], "tokens": "abc"}, r"^attention\[0\] must be a tensor, got None.*eager"),
        ({"attention": [GOOD[0], NAN], "tokens": "abc"}, r"^attention\[1\] must be free of NaN"),
        (
            {"attention": [causal(2, 2, 3, 3)], "tokens": "abc"},
            r"^attention\[0\] must be of shape .* select one",
        ),
        (
            {"attention": [GOOD[0], causal(1, 3, 3, 3)], "tokens": "abc"},
            r"^attention\[1\] must be of the same",
        ),
        (
            {"attention": [torch.randn(1, 2, 3, 3)], "tokens": "abc"},
            r"^attention\[0\] must be attention weights",
        ),
        ({"attention": GOOD, "tokens": "abcd"}, r"^tokens must be one label per entry of T_q .*got 4 labels"),
        ({"attention": GOOD}, r"^tokens must be one string per token, got None"),
        ({"attention": GOOD, "tokens": "abc", "layer": 2}, r"^layer must be an integer from 0 to 1, got 2"),
        ({"attention": GOOD, "tokens": "abc", "heads": [2]}, r"^heads must be an integer from 0 to 1, got 2"),
        ({"attention": GOOD, "tokens": "abc", "heads": []}, r"^heads must be a non-empty list"),
        (
            {"attention": GOOD, "tokens": "abc", "sentence_b_start": 3},
            r"^sentence_b_start must be an integer",
        ),
        ({}, r"^attention must be given \(or encoder_attention"),
        (
            {"attention": GOOD, "tokens": "abc", "encoder_attention": GOOD, "encoder_tokens": "abc"},
            r"^attention must be given alone, got attention and encoder_attention",
        ),
        (
            {"cross_attention": CROSS, "decoder_tokens": "xy", "encoder_tokens": "abcd"},
            r"^encoder_tokens must be one label per entry of T_k \(cross_attention has T_k = 3\)",
        ),
        (
            {
                "encoder_attention": GOOD,
                "encoder_tokens": "abc",
                "decoder_attention": GOOD[:1],
                "decoder_tokens": "xyz",
            },
            r"^decoder_attention must be as many layers as encoder_attention \(2\), got 1 layers",
        ),
    ],
)
def test_head_view_names_the_argument_that_is_wrong(arguments, message):
    with pytest.raises(CourseInputError, match=message):
        bertviz_offline.head_view(**arguments)


def test_model_view_names_the_argument_that_is_wrong():
    with pytest.raises(CourseInputError, match=r'^display_mode must be "light" or "dark", got \'blue\''):
        bertviz_offline.model_view(GOOD, "abc", display_mode="blue")
    with pytest.raises(CourseInputError, match=r"^tokens must be one label per entry of T_q"):
        bertviz_offline.model_view(GOOD, "ab")


def test_a_bertviz_whose_html_changed_is_refused_with_the_fix():
    with pytest.raises(RuntimeError, match=r"rewrites the HTML of bertviz 1\.4\.1.*make setup"):
        bertviz_offline._rewrite("<div>another bertviz</div>", "bertviz-x-1")
