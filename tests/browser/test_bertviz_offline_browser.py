"""course_lib.bertviz_offline in headless Chromium with every request off this machine blocked: the head
view and the model view draw their SVG, several views share one page (in either order), page globals and a
global AMD loader are left alone, and with scripts off (an untrusted notebook) the static picture shows.
Screenshots go to artifacts/screenshots/bertviz/."""

from __future__ import annotations

import itertools

import pytest
import torch
from labdriver import SCREENSHOTS, VIEWPORT, NetworkLog

from course_lib import bertviz_offline
from course_lib.checkpoints import load_checkpoint
from course_lib.configs import EncoderDecoderConfig
from course_lib.models import EncoderDecoderLM

pytestmark = pytest.mark.browser

SHOTS = SCREENSHOTS / "bertviz"
DRAW_MS = 10_000

# Per view: its SVG elements by kind, and whether its static picture is still there.
_DRAWN = """() => [...document.querySelectorAll('.course-bertviz')].map(view => {
  const fallback = view.querySelector('.course-bertviz-fallback');
  const count = (selector) => view.querySelectorAll(selector).length;
  return {
    svg: count('svg'), rect: count('svg rect'), line: count('svg line, svg path'), text: count('svg text'),
    fallbackShown: !!fallback && getComputedStyle(fallback).display !== 'none',
  };
})"""

# What a classic notebook page may hold: a global AMD loader and a page's own $; the views must not use them.
_PAGE_GLOBALS = """
window.amdCalls = [];
window.define = function () { window.amdCalls.push('define'); throw new Error('a view called define'); };
window.define.amd = {};
window.require = window.requirejs = function () { window.amdCalls.push('require'); };
window.$ = 'the page own $';
"""


@pytest.fixture(scope="module")
def views():
    """HTML of a head view (with the libraries), a model view and an encoder-decoder head view (without)."""
    with pytest.MonkeyPatch.context() as patch:  # as in a new kernel: the first view carries the libraries
        patch.setitem(bertviz_offline._session, "libraries_sent", False)
        patch.setattr(bertviz_offline, "_view_numbers", itertools.count(1))
        return _three_views()


def _three_views() -> dict[str, str]:
    checkpoint = load_checkpoint("data/checkpoints/char_gpt_python_docs")
    ids = torch.tensor([checkpoint.tokenizer.encode("def add(a, b):\n    return a + b")])
    with torch.no_grad():
        attentions = checkpoint.model(ids, return_attention=True).attentions
    tokens = [checkpoint.tokenizer.decode([i]) for i in ids[0].tolist()]
    torch.manual_seed(0)
    config = EncoderDecoderConfig(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    with torch.no_grad():
        out = EncoderDecoderLM(config).eval()(
            torch.tensor([[3, 4, 5, 6, 7]]), torch.tensor([[1, 8, 9]]), return_attention=True
        )
    return {
        "head": bertviz_offline.head_view(attentions, tokens, layer=1).data,
        "model": bertviz_offline.model_view(attentions, tokens).data,
        "encoder_decoder": bertviz_offline.head_view(
            encoder_attention=out.encoder_attentions,
            decoder_attention=out.attentions,
            cross_attention=out.cross_attentions,
            encoder_tokens=["the", "cat", "sat", "down", "."],
            decoder_tokens=["<s>", "le", "chat"],
        ).data,
    }


def open_page(chromium, tmp_path, parts: list[str], *, scripts: bool = True, head: str = ""):
    """Write the views into one file:// page, open it offline; returns (context, page, network, errors)."""
    page_file = tmp_path / "views.html"
    body = "\n".join(f'<div class="output">{part}</div>' for part in parts)
    page_file.write_text(
        f'<!doctype html><html><head><meta charset="utf-8"><script>{head}</script></head>'
        f'<body style="margin: 16px">{body}</body></html>',
        encoding="utf-8",
    )
    context = chromium.new_context(viewport=VIEWPORT, java_script_enabled=scripts)
    network = NetworkLog()
    network.attach(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(page_file.as_uri())
    return context, page, network, errors


def wait_until_drawn(page, count: int) -> list[dict]:
    page.wait_for_function(
        """(count) => {
          const views = document.querySelectorAll('.course-bertviz');
          return views.length === count && [...views].every(view => view.querySelector('svg text'));
        }""",
        arg=count,
        timeout=DRAW_MS,
    )
    return page.evaluate(_DRAWN)


def assert_drawn(view: dict) -> None:
    assert view["svg"] >= 1 and view["text"] > 0 and view["rect"] + view["line"] > 0, view
    assert not view["fallbackShown"], f"the static picture is still shown over a drawn view: {view}"


def test_head_view_model_view_and_encoder_decoder_view_draw_offline_on_one_page(chromium, tmp_path, views):
    context, page, network, errors = open_page(
        chromium, tmp_path, [views["head"], views["model"], views["encoder_decoder"]]
    )
    try:
        drawn = wait_until_drawn(page, 3)
        for view in drawn:
            assert_drawn(view)
        assert drawn[1]["line"] > drawn[0]["line"], "the model view draws every head of every layer"
        assert page.locator("select#filter option").all_inner_texts() == ["Encoder", "Decoder", "Cross"]
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "head_model_encoder_decoder.png"), full_page=True)
    finally:
        context.close()
    assert network.blocked == [], f"the views asked the network for {network.blocked}"
    assert errors == []


