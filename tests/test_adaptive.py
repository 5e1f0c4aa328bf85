"""Lesson 10's pieces (anw_helpers.adaptive, the luma-only model, JPEG squeezing) on tiny inputs."""

from __future__ import annotations

import pytest
import torch

from anw_helpers import adaptive
from anw_helpers.augment import get_augmentation, jpeg_squeeze
from anw_helpers.color import color_space_from_seed, watermark
from anw_helpers.datasets import ImageSet, to_float
from anw_helpers.models import LumaOnly, build_model


def _images(n: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    smooth = torch.rand(n, 3, 4, 4, generator=g)
    return torch.nn.functional.interpolate(smooth, size=32, mode="bilinear").clamp(0.05, 0.95)


def test_a_luma_only_model_cannot_see_a_yiq_rotation_but_sees_a_random_space() -> None:
    model = build_model("small_resnet_luma", 10, 4).eval()
    assert isinstance(model, LumaOnly)
    x = _images() * 0.5 + 0.25  # no clipping at any key
    with torch.no_grad():
        clean, yiq = model(x), model(watermark(x, 90.0))
        own = model(watermark(x, 90.0, color_space_from_seed(3)))
    assert torch.allclose(clean, yiq, atol=1e-4)
    assert not torch.allclose(clean, own, atol=1e-2)


def test_the_luma_model_has_the_small_resnets_weights() -> None:
    a, b = build_model("small_resnet", 10, 4), build_model("small_resnet_luma", 10, 4)
    assert a.state_dict().keys() == b.state_dict().keys()


def test_luma_change_is_zero_for_yiq_and_large_for_a_random_space() -> None:
    x = _images() * 0.5 + 0.25
    assert float(adaptive.luma_change(x, 60.0).max()) < 1e-6
    assert float(adaptive.luma_change(x, 60.0, color_space_from_seed(3)).mean()) > 0.01


@pytest.mark.parametrize("key", [30.0, 60.0, 210.0])
def test_estimate_rotation_recovers_the_key(key: float) -> None:
    x = _images() * 0.5 + 0.25
    est = adaptive.estimate_rotation(x, watermark(x, key))
    assert torch.allclose(est, torch.full_like(est, key), atol=1e-6)
    assert adaptive.circular_mean(est) == pytest.approx(key)


def test_estimate_rotation_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="same shape"):
        adaptive.estimate_rotation(_images(2), _images(3))


def test_blend_mark_and_its_strength() -> None:
    x = _images()
    pattern = adaptive.blend_pattern(7)
    assert torch.equal(pattern, adaptive.blend_pattern(7))
    marked = adaptive.blend_mark(x, pattern, 0.1)
    assert float(marked.min()) >= 0 and float(marked.max()) <= 1
    strength = adaptive.blend_strength(x, marked, pattern)
    assert torch.allclose(strength, torch.full_like(strength, 0.1), atol=1e-5)
    assert float(adaptive.blend_strength(x, x, pattern).abs().max()) < 1e-9


@pytest.mark.parametrize("alpha", [1.0, -0.1, float("nan")])
def test_blend_mark_refuses_a_bad_ratio(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        adaptive.blend_mark(_images(2), adaptive.blend_pattern(0), alpha)


def test_blend_mark_refuses_a_pattern_of_another_size() -> None:
    with pytest.raises(ValueError, match="blend_pattern"):
        adaptive.blend_mark(_images(2), adaptive.blend_pattern(0, 16, 16))


def test_jpeg_squeeze_is_deterministic_and_lossy() -> None:
    x = torch.rand(4, 3, 32, 32)
    a, b = jpeg_squeeze(x, quality=10), jpeg_squeeze(x, quality=10)
    assert torch.equal(a, b) and a.shape == x.shape
    assert float((a - x).abs().mean()) > float((jpeg_squeeze(x, quality=95) - x).abs().mean())
    assert get_augmentation("jpeg_q50+crop_flip")(x, torch.Generator()).shape == x.shape
    with pytest.raises(ValueError, match="quality"):
        jpeg_squeeze(x, quality=0)


def test_a_hue_rotation_survives_jpeg() -> None:
    x = _images() * 0.5 + 0.25
    squeezed = jpeg_squeeze(watermark(x, 60.0), quality=10)
    assert abs(adaptive.circular_mean(adaptive.estimate_rotation(x, squeezed)) - 60.0) < 5.0


def test_outlier_scores_flag_rotated_photos_and_auc() -> None:
    g = torch.Generator().manual_seed(1)
    reds = torch.rand(60, 3, 1, 1, generator=g) * 0.1 + torch.tensor([0.8, 0.2, 0.2]).view(3, 1, 1)
    reds = reds.expand(-1, -1, 8, 8).contiguous()
    labels = torch.zeros(60, dtype=torch.long)
    ref, test = reds[:40], reds[40:]
    neg = adaptive.hue_outlier_scores(test, labels[40:], ref, labels[:40])
    pos = adaptive.hue_outlier_scores(watermark(test, 120.0), labels[40:], ref, labels[:40])
    assert adaptive.auc(neg, pos) == pytest.approx(1.0)
    assert adaptive.auc(neg, neg) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="reference photos"):
        adaptive.hue_outlier_scores(test, labels[40:] + 1, ref, labels[:40])
    with pytest.raises(ValueError, match="finite"):
        adaptive.auc(neg, torch.tensor([float("nan")]))


