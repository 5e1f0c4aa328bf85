"""The ``anw`` command line: ``anw mark`` (watermark a folder of photos) and ``anw verify`` (eq. 6 on a checkpoint).

Tiny fixtures only: a few photos made with PIL and a freshly built small ResNet of width 8 saved in the
course's cache format (as anw_helpers.train writes it).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from anw_helpers import verify
from anw_helpers.cli import main
from anw_helpers.color import random_color_space, watermark
from anw_helpers.data import CIFAR10_CLASSES, load_image_folder, to_float, to_uint8
from anw_helpers.models import build_model
from anw_helpers.profiles import LearnerConfig
from anw_helpers.train import TrainRecord

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _one_thread():
    """The fixtures are tiny: one thread is fastest, and immune to a busy machine's OpenMP contention."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _photo(path: Path, size: tuple[int, int], mode: str = "RGB", seed: int = 0, **save) -> Path:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4}[mode]
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8), mode).save(path, **save)
    return path


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    src = tmp_path / "photos"
    (src / "holiday").mkdir(parents=True)
    _photo(src / "portrait.png", (37, 53), seed=1)
    _photo(src / "holiday" / "beach.jpg", (64, 48), seed=2, quality=90)
    _photo(src / "logo.png", (20, 20), mode="RGBA", seed=3)
    (src / "notes.txt").write_text("not a photo")
    return src


def _expected(path: Path, key: float, color_space=None) -> np.ndarray:
    rgb = np.asarray(Image.open(path).convert("RGB"))
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255
    return to_uint8(watermark(x, key, color_space)).permute(1, 2, 0).numpy()


# ------------------------------------------------------------------------------------------------ mark
def test_mark_watermarks_every_photo_at_full_size_as_png_and_keeps_originals(photos, tmp_path, capsys):
    before = _digest(photos)
    dst = tmp_path / "shared"
    assert main(["mark", str(photos), str(dst), "--key", "60"]) == 0
    assert _digest(photos) == before, "the originals changed"
    written = sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file())
    assert written == ["holiday/beach.png", "logo.png", "portrait.png"]
    for src_name, dst_name in [("portrait.png", "portrait.png"), ("holiday/beach.jpg", "holiday/beach.png")]:
        out = Image.open(dst / dst_name)
        assert out.format == "PNG" and out.size == Image.open(photos / src_name).size
        np.testing.assert_array_equal(np.asarray(out), _expected(photos / src_name, 60.0))
    logo = Image.open(dst / "logo.png")
    assert logo.mode == "RGBA", "the alpha channel was lost"
    np.testing.assert_array_equal(np.asarray(logo)[..., 3], np.asarray(Image.open(photos / "logo.png"))[..., 3])
    out = capsys.readouterr().out
    assert "Watermarked 3 photo(s)" in out and "skipped 1 file" in out
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name], "a temporary folder was left behind"


def test_mark_with_a_colour_space_seed_and_jpeg(photos, tmp_path):
    dst = tmp_path / "out"
    assert main(["mark", str(photos), str(dst), "--key", "210", "--color-space-seed", "7", "--format", "jpeg", "--quality", "100",
                 "--background", "white"]) == 0
    got = np.asarray(Image.open(dst / "portrait.jpg")).astype(float)
    space = random_color_space(torch.Generator().manual_seed(7))
    expected = _expected(photos / "portrait.png", 210.0, space).astype(float)
    yiq_only = _expected(photos / "portrait.png", 210.0).astype(float)
    assert np.abs(got - expected).mean() < 3, "JPEG (quality 100, 4:4:4) should be close to the watermarked pixels"
    assert np.abs(got - yiq_only).mean() > 10, "the colour-space seed made no difference"


