"""Memory known in advance (issue 30, case 5): a checkpoint's image size is bounded, a model whose
one photo would not fit a pass is refused, and photos go through models in batches sized from the
model on the ``meta`` device. Tiny crafted checkpoints only: nothing here allocates much."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from anw_helpers import datasets, models, verify
from anw_helpers.machinery import checkpoint, memory
from anw_helpers.photo_cli.cli import main
from anw_helpers.recipe import DataSetting


def _no_photos(*args, **kwargs):
    raise AssertionError("photos were loaded for a checkpoint that should have been refused")


@pytest.mark.parametrize("size", [4096, 449])
def test_verify_refuses_an_image_size_above_the_bound_before_loading_photos(
    tmp_path, capsys, monkeypatch, size, save_checkpoint
):
    """``image_size`` 4096 once made one ``anw verify`` of 50 photos grow to 23.7 GB."""
    hostile = save_checkpoint(dataset="cub200", image_size=size)
    assert hostile.stat().st_size < 200_000
    monkeypatch.setattr(datasets, "load_image_folder", _no_photos)
    (tmp_path / "photos").mkdir()
    assert main(["verify", str(hostile), str(tmp_path / "photos")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(hostile) in err and str(size) in err and "448" in err


def test_the_largest_course_size_is_accepted(save_checkpoint):
    loaded = checkpoint.load(save_checkpoint(dataset="cub200", image_size=448))
    assert loaded.image_size == memory.MAX_IMAGE_SIZE == 448


def test_a_model_whose_one_photo_exceeds_a_pass_is_refused(monkeypatch, save_checkpoint):
    """The per-photo memory is measured on the meta device; over the pass budget: refused."""
    path = save_checkpoint(dataset="cub200", image_size=448)
    need = memory.photo_bytes(checkpoint.load(path).model, 448, 448)
    assert 10 * 2**20 < need < 100 * 2**20  # width 4 at 448: tens of MB, measured not allocated
    monkeypatch.setattr(checkpoint, "PASS_MEMORY_BYTES", need - 1)
    with pytest.raises(checkpoint.CheckpointError, match=r"GiB.*refused") as caught:
        checkpoint.load(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_an_architecture_that_cannot_take_the_size_is_refused(tmp_path, monkeypatch):
    """A network with a fixed-size classifier (AlexNet's) cannot take 64 x 64 photos."""
    flat = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
    with pytest.raises(ValueError, match="cannot take 64 x 64"):
        memory.photo_bytes(flat, 64, 64)
    assert memory.photo_bytes(flat, 32, 32) == 2 * 3 * 32 * 32 * 4 + 4 * 3 * 32 * 32 * 4


def test_batches_are_sized_from_the_model_and_the_budget():
    net = models.build_model("small_resnet", 10, 4, 0).eval()
    assert memory.batch_size_for(net, (5, 3, 32, 32)) == memory.MAX_BATCH
    big = memory.batch_size_for(net, (5, 3, 448, 448))
    assert 1 <= big < memory.MAX_BATCH
    assert big * memory.photo_bytes(net, 448, 448) <= memory.PASS_MEMORY_BYTES
    assert memory.batch_size_for(net, (5, 3, 448, 448), budget=1) == 1


class _Recording(nn.Module):
    """A tiny classifier that records how many photos each pass holds."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(8, 10)
        self.seen: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "meta":
            self.seen.append(len(x))
        return self.head(self.conv(x).mean(dim=(2, 3)))


def test_eq6_losses_go_through_the_model_in_batches_within_the_budget(monkeypatch):
    net = _Recording().eval()
    images, labels = torch.rand(7, 3, 16, 16), torch.randint(0, 10, (7,))
    per_photo = memory.photo_bytes(net, 16, 16)
    monkeypatch.setattr(memory, "PASS_MEMORY_BYTES", 3 * per_photo)
    losses = verify.per_image_losses(net, images, labels, [0.0, 90.0])
    assert net.seen and max(net.seen) == 3 and sum(net.seen) == 7 * 2
    torch.testing.assert_close(
        losses, verify.per_image_losses(net, images, labels, [0.0, 90.0], batch_size=7)
    )


def test_training_settings_refuse_a_size_no_checkpoint_may_have():
    with pytest.raises(ValueError, match="8..448"):
        DataSetting(dataset="cub200", image_size=512)


def test_measuring_leaves_the_model_as_it_was():
    net = models.build_model("small_resnet", 10, 4, 0).train()
    frozen = next(m for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    frozen.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    memory.photo_bytes(net, 32, 32)
    assert net.training and not frozen.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
