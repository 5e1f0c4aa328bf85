"""Issue 30: what ``anw mark`` and ``anw verify`` leave out is said, the same way in both: hidden
photos are listed as skipped (other hidden files, like .DS_Store, stay quiet)."""

from __future__ import annotations

from pathlib import Path

import pytest

from anw_helpers import data
from anw_helpers.photo_cli.cli import main
from anw_helpers.photos import HIDDEN_REASON


def test_mark_lists_a_hidden_photo_it_leaves_out(tmp_path, capsys, write_photo):
    src = tmp_path / "photos"
    src.mkdir()
    write_photo(src / "a.png", seed=1)
    write_photo(src / ".secret.png", seed=2)
    (src / ".DS_Store").write_bytes(b"\0")
    assert main(["mark", str(src), str(tmp_path / "out"), "--key", "60"]) == 0
    out = capsys.readouterr().out
    assert f".secret.png: {HIDDEN_REASON}" in out and ".DS_Store" not in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]


def test_verify_reads_the_same_photos_and_says_so(tmp_path, write_photo):
    (tmp_path / "cat").mkdir()
    write_photo(tmp_path / "cat" / "a.png", seed=1)
    write_photo(tmp_path / "cat" / ".b.png", seed=2)
    with pytest.warns(data.SkippedFilesWarning, match=r"\.b\.png \(a hidden photo"):
        got = data.load_image_folder(tmp_path, size=8)
    assert len(got) == 1


def test_verify_says_it_does_not_read_nested_sub_folders(tmp_path, write_photo):
    """``anw mark`` keeps nested sub-folders; ``anw verify`` once ignored them without a word."""
    (tmp_path / "cat" / "2019").mkdir(parents=True)
    write_photo(tmp_path / "cat" / "a.png", seed=1)
    write_photo(tmp_path / "cat" / "2019" / "b.png", seed=2)
    with pytest.warns(data.SkippedFilesWarning, match=r"2019.*sub-folder"):
        got = data.load_image_folder(tmp_path, size=8)
    assert len(got) == 1


def test_verify_prints_the_nested_folder_it_skips(tmp_path, capsys, toy, write_photo):
    import torch

    (tmp_path / "cat" / "more").mkdir(parents=True)
    for i in range(4):
        write_photo(tmp_path / "cat" / f"{i}.png", seed=i)
    write_photo(tmp_path / "cat" / "more" / "x.png", seed=9)
    toy["model"] = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 6 * 6, 10))
    assert main(["verify", "toy.pt", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert str(tmp_path / "cat" / "more") in err and "not read" in err


def _flat(tmp_path: Path, write_photo) -> Path:
    flat = tmp_path / "flat"
    flat.mkdir()
    write_photo(flat / "a.png", seed=1)
    write_photo(flat / "b.png", seed=2)
    return flat


def test_csv_rows_naming_missing_files_are_reported(tmp_path, write_photo):
    flat = _flat(tmp_path, write_photo)
    rows = tmp_path / "labels.csv"
    rows.write_text("a.png,cat\nb.png,cat\nc.png,dog\n")
    with pytest.warns(data.SkippedFilesWarning, match=r"1 row\(s\) of .*labels.csv.*c\.png"):
        got = data.load_image_folder(flat, size=8, labels_file=rows)
    assert len(got) == 2 and got.classes == ("cat",)  # no class without a photo


def test_verify_prints_the_csv_rows_it_could_not_use(tmp_path, capsys, toy, write_photo):
    import torch

    flat = _flat(tmp_path, write_photo)
    rows = tmp_path / "labels.csv"
    rows.write_text("a.png,cat\nb.png,cat\nIMG_0001.png,cat\n")
    toy["model"] = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 6 * 6, 10))
    assert main(["verify", "toy.pt", str(flat), "--labels", str(rows)]) == 0
    assert "IMG_0001.png" in capsys.readouterr().err


def test_an_image_folder_given_labels_gets_a_clear_message(tmp_path, capsys, toy, write_photo):
    """It once failed with numpy's 'need at least one array to concatenate'."""
    import torch

    toy["model"] = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 6 * 6, 10))
    (tmp_path / "photos" / "cat").mkdir(parents=True)
    write_photo(tmp_path / "photos" / "cat" / "a.png", seed=1)
    rows = tmp_path / "labels.csv"
    rows.write_text("a.png,cat\n")
    assert main(["verify", "toy.pt", str(tmp_path / "photos"), "--labels", str(rows)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "concatenate" not in err
    assert "no photos directly in" in err and "(cat)" in err and "leave it out" in err
