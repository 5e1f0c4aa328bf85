"""Issue 30: messages name the right thing: a FIFO is not "missing", and a CLI hint names the
option (--labels), not a Python argument (labels_file=)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from anw_helpers.photo_cli.cli import main


def _error(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def test_a_fifo_given_as_labels_is_called_a_fifo(tmp_path, capsys, fifo, toy, write_photo):
    (tmp_path / "flat").mkdir()
    write_photo(tmp_path / "flat" / "a.png")
    err = _error(capsys, "verify", "toy.pt", str(tmp_path / "flat"), "--labels", str(fifo))
    assert "FIFO" in err and "does not exist" not in err


def test_a_fifo_given_as_checkpoint_is_called_a_fifo(tmp_path, capsys, fifo):
    (tmp_path / "cat").mkdir()
    err = _error(capsys, "verify", str(fifo), str(tmp_path))
    assert str(fifo) in err and "does not exist" not in err


def test_a_file_given_as_a_folder_is_called_a_file(tmp_path, capsys, write_photo):
    photo = write_photo(tmp_path / "a.png")
    err = _error(capsys, "mark", str(photo), str(tmp_path / "out"), "--key", "60")
    assert "is a regular file, not a folder" in err


def test_the_flat_folder_hint_names_the_option(tmp_path, capsys, toy, write_photo):
    import torch

    toy["model"] = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 6 * 6, 10))
    (tmp_path / "flat").mkdir()
    write_photo(tmp_path / "flat" / "a.png")
    err = _error(capsys, "verify", "toy.pt", str(tmp_path / "flat"))
    assert "--labels" in err and "labels_file" not in err
