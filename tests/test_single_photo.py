"""Issue 30, case 2: one wrong label never makes a match. Any single photo whose removal moves eq.
6's k_hat, even by one slot, is reported, and the verdict is then inconclusive.

Toy models only (a second): a hand-made classifier that remembers 20 photos of 6 x 6 pixels.
"""

from __future__ import annotations

import torch
from torch import nn
from toy_models import Remembers, in_gamut, save_image_folder, verify_out

from anw_helpers import verify


def _wrong_label_case() -> tuple[torch.Tensor, nn.Module, int]:
    """20 never-seen photos of an innocent model (it prefers every photo clean) and the index of a
    photo whose wrong label alone moves k_hat to the neighbouring slot 30."""
    images = in_gamut(20, 4)
    model = Remembers(images, margin=8.0, scale=800.0)
    for i in range(20):
        labels = torch.zeros(20, dtype=torch.int64)
        labels[i] = 3
        if verify.grid_search(model, images, labels).best == 30.0:
            return images, model, i
    raise AssertionError("no single wrong label moves k_hat to 30: this test shows nothing")


def test_one_wrong_label_moving_k_hat_one_slot_is_inconclusive():
    images, model, wrong = _wrong_label_case()
    labels = torch.zeros(20, dtype=torch.int64)
    assert verify.verdict(model, images, labels).k_hat == 0.0
    labels[wrong] = 3
    v = verify.verdict(model, images, labels)
    assert v.k_hat == 30.0 and v.recognised
    assert not v.conclusive, "one wrong label made a conclusive k_hat"
    assert (wrong, 0.0) in v.movers and v.deciding_photo is not None
    assert f"photo #{v.deciding_photo + 1} alone decides k_hat" in " ".join(v.reasons())


def test_every_photo_that_moves_k_hat_is_listed():
    images, model, _ = _wrong_label_case()
    labels = torch.zeros(20, dtype=torch.int64)
    labels[:2] = 3  # two wrong labels
    v = verify.verdict(model, images, labels)
    loo_k = []
    for i in range(20):
        keep = torch.arange(20) != i
        loo_k.append(verify.grid_search(model, images[keep], labels[keep]).best)
    expected = {i for i, k in enumerate(loo_k) if k != v.k_hat}
    assert {i for i, _ in v.movers} == expected


def test_one_wrong_label_never_prints_a_match(tmp_path, toy, capsys):
    images, model, wrong = _wrong_label_case()
    toy["model"] = model
    classes = ["airplane"] * 20
    mine = save_image_folder(tmp_path / "mine", images, classes)
    assert "your key 30 does not match" in verify_out(capsys, str(mine), "--key", "30")
    classes[wrong] = "cat"
    wrong_folder = save_image_folder(tmp_path / "wrong", images, classes)
    out = verify_out(capsys, str(wrong_folder), "--key", "30")
    assert "k_hat = 30" in out, "the wrong label no longer moves k_hat: this test shows nothing"
    assert "matches k_hat" not in out and "verdict: INCONCLUSIVE" in out
    assert "alone decides k_hat (without it k_hat = 0)" in out
