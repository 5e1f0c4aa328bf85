"""The arbitrator (eq. 6): grid and gradient search on a model whose loss minimum is known by
construction."""

from __future__ import annotations

import pytest
import torch
from toy_models import HueMatcher

from anw_helpers import verify
from anw_helpers.color import watermark


def _user(k_star: float, n: int = 8):
    g = torch.Generator().manual_seed(0)
    # in gamut: no clipping under any rotation
    image = 0.35 + 0.3 * torch.rand(3, 6, 6, generator=g)
    images = image.expand(n, 3, 6, 6).clone()
    return HueMatcher(watermark(image, k_star)), images, torch.zeros(n, dtype=torch.int64)


@pytest.mark.parametrize("k_star", [60.0, 210.0, 330.0])
def test_grid_search_finds_the_key(k_star):
    model, images, labels = _user(k_star)
    result = verify.grid_search(model, images, labels)
    assert result.signatures.tolist() == [float(k) for k in range(0, 360, 30)]
    assert result.best == k_star and verify.match(result.best, k_star)
    assert result.gap(k_star) > 0


@pytest.mark.parametrize("k_star", [60.0, 100.0, 250.0])
def test_gradient_search_finds_the_key_without_starting_there(k_star):
    model, images, labels = _user(k_star)
    result = verify.gradient_search(model, images, labels, steps=40)
    assert k_star not in result.inits.tolist()
    assert float(verify.circular_distance(result.best, k_star)) < 3.0
    assert result.trajectories.shape == (41, 4) and result.loss_trajectories.shape == (41, 4)
    assert all(p.requires_grad for p in model.parameters()), "model parameters are restored"


def test_circular_distance_and_match():
    assert float(verify.circular_distance(350, 10)) == 20.0
    assert float(verify.circular_distance(-30, 330)) == 0.0
    d = verify.circular_distance(torch.tensor([5.0, 355.0, 190.0]), 0.0)
    assert d.tolist() == [5.0, 5.0, 170.0]
    assert verify.match(352, 0) and not verify.match(15, 0) and verify.match(14.9, 0)


@pytest.mark.parametrize(
    "images,labels,exc",
    [
        (torch.empty(0, 3, 4, 4), torch.empty(0, dtype=torch.int64), ValueError),
        (torch.rand(2, 3, 4, 4), torch.zeros(3, dtype=torch.int64), ValueError),
        (
            torch.randint(0, 255, (2, 3, 4, 4), dtype=torch.uint8),
            torch.zeros(2, dtype=torch.int64),
            TypeError,
        ),
        (torch.rand(3, 4, 4), torch.zeros(3, dtype=torch.int64), ValueError),
    ],
)
def test_bad_user_input_raises(images, labels, exc):
    model, _, _ = _user(60.0)
    with pytest.raises(exc):
        verify.grid_search(model, images, labels)


def test_empty_signature_lists_raise():
    model, images, labels = _user(60.0)
    with pytest.raises(ValueError, match="signatures"):
        verify.grid_search(model, images, labels, signatures=[])
    with pytest.raises(ValueError, match="inits"):
        verify.gradient_search(model, images, labels, inits=[])


def _users_for(model_target_keys):
    from anw_helpers.color import random_color_space
    from anw_helpers.datasets import to_uint8
    from anw_helpers.users import User

    g = torch.Generator().manual_seed(3)
    users = []
    for i, (n, key, own) in enumerate(model_target_keys):
        imgs = to_uint8(torch.rand(n, 3, 8, 8, generator=g))
        users.append(
            User(
                f"u{i}",
                imgs,
                torch.zeros(n, dtype=torch.long),
                key,
                random_color_space(g) if own else None,
            )
        )
    return users


def test_verify_users_equals_grid_search_per_user():
    """The batched verification of many users (Fig. 5a) gives each user exactly their own grid
    search."""
    users = _users_for([(4, 60.0, False), (3, 210.0, True), (5, None, False), (2, 300.0, True)])
    model = HueMatcher(watermark(users[0].clean()[:1], 60.0))
    verdicts = verify.verify_users(model, users, batch_size=5)  # batches cut across users
    for u, user in enumerate(users):
        single = verify.grid_search(model, user.clean(), user.labels, color_space=user.color_space)
        torch.testing.assert_close(verdicts.losses[u].float(), single.losses, atol=1e-5, rtol=1e-5)
        assert verdicts.k_hat[u] == single.best
    assert torch.isnan(verdicts.keys[2]) and verdicts.names == ["u0", "u1", "u2", "u3"]
    assert verdicts.result(0).best == single_best(model, users[0])
    zeros = torch.zeros(len(users))
    assert verdicts.matches(against=zeros).dtype == torch.bool


def single_best(model, user):
    return verify.grid_search(model, user.clean(), user.labels, color_space=user.color_space).best


def test_verify_users_with_an_adversarys_colour_spaces_and_bad_input():
    users = _users_for([(4, 60.0, True), (3, 120.0, True)])
    model = HueMatcher(watermark(users[0].clean()[:1], 60.0, users[0].color_space))
    own = verify.verify_users(model, users)
    wrong = verify.verify_users(model, users, color_spaces=[None, None])
    assert not torch.equal(own.losses, wrong.losses)
    with pytest.raises(ValueError, match="at least one user"):
        verify.verify_users(model, [])
    with pytest.raises(ValueError, match="one colour space per user"):
        verify.verify_users(model, users, color_spaces=[None])