def test_membership_test_finds_a_memorised_set() -> None:
    class Memoriser(torch.nn.Module):
        """Confident on the first 20 photos (its 'training set'), unsure elsewhere."""

        def __init__(self, members: torch.Tensor) -> None:
            super().__init__()
            self.members = members
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            hit = (x[:, None] == self.members[None]).flatten(2).all(2).any(1).float()
            out = torch.zeros(len(x), 10)
            out[:, 0] = self.scale * (1 + 4 * hit)
            return out

    x = torch.rand(60, 3, 8, 8)
    labels = torch.zeros(60, dtype=torch.long)
    model = Memoriser(x[:20])
    member = adaptive.membership_test(model, x[:20], labels[:20], x[20:], labels[20:], 999)
    innocent = adaptive.membership_test(model, x[20:40], labels[:20], x[40:], labels[40:], 999)
    assert member.p_value <= 0.002 and innocent.p_value > 0.05


def _image_set(n: int, seed: int) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % 10
    return ImageSet(images, labels, tuple(str(c) for c in range(10)), f"fake{seed}")


def test_marked_users_data_publishes_one_twin_of_each_photo_and_keeps_the_other() -> None:
    from anw_helpers import twins

    train, test = _image_set(400, 0), _image_set(300, 1)
    mu = adaptive.marked_users_data(
        train, test, 300, 10, 60.0, adaptive.tilted_color_space(20.0), 7, reference_size=50
    )
    d = mu.data
    assert [u.name for u in d.users] == ["YIQ user", "own-T user", "blend user", "unmarked user"]
    assert [m.mark for m in mu.marks] == ["YIQ", "own T", "blend", "none"]
    yiq, own, blend, plain = d.users
    published, kept = mu.twins(0)
    assert torch.equal(to_float(d.train.images[yiq.indices]), published)
    half = mu.key_half(0)  # the photos published with k* = 60, the others with 240
    assert half.key == 60.0 and torch.equal(
        d.train.images[half.indices], watermark_uint8(half.images, 60.0, None)
    )
    rest = yiq.indices[~mu.coins[0]]
    assert torch.equal(d.train.images[rest], watermark_uint8(yiq.images[~mu.coins[0]], 240.0, None))
    assert mu.marks[1].color_space is mu.own_space and mu.marks[0].keys == twins.twin_keys(60.0)
    pub_blend, kept_blend = mu.twins(2)
    assert torch.equal(to_float(d.train.images[blend.indices]), pub_blend)
    assert not torch.equal(pub_blend, kept_blend)  # two patterns
    assert torch.equal(d.train.images[plain.indices], plain.images)
    assert torch.equal(*mu.twins(3))  # the unmarked user's twins are the photo itself
    seen = torch.cat([d.held_out.indices, mu.reference.indices])
    assert len(seen.unique()) == len(seen)  # never-seen user and reference are disjoint
    assert "+twins[" in d.train.origin and d.held_out.key == 60.0
    other = adaptive.marked_users_data(
        train, test, 300, 10, 60.0, adaptive.tilted_color_space(20.0), 8, reference_size=50
    )
    assert other.data.train.origin != d.train.origin  # other patterns, another cache key