@pytest.mark.parametrize("where", ["same", "inside", "existing"])
def test_mark_refuses_to_overwrite(photos, tmp_path, where, capsys):
    before = _digest(photos)
    dst = {"same": photos, "inside": photos / "holiday" / "marked", "existing": tmp_path / "taken"}[where]
    if where == "existing":
        dst.mkdir()
        (dst / "keep.txt").write_text("mine")
    assert main(["mark", str(photos), str(dst), "--key", "60"]) == 2
    err = capsys.readouterr().err
    assert str(dst.resolve()) in err
    assert _digest(photos) == before
    if where == "existing":
        assert [p.name for p in dst.iterdir()] == ["keep.txt"]
    assert not (photos / "holiday" / "marked").exists()


def test_mark_into_an_empty_existing_folder(photos, tmp_path):
    dst = tmp_path / "empty"
    dst.mkdir()
    assert main(["mark", str(photos), str(dst), "--key", "30"]) == 0
    assert (dst / "portrait.png").is_file()


def test_mark_unreadable_photo_names_the_file_and_writes_nothing(photos, tmp_path, capsys):
    (photos / "broken.jpg").write_bytes(b"this is not a jpeg")
    dst = tmp_path / "out"
    assert main(["mark", str(photos), str(dst), "--key", "60"]) == 2
    assert str(photos / "broken.jpg") in capsys.readouterr().err
    assert not dst.exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_mark_refuses_key_zero_name_clashes_and_missing_source(photos, tmp_path, capsys):
    assert main(["mark", str(photos), str(tmp_path / "a"), "--key", "360"]) == 2
    assert "no watermark" in capsys.readouterr().err
    _photo(photos / "portrait.jpg", (8, 8))  # portrait.png already exists: both would become portrait.png
    assert main(["mark", str(photos), str(tmp_path / "b"), "--key", "60"]) == 2
    assert "portrait.png" in capsys.readouterr().err
    assert main(["mark", str(tmp_path / "nowhere"), str(tmp_path / "c"), "--key", "60"]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert not any((tmp_path / n).exists() for n in "abc")


# ---------------------------------------------------------------------------------------------- verify
@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A freshly built small ResNet of width 8, saved exactly as anw_helpers.train caches a model."""
    config = LearnerConfig(width=8, epochs=1)
    model = build_model(config.model, 10, config.width, config.seed)
    path = tmp_path / "model.pt"
    torch.save({"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "record": TrainRecord().to_json(),
                "config": json.dumps(dataclasses.asdict(config), default=str)}, path)
    return path


@pytest.fixture
def clean_photos(tmp_path: Path) -> Path:
    folder = tmp_path / "mine"
    for i, cls in enumerate(["cat", "dog", "cat", "ship"]):
        (folder / cls).mkdir(parents=True, exist_ok=True)
        _photo(folder / cls / f"p{i}.png", (40 + i, 32), seed=10 + i)
    return folder


def _losses(out: str) -> dict[float, float]:
    return {float(k): float(v) for k, v in re.findall(r"k = +(\d+) +loss ([\d.]+)", out)}


def test_verify_prints_the_grid_search_of_eq6(checkpoint, clean_photos, capsys):
    assert main(["verify", str(checkpoint), str(clean_photos), "--key", "60"]) == 0
    out = capsys.readouterr().out
    losses = _losses(out)
    assert sorted(losses) == [float(k) for k in range(0, 360, 30)]
    # the same numbers as the library, with labels mapped to the model's CIFAR-10 classes (cat=3, dog=5, ship=8)
    user = load_image_folder(clean_photos, size=32)
    labels = torch.tensor([CIFAR10_CLASSES.index(user.classes[i]) for i in user.labels])
    assert labels.tolist() == [3, 3, 5, 8]
    model = build_model("small_resnet", 10, 8, 0)
    expected = verify.grid_search(model, to_float(user.images), labels)
    for k, loss in zip(expected.signatures.tolist(), expected.losses.tolist()):
        assert losses[k] == pytest.approx(loss, abs=2e-4)
    assert f"k_hat = {expected.best:g}" in out
    assert ("k_hat is 0" in out) == (expected.best == 0.0) and ("k_hat is not 0" in out) == (expected.best != 0.0)
    assert "your key 60" in out


def test_verify_reports_the_calibrated_p_value_with_a_reference(checkpoint, clean_photos, tmp_path, capsys):
    reference = tmp_path / "reference"
    for i, cls in enumerate(["cat", "dog", "ship"] * 4):
        (reference / cls).mkdir(parents=True, exist_ok=True)
        _photo(reference / cls / f"r{i}.png", (32, 32), seed=100 + i)
    assert main(["verify", str(checkpoint), str(clean_photos), "--key", "60", "--reference", str(reference),
                 "--permutations", "99"]) == 0
    out = capsys.readouterr().out
    p_value = float(re.search(r"p (?:=|<=) ([\d.e-]+)", out).group(1))
    assert "calibrated test of your key 60 against 12 photos" in out and 0.01 <= p_value <= 1.0
    assert main(["verify", str(checkpoint), str(clean_photos), "--reference", str(reference)]) == 2
    assert "--reference needs --key" in capsys.readouterr().err


def test_verify_flat_folder_with_labels_csv(checkpoint, tmp_path, capsys):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(3):
        _photo(flat / f"img{i}.jpg", (33, 35), seed=i)
    labels = tmp_path / "labels.csv"
    labels.write_text("filename,class\nimg0.jpg,airplane\nimg1.jpg,truck\nimg2.jpg,4\n")
    assert main(["verify", str(checkpoint), str(flat), "--labels", str(labels), "--color-space-seed", "3"]) == 0
    out = capsys.readouterr().out
    assert len(_losses(out)) == 12 and "k_hat = " in out and "seed 3" in out


def test_verify_clear_errors(checkpoint, clean_photos, tmp_path, capsys):
    def fails(*args: str) -> str:
        assert main(["verify", *args]) == 2
        return capsys.readouterr().err

    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint")
    assert str(garbage) in fails(str(garbage), str(clean_photos))
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    err = fails(str(other), str(clean_photos))
    assert str(other) in err and "state_dict" in err
    assert "does not exist" in fails(str(tmp_path / "none.pt"), str(clean_photos))

    missing = tmp_path / "missing.csv"
    err = fails(str(checkpoint), str(clean_photos), "--labels", str(missing))
    assert str(missing) in err
    flat = tmp_path / "flat"
    flat.mkdir()
    _photo(flat / "a.png", (32, 32))
    _photo(flat / "b.png", (32, 32))
    assert "--labels" in fails(str(checkpoint), str(flat))
    partial = tmp_path / "partial.csv"
    partial.write_text("a.png,cat\n")
    assert "b.png" in fails(str(checkpoint), str(flat), "--labels", str(partial))

    (clean_photos / "dog" / "broken.png").write_bytes(b"nope")
    assert str(clean_photos / "dog" / "broken.png") in fails(str(checkpoint), str(clean_photos))
    (clean_photos / "dog" / "broken.png").unlink()
    (clean_photos / "kitten").mkdir()
    _photo(clean_photos / "kitten" / "k.png", (32, 32))
    assert "'kitten'" in fails(str(checkpoint), str(clean_photos))


def test_verify_rejects_weights_of_another_width(checkpoint, clean_photos, tmp_path, capsys):
    saved = torch.load(checkpoint, weights_only=True)
    cfg = json.loads(saved["config"])
    cfg["width"] = 16
    saved["config"] = json.dumps(cfg)
    wrong = tmp_path / "wrong.pt"
    torch.save(saved, wrong)
    assert main(["verify", str(wrong), str(clean_photos)]) == 2
    assert str(wrong) in capsys.readouterr().err


def test_anw_command_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "anw_helpers.cli", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "mark" in done.stdout and "verify" in done.stdout


def test_anw_is_the_packages_console_script():
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["anw"] == "anw_helpers.cli:main"
