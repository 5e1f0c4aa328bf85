"""Issue 30, case 4: marks that can never be verified are refused, not reported as carried.

A key exactly between two signatures (45, 75, ...) can never match (the rule is strict, < 15
degrees); a JPEG at quality 1 destroys the rotation, and ``anw mark`` measures it in the written
file instead of counting the copy as marked. Tiny photos only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anw_helpers.photo_cli.cli import main


def _pale_photo(path: Path, seed: int) -> None:
    """A pale photo with smooth shading: little colour, which JPEG at quality 1 all but removes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:64] / 64.0
    base = 0.5 + rng.uniform(-0.08, 0.08, 3)
    pixels = base + 0.3 * (x[..., None] - 0.5) + 0.3 * (y[..., None] - 0.4)
    Image.fromarray((255 * pixels.clip(0, 1)).round().astype(np.uint8), "RGB").save(path)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(6):
        _pale_photo(src / f"p{i}.png", i)
    return src


@pytest.mark.parametrize("key", ["45", "75", "195", "315", "-45", "405"])
def test_a_key_between_two_signatures_is_refused_by_mark_and_verify(photos, tmp_path, capsys, key):
    assert main(["mark", str(photos), str(tmp_path / "out"), "--key", key]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "lies exactly between the signatures" in err and "never" in err
    assert not (tmp_path / "out").exists()
    assert main(["verify", "model.pt", str(photos), "--key", key]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "lies exactly between the signatures" in err


def test_a_jpeg_that_lost_the_mark_is_refused(photos, tmp_path, capsys):
    dst = tmp_path / "out"
    assert (
        main(["mark", str(photos), str(dst), "--key", "60", "--format", "jpeg", "--quality", "1"])
        == 2
    )
    out, err = capsys.readouterr()
    assert "lost the mark in the written JPEG" in err and "--quality" in err
    assert "carry the mark" not in out and not dst.exists()
    assert (
        main(
            [
                "mark",
                str(photos),
                str(dst),
                "--key",
                "60",
                "--format",
                "jpeg",
                "--quality",
                "1",
                "--force",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "lost it to JPEG compression" in out and "6 of 6 photo(s) carry the mark" not in out


def test_a_good_jpeg_keeps_the_mark(photos, tmp_path, capsys):
    dst = tmp_path / "out"
    assert main(["mark", str(photos), str(dst), "--key", "60", "--format", "jpeg"]) == 0
    out = capsys.readouterr().out
    assert "6 of 6 photo(s) carry the mark." in out and "lost it" not in out
