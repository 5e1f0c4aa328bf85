"""Properties of the LCT watermark (paper eq. 3-5) and its input checks."""

from __future__ import annotations

import math

import pytest
import torch

from anw_helpers import color
from anw_helpers.color import YIQ, lct_matrix, watermark

torch.manual_seed(0)
IMAGES = torch.rand(4, 3, 8, 8)


def in_gamut_images(n: int = 6) -> torch.Tensor:
    """Greyish images that stay inside the RGB cube under any hue rotation (no clipping)."""
    return 0.4 + 0.2 * torch.rand(n, 3, 5, 5)


def test_yiq_is_eq3_exactly():
    expected = [[0.299, 0.587, 0.114], [0.596, -0.275, -0.321], [0.212, -0.523, 0.311]]
    assert YIQ.tolist() == expected


def test_yiq_round_trips_with_its_inverse():
    x = IMAGES
    torch.testing.assert_close(color.yiq_to_rgb(color.rgb_to_yiq(x)), x, atol=1e-6, rtol=0)


def test_g0_is_identity():
    torch.testing.assert_close(lct_matrix(0), torch.eye(3), atol=1e-7, rtol=0)


@pytest.mark.parametrize("a,b", [(30, 60), (90, 300), (-45, 17.5)])
def test_composition_adds_signatures(a, b):
    torch.testing.assert_close(lct_matrix(a) @ lct_matrix(b), lct_matrix(a + b), atol=1e-6, rtol=0)


@pytest.mark.parametrize("k", [0, 60, 210, 333.3])
def test_periodic_and_inverse(k):
    torch.testing.assert_close(lct_matrix(k + 360), lct_matrix(k), atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.linalg.inv(lct_matrix(k)), lct_matrix(-k), atol=1e-6, rtol=0)


@pytest.mark.parametrize("k", [30, 60, 180, 330])
def test_g_preserves_luma_but_printed_order_does_not(k):
    """g_k = T^-1 R T keeps Y: the first row of T g_k equals the first row of T. The printed eq. 5
    order does not."""
    g = lct_matrix(torch.tensor(k, dtype=torch.float64))
    torch.testing.assert_close(YIQ[0] @ g, YIQ[0], atol=1e-9, rtol=0)
    printed = YIQ @ color.hue_rotation(k) @ torch.linalg.inv(YIQ)
    assert (YIQ[0] @ printed - YIQ[0]).abs().max() > 1e-2


def test_watermark_keeps_luma_of_in_gamut_pixels():
    x = in_gamut_images()
    torch.testing.assert_close(color.luma(watermark(x, 60)), color.luma(x), atol=1e-6, rtol=0)


def test_watermark_then_remove_restores_in_gamut_images():
    x = in_gamut_images()
    assert float(color.clipped_fraction(x, 120).max()) == 0.0
    torch.testing.assert_close(color.remove_watermark(watermark(x, 120), 120), x, atol=1e-5, rtol=0)


def test_watermark_clips_to_unit_range_and_keeps_shape_dtype():
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    y = watermark(x, 60)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def test_batched_and_single_image_calls_agree():
    batched = watermark(IMAGES, 90)
    singles = torch.stack([watermark(img, 90) for img in IMAGES])
    torch.testing.assert_close(batched, singles)
    nested = watermark(IMAGES.view(2, 2, 3, 8, 8), 90).view(4, 3, 8, 8)
    torch.testing.assert_close(nested, batched)


def test_gradient_wrt_k_matches_finite_differences():
    x = in_gamut_images().double()
    k = torch.tensor(40.0, dtype=torch.float64, requires_grad=True)
    g = lct_matrix(k)
    (color.apply_color_matrix(x, g) ** 2).sum().backward()
    eps = 1e-4

    def f(v: float) -> float:
        return float(
            (
                color.apply_color_matrix(x, lct_matrix(torch.tensor(v, dtype=torch.float64))) ** 2
            ).sum()
        )

    numeric = (f(40 + eps) - f(40 - eps)) / (2 * eps)
    assert math.isclose(float(k.grad), numeric, rel_tol=1e-5, abs_tol=1e-8)


def test_float32_tensor_signature_has_gradient():
    k = torch.tensor(10.0, requires_grad=True)
    watermark(in_gamut_images(), k).sum().backward()
    assert k.grad is not None and torch.isfinite(k.grad)


def test_custom_color_space_preserves_its_first_coordinate():
    T = color.random_color_space(torch.Generator().manual_seed(3))
    g = lct_matrix(torch.tensor(75.0, dtype=torch.float64), T)
    torch.testing.assert_close(T[0] @ g, T[0], atol=1e-8, rtol=0)
    assert not torch.allclose(g, lct_matrix(75).double(), atol=1e-3)


def test_random_color_space_is_uniform_and_well_conditioned():
    gen = torch.Generator().manual_seed(0)
    mats = torch.stack([color.random_color_space(gen) for _ in range(50)])
    assert float(mats.min()) >= -1 and float(mats.max()) <= 1
    assert all(float(torch.linalg.cond(m)) <= 50 for m in mats)
    again = color.random_color_space(torch.Generator().manual_seed(0))
    torch.testing.assert_close(again, mats[0])