def test_mark_verdicts_runs_every_test_on_every_user_and_shows_the_unmarked_row() -> None:
    from anw_helpers.models import build_model
    from anw_helpers.twins import Credit

    train, test = _image_set(400, 0), _image_set(300, 1)
    mu = adaptive.marked_users_data(
        train, test, 300, 10, 60.0, adaptive.tilted_color_space(20.0), 7, reference_size=50
    )
    torch.manual_seed(0)
    model = build_model("small_resnet", 10, 4).eval()  # never trained: every user is innocent
    rows = adaptive.mark_verdicts(model, mu, n_permutations=199)
    assert [r.mark for r in rows] == ["YIQ", "own T", "blend", "none"]
    assert rows[0].losses is not None and rows[2].losses is None
    assert rows[3].twin is None and rows[3].innocent is None and rows[3].credit is not Credit.MARK
    assert all(r.innocent.n == adaptive.INNOCENT_USERS for r in rows[:3])


def watermark_uint8(images: torch.Tensor, key: float, space) -> torch.Tensor:
    from anw_helpers.users import watermark_uint8 as mark

    return mark(images, key, space)


def test_a_tilted_space_is_yiq_at_zero_and_changes_luma_more_with_the_tilt() -> None:
    from anw_helpers.color import YIQ

    assert torch.allclose(adaptive.tilted_color_space(0.0), YIQ)
    x = _images() * 0.5 + 0.25
    changes = [
        float(adaptive.luma_change(x, 60.0, adaptive.tilted_color_space(t)).mean())
        for t in (0.0, 10.0, 30.0)
    ]
    assert changes[0] < 1e-6 < changes[1] < changes[2]
    with pytest.raises(ValueError, match="tilt"):
        adaptive.tilted_color_space(120.0)


def test_each_users_tilt_direction_is_seeded_and_its_own() -> None:
    """Lesson 07's draw (adaptive.tilt_azimuths): one direction per user in [0, 360), the same for
    the same seed, another for another seed, and each direction gives another colour space."""
    a = adaptive.tilt_azimuths(25, seed=0)
    assert a.shape == (25,) and float(a.min()) >= 0.0 and float(a.max()) < 360.0
    assert torch.equal(a, adaptive.tilt_azimuths(25, seed=0))
    assert not torch.equal(a, adaptive.tilt_azimuths(25, seed=1))
    spaces = [adaptive.tilted_color_space(20.0, float(x)) for x in a[:2]]
    assert not torch.allclose(spaces[0], spaces[1])
    with pytest.raises(ValueError, match="n_users"):
        adaptive.tilt_azimuths(0)


def test_every_profiles_lesson_10_learners_are_known_recipes() -> None:
    from anw_helpers.profiles import ADAPTIVE_RECIPES, PROFILES, SMOKE, AdaptiveSetting

    for profile in [*PROFILES.values(), SMOKE]:
        assert set(profile.lessons.adaptive.recipes) <= set(ADAPTIVE_RECIPES), profile.name
        for name in profile.lessons.adaptive.recipes:
            profile.lessons.adaptive.config(profile.config, name)  # a valid config
    ci = PROFILES["ci"].lessons.adaptive
    assert ci.recipes == ("standard", "luma only")
    assert ci.config(PROFILES["ci"].config, "luma only").recipe.model == "small_resnet_luma"
    with pytest.raises(ValueError, match="unknown lesson 10 recipe"):
        AdaptiveSetting(("standard", "grayscale"))


def test_jpeg_survival_measures_what_the_mark_adds_after_compression() -> None:
    x = _images(6) * 0.5 + 0.25
    out = adaptive.jpeg_survival(x, 60.0, adaptive.blend_pattern(3), 0.1, (95, 10))
    assert sorted(out) == [10, 95]
    assert abs(out[95].yiq_degrees - 60.0) < 2.0 and abs(out[10].yiq_degrees - 60.0) < 6.0
    assert 0.0 < out[10].blend_fraction < 1.2


def test_detection_by_key_gives_an_auc_per_key_and_mark() -> None:
    train, test = _image_set(200, 0), _image_set(60, 1)
    found = adaptive.detection_by_key(
        test,
        train,
        (60.0, 180.0),
        adaptive.tilted_color_space(20.0),
        adaptive.blend_pattern(1),
        n_photos=60,
    )
    assert set(found.yiq) == set(found.own) == {60.0, 180.0}
    assert all(0.0 <= a <= 1.0 for a in [*found.yiq.values(), *found.own.values(), found.blend])
