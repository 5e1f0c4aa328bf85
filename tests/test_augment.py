"""Sec. 5.3's augmentations (batch-wise, on the device) and the learner-side defences, at a tiny
scale."""

from __future__ import annotations

import math

import pytest
import torch

from anw_helpers import augment, models
from anw_helpers.color import luma, watermark
from anw_helpers.recipe import DataSetting, LearnerConfig, TrainingRecipe
from anw_helpers.train import (
    adversarial_batch,
    dp_epsilon,
    make_dp_compatible,
    make_train_step,
    train_learner,
)

TINY = LearnerConfig(
    DataSetting(n_train=300, user_sizes=(10,), keys=(90.0,), color_space_seeds=(None,), n_test=100),
    TrainingRecipe(width=8, epochs=1, batch_size=64),
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(
    "name",
    [
        "color_jitter",
        "cutout",
        "gaussian_noise",
        "hue_jitter_full",
        "crop_flip+color_jitter",
        "crop_flip+cutout+gaussian_noise",
    ],
)
def test_augmentations_keep_shape_and_are_repeatable(name):
    x = torch.rand(6, 3, 32, 32)
    aug = augment.get_augmentation(name)
    a, b = aug(x, _gen(3)), aug(x, _gen(3))
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, aug(x, _gen(4)))


def test_rotate_hue_is_the_watermark_per_image():
    x, angles = torch.rand(5, 3, 16, 16), torch.tensor([0.0, 30.0, -36.0, 90.0, 180.0])
    expected = torch.stack([watermark(x[i], float(a)) for i, a in enumerate(angles)])
    torch.testing.assert_close(augment.rotate_hue(x, angles), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="one angle per image"):
        augment.rotate_hue(x, angles[:2])


def test_color_jitter_parts():
    x = torch.rand(8, 3, 16, 16) * 0.2 + 0.4  # far from the clipping edges
    same = augment.color_jitter(x, _gen(), 0.0, 0.0, 0.0, 0.0)
    torch.testing.assert_close(same, x, atol=1e-5, rtol=1e-5)
    hue_only = augment.color_jitter(x, _gen(), 0.0, 0.0, 0.0, 0.1, hue_space="yiq")
    # a hue rotation keeps luma (eq. 4)
    torch.testing.assert_close(luma(hue_only), luma(x), atol=1e-3, rtol=0)
    bright = augment.color_jitter(x, _gen(), 0.4, 0.0, 0.0, 0.0)
    ratio = bright / x
    # one factor per image
    assert torch.allclose(ratio, ratio[:, :1, :1, :1].expand_as(ratio), atol=1e-4)
    assert ((ratio[:, 0, 0, 0] >= 0.6 - 1e-6) & (ratio[:, 0, 0, 0] <= 1.4 + 1e-6)).all()
    with pytest.raises(ValueError, match="hue must be in"):
        augment.color_jitter(x, _gen(), hue=0.7)


def test_color_jitter_hue_is_torchvisions_hsv_shift_per_image():
    from torchvision.transforms.v2 import functional as TF

    x = torch.rand(6, 3, 8, 8)
    out = augment.color_jitter(x, _gen(3), 0.0, 0.0, 0.0, 0.1)
    turns = 0.1 * (2 * torch.rand(4 * 6, generator=_gen(3))[18:] - 1)  # the fourth draw of 6
    expected = torch.stack([TF.adjust_hue(img, float(t)) for img, t in zip(x, turns)])
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="hue_space"):
        augment.color_jitter(x, _gen(), hue_space="lab")


def test_cutout_blanks_one_square_and_commutes_with_the_watermark():
    x = torch.rand(16, 3, 32, 32) + 0.01
    out = augment.cutout(x, _gen(1), size=8)
    zeros = (out == 0).all(dim=1).flatten(1).sum(1)
    assert ((zeros >= 16) & (zeros <= 64)).all()  # an 8x8 square, possibly overhanging the border
    a = augment.cutout(watermark(x.clamp(0, 1), 60), _gen(2))
    b = watermark(augment.cutout(x.clamp(0, 1), _gen(2)), 60)
    torch.testing.assert_close(a, b)  # black is grey: every hue rotation keeps it


def test_gaussian_noise_statistics():
    x = torch.full((64, 3, 32, 32), 0.5)
    noise = augment.gaussian_noise(x, _gen(), std=0.1) - x
    assert abs(float(noise.mean())) < 0.005 and abs(float(noise.std()) - 0.1) < 0.005


