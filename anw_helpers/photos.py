"""A person's photos on disk: the one way the course lists and opens them.

``anw mark``, ``anw verify`` (``anw_helpers.photo_cli``) and
:func:`anw_helpers.data.load_image_folder` all read photos through :func:`open_photo`, so a photo is
the same pixels for the user who marks it and for the arbitrator who checks a model with it (issue
20, case 1):

- the EXIF orientation tag is applied (a phone's portrait photo stored sideways comes out upright);
- 16-bit and float modes (``I;16``, ``I``, ``F``) are scaled to 8 bits, never clipped;
- only regular files are opened (a FIFO named ``x.jpg`` would block forever);
- HEIC/HEIF photos are read when ``pillow-heif`` is installed (``pip install "anw-helpers[heic]"``);
- the first frame of an animated GIF or multi-page TIFF is the photo (``Photo.frames`` counts them).

Marking a photo on disk (eq. 5 in tiles, a transparent photo over a background) is the command
line's business: ``anw_helpers.photo_cli.marking``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

__all__ = [
    "PHOTO_SUFFIXES",
    "HEIC_SUFFIXES",
    "HIDDEN_REASON",
    "NESTED_REASON",
    "PhotoError",
    "Photo",
    "Listing",
    "heic_supported",
    "HEIC_HINT",
    "check_regular_file",
    "to_8bit",
    "open_photo",
    "decode_rgb",
    "scan_folder",
    "what_is_wrong",
]

#: HEIC/HEIF (iPhone) photos, read with the optional ``pillow-heif``.
HEIC_SUFFIXES = {".heic", ".heif"}
#: File suffixes read as photos (lower case).
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"} | HEIC_SUFFIXES
#: Why a hidden photo (its name starts with '.') is skipped.
HIDDEN_REASON = "a hidden photo (its name starts with '.'): rename it to include it"
#: Why a sub-folder is skipped where only the photos directly in a folder are read (``anw
#: verify``'s <class>/<photo> and flat folders; ``anw mark`` reads every sub-folder).
NESTED_REASON = "a sub-folder: its photos are not read (only <class>/<photo>, one level)"
#: How to read HEIC photos when ``pillow-heif`` is missing.
HEIC_HINT = (
    'install pillow-heif to read HEIC photos (pip install "anw-helpers[heic]" or '
    "pip install pillow-heif), or export them as JPEG or PNG"
)
#: Pixels per strip when a large photo is decoded (about 40 MB of work space; ``anw mark`` tiles
#: by it too, ``photo_cli.marking``).
TILE_PIXELS = 1 << 19

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")


class PhotoError(ValueError):
    """A photo that cannot be read: the message names the file and what to do."""


@dataclass
class Photo:
    """One decoded photo, as it is shown: (H, W, 3) uint8 RGB, optional (H, W) uint8 alpha."""

    rgb: np.ndarray
    alpha: Optional[np.ndarray] = None
    icc_profile: Optional[bytes] = None
    frames: int = 1
    mode: str = "RGB"

    @property
    def has_transparency(self) -> bool:
        """True when some pixel is not fully opaque."""
        return self.alpha is not None and int(self.alpha.min()) < 255


@dataclass
class Listing:
    """The photos found under a folder, and every entry skipped with the reason."""

    photos: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


_HEIC_STATE: dict[str, bool] = {}


def heic_supported() -> bool:
    """True when ``pillow-heif`` is installed (its opener is then registered with PIL, once)."""
    if "ok" not in _HEIC_STATE:
        try:
            import pillow_heif
        except ImportError:
            _HEIC_STATE["ok"] = False
        else:
            pillow_heif.register_heif_opener()
            _HEIC_STATE["ok"] = True
    return _HEIC_STATE["ok"]


def _file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def what_is_wrong(path: Union[str, Path], want: str = "file") -> str:
    """Why ``path`` is not the ``want`` ("file": a regular file; "folder") asked for, in words for
    a message (e.g. "does not exist", "is a FIFO (named pipe), not a file"); "" when it is."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "is a broken symbolic link" if os.path.islink(path) else "does not exist"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if (stat.S_ISDIR if want == "folder" else stat.S_ISREG)(mode):
        return ""
    kind = "a regular file" if stat.S_ISREG(mode) else _file_kind(mode)
    return f"is {kind}, not a {want}"


