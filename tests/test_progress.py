"""Issue 30, case 6: a long ``anw verify`` shows progress on stderr (reading the photos, then the
model's passes); a short one prints nothing extra, and the report on stdout never changes."""

from __future__ import annotations

import torch
from toy_models import Remembers, in_gamut, save_image_folder, verify_out

from anw_helpers import verify
from anw_helpers.machinery import progress


class _Tally:
    def __init__(self) -> None:
        self.n = 0

    def update(self, n: int) -> None:
        self.n += n


def test_the_counting_model_counts_photos_and_changes_nothing():
    images = in_gamut(5, 1)
    model = Remembers(images, margin=8.0, scale=800.0)
    tally = _Tally()
    counted = progress.CountingModel(model, tally)
    labels = torch.zeros(5, dtype=torch.int64)
    torch.testing.assert_close(
        verify.per_image_losses(counted, images, labels, [0.0, 60.0]),
        verify.per_image_losses(model, images, labels, [0.0, 60.0]),
    )
    assert tally.n == 5 * 2  # the shape-only pass on the meta device is not counted


def _folder(tmp_path, toy):
    images = in_gamut(20, 4)
    toy["model"] = Remembers(images, margin=8.0, scale=800.0)
    return str(save_image_folder(tmp_path / "mine", images, ["airplane"] * 20))


def test_a_long_verification_shows_progress_on_stderr(tmp_path, toy, capsys, monkeypatch):
    mine = _folder(tmp_path, toy)
    quiet = verify_out(capsys, mine, "--key", "30")
    monkeypatch.setattr(progress, "DELAY_S", 0.0)  # as if every step took longer than the delay
    from anw_helpers.photo_cli.cli import main

    assert main(["verify", "toy.pt", mine, "--key", "30"]) == 0
    captured = capsys.readouterr()
    assert "reading mine" in captured.err and "verifying" in captured.err
    assert "photo" in captured.err
    assert captured.out == quiet  # the report itself is unchanged


def test_a_short_verification_prints_no_bar(tmp_path, toy, capsys):
    mine = _folder(tmp_path, toy)
    from anw_helpers.photo_cli.cli import main

    assert main(["verify", "toy.pt", mine, "--key", "30"]) == 0
    err = capsys.readouterr().err
    assert "verifying" not in err and "reading" not in err
