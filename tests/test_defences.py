"""Sec. 5.3's defences after training (Fig. 3g-h): pruning and fine-tuning, pure functions, at a
tiny scale."""

from __future__ import annotations

import pytest
import torch

from anw_helpers import defences, models


def _net() -> torch.nn.Module:
    return (
        models.build_model("small_resnet", width=8, seed=0)
        .to(memory_format=torch.channels_last)
        .eval()
    )


@pytest.mark.parametrize("amount", [0.0, 0.3, 0.5, 0.9])
def test_global_pruning_hits_the_sparsity_and_leaves_the_model_alone(amount):
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    pruned = defences.prune_global_l1(net, amount)
    assert abs(defences.sparsity(pruned) - amount) < 1e-3
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items()), (
        "the input model must not change"
    )
    assert set(pruned.state_dict()) == set(before), (
        "pruning is made permanent: no weight_orig / weight_mask left"
    )
    with torch.no_grad():
        assert pruned(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_global_pruning_removes_the_smallest_weights_across_layers():
    net = _net()
    weights = torch.cat(
        [m.weight.detach().abs().flatten() for m, _ in defences.prunable_weights(net)]
    )
    threshold = weights.kthvalue(int(0.5 * weights.numel())).values
    pruned = defences.prune_global_l1(net, 0.5)
    for (m_old, _), (m_new, _) in zip(
        defences.prunable_weights(net), defences.prunable_weights(pruned)
    ):
        kept = m_new.weight != 0
        assert bool((m_old.weight.abs()[kept] >= threshold).all())


def test_pruning_errors():
    with pytest.raises(ValueError, match=r"amount is the fraction .* got 1.0"):
        defences.prune_global_l1(_net(), 1.0)
    with pytest.raises(ValueError, match="no Conv2d or Linear"):
        defences.sparsity(torch.nn.ReLU())


@pytest.mark.slow  # fine-tunes twice
def test_fine_tune_is_pure_seeded_and_changes_the_weights():
    torch.manual_seed(0)
    images, labels = (
        torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8),
        torch.randint(0, 10, (64,)),
    )
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    a = defences.fine_tune(net, images, labels, epochs=1, lr=0.01, batch_size=32, seed=1)
    b = defences.fine_tune(net, images, labels, epochs=1, lr=0.01, batch_size=32, seed=1)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items()), (
        "the input model must not change"
    )
    assert not a.training
    assert any(not torch.equal(before[k], v) for k, v in a.state_dict().items())
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values())
    ), "seeded"


def test_fine_tune_errors():
    net, labels = _net(), torch.zeros(4, dtype=torch.int64)
    with pytest.raises(TypeError, match="uint8"):
        defences.fine_tune(net, torch.rand(4, 3, 16, 16), labels)
    with pytest.raises(ValueError, match="one per image"):
        defences.fine_tune(net, torch.zeros(4, 3, 16, 16, dtype=torch.uint8), labels[:3])
    with pytest.raises(ValueError, match="epochs must be in 1..30"):
        defences.fine_tune(net, torch.zeros(4, 3, 16, 16, dtype=torch.uint8), labels, epochs=0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        defences.fine_tune(net, torch.zeros(4, 3, 16, 16, dtype=torch.uint8), labels, lr=0.0)
