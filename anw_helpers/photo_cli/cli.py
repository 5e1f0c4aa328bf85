"""``anw``: the course's method for real photos, from the command line.

    anw mark SRC DST --key K [--color-space-seed S] [--format png|jpeg] [--background C] [--force]
        Watermark every photo under SRC (any size, sub-folders kept) with signature K into a new
        folder DST. The originals are never touched; DST must not exist yet (or be empty) and must
        not lie inside SRC. PNG by default, so nothing is lost to JPEG compression. Copies carry no
        metadata (EXIF, GPS, XMP, text): good for privacy, but the capture date is lost too.

    anw verify CHECKPOINT IMAGES [--labels CSV] [--color-space-seed S] [--key K]
        The arbitrator (eq. 6): load a model checkpoint of the course's cache format, and the
        *clean* photos with their classes (an ImageFolder, or a flat folder plus a CSV of
        filename,class), then grid-search the signature under which the model's loss on them is
        lowest. k_hat = 0: no evidence.

Both read photos through ``anw_helpers.photos`` (EXIF orientation applied, 16-bit scaled to 8 bits).
Exit codes (:data:`EXIT_CODES`, also in every ``--help``): 0 done, 1 the system refused (disk full,
permission) or an internal error, 2 bad input (the message names the file and the fix), 130
interrupted (Ctrl-C), 141 output pipe closed, 128+N stopped by signal N.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import shutil
import signal
import stat
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .. import photos
from ..color import color_space_from_seed
from ..datasets import IMAGE_SUFFIXES
from ..machinery._checks import check_matchable_key, check_user_key, key_is_off_grid
from . import marking

if TYPE_CHECKING:
    import torch

__all__ = ["main", "CliError", "MarkResult", "mark_folder", "load_checkpoint", "parse_background"]

_FORMATS = {"png": (".png", "PNG"), "jpeg": (".jpg", "JPEG")}
_BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0)}
#: --color-space-seed must fit torch.Generator.manual_seed: 0 <= S < 2**64.
SEED_LIMIT = 2**64


#: Exit codes of ``anw`` (``main`` returns them; every ``--help`` prints :data:`EXIT_CODES`).
EXIT_DONE, EXIT_SYSTEM, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 130, 141
#: 128 + N: stopped by signal N (SIGTERM, SIGHUP).
EXIT_SIGNAL_BASE = 128
EXIT_CODES = (
    f"Exit codes: {EXIT_DONE} done, {EXIT_SYSTEM} the system refused (disk full, permission) or "
    f"an internal error, {EXIT_BAD_INPUT} bad input (the message names the file and the fix), "
    f"{EXIT_INTERRUPTED} interrupted (Ctrl-C), {EXIT_PIPE} output pipe closed, "
    f"{EXIT_SIGNAL_BASE}+N stopped by signal N."
)


class CliError(Exception):
    """A user error: printed as ``anw: error: <message>`` with exit code 2."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds like Ctrl-C so that partial output is removed."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _check_key(key: float) -> float:
    """The shared rule for a user's key (``_checks.check_user_key``) as a CliError."""
    try:
        return check_matchable_key(check_user_key(key, "--key"), "--key")
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def _check_seed(seed: Optional[int]) -> Optional[int]:
    if seed is not None and not 0 <= int(seed) < SEED_LIMIT:
        raise CliError(
            f"--color-space-seed must be a whole number from 0 to 2**64 - 1; got {seed}."
        )
    return seed


def _seed_argument(text: str) -> int:
    """argparse type of --color-space-seed: a whole number in 0 .. 2**64 - 1."""
    try:
        return _check_seed(int(text, 10))
    except (ValueError, CliError):
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 0 to 2**64 - 1 (18446744073709551615); got {text!r}"
        ) from None


def parse_background(text: str) -> tuple[int, int, int]:
    """``white``, ``black`` or ``#rrggbb`` as an RGB triple; ValueError saying what is accepted."""
    value = text.strip().lower()
    if value in _BACKGROUNDS:
        return _BACKGROUNDS[value]
    digits = value[1:] if value.startswith("#") else ""
    if len(digits) == 6 and all(c in "0123456789abcdef" for c in digits):
        return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))
    raise ValueError(f"--background must be white, black or #rrggbb (e.g. #808080); got {text!r}.")


def _background_argument(text: str) -> tuple[int, int, int]:
    try:
        return parse_background(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("--background ", "")) from None


