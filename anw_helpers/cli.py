"""``anw``: the course's method for real photos, from the command line.

    anw mark SRC DST --key K [--color-space-seed S] [--format png|jpeg]
        Watermark every photo under SRC (any size, sub-folders kept) with signature K into a new folder DST.
        The originals are never touched; DST must not exist yet (or be empty) and must not lie inside SRC.
        PNG by default, so nothing is lost to JPEG compression.

    anw verify CHECKPOINT IMAGES [--labels CSV] [--color-space-seed S] [--key K]
        The arbitrator (eq. 6): load a model checkpoint of the course's cache format, and the *clean* photos
        with their classes (an ImageFolder, or a flat folder plus a CSV of filename,class), then grid-search
        the signature under which the model's loss on them is lowest. k_hat = 0: no evidence.

Exit codes: 0 done, 2 bad input (the message names the file).
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from .color import color_space_from_seed
from .data import IMAGE_SUFFIXES

__all__ = ["main", "CliError", "mark_folder", "load_checkpoint"]

_FORMATS = {"png": (".png", "PNG"), "jpeg": (".jpg", "JPEG")}


class CliError(Exception):
    """A user error: printed as ``anw: error: <message>`` with exit code 2."""


def _check_key(key: float) -> float:
    if not math.isfinite(key):
        raise CliError(f"--key must be a finite angle in degrees; got {key}.")
    if key % 360.0 == 0.0:
        raise CliError("--key 0 (or a multiple of 360) leaves the photos unchanged: it means 'no watermark'. "
                       "Pick a secret signature such as 30, 60, ..., 330.")
    return key


# ------------------------------------------------------------------------------------------------ mark
def _is_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _list_images(src: Path) -> tuple[list[Path], list[Path]]:
    images, skipped = [], []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            (images if path.suffix.lower() in IMAGE_SUFFIXES else skipped).append(path)
    return images, skipped


def _mark_image(path: Path, out: Path, key: float, color_space, fmt: str, quality: int) -> tuple[int, int]:
    """Watermark one photo at full resolution and save it to ``out``; returns its (width, height)."""
    import numpy as np
    import torch
    from PIL import Image, ImageOps

    from .color import watermark
    from .data import to_uint8

    try:
        with Image.open(path) as opened:
            opened.load()
            im = ImageOps.exif_transpose(opened)  # the photo as it is shown (EXIF orientation applied)
            icc = opened.info.get("icc_profile")
    except Exception as exc:  # noqa: BLE001 - PIL raises many kinds
        raise CliError(f"cannot read image {path}: {exc}") from exc
    alpha = None
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        alpha = im.getchannel("A")
    rgb = np.asarray(im.convert("RGB"))
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float().div_(255.0)
    marked = to_uint8(watermark(x, key, color_space)).permute(1, 2, 0).contiguous().numpy()
    result = Image.fromarray(marked, "RGB")
    options = {"icc_profile": icc} if icc else {}
    if fmt == "jpeg":
        # 4:4:4 chroma: the watermark lives in the chroma (I, Q) channels that 4:2:0 subsampling would halve
        options.update(quality=quality, subsampling=0)
    elif alpha is not None:
        result.putalpha(alpha)
    result.save(out, format=_FORMATS[fmt][1], **options)
    return result.size


def mark_folder(src: Path, dst: Path, key: float, color_space_seed: Optional[int] = None, fmt: str = "png",
                quality: int = 95, echo=print) -> list[Path]:
    """Watermark every photo under ``src`` into the new folder ``dst`` (same sub-folders, same sizes).

    Refuses (CliError) when ``dst`` is ``src`` or inside it, when ``dst`` exists and is not empty, when two
    photos would be written to the same file, or when a photo cannot be read; nothing is written then. The
    photos are written to a temporary folder beside ``dst`` and moved into place at the end.
    """
    key = _check_key(float(key))
    src_in = Path(src).expanduser()
    if not src_in.is_dir():
        raise CliError(f"source folder {src_in} does not exist or is not a folder.")
    src = src_in.resolve()
    dst = Path(dst).expanduser().resolve()
    if dst == src:
        raise CliError(f"destination {dst} is the source folder: anw mark never overwrites your originals; give a new folder.")
    if _is_inside(dst, src):
        raise CliError(f"destination {dst} lies inside the source folder {src}: give a folder outside it.")
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise CliError(f"destination {dst} already exists and is not empty: anw mark would overwrite it; give a new folder.")
    if fmt not in _FORMATS:
        raise CliError(f"unknown --format {fmt!r}; expected one of {', '.join(_FORMATS)}.")
    images, skipped = _list_images(src)
    if not images:
        raise CliError(f"no photos under {src} (looked for {', '.join(sorted(IMAGE_SUFFIXES))}).")
    targets: dict[Path, Path] = {}
    for path in images:
        rel = path.relative_to(src).with_suffix(_FORMATS[fmt][0])
        if rel in targets:
            raise CliError(f"{path} and {targets[rel]} would both be written to {rel}: rename one of them.")
        targets[rel] = path
    color_space = color_space_from_seed(color_space_seed)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.partial-", dir=dst.parent))
    try:
        for i, (rel, path) in enumerate(targets.items(), 1):
            out = tmp / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            w, h = _mark_image(path, out, key, color_space, fmt, quality)
            echo(f"[{i}/{len(targets)}] {path.relative_to(src)} -> {rel} ({w}x{h})")
        if dst.exists():
            dst.rmdir()  # empty (checked above)
        os.replace(tmp, dst)
        umask = os.umask(0)
        os.umask(umask)
        dst.chmod(0o777 & ~umask)  # mkdtemp made it private
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if skipped:
        echo(f"skipped {len(skipped)} file(s) that are not photos, e.g. {skipped[0].relative_to(src)}")
    return [dst / rel for rel in targets]


def _cmd_mark(args) -> int:
    written = mark_folder(Path(args.src), Path(args.dst), args.key, args.color_space_seed, args.format, args.quality)
    space = "YIQ" if args.color_space_seed is None else f"your colour space (seed {args.color_space_seed})"
    print(f"Watermarked {len(written)} photo(s) with signature k = {args.key:g} degrees in {space}; "
          f"wrote {args.format.upper()} files to {Path(args.dst).expanduser().resolve()}. The originals are unchanged.")
    print("Share only the watermarked copies, and keep the key (and colour-space seed) secret: "
          "an arbitrator needs your clean originals, and you reveal the key only to compare.")
    return 0


# ---------------------------------------------------------------------------------------------- verify
def load_checkpoint(path: Path):
    """A model from a checkpoint of the course's format (``anw_helpers.checkpoint.load``).

    Returns (model, config dict). Validated before anything is built (``weights_only=True``; sizes
    read from the weights' shapes; no download). The config gains ``num_classes``, ``width`` (from
    the weights) and ``image_size`` (the size the model was trained at: load the photos at that
    size). Raises CliError naming the file when it is not a usable checkpoint.
    """
    from . import checkpoint

    try:
        loaded = checkpoint.load(Path(path))
    except checkpoint.CheckpointError as exc:
        raise CliError(str(exc)) from None
    config = dict(loaded.config, num_classes=loaded.num_classes, image_size=loaded.image_size)
    if loaded.width is not None:
        config["width"] = loaded.width
    return loaded.model, config


def _model_labels(classes: Sequence[str], labels, num_classes: int, source: str):
    """Map the user's class names to the model's class indices (CIFAR-10 names, or integers)."""
    import torch

    from .data import CIFAR10_CLASSES

    names = CIFAR10_CLASSES if num_classes == len(CIFAR10_CLASSES) else ()
    index = {}
    for c in classes:
        if c in names:
            index[c] = names.index(c)
        elif c.strip().isdigit() and int(c) < num_classes:
            index[c] = int(c)
        else:
            known = f"one of {', '.join(names)}, or " if names else ""
            raise CliError(f"class {c!r} in {source} is not a class of the model: expected {known}a number 0..{num_classes - 1}.")
    table = torch.tensor([index[c] for c in classes], dtype=torch.int64)
    return table[labels]


def _cmd_verify(args) -> int:
    """``anw verify``: every argument is checked first, then eq. 6 with its checks, then the verdict."""
    from . import stats, verify
    from ._checks import check_user_key, key_is_off_grid
    from .data import load_image_folder, to_float
    from .runtime import choose_device

    # 1. Every argument (key, labels, checkpoint, photos, reference) before any verdict is printed.
    key = None
    if args.key is not None:
        try:
            key = check_user_key(args.key, "--key")
        except ValueError as exc:
            raise CliError(str(exc)) from None
    if args.reference and key is None:
        raise CliError("--reference needs --key: the calibrated test checks the key you watermarked with.")
    if args.reference and args.permutations < 1:
        raise CliError(f"--permutations must be at least 1; got {args.permutations}.")
    labels_file = Path(args.labels).expanduser() if args.labels else None
    if labels_file is not None and not labels_file.is_file():
        raise CliError(f"labels file {labels_file} does not exist (expected CSV rows: filename,class).")
    if args.reference and not Path(args.reference).expanduser().is_dir():
        raise CliError(f"reference folder {args.reference} does not exist or is not a folder "
                       "(expected <class>/<photo> sub-folders).")
    model, config = load_checkpoint(Path(args.checkpoint))
    size = int(config.get("image_size") or 32)
    try:
        user = load_image_folder(Path(args.images), size=size, labels_file=labels_file)
    except (FileNotFoundError, ValueError) as exc:
        hint = " (pass --labels CSV for a flat folder)" if labels_file is None and "labels_file" in str(exc) else ""
        raise CliError(f"{exc}{hint}") from exc
    source = str(labels_file) if labels_file is not None else f"the sub-folders of {args.images}"
    labels = _model_labels(user.classes, user.labels, config["num_classes"], source)
    reference = ref_labels = None
    if args.reference:
        try:
            reference = load_image_folder(Path(args.reference), size=size)
        except (FileNotFoundError, ValueError) as exc:
            raise CliError(f"reference photos: {exc}") from exc
        ref_labels = _model_labels(reference.classes, reference.labels, config["num_classes"],
                                   f"the sub-folders of {args.reference}")
        missing = sorted(set(labels.tolist()) - set(ref_labels.tolist()))
        if missing:
            raise CliError(f"the reference photos in {args.reference} have no photo of class(es) "
                           f"{', '.join(_class_names(user, labels, missing))}: the calibrated test compares your "
                           "photos with reference photos of the same classes; add some.")

    # 2. The computations (errors here are still reported before any verdict).
    color_space = color_space_from_seed(args.color_space_seed)
    model = model.to(choose_device())
    images = to_float(user.images)
    colour = stats.chroma(images, color_space)
    test, test_note = None, None
    try:
        result = verify.verdict(model, images, labels, color_space)
        if reference is not None:
            if int((colour >= stats.MIN_CHROMA).sum()) < 2:
                test_note = (f"only {int((colour >= stats.MIN_CHROMA).sum())} of your photos carry enough colour for "
                             "the mark (grey, black-and-white or faded photos carry almost none): inconclusive.")
            else:
                test = stats.ownership_test(model, images, labels, to_float(reference.images), ref_labels, key=key,
                                            color_space=color_space, n_permutations=args.permutations)
    except ValueError as exc:
        raise CliError(str(exc)) from exc

    # 3. The report.
    if key is not None and key_is_off_grid(key):
        print(f"anw verify: warning: --key {key:g} is not one of the 12 signatures that verification searches "
              f"(0, 30, ..., 330): k_hat can match it only within {verify.DEFAULT_TAU:g} degrees "
              "(the calibrated test, --reference, checks the key itself).", file=sys.stderr)
    _print_verdict(args, config, user, result, colour, key)
    if reference is not None:
        _print_ownership_test(key, test, test_note, len(reference))
    return 0


def _class_names(user, labels, missing) -> list[str]:
    """The user's class names for the model's class indices ``missing``."""
    return [user.classes[int(user.labels[int((labels == m).nonzero()[0])])] for m in missing]


def _print_verdict(args, config, user, result, colour, key) -> None:
    """Eq. 6's losses, the model's accuracy on the photos, and the calibrated reading of k_hat."""
    from . import stats, verify

    k_hat, n = result.k_hat, result.n_photos
    print(f"model: {args.checkpoint} ({config['model']}, width {config.get('width')}, {config['num_classes']} classes)")
    print(f"photos: {n} clean photo(s) from {args.images}, classes {', '.join(user.classes)}")
    print(f"the model classifies {result.correct_clean} of the {n} photos correctly as they are and "
          f"{result.correct_at_k_hat} watermarked with k_hat (chance: 1 in {result.num_classes}; a verdict needs "
          f"at least {result.needed}).")
    faint = int((colour < stats.MIN_CHROMA).sum())
    if faint:
        print(f"{faint} of your photos carry almost no colour (grey, black-and-white or faded): the mark cannot "
              "change them, so they carry little evidence either way.")
    space = "YIQ" if args.color_space_seed is None else f"colour space of seed {args.color_space_seed}"
    print(f"mean loss of the model on the photos watermarked with each signature k ({space}):")
    for k, loss in zip(result.search.signatures.tolist(), result.search.losses.tolist()):
        print(f"  k = {k:5.0f}   loss {loss:.4f}" + ("   <- lowest" if k == k_hat else ""))
    print(f"k_hat = {k_hat:g}")
    if not result.conclusive:
        print("verdict: INCONCLUSIVE - " + " ".join(result.reasons()) + " k_hat says nothing either way here.")
    elif verify.match(k_hat, 0.0):
        print("verdict: no evidence. The model likes these photos best unmarked (k_hat = 0): nothing suggests it "
              "was trained on watermarked copies of them (not proof either: a learner that saw too few of them "
              "may not remember the hue; lesson 05).")
    else:
        print(f"verdict: a lead, not proof. The model likes these photos best hue-rotated by {k_hat:g} degrees. A "
              f"learner trained on copies watermarked with a key near {k_hat:g} does this, but so can an innocent "
              "model: a random slot matches 1 time in 12, and a model that learned a hue for a subject (someone "
              "else's watermarked photos of the same kind of subject) prefers that hue for every photo of it. "
              + ("The calibrated test below compares your photos with reference photos of the same classes."
                 if args.reference else
                 "Without reference photos of the same classes this is weak evidence; a claim requires the "
                 "calibrated test: --key K --reference FOLDER with photos of the same classes that the model "
                 "never saw (lessons 04 and 09)."))
    if key is None:
        return
    if not result.conclusive:
        print(f"your key {key:g}: not compared, the verdict is inconclusive.")
        return
    matched = verify.match(k_hat, key)
    print(f"your key {key:g} {'matches' if matched else 'does not match'} k_hat "
          f"(|k_hat - key| < {verify.DEFAULT_TAU:g} on the circle).")
    if matched and args.reference is None:
        print("this match alone is weak evidence (see above): add --reference photos of the same classes for a claim.")


def _print_ownership_test(key, test, note, n_reference) -> None:
    """The calibrated ownership test of lesson 09 (``stats.ownership_test``) and what its p-value means."""
    what = (f"calibrated test of your key {key:g} against {n_reference:,} photos the model never saw "
            "(same classes, similar colour; lesson 09)")
    if test is None:
        print(f"{what}: {note}")
        return
    print(f"{what}: {test.summary()}")
    bound = "at most " if test.p_value <= test.p_floor * (1 + 1e-9) else ""
    print(f"meaning: if the model had never trained on your photos watermarked with {key:g}, evidence at least this "
          f"strong would turn up with probability {bound}{test.p_value:.2g}.")
    if test.p_value <= 0.01:
        print("significant at the 1 % level: strong evidence that the model trained on your photos watermarked "
              "with your key (testing several claims needs a correction: lesson 09).")
    elif test.p_value <= 0.05:
        print("significant at the 5 % level only: moderate evidence, not enough for a claim on its own.")
    else:
        print("not significant: no calibrated evidence that the model trained on your watermarked photos.")


# ------------------------------------------------------------------------------------------------ main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anw", description="Anti-neuron watermarking: protect your photos, check a model.",
                                     epilog="Exit codes: 0 done, 2 bad input. Course tooling (in a clone): python -m tools.course --help")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("mark", help="watermark a folder of photos into a new folder",
                       description="Watermark every photo under SRC with the secret signature K (hue rotation by K "
                                   "degrees, eq. 5) at full resolution into the new folder DST. Originals are never touched.")
    p.add_argument("src", metavar="SRC", help="folder of photos (sub-folders are kept)")
    p.add_argument("dst", metavar="DST", help="new folder for the watermarked copies (must not exist, or be empty)")
    p.add_argument("--key", type=float, required=True, metavar="K", help="secret signature in degrees, e.g. 60 (not 0)")
    p.add_argument("--color-space-seed", type=int, default=None, metavar="S", help="use your own colour space drawn from seed S (Sec. 5.4)")
    p.add_argument("--format", choices=sorted(_FORMATS), default="png", help="png (default, lossless) or jpeg")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality (with --format jpeg; default 95)")
    p.set_defaults(func=_cmd_mark)
    p = sub.add_parser("verify", help="recover the signature a model memorised from your clean photos (eq. 6)",
                       description="Grid search of eq. 6 on a model checkpoint of the course's format with your clean photos.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="model file (dict with state_dict, record, config)")
    p.add_argument("images", metavar="IMAGES", help="clean photos: an ImageFolder (<class>/<photo>) or a flat folder with --labels")
    p.add_argument("--labels", default=None, metavar="CSV", help="CSV of filename,class for a flat folder")
    p.add_argument("--color-space-seed", type=int, default=None, metavar="S", help="the colour-space seed used with anw mark")
    p.add_argument("--key", type=float, default=None, metavar="K", help="your key, to say whether k_hat matches it")
    p.add_argument("--reference", default=None, metavar="FOLDER",
                   help="with --key: photos like yours that the model certainly never saw (ImageFolder), for the "
                        "calibrated p-value of lesson 09")
    p.add_argument("--permutations", type=int, default=9_999, metavar="B",
                   help="relabellings for the p-value (smallest p = 1/(B+1); default 9,999)")
    p.set_defaults(func=_cmd_verify)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``anw`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"anw {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
