"""The ``anw`` command line: ``anw mark`` (watermark a folder of photos) and ``anw verify`` (eq. 6
on a checkpoint).

Tiny fixtures only: a few photos made with PIL and a freshly built small ResNet of width 8 saved in
the course's cache format (as anw_helpers.train writes it).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from anw_helpers import verify
from anw_helpers.color import random_color_space, watermark
from anw_helpers.datasets import CIFAR10_CLASSES, load_image_folder, to_float, to_uint8
from anw_helpers.models import build_model
from anw_helpers.photo_cli import cli
from anw_helpers.photo_cli.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def photos(tmp_path: Path, write_photo) -> Path:
    src = tmp_path / "photos"
    write_photo(src / "portrait.png", (37, 53), seed=1)
    write_photo(src / "holiday" / "beach.jpg", (64, 48), seed=2, quality=90)
    write_photo(src / "logo.png", (20, 20), mode="RGBA", seed=3)
    (src / "notes.txt").write_text("not a photo")
    return src


def _expected(path: Path, key: float, color_space=None) -> np.ndarray:
    rgb = np.asarray(Image.open(path).convert("RGB"))
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255
    return to_uint8(watermark(x, key, color_space)).permute(1, 2, 0).numpy()


# --------------------------------------------------------------------------------------------- mark
def test_mark_watermarks_every_photo_at_full_size_as_png_and_keeps_originals(
    photos, tmp_path, capsys
):
    before = _digest(photos)
    dst = tmp_path / "shared"
    assert main(["mark", str(photos), str(dst), "--key", "60"]) == 0
    assert _digest(photos) == before, "the originals changed"
    written = sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file())
    assert written == ["holiday/beach.png", "logo.png", "portrait.png"]
    for src_name, dst_name in [
        ("portrait.png", "portrait.png"),
        ("holiday/beach.jpg", "holiday/beach.png"),
    ]:
        out = Image.open(dst / dst_name)
        assert out.format == "PNG" and out.size == Image.open(photos / src_name).size
        np.testing.assert_array_equal(np.asarray(out), _expected(photos / src_name, 60.0))
    logo = Image.open(dst / "logo.png")
    assert logo.mode == "RGBA", "the alpha channel was lost"
    np.testing.assert_array_equal(
        np.asarray(logo)[..., 3], np.asarray(Image.open(photos / "logo.png"))[..., 3]
    )
    out = capsys.readouterr().out
    assert "Watermarked 3 photo(s)" in out and "skipped 1 file" in out
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name], (
        "a temporary folder was left behind"
    )


def test_mark_with_a_colour_space_seed_and_jpeg(photos, tmp_path):
    dst = tmp_path / "out"
    assert (
        main(
            [
                "mark",
                str(photos),
                str(dst),
                "--key",
                "210",
                "--color-space-seed",
                "7",
                "--format",
                "jpeg",
                "--quality",
                "100",
                "--background",
                "white",
            ]
        )
        == 0
    )
    got = np.asarray(Image.open(dst / "portrait.jpg")).astype(float)
    space = random_color_space(torch.Generator().manual_seed(7))
    expected = _expected(photos / "portrait.png", 210.0, space).astype(float)
    yiq_only = _expected(photos / "portrait.png", 210.0).astype(float)
    assert np.abs(got - expected).mean() < 3, (
        "JPEG (quality 100, 4:4:4) should be close to the watermarked pixels"
    )
    assert np.abs(got - yiq_only).mean() > 10, "the colour-space seed made no difference"


@pytest.mark.parametrize("where", ["same", "inside", "existing"])
def test_mark_refuses_to_overwrite(photos, tmp_path, where, capsys):
    before = _digest(photos)
    dst = {"same": photos, "inside": photos / "holiday" / "marked", "existing": tmp_path / "taken"}[
        where
    ]
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


def test_mark_refuses_key_zero_name_clashes_and_missing_source(
    photos, tmp_path, capsys, write_photo
):
    assert main(["mark", str(photos), str(tmp_path / "a"), "--key", "360"]) == 2
    assert "no watermark" in capsys.readouterr().err
    # portrait.png already exists: both would become portrait.png
    write_photo(photos / "portrait.jpg", (8, 8))
    assert main(["mark", str(photos), str(tmp_path / "b"), "--key", "60"]) == 2
    assert "portrait.png" in capsys.readouterr().err
    assert main(["mark", str(tmp_path / "nowhere"), str(tmp_path / "c"), "--key", "60"]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert not any((tmp_path / n).exists() for n in "abc")


# ------------------------------------------------------------------------------------------- verify
# ``checkpoint`` (tests/conftest.py): an untrained small ResNet of width 8 saved as train caches it
@pytest.fixture
def clean_photos(tmp_path: Path, write_photo) -> Path:
    folder = tmp_path / "mine"
    for i, cls in enumerate(["cat", "dog", "cat", "ship"]):
        write_photo(folder / cls / f"p{i}.png", (40 + i, 32), seed=10 + i)  # odd sizes
    return folder


def _losses(out: str) -> dict[float, float]:
    return {float(k): float(v) for k, v in re.findall(r"k = +(\d+) +loss ([\d.]+)", out)}


def test_verify_prints_the_grid_search_of_eq6(checkpoint, clean_photos, capsys):
    assert main(["verify", str(checkpoint), str(clean_photos), "--key", "60"]) == 0
    out = capsys.readouterr().out
    losses = _losses(out)
    assert sorted(losses) == [float(k) for k in range(0, 360, 30)]
    # the same numbers as the library, with labels mapped to the model's CIFAR-10 classes (cat=3,
    # dog=5, ship=8)
    user = load_image_folder(clean_photos, size=32)
    labels = torch.tensor([CIFAR10_CLASSES.index(user.classes[i]) for i in user.labels])
    assert labels.tolist() == [3, 3, 5, 8]
    model = build_model("small_resnet", 10, 8, 0)
    expected = verify.grid_search(model, to_float(user.images), labels)
    for k, loss in zip(expected.signatures.tolist(), expected.losses.tolist()):
        assert losses[k] == pytest.approx(loss, abs=2e-4)
    assert f"k_hat = {expected.best:g}" in out
    # an untrained network recognises nothing: its k_hat is read as nothing (issue 20, case 5)
    assert "the model classifies" in out and "verdict: INCONCLUSIVE" in out
    assert "your key 60: not compared" in out and "matches" not in out


def test_verify_reports_the_calibrated_p_value_with_a_reference(
    checkpoint, clean_photos, tmp_path, capsys, photo_folder
):
    reference = photo_folder(
        tmp_path / "reference", ["cat", "dog", "ship"] * 4, seed=100, prefix="r"
    )
    assert (
        main(
            [
                "verify",
                str(checkpoint),
                str(clean_photos),
                "--key",
                "60",
                "--reference",
                str(reference),
                "--permutations",
                "99",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    p_value = float(re.search(r"p (?:=|<=) ([\d.e-]+)", out).group(1))
    test_line = next(line for line in out.splitlines() if "calibrated test" in line)
    assert "key 60" in test_line and "12 photos" in test_line and 0.01 <= p_value <= 1.0
    assert main(["verify", str(checkpoint), str(clean_photos), "--reference", str(reference)]) == 2
    assert "--reference needs --key" in capsys.readouterr().err


def test_verify_flat_folder_with_labels_csv(checkpoint, tmp_path, capsys, write_photo):
    flat = tmp_path / "flat"
    for i in range(3):
        write_photo(flat / f"img{i}.jpg", (33, 35), seed=i)
    labels = tmp_path / "labels.csv"
    labels.write_text("filename,class\nimg0.jpg,airplane\nimg1.jpg,truck\nimg2.jpg,4\n")
    assert (
        main(
            [
                "verify",
                str(checkpoint),
                str(flat),
                "--labels",
                str(labels),
                "--color-space-seed",
                "3",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert len(_losses(out)) == 12 and "k_hat = " in out and "seed 3" in out


def test_verify_clear_errors(checkpoint, clean_photos, tmp_path, capsys, write_photo):
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
    write_photo(flat / "a.png", (32, 32))
    write_photo(flat / "b.png", (32, 32))
    assert "--labels" in fails(str(checkpoint), str(flat))
    partial = tmp_path / "partial.csv"
    partial.write_text("a.png,cat\n")
    assert "b.png" in fails(str(checkpoint), str(flat), "--labels", str(partial))

    (clean_photos / "dog" / "broken.png").write_bytes(b"nope")
    assert str(clean_photos / "dog" / "broken.png") in fails(str(checkpoint), str(clean_photos))
    (clean_photos / "dog" / "broken.png").unlink()
    write_photo(clean_photos / "kitten" / "k.png", (32, 32))
    assert "'kitten'" in fails(str(checkpoint), str(clean_photos))


def test_verify_rejects_weights_of_another_width(checkpoint, clean_photos, tmp_path, capsys):
    saved = torch.load(checkpoint, weights_only=True)
    cfg = json.loads(saved["config"])
    cfg["recipe"]["width"] = 16
    saved["config"] = json.dumps(cfg)
    wrong = tmp_path / "wrong.pt"
    torch.save(saved, wrong)
    assert main(["verify", str(wrong), str(clean_photos)]) == 2
    assert str(wrong) in capsys.readouterr().err


@pytest.mark.slow  # a fresh Python importing torch
def test_anw_command_runs_as_a_module():
    done = subprocess.run(
        [sys.executable, "-m", "anw_helpers.photo_cli.cli", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0 and "mark" in done.stdout and "verify" in done.stdout


# ------------------------------------------------------------------------------ issue 20: mark side
def _partials(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".partial-" in p.name]


@pytest.mark.parametrize("key", ["0.1", "1e-20", "350", "-5", "15"])
def test_mark_refuses_keys_near_zero_before_any_output(photos, tmp_path, capsys, key):
    """Case 2: a key within 15 degrees of 0 writes (almost) unchanged pixels; refused before any
    work."""
    assert main(["mark", str(photos), str(tmp_path / "out"), "--key", key]) == 2
    captured = capsys.readouterr()
    assert (
        captured.out == ""
        and "--key" in captured.err
        and "30, 60" in captured.err.replace("\n", " ")
    )
    assert not (tmp_path / "out").exists() and not _partials(tmp_path)


def test_mark_warns_about_a_key_off_the_search_grid(photos, tmp_path, capsys):
    assert main(["mark", str(photos), str(tmp_path / "out"), "--key", "50"]) == 0
    assert "warning: key 50 is not one of 30, 60" in capsys.readouterr().out


def test_mark_checks_every_argument_before_reading_any_photo(photos, tmp_path, capsys, monkeypatch):
    def no_listing(*args, **kwargs):
        raise AssertionError("photos were listed before the arguments were checked")

    monkeypatch.setattr(cli.photos, "scan_folder", no_listing)
    for args in (
        ["--key", "0.5"],
        ["--key", "60", "--quality", "0"],
        ["--key", "60", "--quality", "101"],
    ):
        assert main(["mark", str(photos), str(tmp_path / "out"), *args]) == 2
        assert capsys.readouterr().out == ""
    file_parent = tmp_path / "a-file"
    file_parent.write_text("x")
    assert main(["mark", str(photos), str(file_parent / "out"), "--key", "60"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("seed", [str(2**64), "-1", "1.5"])
def test_colour_space_seed_out_of_range_is_a_usage_error(
    photos, checkpoint, clean_photos, tmp_path, capsys, seed
):
    for argv in (
        ["mark", str(photos), str(tmp_path / "out"), "--key", "60"],
        ["verify", str(checkpoint), str(clean_photos)],
    ):
        with pytest.raises(SystemExit) as stop:
            main([*argv, "--color-space-seed", seed])
        assert stop.value.code == 2 and "2**64 - 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _grey_photo(path: Path, size=(20, 16), seed=0) -> Path:
    grey = np.random.default_rng(seed).integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    Image.fromarray(grey, "L").save(path)
    return path


def test_mark_refuses_photos_that_carry_no_mark_unless_forced(tmp_path, capsys, write_photo):
    """Case 3: grey has no hue, so a grey photo came out pixel-identical and was reported
    'Watermarked'."""
    src = tmp_path / "src"
    src.mkdir()
    write_photo(src / "colour.png", (20, 16), seed=1)
    _grey_photo(src / "grey.png")
    near_grey = np.asarray(
        Image.open(_grey_photo(src / "faded.png", seed=2)).convert("RGB")
    ).astype(int)
    near_grey[..., 0] += 1  # a faded photo: chroma of one level
    Image.fromarray(np.clip(near_grey, 0, 255).astype(np.uint8)).save(src / "faded.png")
    deep = (np.linspace(0, 65535, 20 * 16).reshape(16, 20)).astype(np.uint16)
    Image.fromarray(deep).save(src / "deep16.png")  # 16-bit greyscale

    assert main(["mark", str(src), str(tmp_path / "out"), "--key", "90"]) == 2
    err = capsys.readouterr().err
    assert "3 of 4 photo(s) would carry almost no mark" in err and "--force" in err
    assert not (tmp_path / "out").exists() and not _partials(tmp_path)

    assert main(["mark", str(src), str(tmp_path / "out"), "--key", "90", "--force"]) == 0
    out = capsys.readouterr().out
    assert "1 of 4 photo(s) carry the mark; 3 carry almost none" in out
    assert re.search(
        r"grey.png -> grey.png \(20x16, changed by 0\.\d\d levels: almost no mark\)", out
    )
    copy = np.asarray(Image.open(tmp_path / "out" / "deep16.png"))
    assert (copy == 255).mean() < 0.05, "the 16-bit photo was clipped to white"
    np.testing.assert_array_equal(copy[..., 0], np.rint(deep / 257).astype(np.uint8))


def _half_transparent(path: Path) -> Path:
    rgba = np.random.default_rng(5).integers(0, 256, (16, 16, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[8:, :, 3] = 0  # the bottom half is transparent: its RGB must never be seen
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def test_mark_jpeg_never_shows_transparent_pixels(tmp_path, capsys):
    """Case 7: --format jpeg dropped the alpha channel, so hidden pixels became visible."""
    src = tmp_path / "src"
    src.mkdir()
    _half_transparent(src / "logo.png")
    assert main(["mark", str(src), str(tmp_path / "out"), "--key", "60", "--format", "jpeg"]) == 2
    err = capsys.readouterr().err
    assert "logo.png" in err and "--background" in err and "--format png" in err
    assert not (tmp_path / "out").exists()

    for colour, value in (("black", (0, 0, 0)), ("#ffffff", (255, 255, 255))):
        dst = tmp_path / f"out-{colour.strip('#')}"
        assert (
            main(
                [
                    "mark",
                    str(src),
                    str(dst),
                    "--key",
                    "60",
                    "--format",
                    "jpeg",
                    "--quality",
                    "100",
                    "--background",
                    colour,
                ]
            )
            == 0
        )
        shared = np.asarray(Image.open(dst / "logo.jpg")).astype(int)
        assert np.abs(shared[10:] - np.array(value)).max() <= 3, (
            "transparent pixels are not the background"
        )
    with pytest.raises(SystemExit):
        main(["mark", str(src), str(tmp_path / "x"), "--key", "60", "--background", "pink"])
    assert "white, black or #rrggbb" in capsys.readouterr().err


def test_mark_says_only_the_first_frame_is_marked(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    frames = [
        Image.fromarray(np.random.default_rng(s).integers(0, 256, (8, 8, 3), dtype=np.uint8))
        for s in range(3)
    ]
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:])
    assert main(["mark", str(src), str(tmp_path / "out"), "--key", "60", "--force"]) == 0
    assert (
        "anim.gif has 3 frames" in capsys.readouterr().out
        and (tmp_path / "out" / "anim.png").is_file()
    )


def test_mark_reports_what_it_skipped_and_why(photos, tmp_path, capsys):
    (photos / "linked").symlink_to(tmp_path)
    assert main(["mark", str(photos), str(tmp_path / "out"), "--key", "60"]) == 0
    out = capsys.readouterr().out
    reasons = {line.split(":")[0].strip(): line for line in out.splitlines() if ":" in line}
    assert "symbolic link" in reasons["linked"] and "not a photo" in reasons["notes.txt"]


def test_mark_heic_without_pillow_heif_says_how_before_any_work(
    photos, tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(cli.photos._HEIC_STATE, "ok", False)
    (photos / "IMG_1.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    assert main(["mark", str(photos), str(tmp_path / "out"), "--key", "60"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "pip install" in captured.err and "pillow-heif" in captured.err


def _anw(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "anw_helpers.photo_cli.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@contextlib.contextmanager
def _fails_if_it_hangs(seconds: float = 60):
    """Opening a FIFO blocks: in-process, a call that opens one fails after ``seconds`` (SIGALRM
    interrupts the blocked open) instead of hanging the test run. Cheaper than a fresh Python."""

    def hung(signum, frame):
        raise AssertionError(f"still running after {seconds} s: a FIFO was opened")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_the_guard_fails_a_call_that_opens_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(AssertionError, match="FIFO was opened"), _fails_if_it_hangs(0.2):
        (tmp_path / "pipe").read_bytes()  # blocks: no writer


def test_mark_skips_a_fifo_named_like_a_photo_instead_of_hanging(photos, tmp_path, capsys):
    os.mkfifo(photos / "x.jpg")
    with _fails_if_it_hangs():
        code = main(["mark", str(photos), str(tmp_path / "out"), "--key", "60"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert any("x.jpg" in line and "FIFO" in line for line in out.splitlines())


@pytest.mark.slow  # starts a fresh Python for each signal (about 2 s each on 2 cores)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_mark_killed_by_sigterm_or_sighup_leaves_no_partial_folder(tmp_path, signum, write_photo):
    src = tmp_path / "src"
    for i in range(300):
        write_photo(src / f"p{i:03d}.png", (64, 64), seed=i)
    proc = _anw("mark", str(src), str(tmp_path / "out"), "--key", "60")
    try:
        first = proc.stdout.readline()  # marking has started: the hidden partial folder exists
        assert first.startswith("[1/300]"), first + proc.stderr.read()
        assert _partials(tmp_path)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert (
        proc.returncode == 128 + signum and "nothing was written" in err and "Traceback" not in err
    )
    assert not _partials(tmp_path) and not (tmp_path / "out").exists()
    assert len(list(src.iterdir())) == 300


def test_ctrl_c_and_system_errors_are_one_line_and_leave_nothing(
    photos, tmp_path, capsys, monkeypatch
):
    def fail_with(exc: BaseException):
        def mark_image(*args, **kwargs):
            raise exc

        monkeypatch.setattr(cli, "_mark_image", mark_image)

    fail_with(KeyboardInterrupt())
    try:
        code = main(["mark", str(photos), str(tmp_path / "out"), "--key", "60"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped anw's main as a traceback")
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    fail_with(OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.png")))
    assert main(["mark", str(photos), str(tmp_path / "out"), "--key", "60"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "disk is full" in err and "x.png" in err
    assert not _partials(tmp_path) and not (tmp_path / "out").exists()

    monkeypatch.undo()

    def no_permission(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path))

    monkeypatch.setattr(cli.tempfile, "mkdtemp", no_permission)
    assert main(["mark", str(photos), str(tmp_path / "out"), "--key", "60"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "permission denied" in err and str(tmp_path) in err


def test_mark_help_states_privacy_faint_photos_and_the_new_options(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["mark", "--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for needed in (
        "EXIF",
        "GPS",
        "XMP",
        "capture date",
        "greyscale",
        "near-grey",
        "--force",
        "--background",
        "16-bit",
        "first frame",
        "pillow-heif",
    ):
        assert needed in text, needed


def test_readme_protect_section_states_privacy_and_faint_photos():
    text = (ROOT / "README.md").read_text()
    section = " ".join(text.split("## Protect your own photos", 1)[1].split("\n## ", 1)[0].split())
    for needed in (
        "EXIF",
        "GPS",
        "capture date",
        "greyscale",
        "--force",
        "--background",
        "orientation",
    ):
        assert needed in section, needed


# ------------------------------------------------------------------------ issue 20: verify's inputs
def test_verify_empty_or_truncated_checkpoint_is_one_line(
    checkpoint, clean_photos, tmp_path, capsys
):
    for name, content in (
        ("empty.pt", b""),
        ("cut.pt", b"\x80\x02"),
        ("cut2.pt", checkpoint.read_bytes()[:200]),
    ):
        path = tmp_path / name
        path.write_bytes(content)
        assert main(["verify", str(path), str(clean_photos)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err


def test_verify_bad_anw_device_is_refused_before_loading(
    checkpoint, clean_photos, capsys, monkeypatch
):
    monkeypatch.setenv("ANW_DEVICE", "gpu0")
    assert main(["verify", str(checkpoint), str(clean_photos)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "ANW_DEVICE='gpu0'" in captured.err and "cpu" in captured.err


@pytest.mark.slow  # starts a fresh Python that loads a checkpoint (about 3 s on 2 cores)
def test_verify_into_a_closed_pipe_prints_no_traceback(checkpoint, clean_photos):
    """`anw verify ... | head`: the reader went away; no 'BrokenPipeError' traceback."""
    proc = _anw("verify", str(checkpoint), str(clean_photos), "--key", "60")
    proc.stdout.close()  # closed before anything is printed
    try:
        err = proc.stderr.read()
        proc.wait(timeout=120)
    finally:
        proc.kill()
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, (
        err
    )
    assert proc.returncode == 141


def test_verify_skips_and_warns_about_a_fifo_in_the_photos(checkpoint, clean_photos, capsys):
    os.mkfifo(clean_photos / "cat" / "stuck.jpg")
    with _fails_if_it_hangs():
        code = main(["verify", str(checkpoint), str(clean_photos)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "anw: warning: skipped 1 entry" in err and "stuck.jpg" in err and "FIFO" in err


@pytest.mark.parametrize("key", [359.5, 0.5, 180.0])
def test_rotation_change_of_a_lossless_copy_is_near_zero_on_the_circle(tmp_path, key):
    """anw mark's JPEG check measures the change with verify.circular_distance (no copy of it):
    a key next to 0 may read 359.9 in one thumbnail and 0.1 in the other, which is 0.2 apart."""
    g = torch.Generator().manual_seed(3)
    clean = to_uint8(torch.rand(1, 3, 24, 24, generator=g) * 0.6 + 0.2)
    marked = to_uint8(watermark(to_float(clean), key))
    out = tmp_path / "marked.png"
    Image.fromarray(marked[0].permute(1, 2, 0).numpy(), "RGB").save(out)
    change = cli._rotation_change(to_float(clean), to_float(marked), out, None)
    assert 0.0 <= change < 0.5