def _not_regular_reason(path: Path) -> Optional[str]:
    """None for a readable regular file (symbolic links followed), else why it is skipped."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken symbolic link" if os.path.islink(path) else "does not exist"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(mode):
        return f"{_file_kind(mode)}, not a photo file"
    if not os.access(path, os.R_OK):
        return "cannot be read (permission denied)"
    return None


def check_regular_file(path: Union[str, Path]) -> Path:
    """Return ``path`` after checking it is a readable regular file; raise PhotoError naming it."""
    path = Path(path)
    reason = _not_regular_reason(path)
    if reason is not None:
        raise PhotoError(f"cannot read image {path}: {reason}.")
    return path


def _scaled(values: np.ndarray, low: float, high: float) -> np.ndarray:
    scale = 255.0 / (high - low) if high > low else 0.0
    return np.clip(np.rint((values.astype(np.float64) - low) * scale), 0, 255).astype(np.uint8)


def to_8bit(image):
    """An 8-bit PIL image for 16-bit and float modes, scaled (never clipped); others unchanged.

    ``I;16*`` (16-bit) and ``I`` (32-bit integer, holding 16-bit values as PNG and TIFF readers give
    them) map 0..65535 to 0..255; ``I`` beyond that range, and ``F`` beyond [0, 1], map their own
    minimum..maximum to 0..255; ``F`` in [0, 1] maps to 0..255. PIL's own ``convert("RGB")`` clips
    these modes at 255 (a 16-bit photo becomes almost all white).
    """
    from PIL import Image

    if image.mode not in _SIXTEEN_BIT_MODES + ("I", "F"):
        return image
    values = np.asarray(image)
    if image.mode == "F":
        if not np.isfinite(values).all():
            raise ValueError("the float image holds NaN or infinite values")
        low, high = (
            (0.0, 1.0) if values.min() >= 0 and values.max() <= 1 else (values.min(), values.max())
        )
    elif image.mode == "I" and (values.min() < 0 or values.max() > 65535):
        low, high = values.min(), values.max()
    else:
        low, high = 0.0, 65535.0
    return Image.fromarray(_scaled(values, float(low), float(high)), "L")


def _pixels(image, tile_pixels: int = TILE_PIXELS) -> np.ndarray:
    """``np.asarray(image)`` strip by strip, into one writable array: numpy's conversion of a
    whole PIL image goes through ``tobytes``, which holds two more copies of a large photo."""
    width, height = image.size
    if width * height <= tile_pixels:
        return np.array(image)  # small: one writable copy
    rows = max(1, tile_pixels // max(width, 1))
    first = np.asarray(image.crop((0, 0, width, min(height, rows))))
    out = np.empty((height,) + first.shape[1:], dtype=first.dtype)
    for top in range(0, height, rows):
        out[top : top + rows] = (
            first if top == 0 else np.asarray(image.crop((0, top, width, min(height, top + rows))))
        )
    return out


def _as_rgb_and_alpha(image) -> tuple[np.ndarray, Optional[np.ndarray]]:
    if image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info):
        rgba = _pixels(image if image.mode == "RGBA" else image.convert("RGBA"))
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    return _pixels(image if image.mode == "RGB" else to_8bit(image).convert("RGB")), None


def open_photo(path: Union[str, Path]) -> Photo:
    """Decode one photo as it is shown (EXIF orientation applied, 8 bits, first frame).

    Raises PhotoError naming the file for a non-regular or unreadable file, a HEIC photo without
    ``pillow-heif``, or anything PIL cannot decode.
    """
    from PIL import Image, ImageOps

    path = check_regular_file(path)
    if path.suffix.lower() in HEIC_SUFFIXES and not heic_supported():
        raise PhotoError(f"cannot read HEIC photo {path}: {HEIC_HINT}.")
    try:
        with Image.open(path) as shown:
            frames = int(getattr(shown, "n_frames", 1))
            shown.load()
            icc = shown.info.get("icc_profile")
            ImageOps.exif_transpose(shown, in_place=True)  # as it is shown; no second copy
            rgb, alpha = _as_rgb_and_alpha(shown)
            mode = shown.mode
    except PhotoError:
        raise
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds
        raise PhotoError(f"cannot read image {path}: {exc}") from exc
    return Photo(rgb, alpha, icc, frames, mode)


def decode_rgb(path: Union[str, Path]) -> np.ndarray:
    """A photo as (H, W, 3) uint8 RGB as it is shown (see :func:`open_photo`); alpha is dropped."""
    return open_photo(path).rgb


def _scan_error(path: Path, exc: OSError) -> str:
    return f"folder cannot be read ({exc.strerror or exc})"


def scan_folder(root: Union[str, Path], recursive: bool = True) -> Listing:
    """The photos under ``root`` (sorted), and each entry skipped with its reason.

    Hidden entries (names starting with '.') are not read; hidden photos (by suffix) are reported
    as skipped (:data:`HIDDEN_REASON`), other hidden files and folders are ignored (``.DS_Store``,
    ``.git``). Skipped and reported: files that are not
    photos (by suffix), photo names that are not readable regular files (a FIFO, a broken link),
    folders that cannot be read, and symbolic links to folders (not followed, so nothing outside
    ``root`` is read and no loop is possible). With ``recursive=False`` sub-folders are not read
    and reported as skipped (:data:`NESTED_REASON`).
    """
    listing = Listing()
    pending = [Path(root)]
    while pending:
        folder = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            listing.skipped.append((folder, _scan_error(folder, exc)))
            continue
        subfolders = []
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                if Path(entry.name).suffix.lower() in PHOTO_SUFFIXES:
                    listing.skipped.append((path, HIDDEN_REASON))
                continue
            if entry.is_dir(follow_symlinks=False):
                if not recursive:
                    listing.skipped.append((path, NESTED_REASON))
                subfolders.append(path)
            elif entry.is_symlink() and entry.is_dir():
                if recursive:
                    listing.skipped.append((path, "a symbolic link to a folder (not followed)"))
            elif path.suffix.lower() not in PHOTO_SUFFIXES:
                listing.skipped.append((path, f"not a photo (suffix {path.suffix or 'none'!r})"))
            else:
                reason = _not_regular_reason(path)
                (listing.skipped.append((path, reason)) if reason else listing.photos.append(path))
        if recursive:
            pending.extend(reversed(subfolders))
    listing.photos.sort()
    return listing