def test_identity_clips_nothing():
    assert float(color.clipped_fraction(torch.rand(3, 3, 8, 8).round(), 0).max()) == 0.0


def test_psnr_and_clipped_fraction():
    x = IMAGES
    assert torch.isinf(color.psnr(x, x)).all()
    p = color.psnr(x, watermark(x, 60))
    assert p.shape == (4,) and bool((p > 0).all())
    frac = color.clipped_fraction(x, 60)
    assert frac.shape == (4,) and bool(((frac >= 0) & (frac <= 1)).all())


def test_blue_channel_watermark_sets_seeded_pixels_only():
    x = torch.rand(2, 3, 64, 64)
    y = color.blue_channel_watermark(x, 0.3)
    pos = color.blue_pixel_positions(64, 64, 512, seed=0)
    assert len(pos) == 512, "the paper's 512 of 4,096 pixels"
    blue = y[:, 2].reshape(2, -1)
    assert int((color.blue_channel_watermark(torch.rand(1, 3, 32, 32), 0.3) != 0).sum()) > 0
    assert torch.all(blue[:, pos] == 0.3)
    changed = (y != x).any(dim=1).reshape(2, -1).any(dim=0)
    assert set(changed.nonzero().squeeze(1).tolist()) <= set(pos.tolist())
    torch.testing.assert_close(y[:, :2], x[:, :2])


# ---------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "bad,exc,words",
    [
        (torch.zeros(1, 3, 4, 4, dtype=torch.uint8), TypeError, "uint8"),
        (torch.zeros(1, 3, 4, 4, dtype=torch.int64), TypeError, "int64"),
        (torch.rand(1, 4, 4, 4), ValueError, "4 channels"),
        (torch.rand(4, 4), ValueError, "at least 3 dimensions"),
        (torch.full((1, 3, 2, 2), float("nan")), ValueError, "NaN"),
        (torch.rand(1, 3, 2, 2) * 255, ValueError, "[0, 1]"),
        (torch.rand(1, 3, 2, 2) - 0.5, ValueError, "[0, 1]"),
        ([[0.1, 0.2, 0.3]], TypeError, "list"),
    ],
)
def test_bad_images_raise_clear_errors(bad, exc, words):
    with pytest.raises(exc, match=None) as info:
        watermark(bad, 60)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "space,words",
    [
        (torch.zeros(3, 3), "singular"),
        (torch.tensor([[1.0, 2, 3], [2, 4, 6], [0, 0, 1]]), "singular"),
        (torch.eye(2), "3x3"),
        (torch.full((3, 3), float("nan")), "NaN"),
    ],
)
def test_bad_color_space_raises(space, words):
    with pytest.raises(ValueError) as info:
        lct_matrix(60, space)
    assert words in str(info.value)


@pytest.mark.parametrize(
    "k,exc",
    [
        ("60", TypeError),
        (float("nan"), ValueError),
        (torch.tensor([1.0, 2.0]), ValueError),
        (True, TypeError),
    ],
)
def test_bad_signature_raises(k, exc):
    with pytest.raises(exc):
        lct_matrix(k)


def test_mark_cost_of_the_identity_is_nothing():
    """k = 0 (g_0 = I, eq. 5) leaves every photo as it is: PSNR inf, no pixel clipped."""
    cost = color.mark_cost(IMAGES, 0)
    assert math.isinf(cost.psnr) and cost.psnr > 0 and cost.clipped == 0.0
    assert math.isinf(color.mark_cost(IMAGES, 0, color.color_space_from_seed(3)).psnr)


def test_mark_cost_of_a_uniform_color_space_clips_most_pixels():
    """Sec. 5.4's T ~ U(-1, 1) pushes most pixels out of the cube; YIQ (eq. 3) clips far fewer and
    keeps the photo closer (higher PSNR); the tilted rotation of lesson 10 sits near YIQ."""
    from anw_helpers.adaptive import tilted_color_space

    photos = torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    yiq = color.mark_cost(photos, 60)
    tilted = color.mark_cost(photos, 60, tilted_color_space(20.0))
    uniform = [color.mark_cost(photos, 60, color.color_space_from_seed(s)) for s in range(5)]
    assert all(u.clipped > 0.5 for u in uniform)
    assert all(u.clipped > yiq.clipped and u.psnr < yiq.psnr for u in uniform)
    assert tilted.clipped < min(u.clipped for u in uniform)
    # the cost is the median of psnr and the mean of clipped_fraction, nothing else
    assert yiq.psnr == float(color.psnr(photos, watermark(photos, 60)).median())
    assert yiq.clipped == float(color.clipped_fraction(photos, 60).mean())


def test_mark_cost_counts_exactly_the_pixels_pushed_out():
    """A greyish photo stays inside the cube (0 clipped); one saturated pixel of four leaves it."""
    grey = in_gamut_images(2)
    assert color.mark_cost(grey, 120).clipped == 0.0
    x = torch.full((1, 3, 2, 2), 0.5)
    x[0, :, 0, 0] = torch.tensor([1.0, 0.0, 0.0])  # pure red: a hue rotation leaves the cube
    assert color.mark_cost(x, 120).clipped == 0.25
    with pytest.raises(ValueError, match="empty"):
        color.mark_cost(torch.zeros(0, 3, 2, 2), 60)
