"""Issue 30, smaller defects of ``anw mark``'s output folder: it keeps the destination's mode and
group, and a refusal leaves no new folder behind. Photos of a few pixels only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anw_helpers.photo_cli.cli import main


@pytest.fixture
def source(tmp_path: Path, write_photo) -> Path:
    src = tmp_path / "photos"
    src.mkdir()
    write_photo(src / "a.png", (16, 12), 1)
    write_photo(src / "b.png", (16, 12), 2)
    return src


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mode", [0o700, 0o750, 0o2770])
def test_an_existing_empty_destination_keeps_its_mode_and_group(source, tmp_path, mode):
    """A private 700 folder once became 755 (the temporary folder replaced it)."""
    dst = tmp_path / "private"
    dst.mkdir()
    dst.chmod(mode)
    group = dst.stat().st_gid
    assert main(["mark", str(source), str(dst), "--key", "60"]) == 0
    assert _mode(dst) == mode and dst.stat().st_gid == group
    assert (dst / "a.png").is_file()


def test_a_new_destination_in_a_setgid_folder_keeps_the_group_and_the_bit(source, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o2775)
    if not shared.stat().st_mode & stat.S_ISGID:
        pytest.skip("this file system does not keep the setgid bit of a folder")
    dst = shared / "marked"
    assert main(["mark", str(source), str(dst), "--key", "60"]) == 0
    assert dst.stat().st_mode & stat.S_ISGID and dst.stat().st_gid == shared.stat().st_gid


def test_a_new_destination_follows_the_umask(source, tmp_path):
    old = os.umask(0o027)
    try:
        assert main(["mark", str(source), str(tmp_path / "new"), "--key", "60"]) == 0
    finally:
        os.umask(old)
    assert _mode(tmp_path / "new") == 0o750


def test_a_refusal_leaves_no_new_folder_behind(tmp_path, capsys, write_photo):
    """Grey photos are refused ("nothing was written"): the missing parents of the destination
    that mark created are removed again."""
    grey = tmp_path / "grey"
    grey.mkdir()
    write_photo(grey / "g.png", (16, 12), 3, grey=True)
    dst = tmp_path / "new" / "deeper" / "marked"
    assert main(["mark", str(grey), str(dst), "--key", "60"]) == 2
    assert "nothing was written" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grey"]


def test_a_refusal_keeps_a_parent_that_existed(tmp_path, write_photo):
    grey = tmp_path / "grey"
    grey.mkdir()
    write_photo(grey / "g.png", (16, 12), 3, grey=True)
    (tmp_path / "mine").mkdir()
    assert main(["mark", str(grey), str(tmp_path / "mine" / "new" / "marked"), "--key", "60"]) == 2
    assert (tmp_path / "mine").is_dir() and not any((tmp_path / "mine").iterdir())


def test_grey_photos_are_refused_before_any_photo_is_marked(
    source, tmp_path, capsys, monkeypatch, write_photo
):
    """The refusal once came only after every photo had been marked (minutes for a big folder)."""
    from anw_helpers.photo_cli import cli

    write_photo(source / "c_grey.png", (16, 12), 4, grey=True)

    def no_marking(*args, **kwargs):
        raise AssertionError("a photo was marked before the grey photo was refused")

    monkeypatch.setattr(cli, "_mark_image", no_marking)
    assert main(["mark", str(source), str(tmp_path / "out"), "--key", "60"]) == 2
    err = capsys.readouterr().err
    assert "1 of 3 photo(s) would carry almost no mark" in err and "c_grey.png" in err
    assert "--force" in err and not (tmp_path / "out").exists()


def test_a_large_colour_photo_is_not_mistaken_for_grey_by_the_sample(tmp_path, write_photo):
    """The sample takes the photo's own pixels, never averages: colour noise stays colour."""
    from anw_helpers.photo_cli import cli

    big = tmp_path / "noise.png"
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (600, 700, 3), dtype=np.uint8), "RGB").save(big)
    assert cli._faint_photos([big], 60.0, None, None) == []
    grey = write_photo(tmp_path / "g.png", (16, 12), 6, grey=True)
    assert [p for p, _ in cli._faint_photos([grey], 60.0, None, None)] == [grey]


def test_a_killed_runs_partial_folder_is_mentioned_on_the_next_run(source, tmp_path, capsys):
    """SIGKILL leaves the hidden temporary folder; the next run names it and leaves it alone."""
    left = tmp_path / ".marked.partial-abc123"
    left.mkdir()
    (left / "a.png").write_bytes(b"half a photo")
    assert main(["mark", str(source), str(tmp_path / "marked"), "--key", "60"]) == 0
    out = capsys.readouterr().out
    assert f"warning: {left}" in out and "delete" in out  # names the folder and the fix
    assert (left / "a.png").read_bytes() == b"half a photo"  # nothing lost or changed
    assert main(["mark", str(source), str(tmp_path / "other"), "--key", "60"]) == 0
    assert "left by an earlier" not in capsys.readouterr().out  # only for the same destination
