"""anw_helpers.photos: the one decoding path of `anw mark`, `anw verify` and data.load_image_folder
(issue 20)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from anw_helpers import data, photos
from anw_helpers.photo_cli import marking
from anw_helpers.photo_cli.cli import main
from anw_helpers.users import watermark_uint8


def _colour(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def _sideways(path: Path, upright: np.ndarray) -> Path:
    """Store ``upright`` rotated a quarter turn with EXIF Orientation 6 ("rotate 90 CW to show"), as
    phones do."""
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1)))
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(path, exif=exif)
    return path


def test_exif_orientation_decodes_identically_for_mark_and_verify(tmp_path):
    """Case 1: a portrait photo stored sideways is the same upright pixels in mark's and verify's
    paths."""
    upright = _colour((24, 16))  # portrait: 24 rows, 16 columns
    src = tmp_path / "src"
    (src / "cat").mkdir(parents=True)
    path = _sideways(src / "cat" / "phone.png", upright)
    assert Image.open(path).size == (24, 16), "the fixture is stored sideways"

    np.testing.assert_array_equal(photos.decode_rgb(path), upright)
    verify_view = data._decode(path, None)  # anw verify's loader, at full size
    np.testing.assert_array_equal(verify_view, upright.transpose(2, 0, 1))
    folder = data.load_image_folder(src, size=16)  # centre square of the upright photo
    np.testing.assert_array_equal(folder.images[0].numpy(), data._decode(path, 16))

    assert main(["mark", str(src), str(tmp_path / "out"), "--key", "60"]) == 0
    marked = np.asarray(Image.open(tmp_path / "out" / "cat" / "phone.png"))
    expected = (
        watermark_uint8(torch.from_numpy(verify_view.copy())[None], 60.0)[0]
        .permute(1, 2, 0)
        .numpy()
    )
    np.testing.assert_array_equal(marked, expected)


@pytest.mark.parametrize("mode", ["I;16", "I", "F"])
def test_high_bit_depth_photos_are_scaled_to_8_bits_not_clipped(tmp_path, mode):
    """Case 3: PIL's convert('RGB') clips 16-bit values at 255 (a 16-bit photo came out 99.6 %
    white)."""
    ramp = np.linspace(0, 1, 64 * 32).reshape(32, 64)
    if mode == "F":
        image, suffix = Image.fromarray(ramp.astype(np.float32), "F"), ".tif"
    else:
        values = np.rint(ramp * 65535)
        image = Image.fromarray(values.astype(np.uint16 if mode == "I;16" else np.int32))
        suffix = ".png" if mode == "I;16" else ".tif"
    path = tmp_path / f"deep{suffix}"
    image.save(path)
    assert Image.open(path).mode == mode
    got = data._decode(path, None)
    expected = np.rint(ramp * 255).astype(np.uint8)
    assert np.abs(got[0].astype(int) - expected).max() <= 1
    assert (got == 255).mean() < 0.01 and got[0].std() > 60


def test_float_photo_with_nan_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "nan.tif"
    Image.fromarray(np.full((4, 4), np.nan, dtype=np.float32), "F").save(path)
    with pytest.raises(ValueError, match="nan.tif"):
        data._decode(path, None)


def test_watermark_in_tiles_equals_the_whole_photo_and_measures_the_change():
    """Memory: the colour transform runs in tiles; the result is the untiled one exactly."""
    rgb = _colour((13, 11), seed=4)
    whole = (
        watermark_uint8(torch.from_numpy(rgb).permute(2, 0, 1)[None], 90.0)[0]
        .permute(1, 2, 0)
        .numpy()
    )
    for tile_pixels in (1, 7, 11, 50, 10_000):
        tiled, change = marking.watermark_rgb(rgb, 90.0, tile_pixels=tile_pixels)
        np.testing.assert_array_equal(tiled, whole)
        assert change == pytest.approx(np.abs(whole.astype(float) - rgb).mean())
    in_place = rgb.copy()
    marking.watermark_rgb(in_place, 90.0, tile_pixels=5, out=in_place)
    np.testing.assert_array_equal(in_place, whole)


def test_grey_photos_carry_no_mark_and_transparent_pixels_do_not_count():
    grey = np.repeat(
        np.random.default_rng(0).integers(0, 256, (9, 9, 1), dtype=np.uint8), 3, axis=2
    )
    assert marking.watermark_rgb(grey, 120.0)[1] < marking.FAINT_MARK_LEVELS
    colour = _colour((9, 9))
    assert marking.watermark_rgb(colour, 120.0)[1] > 10 * marking.FAINT_MARK_LEVELS
    hidden = np.zeros((9, 9), dtype=np.uint8)  # fully transparent: the colour is never seen
    hidden[0, 0] = 255
    mixed = colour.copy()
    mixed[1:] = grey[1:]
    mixed[0, 1:] = grey[0, 1:]
    assert marking.watermark_rgb(mixed, 120.0, alpha=hidden)[1] == pytest.approx(
        np.abs(
            marking.watermark_rgb(colour[:1, :1], 120.0)[0].astype(float) - colour[:1, :1]
        ).mean()
    )


def test_composite_onto_a_background_hides_transparent_pixels():
    rgb = _colour((6, 5), seed=2)
    alpha = np.zeros((6, 5), dtype=np.uint8)
    alpha[:3] = 255
    alpha[3, 0] = 128
    out = marking.composite_onto(rgb, alpha, (0, 0, 255), tile_pixels=4)
    np.testing.assert_array_equal(out[:3], rgb[:3])
    np.testing.assert_array_equal(
        out[4:], np.broadcast_to(np.array([0, 0, 255], np.uint8), out[4:].shape)
    )
    np.testing.assert_array_equal(
        out[3, 0], np.rint(rgb[3, 0].astype(float) * 128 / 255 + np.array([0, 0, 255]) * 127 / 255)
    )


def test_scan_folder_skips_and_reports_fifos_linked_and_unreadable_folders(tmp_path, monkeypatch):
    root = tmp_path / "photos"
    (root / "inner").mkdir(parents=True)
    (root / "locked").mkdir()
    Image.fromarray(_colour((4, 4))).save(root / "a.png")
    Image.fromarray(_colour((4, 4))).save(root / "inner" / "b.png")
    os.mkfifo(root / "x.jpg")
    (root / "notes.txt").write_text("hi")
    (root / "elsewhere").symlink_to(tmp_path)
    (root / "gone.png").symlink_to(tmp_path / "missing.png")
    (root / ".hidden.png").write_bytes(b"")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(photos.os, "scandir", scandir)
    listing = photos.scan_folder(root)
    assert listing.photos == [root / "a.png", root / "inner" / "b.png"]
    reasons = {p.name: why for p, why in listing.skipped}
    assert set(reasons) == {"x.jpg", "notes.txt", "elsewhere", "gone.png", "locked", ".hidden.png"}
    assert reasons[".hidden.png"] == photos.HIDDEN_REASON  # listed, not silently left out
    assert "FIFO" in reasons["x.jpg"] and "symbolic link" in reasons["elsewhere"]
    assert "broken" in reasons["gone.png"] and "Permission denied" in reasons["locked"]
    with pytest.raises(photos.PhotoError, match="FIFO"):
        photos.open_photo(root / "x.jpg")  # refused without opening it (opening a FIFO blocks)


def test_image_folder_warns_about_what_it_skipped(tmp_path):
    (tmp_path / "cat").mkdir()
    Image.fromarray(_colour((8, 8))).save(tmp_path / "cat" / "a.png")
    os.mkfifo(tmp_path / "cat" / "b.jpg")
    with pytest.warns(data.SkippedFilesWarning, match="b.jpg"):
        got = data.load_image_folder(tmp_path, size=8)
    assert len(got) == 1


def test_multi_frame_photos_use_the_first_frame_and_say_how_many(tmp_path):
    frames = [Image.fromarray(_colour((8, 8), seed=s)) for s in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    photo = photos.open_photo(tmp_path / "anim.gif")
    assert photo.frames == 3 and photo.rgb.shape == (8, 8, 3)


def test_heic_without_pillow_heif_says_how(tmp_path, monkeypatch):
    monkeypatch.setitem(photos._HEIC_STATE, "ok", False)
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic")
    with pytest.raises(photos.PhotoError, match=r"IMG_0001.HEIC.*pillow-heif"):
        data._decode(path, 32)


def test_heic_is_read_with_pillow_heif(tmp_path):
    pytest.importorskip("pillow_heif")
    assert photos.heic_supported()
    rgb = np.full((16, 16, 3), (200, 40, 90), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "p.heic", quality=100)
    got = photos.decode_rgb(tmp_path / "p.heic")
    assert got.shape == (16, 16, 3) and np.abs(got.astype(int) - rgb).mean() < 6