def test_views_answer_clicks_and_menus(chromium, tmp_path, views):
    """jQuery 3 and d3 5 handle bertviz's events: the layer menu redraws the head view, a click on a
    thumbnail of the model view opens its detail."""
    context, page, _, errors = open_page(chromium, tmp_path, [views["head"], views["model"]])
    try:
        wait_until_drawn(page, 2)
        head, model = page.locator(".course-bertviz").nth(0), page.locator(".course-bertviz").nth(1)
        lines_before = head.locator("svg").inner_html()
        head.locator("select#layer").select_option("0")
        assert head.locator("svg").inner_html() != lines_before, "the layer menu did not redraw the view"
        assert model.locator("svg .detail").count() == 0
        thumbnail = model.locator("#attn_background_0_0")
        thumbnail.scroll_into_view_if_needed()
        box = thumbnail.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        assert model.locator("svg .detail").count() > 0, "a click on a thumbnail opened no detail"
        SHOTS.mkdir(parents=True, exist_ok=True)
        model.screenshot(path=str(SHOTS / "model_view_detail.png"))
    finally:
        context.close()
    assert errors == []


def test_model_view_fits_a_narrow_output_area(chromium, tmp_path, views):
    """JupyterLab with the file browser open leaves about 850 px: the model view must not be cut off."""
    narrow = f'<div style="width: 760px">{views["head"]}{views["model"]}</div>'
    context, page, _, errors = open_page(chromium, tmp_path, [narrow])
    try:
        wait_until_drawn(page, 2)
        widths = page.evaluate(
            "() => [...document.querySelectorAll('.course-bertviz svg')]"
            ".map(svg => svg.getBoundingClientRect().width)"
        )
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "model_view_760px.png"), full_page=True)
    finally:
        context.close()
    assert 0 < max(widths) <= 760, widths
    assert errors == []


def test_a_view_rendered_before_the_libraries_waits_for_them(chromium, tmp_path, views):
    """JupyterLab may render outputs out of order (windowing): the views draw once the libraries arrive."""
    context, page, network, errors = open_page(chromium, tmp_path, [views["model"], views["head"]])
    try:
        for view in wait_until_drawn(page, 2):
            assert_drawn(view)
    finally:
        context.close()
    assert network.blocked == [] and errors == []


def test_a_view_whose_libraries_never_arrive_keeps_its_static_picture(chromium, tmp_path, views):
    """E.g. the page was reloaded without saving while the kernel kept running, then one cell was re-run."""
    context, page, _, errors = open_page(chromium, tmp_path, [views["model"]])
    try:
        page.wait_for_load_state("load")
        assert page.locator(".course-bertviz img").is_visible()
        assert not page.locator(".course-bertviz select").first.is_visible()
    finally:
        context.close()
    assert errors == []


def test_page_globals_and_a_global_amd_loader_are_left_alone(chromium, tmp_path, views):
    context, page, _, errors = open_page(
        chromium, tmp_path, [views["head"], views["model"]], head=_PAGE_GLOBALS
    )
    try:
        for view in wait_until_drawn(page, 2):
            assert_drawn(view)
        globals_after = page.evaluate("() => [window.amdCalls, window.$, typeof window.d3, typeof jQuery]")
    finally:
        context.close()
    assert globals_after == [[], "the page own $", "undefined", "undefined"]
    assert errors == []


def test_without_scripts_the_static_picture_shows(chromium, tmp_path, views):
    """An untrusted notebook runs no scripts: the reader sees the PNG of the same attention."""
    context, page, network, _ = open_page(chromium, tmp_path, [views["head"], views["model"]], scripts=False)
    try:
        page.wait_for_load_state("load")
        pictures = page.locator(".course-bertviz img")
        assert pictures.count() == 2
        for index in range(2):
            assert pictures.nth(index).is_visible()
            assert pictures.nth(index).evaluate("img => img.naturalWidth") > 300
        assert page.locator(".course-bertviz svg").count() == 0
        assert not page.locator(".course-bertviz select").first.is_visible(), "empty menus are shown"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "static_pictures_without_scripts.png"), full_page=True)
    finally:
        context.close()
    assert network.blocked == []