# --------------------------------------------------------------------------------------------- mark
def _is_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_writable_parent(dst: Path) -> None:
    """Refuse before any work when ``dst`` cannot be created: its nearest existing ancestor
    must be a folder we may write into."""
    ancestor = dst.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CliError(
            f"cannot create {dst}: {ancestor} is a file, not a folder; give another destination."
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise CliError(
            f"cannot create {dst}: the folder {ancestor} is not writable for you; "
            "give a destination in a folder you can write to."
        )


@dataclass
class MarkResult:
    """What ``mark_folder`` wrote: the copies, which carry almost no mark, what was skipped."""

    written: list[Path] = field(default_factory=list)
    faint: list[tuple[Path, float]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    #: JPEG copies whose measured rotation moved >= 15 degrees: (photo, degrees moved)
    lost: list[tuple[Path, float]] = field(default_factory=list)

    @property
    def carrying(self) -> int:
        """How many copies carry the mark: changed by >= ``marking.FAINT_MARK_LEVELS`` and, for
        JPEG, with the rotation measured in the file within 15 degrees of the one written."""
        return len(self.written) - len(self.faint) - len(self.lost)


#: A JPEG copy whose measured rotation moved this far (the match tolerance) has lost the mark.
_LOST_DEGREES = 15.0
#: A JPEG copy's rotation is measured on every n-th pixel, n chosen so that at most this many
#: pixels are compared per side (memory and time bounded for huge photos).
_MEASURE_SIDE = 512


def _thumbnail(rgb) -> torch.Tensor:
    """Every n-th pixel of an (H, W, 3) uint8 photo as a (1, 3, h, w) float tensor in [0, 1]."""
    import torch

    step = max(1, -(-max(rgb.shape[:2]) // _MEASURE_SIDE))
    small = rgb[::step, ::step].copy()
    return torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255.0


def _rotation_change(clean, intended, out: Path, color_space) -> float:
    """How far (degrees, in [0, 180]) the hue rotation measured in the file written at ``out``
    lies from that of the ``intended`` marked pixels, both measured against ``clean`` (thumbnails;
    ``adaptive.estimate_rotation``, lesson 10). Clipping bends both alike; JPEG bends only the
    file's."""
    from ..adaptive import estimate_rotation
    from ..verify import circular_distance

    written = _thumbnail(photos.decode_rgb(out))
    both = estimate_rotation(_pair(clean, clean), _pair(intended, written), color_space)
    return float(circular_distance(both[1], both[0]))


def _pair(a, b):
    """Two (1, 3, h, w) thumbnails as one batch."""
    import torch

    return torch.cat([a, b])


def _mark_image(
    path: Path,
    out: Path,
    key: float,
    color_space,
    fmt: str,
    quality: int,
    background: Optional[tuple[int, int, int]] = None,
) -> tuple[tuple[int, int], float, int, Optional[float]]:
    """Watermark one photo at full resolution (in tiles) and save it to ``out``.

    Returns its (width, height), the mark's strength (``marking.watermark_rgb``), its frame count
    and, for JPEG, how many degrees the rotation measured in the written file lies from the
    intended one (:func:`_rotation_change`; None for PNG, which is lossless).
    """
    from PIL import Image

    try:
        photo = photos.open_photo(path)
    except photos.PhotoError as exc:
        raise CliError(str(exc)) from exc
    rgb, alpha = photo.rgb, photo.alpha
    if alpha is not None and background is not None:
        rgb, alpha = marking.composite_onto(rgb, alpha, background), None
    elif alpha is not None and fmt == "jpeg":  # checked before any work; kept as a guard
        raise CliError(f"{path} has transparent pixels that JPEG cannot store: pass --background.")
    photo.rgb = None
    clean = _thumbnail(rgb) if fmt == "jpeg" else None  # the mark is measured in the written file
    marked, strength = marking.watermark_rgb(
        rgb, key, color_space, alpha=alpha, out=rgb if rgb.flags.writeable else None
    )  # in place
    del rgb
    intended = _thumbnail(marked) if clean is not None else None
    result = Image.fromarray(marked, "RGB")
    del marked
    options = {"icc_profile": photo.icc_profile} if photo.icc_profile else {}
    if fmt == "jpeg":
        # 4:4:4 chroma: the watermark lives in the chroma (I, Q) channels that 4:2:0 subsampling
        # would halve
        options.update(quality=quality, subsampling=0)
    elif alpha is not None:
        result.putalpha(Image.fromarray(alpha, "L"))
    result.save(
        out, format=_FORMATS[fmt][1], **options
    )  # no exif=, pnginfo=: metadata is not copied
    change = None if clean is None else _rotation_change(clean, intended, out, color_space)
    return result.size, strength, photo.frames, change


#: Pixels per photo that the check for grey photos marks before any copy is written.
_FAINT_SAMPLE_PIXELS = 1 << 16


def _sample_strength(path: Path, key: float, color_space, background) -> float:
    """The mark's strength (``marking.watermark_rgb``) on an evenly strided sample of about
    :data:`_FAINT_SAMPLE_PIXELS` of the photo's own pixels (no averaging: grey stays grey and
    colour stays colour)."""
    import numpy as np

    try:
        photo = photos.open_photo(path)
    except photos.PhotoError as exc:
        raise CliError(str(exc)) from exc
    height, width = photo.rgb.shape[:2]
    step = max(1, int((height * width / _FAINT_SAMPLE_PIXELS) ** 0.5))
    rgb = np.ascontiguousarray(photo.rgb[::step, ::step])
    alpha = None if photo.alpha is None else np.ascontiguousarray(photo.alpha[::step, ::step])
    if alpha is not None and background is not None:
        rgb, alpha = marking.composite_onto(rgb, alpha, background), None
    return marking.watermark_rgb(rgb, key, color_space, alpha=alpha)[1]


def _faint_photos(paths: Sequence[Path], key: float, color_space, background) -> list:
    """(photo, strength) of every photo the mark would change by less than
    ``marking.FAINT_MARK_LEVELS`` (measured on a sample of its pixels, before anything is
    written)."""
    strengths = [(p, _sample_strength(p, key, color_space, background)) for p in paths]
    return [(p, s) for p, s in strengths if s < marking.FAINT_MARK_LEVELS]


def _transparent_photos(paths: Sequence[Path]) -> list[Path]:
    """The photos with some pixel not fully opaque (only those whose mode has alpha are decoded)."""
    from PIL import Image

    found = []
    for path in paths:
        try:
            with Image.open(photos.check_regular_file(path)) as im:
                maybe = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
        except Exception:  # noqa: BLE001 - the marking pass names unreadable files
            continue
        if maybe and photos.open_photo(path).has_transparency:
            found.append(path)
    return found


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """While marking, SIGTERM and SIGHUP raise ``Terminated``: the partial folder is removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, _frame):
        raise Terminated(signum)

    wanted = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {sig: signal.signal(sig, stop) for sig in wanted}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_mark_arguments(
    key: float,
    color_space_seed: Optional[int],
    fmt: str,
    quality: int,
    background: Optional[tuple[int, int, int]],
) -> float:
    key = _check_key(key)
    _check_seed(color_space_seed)
    if fmt not in _FORMATS:
        raise CliError(f"unknown --format {fmt!r}; expected one of {', '.join(_FORMATS)}.")
    if not 1 <= int(quality) <= 100:
        raise CliError(f"--quality must be from 1 to 100; got {quality}.")
    if background is not None and (
        len(background) != 3 or not all(0 <= int(c) <= 255 for c in background)
    ):
        raise CliError(
            f"--background must be an RGB colour of three values 0..255; got {background}."
        )
    return key


def _check_folders(src: Path, dst: Path) -> tuple[Path, Path]:
    src_in = Path(src).expanduser()
    if photos.what_is_wrong(src_in, "folder"):
        raise CliError(f"source folder {src_in} {photos.what_is_wrong(src_in, 'folder')}.")
    src = src_in.resolve()
    dst = Path(dst).expanduser().resolve()
    if dst == src:
        raise CliError(
            f"destination {dst} is the source folder: anw mark never overwrites your originals; "
            "give a new folder."
        )
    if _is_inside(dst, src):
        raise CliError(
            f"destination {dst} lies inside the source folder {src}: give a folder outside it."
        )
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise CliError(
            f"destination {dst} already exists and is not empty: anw mark would overwrite it; give "
            "a new folder."
        )
    _check_writable_parent(dst)
    return src, dst


def _left_partials(dst: Path) -> list[Path]:
    """The hidden temporary folders of earlier runs into ``dst`` (``.<name>.partial-*`` beside
    it): a run killed with SIGKILL (or a power cut) cannot remove its own."""
    if not dst.parent.is_dir():
        return []
    return sorted(p for p in dst.parent.glob(f".{dst.name}.partial-*") if p.is_dir())


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing ancestors; the ones created, outermost first."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()][::-1]
    for path in missing:
        path.mkdir(exist_ok=True)
    return missing


def _remove_empty(created: Sequence[Path]) -> None:
    """Remove the folders of ``created`` that are still empty, innermost first (a refusal leaves
    no new folder behind)."""
    for path in reversed(created):
        try:
            path.rmdir()
        except OSError:  # not empty (someone else wrote there) or already gone: keep it
            pass


def _folder_mode_and_group(dst: Path) -> tuple[int, Optional[int]]:
    """The mode and group the folder ``dst`` must end with: an existing (empty) one's own; a new
    one's as ``mkdir`` would give it (the umask; a setgid parent's group and setgid bit)."""
    if dst.is_dir():
        st = dst.stat()
        return stat.S_IMODE(st.st_mode), st.st_gid
    umask = os.umask(0)
    os.umask(umask)
    parent = dst.parent.stat()
    if parent.st_mode & stat.S_ISGID:
        return (0o777 & ~umask) | stat.S_ISGID, parent.st_gid
    return 0o777 & ~umask, None


def _set_mode_and_group(folder: Path, mode: int, group: Optional[int]) -> None:
    """Give ``folder`` its group (when it has one to keep), then its mode."""
    if group is not None and folder.stat().st_gid != group:
        try:
            os.chown(folder, -1, group)
        except OSError:  # not a member of that group: the mode is still kept
            pass
    folder.chmod(mode)


def _plan(src: Path, fmt: str, background) -> tuple[dict[Path, Path], photos.Listing]:
    """Where each photo goes (path in DST), after every check that needs only the listing."""
    listing = photos.scan_folder(src)
    if not listing.photos:
        raise CliError(f"no photos under {src} (looked for {', '.join(sorted(IMAGE_SUFFIXES))}).")
    heic = [p for p in listing.photos if p.suffix.lower() in photos.HEIC_SUFFIXES]
    if heic and not photos.heic_supported():
        raise CliError(f"{len(heic)} HEIC photo(s) such as {heic[0]}: {photos.HEIC_HINT}.")
    targets: dict[Path, Path] = {}
    for path in listing.photos:
        rel = path.relative_to(src).with_suffix(_FORMATS[fmt][0])
        if rel in targets:
            raise CliError(
                f"{path} and {targets[rel]} would both be written to {rel}: rename one of them."
            )
        targets[rel] = path
    if fmt == "jpeg" and background is None:
        clear = _transparent_photos(listing.photos)
        if clear:
            raise CliError(
                f"{len(clear)} photo(s) such as {clear[0]} have transparent pixels, which JPEG "
                "cannot store (they would become visible): pass --background white, black or "
                "#rrggbb to fill "
                "them, or use --format png to keep the transparency."
            )
    return targets, listing


def mark_folder(
    src: Path,
    dst: Path,
    key: float,
    color_space_seed: Optional[int] = None,
    fmt: str = "png",
    quality: int = 95,
    echo=print,
    background: Optional[tuple[int, int, int]] = None,
    force: bool = False,
) -> MarkResult:
    """Watermark every photo under ``src`` into the new folder ``dst`` (same sub-folders, same
    sizes; eq. 5).

    Every argument is checked before any work: the key (``_checks.check_user_key``), the seed,
    the format, the folders (``dst`` not ``src`` nor inside it, empty or new, creatable), name
    clashes, HEIC support, transparency with JPEG (needs ``background``). Photos are read with
    ``photos.open_photo`` and marked in tiles; photos the mark changes by less than
    ``marking.FAINT_MARK_LEVELS`` (greyscale, near-grey) are refused unless ``force``, before
    anything is written (measured on a sample of each photo's pixels; the copies are measured
    again). The copies are written to a hidden temporary folder beside ``dst``, moved into place
    at the end, and removed on any error, Ctrl-C, SIGTERM or SIGHUP: ``dst`` appears all at once
    or not at all, and the originals are never modified. An existing (empty) ``dst`` keeps its
    mode and group; a new one gets what ``mkdir`` would give it (the umask; a setgid parent's
    group and bit).
    """
    key = _check_mark_arguments(float(key), color_space_seed, fmt, quality, background)
    src, dst = _check_folders(src, dst)
    targets, listing = _plan(src, fmt, background)
    if key_is_off_grid(key):
        echo(
            f"warning: key {key:g} is not one of 30, 60, ..., 330, the signatures "
            "verification searches; it is found only as the nearest of them (within 15 "
            "degrees), so keep a grid key if you can."
        )
    color_space = color_space_from_seed(color_space_seed)
    if not force:  # before any folder or file is written
        faint = _faint_photos(list(targets.values()), key, color_space, background)
        if faint:
            raise CliError(_faint_message(MarkResult(faint=faint), len(targets)))
    result = MarkResult(skipped=listing.skipped)
    for left in _left_partials(dst):
        echo(
            f"warning: {left} was left by an earlier anw mark into {dst} that was killed (or is "
            "still running); it is not used or changed: delete it once no anw mark is running."
        )
    created = _make_parents(dst.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.partial-", dir=dst.parent))
    except BaseException:
        _remove_empty(created)
        raise
    try:
        with _terminate_cleanly():
            for i, (rel, path) in enumerate(targets.items(), 1):
                out = tmp / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                (w, h), strength, frames, change = _mark_image(
                    path, out, key, color_space, fmt, quality, background
                )
                faint = strength < marking.FAINT_MARK_LEVELS
                lost = not faint and change is not None and change >= _LOST_DEGREES
                if faint:
                    result.faint.append((path, strength))
                if lost:
                    result.lost.append((path, change))
                note = f", changed by {strength:.2f} levels: almost no mark" if faint else ""
                note += f", rotation off by {change:.0f} degrees in the file: lost" if lost else ""
                echo(f"[{i}/{len(targets)}] {path.relative_to(src)} -> {rel} ({w}x{h}{note})")
                if frames > 1:
                    echo(
                        f"  note: {path.relative_to(src)} has {frames} frames (animation or "
                        "pages): only the first is marked, and the copy is that single image."
                    )
                result.written.append(dst / rel)
            if result.faint and not force:
                raise CliError(_faint_message(result, len(targets)))
            if result.lost and not force:
                raise CliError(_lost_message(result, len(targets), key, quality))
            mode, group = _folder_mode_and_group(dst)
            if dst.exists():
                dst.rmdir()  # empty (checked above)
            os.replace(tmp, dst)
        _set_mode_and_group(dst, mode, group)  # mkdtemp made it private
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(created)
        raise
    if listing.skipped:
        echo(f"skipped {len(listing.skipped)} file(s) or folder(s) under {src}:")
    for path, why in listing.skipped:
        echo(f"  {path.relative_to(src) if _is_inside(path, src) else path}: {why}")
    return result


def _lost_message(result: MarkResult, total: int, key: float, quality: int) -> str:
    shown = ", ".join(f"{p.name} (off by {r:.0f})" for p, r in result.lost[:5])
    return (
        f"{len(result.lost)} of {total} photo(s) lost the mark in the written JPEG file (quality "
        f"{quality}): the hue rotation measured in the file lies {_LOST_DEGREES:g} degrees or more "
        f"from the one written (key {key:g}), e.g. {shown}, so verification cannot find the key. "
        "Raise --quality (90 or more keeps it) or use --format png, or pass --force to write them "
        "anyway; nothing was written."
    )


def _faint_message(result: MarkResult, total: int) -> str:
    names = ", ".join(str(p.name) for p, _ in result.faint[:3])
    return (
        f"{len(result.faint)} of {total} photo(s) would carry almost no mark (changed by less than "
        f"{marking.FAINT_MARK_LEVELS:g} levels on average: greyscale or near-grey, and hue "
        f"rotation cannot change grey), e.g. {names}. A model trained on them learns nothing "
        "of your key. Leave them out, "
        "or pass --force to write them anyway; nothing was written."
    )


def _cmd_mark(args) -> int:
    result = mark_folder(
        Path(args.src),
        Path(args.dst),
        args.key,
        args.color_space_seed,
        args.format,
        args.quality,
        background=args.background,
        force=args.force,
    )
    space = (
        "YIQ"
        if args.color_space_seed is None
        else f"your colour space (seed {args.color_space_seed})"
    )
    print(
        f"Watermarked {len(result.written)} photo(s) with signature k = {args.key:g} degrees in "
        f"{space}; wrote {args.format.upper()} files to {Path(args.dst).expanduser().resolve()}. "
        "The originals are unchanged."
    )
    print(
        f"{result.carrying} of {len(result.written)} photo(s) carry the mark"
        + (
            f"; {len(result.faint)} carry almost none (greyscale or near-grey): "
            + ", ".join(p.name for p, _ in result.faint[:5])
            if result.faint
            else ""
        )
        + (
            f"; {len(result.lost)} lost it to JPEG compression (measured in the written file): "
            + ", ".join(p.name for p, _ in result.lost[:5])
            if result.lost
            else ""
        )
        + "."
    )
    print(
        "The copies carry no EXIF, GPS, XMP or text metadata (the capture date is lost too). "
        "Share only the watermarked copies, and keep the key (and colour-space seed) secret: "
        "an arbitrator needs your "
        "clean originals, and you reveal the key only to compare."
    )
    return 0


# ------------------------------------------------------------------------------------------- verify
def load_checkpoint(path: Path):
    """A model from a checkpoint of the course's format (``anw_helpers.machinery.checkpoint.load``).

    Returns (model, settings): every saved setting by its name (``checkpoint.flat_settings``: a
    learner's data setting and recipe in one dict), plus ``num_classes``, ``width`` (from the
    weights) and ``image_size`` (the size the model was trained at: load the photos at that size).
    Validated before anything is built (``weights_only=True``; sizes read from the weights' shapes;
    no download; an image size within 8..448 pixels whose one photo takes at most 1 GiB in a pass,
    ``memory``). Raises CliError naming the file when it is not a usable checkpoint.
    """
    from ..machinery import checkpoint

    try:
        loaded = checkpoint.load(Path(path))
    except checkpoint.CheckpointError as exc:
        raise CliError(str(exc)) from None
    config = dict(loaded.settings, num_classes=loaded.num_classes, image_size=loaded.image_size)
    if loaded.width is not None:
        config["width"] = loaded.width
    return loaded.model, config


def _model_labels(classes: Sequence[str], labels, num_classes: int, source: str):
    """Map the user's class names to the model's class indices (CIFAR-10 names, or integers)."""
    import torch

    from ..datasets import CIFAR10_CLASSES

    names = CIFAR10_CLASSES if num_classes == len(CIFAR10_CLASSES) else ()
    index = {}
    for c in classes:
        if c in names:
            index[c] = names.index(c)
        elif c.strip().isdigit() and int(c) < num_classes:
            index[c] = int(c)
        else:
            known = f"one of {', '.join(names)}, or " if names else ""
            raise CliError(
                f"class {c!r} in {source} is not a class of the model: expected {known}a number "
                f"0..{num_classes - 1}."
            )
    table = torch.tensor([index[c] for c in classes], dtype=torch.int64)
    return table[labels]


def _cmd_verify(args) -> int:
    """``anw verify``: every argument is checked first, then eq. 6 with its checks, then the
    verdict."""
    from .. import claims, stats, verify
    from ..datasets import load_image_folder, to_float
    from ..machinery import progress
    from ..machinery._checks import key_is_off_grid
    from ..machinery.runtime import choose_device

    # 1. Every argument (key, labels, checkpoint, photos, reference) before any verdict is printed.
    key = None
    if args.key is not None:
        key = _check_key(args.key)
    if args.reference and key is None:
        raise CliError(
            "--reference needs --key: the calibrated test checks the key you watermarked with."
        )
    if args.reference:
        try:
            stats.check_permutations(args.permutations, "--permutations")
        except ValueError as exc:
            raise CliError(str(exc)) from None
    labels_file = Path(args.labels).expanduser() if args.labels else None
    if labels_file is not None and photos.what_is_wrong(labels_file):
        raise CliError(
            f"labels file {labels_file} {photos.what_is_wrong(labels_file)} (expected a CSV file "
            "with rows filename,class)."
        )
    if args.reference and photos.what_is_wrong(Path(args.reference).expanduser(), "folder"):
        raise CliError(
            f"reference folder {args.reference} "
            f"{photos.what_is_wrong(Path(args.reference).expanduser(), 'folder')} (expected "
            "<class>/<photo> sub-folders)."
        )
    model, config = load_checkpoint(Path(args.checkpoint))
    size = int(config.get("image_size") or 32)
    try:
        user = load_image_folder(Path(args.images), size=size, labels_file=labels_file)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc).replace("labels_file=", "--labels")) from exc
    source = str(labels_file) if labels_file is not None else f"the sub-folders of {args.images}"
    labels = _model_labels(user.classes, user.labels, config["num_classes"], source)
    reference = ref_labels = None
    if args.reference:
        try:
            reference = load_image_folder(Path(args.reference), size=size)
        except (FileNotFoundError, ValueError) as exc:
            raise CliError(f"reference photos: {exc}") from exc
        ref_labels = _model_labels(
            reference.classes,
            reference.labels,
            config["num_classes"],
            f"the sub-folders of {args.reference}",
        )
        missing = sorted(set(labels.tolist()) - set(ref_labels.tolist()))
        if missing:
            raise CliError(
                f"the reference photos in {args.reference} have no photo of class(es) "
                f"{', '.join(_class_names(user, labels, missing))}: the calibrated test compares "
                "your photos with reference photos of the same classes; add some."
            )

    # 2. The computations (errors here are still reported before any verdict).
    color_space = color_space_from_seed(args.color_space_seed)
    model = model.to(choose_device())
    images = to_float(user.images)
    colour = stats.chroma(images, color_space)
    with progress.bar("verifying", unit="photo") as counter:
        result, test, test_note, keyed = _verify_steps(
            progress.CountingModel(model, counter),
            images,
            labels,
            colour,
            key,
            color_space,
            reference,
            ref_labels,
            args.permutations,
        )
    decision = claims.decide(result, key, test, keyed, reference=reference is not None)

    # 3. The report.
    if key is not None and key_is_off_grid(key):
        print(
            f"anw verify: warning: --key {key:g} is not one of the 12 signatures that verification "
            f"searches (0, 30, ..., 330): k_hat can match it only within {verify.DEFAULT_TAU:g} "
            "degrees (the calibrated test, --reference, checks the key itself).",
            file=sys.stderr,
        )
    if reference is not None:
        _warn_if_marked(images, labels, to_float(reference.images), ref_labels, key, color_space)
    _print_verdict(args, config, user, result, colour)
    if decision.key_line:
        print(decision.key_line)
    if reference is not None:
        _print_ownership_test(key, test, test_note, len(reference))
        if keyed is not None:
            print(f"key test: {keyed.summary()}")
    print(decision.verdict_line)
    return 0


def _verify_steps(model, images, labels, colour, key, color_space, reference, ref_labels, n_perm):
    """Eq. 6's verdict, and with reference photos the calibrated tests: (verdict, membership test
    or None, why it did not run or None, key test or None). Raises CliError for what the
    computations refuse (before any verdict is printed)."""
    from .. import claims, stats, verify
    from ..datasets import to_float

    test, test_note, keyed = None, None, None
    try:
        result = verify.verdict(model, images, labels, color_space)
        if reference is not None:
            if int((colour >= stats.MIN_CHROMA).sum()) < 2:
                test_note = (
                    f"only {int((colour >= stats.MIN_CHROMA).sum())} of your photos carry enough "
                    "colour for the mark (grey, black-and-white or faded photos carry almost "
                    "none): inconclusive."
                )
            else:
                test = stats.ownership_test(
                    model,
                    images,
                    labels,
                    to_float(reference.images),
                    ref_labels,
                    key=key,
                    color_space=color_space,
                    n_permutations=n_perm,
                )
                keyed = claims.key_test(
                    model, images, labels, key, color_space, n_permutations=n_perm
                )
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    return result, test, test_note, keyed


#: The photos look already marked when undoing the key makes their colours this many times more
#: typical of their class (median outlier score, ``adaptive.looks_marked``) ...
_MARKED_RATIO = 4.0
#: ... and they are clearly unusual as given (a squared Mahalanobis distance of 4 features).
_MARKED_SCORE = 16.0


def _warn_if_marked(images, labels, reference, ref_labels, key, color_space) -> None:
    """Warn (stderr) when the photos look like the watermarked copies, not the originals."""
    from ..adaptive import looks_marked

    try:
        given, undone = looks_marked(images, labels, reference, ref_labels, key, color_space)
    except ValueError:  # fewer than 10 reference photos of a class: no statistics to compare
        return
    if given >= _MARKED_SCORE and given >= _MARKED_RATIO * undone:
        print(
            f"anw verify: warning: your photos look already marked with your key {key:g}: their "
            f"colours are unusual for their classes (median score {given:.0f}) and typical once "
            f"the mark is undone ({undone:.0f}). Verify with the clean ORIGINALS: the watermarked "
            "copies give k_hat = 0 (no evidence) even when the model trained on them.",
            file=sys.stderr,
        )


def _class_names(user, labels, missing) -> list[str]:
    """The user's class names for the model's class indices ``missing``."""
    return [user.classes[int(user.labels[int((labels == m).nonzero()[0])])] for m in missing]


def _print_verdict(args, config, user, result, colour) -> None:
    """Eq. 6's losses, the model's accuracy on the photos, k_hat and every photo that moves it."""
    from .. import stats

    k_hat, n = result.k_hat, result.n_photos
    print(
        f"model: {args.checkpoint} ({config['model']}, width {config.get('width')}, "
        f"{config['num_classes']} classes)"
    )
    print(f"photos: {n} clean photo(s) from {args.images}, classes {', '.join(user.classes)}")
    print(
        f"the model classifies {result.correct_clean} of the {n} photos correctly as they are and "
        f"{result.correct_at_k_hat} watermarked with k_hat (chance: 1 in {result.num_classes}; a "
        f"verdict needs at least {result.needed})."
    )
    faint = int((colour < stats.MIN_CHROMA).sum())
    if faint:
        print(
            f"{faint} of your photos carry almost no colour (grey, black-and-white or faded): the "
            "mark cannot change them, so they carry little evidence either way."
        )
    space = (
        "YIQ" if args.color_space_seed is None else f"colour space of seed {args.color_space_seed}"
    )
    print(f"mean loss of the model on the photos watermarked with each signature k ({space}):")
    for k, loss in zip(result.search.signatures.tolist(), result.search.losses.tolist()):
        print(f"  k = {k:5.0f}   loss {loss:.4f}" + ("   <- lowest" if k == k_hat else ""))
    print(f"k_hat = {k_hat:g}")
    for i, k in result.movers[:10]:
        print(f"  without photo #{i + 1} alone, k_hat would be {k:g}")
    if len(result.movers) > 10:
        print(f"  ... and {len(result.movers) - 10} more photo(s) that move k_hat alone")


def _print_ownership_test(key, test, note, n_reference) -> None:
    """The calibrated ownership test of lesson 09 (``stats.ownership_test``) and what its p-value
    means."""
    what = (
        f"calibrated test of your key {key:g} against {n_reference:,} photos the model never saw "
        "(same classes, similar colour; lesson 09)"
    )
    if test is None:
        print(f"{what}: {note}")
        return
    print(f"{what}: {test.summary()}")
    from ..claims import CLAIM_LEVEL

    bound = "at most " if test.p_value <= test.p_floor * (1 + 1e-9) else ""
    reading = (
        "This is evidence of membership (hue-rotated near your key), not of the key "
        "itself: the key test below checks that."
        if test.p_value <= CLAIM_LEVEL
        else f"That is above {CLAIM_LEVEL:g}: no evidence that the model trained on your photos."
    )
    print(
        "meaning: if the model had never trained on your photos, scores at least this far above "
        f"the reference would turn up with probability {bound}{test.p_value:.2g}. {reading}"
    )


# --------------------------------------------------------------------------------------------- main
_MARK_DESCRIPTION = """\
Watermark every photo under SRC with the secret signature K (hue rotation by K degrees in YIQ, \
eq. 5)
at full resolution into the new folder DST. The originals are never touched, and DST appears all at
once or not at all.

Privacy: the copies carry no metadata - EXIF, GPS position, XMP and text chunks are all dropped, so
the capture date and camera settings are lost too (keep your originals for them). The EXIF
orientation is applied to the pixels, so portrait photos stay upright.

Which photos carry the mark: hue rotation cannot change grey, so greyscale, black-and-white and
near-grey (faded, washed-out) photos carry almost none. Each photo's change is measured; such photos
are refused (nothing is written) unless you pass --force, and the summary says how many copies carry
the mark. 16-bit and float photos are scaled to 8 bits. Of an animated GIF or a multi-page TIFF only
the first frame is marked (you are told). HEIC photos need pillow-heif (pip install
"anw-helpers[heic]"). Transparent photos keep their alpha in PNG; JPEG cannot store it, so
--format jpeg needs --background to fill transparent areas (which are otherwise refused).
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``anw`` argument parser (mark, verify)."""
    parser = argparse.ArgumentParser(
        prog="anw",
        description="Anti-neuron watermarking: protect your photos, check a model.",
        epilog=EXIT_CODES + " Course tooling (in a clone): python -m tools.course --help",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "mark",
        help="watermark a folder of photos into a new folder",
        description=_MARK_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXIT_CODES,
    )
    p.add_argument("src", metavar="SRC", help="folder of photos (sub-folders are kept)")
    p.add_argument(
        "dst",
        metavar="DST",
        help="new folder for the watermarked copies (must not exist, or be empty)",
    )
    p.add_argument(
        "--key",
        type=float,
        required=True,
        metavar="K",
        help="secret signature in degrees, one of 30, 60, ..., 330 (not within 15 of 0)",
    )
    p.add_argument(
        "--color-space-seed",
        type=_seed_argument,
        default=None,
        metavar="S",
        help="use your own colour space drawn from seed S, 0 <= S < 2**64 (Sec. 5.4)",
    )
    p.add_argument(
        "--format", choices=sorted(_FORMATS), default="png", help="png (default, lossless) or jpeg"
    )
    p.add_argument(
        "--quality",
        type=int,
        default=95,
        help="JPEG quality 1-100 (with --format jpeg; default 95)",
    )
    p.add_argument(
        "--background",
        type=_background_argument,
        default=None,
        metavar="COLOUR",
        help="fill transparent areas with white, black or #rrggbb before marking "
        "(needed for --format jpeg when a photo has transparency)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write photos that carry almost no mark (greyscale, near-grey) instead of refusing",
    )
    p.set_defaults(func=_cmd_mark)
    p = sub.add_parser(
        "verify",
        help="recover the signature a model memorised from your clean photos (eq. 6)",
        description="Grid search of eq. 6 on a model checkpoint of the course's format with your "
        "clean photos.",
        epilog=EXIT_CODES,
    )
    p.add_argument(
        "checkpoint", metavar="CHECKPOINT", help="model file (dict with state_dict, record, config)"
    )
    p.add_argument(
        "images",
        metavar="IMAGES",
        help="clean photos: an ImageFolder (<class>/<photo>) or a flat folder with --labels",
    )
    p.add_argument(
        "--labels", default=None, metavar="CSV", help="CSV of filename,class for a flat folder"
    )
    p.add_argument(
        "--color-space-seed",
        type=_seed_argument,
        default=None,
        metavar="S",
        help="the colour-space seed used with anw mark",
    )
    p.add_argument(
        "--key",
        type=float,
        default=None,
        metavar="K",
        help="your key, to say whether k_hat matches it",
    )
    p.add_argument(
        "--reference",
        default=None,
        metavar="FOLDER",
        help="with --key: photos like yours that the model certainly never saw (ImageFolder), for "
        "the calibrated p-value of lesson 09",
    )
    p.add_argument(
        "--permutations",
        type=int,
        default=9_999,
        metavar="B",
        help="relabellings (and sign flips) for the p-values, 1 to 1,000,000 (smallest p = "
        "1/(B+1); default 9,999)",
    )
    p.set_defaults(func=_cmd_verify)
    return parser


def _check_device_setting() -> None:
    """Refuse a bad ``ANW_DEVICE`` (runtime.choose_device) before any work."""
    forced = os.environ.get("ANW_DEVICE")
    if not forced:
        return
    import torch

    try:
        device = torch.device(forced)
    except (RuntimeError, ValueError):
        raise CliError(
            f"ANW_DEVICE={forced!r} is not a device name: use cpu, cuda, cuda:0 or mps, "
            "or unset ANW_DEVICE to choose automatically."
        ) from None
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
    }
    if not available.get(device.type, False):
        raise CliError(
            f"ANW_DEVICE={forced!r} but this machine has no {device.type} device PyTorch can use: "
            "set ANW_DEVICE=cpu, or unset it to choose automatically."
        )
    if (
        device.type == "cuda"
        and device.index is not None
        and device.index >= torch.cuda.device_count()
    ):
        raise CliError(
            f"ANW_DEVICE={forced!r} but this machine has {torch.cuda.device_count()} CUDA "
            "device(s)."
        )


def _check_verify_inputs(args) -> None:
    """What verify checks before loading anything: the device setting, the checkpoint file."""
    _check_device_setting()
    path = Path(args.checkpoint).expanduser()
    if path.exists() and not path.is_file():
        raise CliError(
            f"checkpoint {path} is not a regular file: give the model file (.pt) written by "
            "anw_helpers.train."
        )
    if path.is_file() and path.stat().st_size == 0:
        raise CliError(
            f"checkpoint {path} is empty (0 bytes), perhaps an interrupted copy: give the model "
            "file (.pt) written by anw_helpers.train."
        )


def _os_error_message(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full{where}: free some space (or pick another destination), run again."
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied{where}: choose a file or folder you can read and write."
    return f"{exc.strerror or exc}{where}."


def _in_function(exc: BaseException, name: str) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == name:
            return True
        tb = tb.tb_next
    return False


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so that Python's exit flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"anw: warning: {message}", file=sys.stderr)


def _run(args) -> int:
    if args.command == "verify":
        _check_verify_inputs(args)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        code = args.func(args)
    sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
    return code


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``anw`` command; returns the exit code.

    One handler turns every user mistake and system refusal into one line ``anw CMD: error:``
    names the fix (tracebacks only with ``ANW_DEBUG=1``); partial output is removed in every case.
    """
    args = build_parser().parse_args(argv)
    prefix = f"anw {args.command}"
    try:
        return _run(args)
    except CliError as exc:
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(
            f"{prefix}: interrupted; nothing was written and the originals are unchanged.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except Terminated as exc:
        print(
            f"{prefix}: stopped by signal {exc.signum}; nothing was written and the originals are "
            "unchanged.",
            file=sys.stderr,
        )
        return EXIT_SIGNAL_BASE + exc.signum
    except BrokenPipeError:
        _silence_stdout()
        if args.command == "mark":
            print(
                f"{prefix}: stopped: its output was closed (broken pipe); nothing was written.",
                file=sys.stderr,
            )
        return EXIT_PIPE
    except Exception as exc:  # noqa: BLE001 - the one top-level handler
        if os.environ.get("ANW_DEBUG"):
            raise
        if args.command == "verify" and _in_function(exc, "load_checkpoint"):
            print(
                f"{prefix}: error: checkpoint {args.checkpoint} cannot be read "
                f"({type(exc).__name__}: {exc}): it is damaged or not a model file written by "
                "anw_helpers.train.",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
        if isinstance(exc, OSError):
            print(f"{prefix}: error: {_os_error_message(exc)}", file=sys.stderr)
            return EXIT_SYSTEM
        if isinstance(exc, ValueError):
            print(f"{prefix}: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(
            f"{prefix}: error: unexpected {type(exc).__name__}: {exc}. This is a bug in anw: "
            "please report it with the command you ran (ANW_DEBUG=1 shows the traceback).",
            file=sys.stderr,
        )
        return EXIT_SYSTEM


if __name__ == "__main__":
    sys.exit(main())