def test_unknown_names_and_bad_settings_raise_clear_errors():
    with pytest.raises(ValueError, match=r"'jitter'.*'crop_flip\+jitter'"):
        augment.get_augmentation("crop_flip+jitter")
    with pytest.raises(ValueError, match="unknown augmentation"):
        TrainingRecipe(augment="colour_jitter")
    with pytest.raises(TypeError, match="batch must be a float tensor"):
        augment.cutout(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"batch must have shape \(B, 3, H, W\)"):
        augment.cutout(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="label_smoothing"):
        TrainingRecipe(label_smoothing=1.0)
    with pytest.raises(ValueError, match="adversarial_eps"):
        TrainingRecipe(adversarial_eps=8)
    with pytest.raises(ValueError, match="adversarial_steps"):
        TrainingRecipe(adversarial_steps=0)
    with pytest.raises(ValueError, match="dp_noise_multiplier"):
        TrainingRecipe(dp_noise_multiplier=-1.0)
    with pytest.raises(ValueError, match="dp_max_grad_norm"):
        TrainingRecipe(dp_max_grad_norm=0.0)
    with pytest.raises(ValueError, match="cannot be combined"):
        LearnerConfig().with_(dp_noise_multiplier=1.0, adversarial_eps=0.01)
    with pytest.raises(ValueError, match="lr and momentum must be > 0"):
        TrainingRecipe(lr=0.0)
    with pytest.raises(ValueError, match="width must be >= 1"):
        TrainingRecipe(width=0)


def test_new_fields_default_off_and_enter_the_cache_key():
    from anw_helpers.datasets import ImageSet
    from anw_helpers.train import model_cache_key
    from anw_helpers.users import LearnerData, User

    cfg = LearnerConfig()
    assert (
        cfg.recipe.adversarial_eps,
        cfg.recipe.adversarial_steps,
        cfg.recipe.dp_noise_multiplier,
        cfg.recipe.dp_max_grad_norm,
    ) == (0.0, 1, None, 1.0)
    images = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    user = User("u", images[:1], torch.zeros(1, dtype=torch.int64), 60.0)
    data = LearnerData(
        ImageSet(images, torch.zeros(4, dtype=torch.int64), ("a",)),
        [user],
        user,
        ImageSet(images, torch.zeros(4, dtype=torch.int64), ("a",)),
    )
    keys = {
        model_cache_key(c, data)
        for c in (
            cfg,
            cfg.with_(adversarial_eps=0.01),
            cfg.with_(dp_noise_multiplier=1.0),
            cfg.with_(dp_noise_multiplier=1.0, dp_max_grad_norm=2.0),
            cfg.with_(n_test=50),  # a data setting enters the key, not only the data's identity
            cfg.with_(epochs=2),
        )
    }
    assert len(keys) == 6


@pytest.mark.slow  # trains a model
def test_adversarial_batch_stays_in_the_ball_and_raises_the_loss():
    torch.manual_seed(0)
    net = models.build_model("small_resnet", width=8).eval()
    x, y = torch.rand(8, 3, 16, 16), torch.randint(0, 10, (8,))
    eps = 8 / 255
    for steps in (1, 3):
        adv = adversarial_batch(net, x, y, eps, steps, _gen())
        assert float((adv - x).abs().max()) <= eps + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    with torch.no_grad():
        clean = torch.nn.functional.cross_entropy(net(x), y)
        attacked = torch.nn.functional.cross_entropy(
            net(adversarial_batch(net, x, y, eps, 3, _gen())), y
        )
    assert attacked > clean
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.slow  # DP-SGD steps through Opacus
def test_dp_sgd_step_clips_and_adds_noise():
    pytest.importorskip("opacus")
    net = make_dp_compatible(models.build_model("small_resnet", width=8))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    cfg = TINY.recipe.with_(dp_noise_multiplier=1.0, batch_size=8)
    step = make_train_step(net, cfg, torch.device("cpu"), steps_per_epoch=2)
    before = [p.detach().clone() for p in net.parameters()]
    x, y = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8), torch.randint(0, 10, (8,))
    loss, logits = step(x, y)
    assert math.isfinite(float(loss)) and logits.shape == (8, 10)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    step.close()
    assert not any(hasattr(p, "grad_sample") for p in net.parameters())
    with pytest.raises(ValueError, match="make_dp_compatible"):
        make_train_step(models.build_model("small_resnet", width=8), cfg, torch.device("cpu"), 1)
    assert 0 < dp_epsilon(cfg.with_(epochs=10), 300) < dp_epsilon(cfg.with_(epochs=50), 300)


@pytest.mark.slow  # trains learners with every defence
def test_training_with_the_learner_side_defences(cifar_train):
    pytest.importorskip("opacus")
    for changes in (
        {
            "augment": "crop_flip+color_jitter+cutout+gaussian_noise",
            "label_smoothing": 0.1,
            "adversarial_eps": 2 / 255,
        },
        {"dp_noise_multiplier": 0.5},
    ):
        cfg = TINY.with_(n_test=50, **changes)
        first = train_learner(cfg, progress=False, retrain=True)
        assert 0 <= first.record.test_accuracy <= 1 and math.isfinite(first.record.epoch_loss[0]), (
            changes
        )
        # a DP model (GroupNorm) loads back from the cache too
        again = train_learner(cfg, progress=False)
        assert again.from_cache and again.record.epoch_loss == first.record.epoch_loss, changes
