"""Radioactive-data tracing (Table 1) at a tiny scale: extractor, carriers, marking, linear learner,
cosines."""

from __future__ import annotations

import math

import pytest
import torch

from anw_helpers import models, tracing
from anw_helpers.color import psnr


def _extractor():
    return tracing.feature_extractor(models.build_model("small_resnet", 10, width=8, seed=0))


def test_feature_extractor_is_the_penultimate_layer_and_frozen():
    net = models.build_model("small_resnet", 10, width=8, seed=0).eval()
    phi = tracing.feature_extractor(net)
    x = torch.rand(4, 3, 32, 32)
    f = tracing.extract_features(phi, x)
    assert f.shape == (4, 64)
    with torch.no_grad():
        torch.testing.assert_close(net.net.classifier(f), net(x), atol=1e-5, rtol=1e-5)
    assert not any(p.requires_grad for p in phi.parameters()) and any(
        p.requires_grad for p in net.parameters()
    )
    with pytest.raises(ValueError, match="classifier head"):
        tracing.feature_extractor(torch.nn.Sequential(torch.nn.Flatten()))


def test_carriers_are_seeded_unit_vectors():
    u = tracing.random_carriers(10, 64, seed=3)
    torch.testing.assert_close(u.norm(dim=1), torch.ones(10))
    assert torch.equal(u, tracing.random_carriers(10, 64, seed=3)) and not torch.equal(
        u, tracing.random_carriers(10, 64, seed=4)
    )


@pytest.mark.slow  # trains a marking network
def test_marking_moves_features_along_the_carrier_within_the_psnr_bound():
    phi = _extractor()
    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    u = tracing.random_carriers(3, 64, seed=0)
    marked = tracing.mark_images(phi, x, labels, u, psnr_db=40.0, steps=15, lr=0.01)
    assert bool((psnr(x, marked) >= 40.0 - 1e-3).all()) and marked.min() >= 0 and marked.max() <= 1
    shift = tracing.extract_features(phi, marked) - tracing.extract_features(phi, x)
    assert float(torch.nn.functional.cosine_similarity(shift, u[labels], dim=1).mean()) > 0.3
    assert tracing.psnr_radius(40.0, 3072) == pytest.approx(math.sqrt(3072 * 1e-4))


@pytest.mark.slow  # trains
def test_linear_learner_turns_towards_a_planted_direction():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(3).repeat(100)
    u = tracing.random_carriers(3, 16, seed=1)
    feats = torch.randn(300, 16, generator=g) + 3 * u[labels]  # each class lies along its carrier
    head, initial = tracing.train_linear_classifier(feats, labels, 3, epochs=30, seed=0)
    after = tracing.carrier_cosines(head.weight.detach(), u)
    assert float(after.min()) > 0.6 and float(tracing.carrier_cosines(initial, u).abs().max()) < 0.9
    assert float((head(feats).argmax(1) == labels).float().mean()) > 0.95
    again, _ = tracing.train_linear_classifier(feats, labels, 3, epochs=30, seed=0)
    assert torch.equal(again.weight, head.weight)


def test_hue_cosine_and_bad_input():
    torch.testing.assert_close(
        tracing.hue_cosine([60.0, 240.0, 150.0], [60.0, 60.0, 60.0]),
        torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64),
        atol=1e-12,
        rtol=0,
    )
    with pytest.raises(ValueError, match="finite"):
        tracing.hue_cosine(float("nan"), 60.0)
    with pytest.raises(ValueError, match="n_classes, d"):
        tracing.carrier_cosines(torch.zeros(3, 4), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="features"):
        tracing.train_linear_classifier(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="row for every label"):
        tracing.mark_images(
            _extractor(),
            torch.rand(2, 3, 32, 32),
            torch.tensor([0, 5]),
            tracing.random_carriers(3, 64),
        )
