"""course_lib.attention_cost: the arithmetic, the three attentions against PyTorch, and the measurements."""

import pytest
import torch
import torch.nn.functional as F

from course_lib import attention_cost as cost
from course_lib.architecture import Architecture, kv_cache_bytes
from course_lib.validation import CourseInputError


def board_masks(grid: int, window: int) -> dict[str, torch.Tensor]:
    """(T, T) boolean masks, True = may attend: same block, same row, same column."""
    rows, columns = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    rows, columns = rows.flatten(), columns.flatten()
    block = (rows // window) * grid + columns // window
    return {
        "block": block[:, None] == block[None, :],
        "row": rows[:, None] == rows[None, :],
        "column": columns[:, None] == columns[None, :],
    }


def qkv(grid: int, head_dim: int = 16) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    return tuple(torch.randn(2, 3, grid * grid, head_dim, generator=generator) for _ in range(3))


def test_full_attention_matches_pytorch():
    q, k, v = qkv(6)
    torch.testing.assert_close(cost.full_attention(q, k, v), F.scaled_dot_product_attention(q, k, v))


def test_window_attention_is_full_attention_masked_to_its_block():
    q, k, v = qkv(8)
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=board_masks(8, 4)["block"])
    torch.testing.assert_close(cost.window_attention(q, k, v, grid=8, window=4), want)


def test_the_fused_kernel_can_run_inside_window_and_axial_attention():
    q, k, v = qkv(8)
    fused = F.scaled_dot_product_attention
    for kind in cost.ATTENTION_KINDS:
        want = cost.attend(kind, q, k, v, grid=8, window=4)
        torch.testing.assert_close(cost.attend(kind, q, k, v, grid=8, window=4, core=fused), want)


def test_axial_attention_is_a_row_pass_then_a_column_pass_and_reaches_every_token():
    q, k, v = qkv(5)
    masks = board_masks(5, 1)
    along_rows = F.scaled_dot_product_attention(q, k, v, attn_mask=masks["row"])
    want = F.scaled_dot_product_attention(q, k, along_rows, attn_mask=masks["column"])
    torch.testing.assert_close(cost.axial_attention(q, k, v, grid=5), want)
    v = v.clone().requires_grad_()
    cost.axial_attention(q, k, v, grid=5)[0, 0, 0].sum().backward()
    assert (v.grad[0, 0].abs().sum(dim=-1) > 0).all()  # token 0 hears from every token


def test_keys_and_pairs_grow_as_t_squared_t_and_t_to_the_one_and_a_half():
    grids = [16, 32, 64]
    tokens = [g * g for g in grids]
    for kind, exponent in (("full", 2.0), ("window", 1.0), ("axial", 1.5)):
        pairs = [cost.score_pairs(kind, grid=g, window=8) for g in grids]
        assert cost.fitted_exponent(tokens, pairs) == pytest.approx(exponent, abs=1e-9)
    assert cost.keys_per_query("full", grid=4, frames=3) == 48
    assert cost.keys_per_query("window", grid=4, window=8) == 16  # the window is the whole board
    assert cost.keys_per_query("axial", grid=4, frames=3) == 2 * 4 + 3
    assert cost.score_pairs("full", grid=4, n_head=8) == 8 * 16 * 16


def test_grid_side_and_flops():
    assert cost.grid_side(256, 16) == 16
    flops = cost.layer_flops(10, 100, d_model=32, head_dim=8)
    assert flops == {"projections": 8 * 10 * 32 * 32, "attention": 4 * 100 * 8}


def test_kv_cache_bytes_agrees_with_the_architecture_module():
    arch = Architecture(
        family="decoder-only", n_layer=6, n_head=8, d_model=512, d_ff=2048, vocab_size=1000, context=4096
    )
    assert cost.kv_cache_bytes(4096, n_layer=6, d_model=512) == kv_cache_bytes(arch, 4096, dtype="bf16")


def test_generation_cost_sums():
    for tokens in (1, 7, 64):
        t = range(1, tokens + 1)
        assert cost.generation_cost("raster, KV cache", tokens) == {"passes": tokens, "pairs": sum(t)}
        no_cache = cost.generation_cost("raster, no cache", tokens)
        assert no_cache == {"passes": tokens, "pairs": sum(i * i for i in t)}
    assert cost.generation_cost("MaskGIT", 64, steps=8) == {"passes": 8, "pairs": 8 * 64 * 64}


def test_max_tokens_is_the_largest_that_fits():
    available = 10**9
    tokens = cost.max_full_attention_tokens(available, n_head=2)
    assert 2 * tokens**2 * 8 <= available < 2 * (tokens + 1) ** 2 * 8


def test_written_out_attention_peaks_at_two_tables_and_the_fused_kernel_at_almost_nothing():
    sizes = [2048, 3072]
    peaks = cost.measure_peak_bytes(sizes)
    naive, fused = peaks["written out"], peaks["fused"]
    for tokens, measured, small in zip(sizes, naive, fused, strict=True):
        predicted = cost.predicted_peak_bytes(tokens * tokens)
        assert measured == pytest.approx(predicted, rel=0.1)
        assert small < 0.1 * predicted


def test_timing_is_positive_and_available_memory_is_plausible():
    for fused in (True, False):
        assert cost.time_attention("window", grid=16, repeats=1, fused=fused) > 0
    assert 2**27 < cost.available_memory_bytes() < 2**50


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: cost.grid_side(256, 3), "patch"),
        (lambda: cost.grid_side(0, 1), "side"),
        (lambda: cost.keys_per_query("global", grid=4), "kind"),
        (lambda: cost.keys_per_query("full", grid=4, frames=0), "frames"),
        (lambda: cost.window_attention(*qkv(6), grid=6, window=4), "window"),
        (lambda: cost.axial_attention(*qkv(6), grid=5), "q"),
        (lambda: cost.generation_cost("MaskGIT", 16), "steps"),
        (lambda: cost.generation_cost("beam", 16), "method"),
        (lambda: cost.measure_peak_bytes([2048, 1024]), "token_counts"),
        (lambda: cost.measure_peak_bytes([10**6]), "token_counts[0]"),
    ],
)
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(CourseInputError, match=rf"^{argument.replace('[', '.').replace(']', '.')} must be"):
        call()
