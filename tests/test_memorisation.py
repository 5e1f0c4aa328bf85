"""Feldman-Zhang memorisation estimate (Sec. 5.6) with complementary subsampled models, at a tiny
scale."""

from __future__ import annotations

import pytest
import torch

from anw_helpers import memorisation
from anw_helpers.datasets import ImageSet
from anw_helpers.recipe import TrainingRecipe
from anw_helpers.train import train_model

TINY = TrainingRecipe(width=8, epochs=1, batch_size=64)


def test_complementary_splits():
    masks = memorisation.complementary_splits(11, 3, seed=0)
    assert masks.shape == (6, 11) and masks.dtype == torch.bool
    assert bool((masks[0::2] ^ masks[1::2]).all())  # each pair covers the pool exactly once
    assert masks[0::2].sum(dim=1).tolist() == [5, 5, 5]
    assert torch.equal(masks, memorisation.complementary_splits(11, 3, seed=0))
    with pytest.raises(ValueError, match="n_pairs"):
        memorisation.complementary_splits(10, 0)
    with pytest.raises(ValueError, match="at least 2"):
        memorisation.complementary_splits(1, 2)


def test_estimate_by_construction():
    member = memorisation.complementary_splits(4, 2, seed=1)
    memorised = member.clone()  # correct exactly when trained on: mem = 1
    typical = torch.ones_like(member)  # always correct: mem = 0
    est = memorisation.memorisation_estimate(
        torch.cat([memorised[:, :2], typical[:, 2:]], dim=1), member
    )
    assert est.mem.tolist() == [1.0, 1.0, 0.0, 0.0] and est.mean() == 0.5
    assert est.n_in.tolist() == [2, 2, 2, 2] and est.label() == "estimate from 2 + 2 models"
    assert est.in_accuracy.tolist() == [1.0, 1.0, 1.0, 1.0] and est.out_accuracy.tolist() == [
        0.0,
        0.0,
        1.0,
        1.0,
    ]


def test_estimate_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        memorisation.memorisation_estimate(
            torch.ones(2, 3, dtype=torch.bool), torch.ones(2, 4, dtype=torch.bool)
        )
    with pytest.raises(ValueError, match="no model that trained"):
        memorisation.memorisation_estimate(
            torch.ones(2, 3, dtype=torch.bool), torch.ones(2, 3, dtype=torch.bool)
        )
    with pytest.raises(ValueError, match="no examples"):
        memorisation.memorisation_estimate(
            torch.ones(2, 0, dtype=torch.bool), torch.ones(2, 0, dtype=torch.bool)
        )
    with pytest.raises(ValueError, match="no memorisation plan"):
        memorisation.memorisation_plan("laptop")
    with pytest.raises(ValueError, match="positive"):
        memorisation.MemorisationPlan(100, 0, 1, 8, 0.1)
    with pytest.raises(ValueError, match="width"):
        memorisation.MemorisationPlan(100, 1, 1, 8, 0.1, fine_tune=False)


def test_plans_scale_with_the_profile():
    ci, cpu = memorisation.memorisation_plan("ci"), memorisation.memorisation_plan("cpu")
    assert ci.n_models <= cpu.n_models <= memorisation.memorisation_plan("gpu").n_models
    assert ci.label() == f"estimate from {ci.n_pairs} + {ci.n_pairs} models"
    assert (
        ci.recipe(TINY).width == TINY.width
        and ci.recipe(TINY).epochs == ci.epochs
        and ci.recipe(TINY).seed == TINY.seed
    )
    gpu = memorisation.memorisation_plan("gpu")
    assert not gpu.fine_tune and gpu.recipe(TINY).width == gpu.width


@pytest.mark.slow  # trains
def test_subsampled_models_train_on_their_subsets(tmp_path, monkeypatch):
    monkeypatch.setenv("ANW_CACHE", str(tmp_path))
    g = torch.Generator().manual_seed(0)
    pool = ImageSet(
        torch.randint(0, 256, (20, 3, 32, 32), dtype=torch.uint8, generator=g),
        torch.arange(20) % 3,
        tuple("abc"),
    )
    masks = memorisation.complementary_splits(len(pool), 1, seed=0)
    models = memorisation.train_subsampled_models(pool, masks, TINY, pool)
    for row, m in zip(masks, models):  # each is the model of its own half, and says how it fits
        alone = train_model(TINY, pool.subset(row.nonzero().squeeze(1)), pool)
        assert alone.from_cache and alone.cache_path == m.cache_path
        assert 0 <= m.record.train_accuracy <= 1 and 0 <= m.record.test_accuracy <= 1
    correct = memorisation.correctness(models, pool.images, pool.labels)
    est = memorisation.memorisation_estimate(correct, masks)
    assert correct.shape == (2, 20) and est.label() == "estimate from 1 + 1 models"
    start = {k: v.clone() for k, v in models[0].model.state_dict().items()}
    tuned = memorisation.train_subsampled_models(
        pool, masks, TINY, pool, start_from=models[0].model
    )
    assert not tuned[0].from_cache and tuned[0].cache_path != models[0].cache_path
    assert all(torch.equal(v, models[0].model.state_dict()[k]) for k, v in start.items())
    again = memorisation.train_subsampled_models(
        pool, masks, TINY, pool, start_from=models[0].model
    )
    assert again[1].from_cache and torch.equal(
        again[1].model.net.classifier.weight, tuned[1].model.net.classifier.weight
    )
    # one checkpoint format: its config is kept
    saved = torch.load(tuned[0].cache_path, weights_only=True)
    assert set(saved) == {"state_dict", "record", "config"} and '"epochs": 1' in saved["config"]
    with pytest.raises(ValueError, match="masks"):
        memorisation.train_subsampled_models(pool, masks[:, :5], TINY, pool)
