"""Datasets: CIFAR-10 from an offline copy or torchvision (one canonical order), CUB-200, and a
person's own photos (an ImageFolder or a flat folder with a labels CSV), decoded once and cached.

``ImageSet`` is what every loader returns: uint8 images, labels, class names and, for the named data
sets, an identity that cache keys use. The paper's users live in :mod:`anw_helpers.users`.
"""

from __future__ import annotations

import csv
import hashlib
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

from .machinery import progress
from .machinery._checks import check_uint8_images
from .machinery.paths import atomic_write, cache_dir, data_root
from .photos import (
    NESTED_REASON,
    PHOTO_SUFFIXES,
    Listing,
    PhotoError,
    decode_rgb,
    scan_folder,
    what_is_wrong,
)

__all__ = [
    "CIFAR10_CLASSES",
    "IMAGE_SUFFIXES",
    "SkippedFilesWarning",
    "ImageSet",
    "load_cifar10",
    "cifar10_canonical_order",
    "load_image_folder",
    "to_float",
    "to_uint8",
    "appears_in",
    "load_cub200",
    "CUB200_URL",
]

#: torchvision's CIFAR10 label order (also the sorted ImageFolder order of the offline copy).
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
#: File suffixes read as images (lower case); HEIC needs the optional pillow-heif (``photos``).
IMAGE_SUFFIXES = PHOTO_SUFFIXES


class SkippedFilesWarning(UserWarning):
    """Entries of a photo folder that were not read (each named with the reason)."""


@dataclass
class ImageSet:
    """Images as a uint8 tensor (N, 3, H, W), int64 labels (N,), and the class names.

    ``origin`` names the images independently of where they were read from, for sets that
    :func:`load_cifar10` returns in CIFAR-10's canonical order and for the subsets and watermarked
    copies made from them (:meth:`subset`, :func:`watermarked_training_set`), e.g.
    ``"cifar10-train[3f2a...]"``. It is None for anything else (a person's own folder, images put
    together by hand): those are known by their pixels. Code that changes ``images`` in place must
    build a new ImageSet instead, whose ``origin`` is None.
    """

    images: Tensor
    labels: Tensor
    classes: tuple[str, ...]
    origin: Optional[str] = None

    def __post_init__(self) -> None:
        check_uint8_images(self.images, "ImageSet.images")
        if self.labels.dtype != torch.int64 or self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"ImageSet.labels must be int64 of shape ({self.images.shape[0]},); "
                f"got {self.labels.dtype} {tuple(self.labels.shape)}."
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, indices: Tensor) -> ImageSet:
        """The images at ``indices`` (a new ImageSet; the original is unchanged).

        A named set's subset is named by the positions it keeps (see ``origin``).
        """
        origin = None
        if self.origin is not None:
            origin = f"{self.origin}[{_digest(torch.arange(len(self))[indices])}]"
        images, labels = self.images[indices].clone(), self.labels[indices].clone()
        return ImageSet(images, labels, self.classes, origin)

    def fingerprint(self) -> str:
        """A short hash of the pixels and labels: the data's identity in model-cache keys."""
        h = hashlib.sha1()
        h.update(self.images.contiguous().cpu().numpy().tobytes())
        h.update(self.labels.cpu().numpy().tobytes())
        h.update(",".join(self.classes).encode())
        return h.hexdigest()[:16]

    @property
    def identity(self) -> str:
        """The data's identity in model-cache keys: the same for every source of the same images.

        For a named set (``origin``: canonical CIFAR-10 and the subsets and watermarked copies made
        from it) a hash of that name, the labels and the image shape, so a model trained on the
        offline JPEG copy loads for torchvision's CIFAR-10 and back (their pixels differ by the JPEG
        loss only); for any other set, e.g. a person's own photos, :meth:`fingerprint` (the pixels).
        """
        if self.origin is None:
            return self.fingerprint()
        h = hashlib.sha1(self.origin.encode())
        h.update(self.labels.cpu().numpy().tobytes())
        h.update(f"{tuple(self.images.shape)}|{','.join(self.classes)}".encode())
        return f"{self.origin.split('[', 1)[0]}:{h.hexdigest()[:16]}"


def appears_in(a: Tensor, b: Tensor) -> Tensor:
    """For each image of batch ``a``: does it occur, pixel for pixel, in batch ``b``? A (len(a),)
    bool tensor.

    Use it to keep a reference set disjoint from the user's images (``appears_in(user, ref).any()``
    must be False: ``stats.ownership_test``, lesson 09) or to drop images a learner trained on
    (lesson 08, Sec. 5.6). Images are compared by a SHA-1 of their bytes, as
    :meth:`ImageSet.fingerprint` identifies a data set; batches of other shapes or dtypes share
    nothing.
    """

    def digests(x: Tensor) -> list[bytes]:
        rows = x.detach().reshape(len(x), -1)
        return [hashlib.sha1(row.cpu().numpy().tobytes()).digest() for row in rows]

    if not isinstance(a, Tensor) or not isinstance(b, Tensor) or a.dim() < 2 or b.dim() < 2:
        raise ValueError("appears_in expects two batches of images (tensors of shape (N, ...)).")
    if len(a) == 0 or len(b) == 0 or a.shape[1:] != b.shape[1:] or a.dtype != b.dtype:
        return torch.zeros(len(a), dtype=torch.bool)
    seen = set(digests(b))
    return torch.tensor([d in seen for d in digests(a)], dtype=torch.bool)


def _digest(values: Tensor) -> str:
    """A short hash of an integer or float tensor's values (selections, colour spaces)."""
    array = values.detach().contiguous().cpu().numpy()
    return hashlib.sha1(f"{array.dtype}{array.shape}".encode() + array.tobytes()).hexdigest()[:12]


def to_float(images: Tensor) -> Tensor:
    """uint8 images (.., 3, H, W) -> float32 in [0, 1]."""
    if images.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images; got {images.dtype}.")
    return images.float().div_(255.0)


def to_uint8(images: Tensor) -> Tensor:
    """Float images in [0, 1] -> uint8, rounded (what a user saves and shares)."""
    return images.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


# ------------------------------------------------------------------------------------------ loading
def _save_cached(
    stem: Path, images: np.ndarray, labels: np.ndarray, classes: Sequence[str]
) -> None:
    """Write ``<stem>.images.npy`` then ``<stem>.meta.npz`` (labels, classes, and the images
    file's size and modification time), each atomically (``paths.atomic_write``: fsync, then
    rename); :func:`_load_cached` catches a damaged pair, and an images file changed since."""
    images_path = stem.with_suffix(".images.npy")
    atomic_write(images_path, lambda f: np.save(f, images))
    written = _file_stamp(images_path)
    atomic_write(
        stem.with_suffix(".meta.npz"),
        lambda f: np.savez(f, labels=labels, classes=np.asarray(classes), images_stamp=written),
    )


def _file_stamp(path: Path) -> np.ndarray:
    """A file's (size in bytes, modification time in ns): changes whenever it is rewritten."""
    st = path.stat()
    return np.asarray([st.st_size, st.st_mtime_ns], dtype=np.int64)


def _load_cached(stem: Path) -> Optional[ImageSet]:
    """The arrays cached at ``stem``, or None when there are none or they are damaged.

    A damaged pair (a truncated or empty file, images and labels that disagree, an images file
    whose size or modification time differs from the one recorded when it was written, e.g.
    zeroed or overwritten in place) is reported with a warning naming the file and removed, so
    the caller decodes the photos again and rewrites it.
    """
    import contextlib
    import warnings

    images_path, meta_path = stem.with_suffix(".images.npy"), stem.with_suffix(".meta.npz")
    if not (images_path.exists() and meta_path.exists()):
        return None
    current = meta_path
    try:
        with np.load(meta_path) as meta:
            labels, classes = meta["labels"], tuple(str(c) for c in meta["classes"])
            stamp = meta["images_stamp"] if "images_stamp" in meta.files else None
        current = images_path
        if stamp is None or not np.array_equal(stamp, _file_stamp(images_path)):
            raise ValueError("it was written by an older version or changed since it was cached")
        images = np.load(images_path)  # a plain .npy reads at disk speed (no zip CRC)
        if (
            images.dtype != np.uint8
            or images.ndim != 4
            or images.shape[1] != 3
            or len(images) != len(labels)
        ):
            raise ValueError(f"images {images.dtype} {images.shape} for {len(labels)} labels")
        if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < len(classes):
            raise ValueError(f"labels outside 0..{len(classes) - 1}")
    except Exception as exc:  # noqa: BLE001 - numpy raises many kinds for a damaged file
        reason = str(exc).strip()[:200] or type(exc).__name__
        warnings.warn(
            f"the cached dataset file {current} is damaged ({reason}); decoding the photos again.",
            RuntimeWarning,
            stacklevel=2,
        )
        for damaged in (images_path, meta_path):
            with contextlib.suppress(OSError):
                damaged.unlink()
        return None
    return ImageSet(torch.from_numpy(images), torch.from_numpy(labels).long(), classes)


def _decode(path: Path, size: Optional[int]) -> np.ndarray:
    """One photo as (3, H, W) uint8 through ``photos.decode_rgb`` (EXIF orientation, 8 bits),
    centre-cropped to a square and resized to ``size`` (None: as it is). Raises ValueError naming
    the file."""
    from PIL import Image

    try:
        im = Image.fromarray(decode_rgb(path), "RGB")
    except PhotoError:
        raise
    except Exception as exc:  # noqa: BLE001 - anything else still names the file
        raise PhotoError(f"cannot read image {path}: {exc}") from exc
    if size is not None and im.size != (size, size):
        w, h = im.size
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        im = im.resize((size, size), Image.BICUBIC)
    return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)


def _decode_all(files: Sequence[Path], size: Optional[int], desc: str) -> np.ndarray:
    from tqdm.auto import tqdm

    arrays = [_decode(f, size) for f in tqdm(files, desc=desc, unit="img", mininterval=1.0)]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(
            f"images in {desc} have different sizes {sorted(shapes)[:3]}...; pass size= to resize "
            "them."
        )
    return np.stack(arrays)


def _warn_skipped(root: Path, skipped: Sequence[tuple[Path, str]]) -> None:
    if skipped:
        shown = "; ".join(f"{p} ({why})" for p, why in skipped[:5])
        more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(
            f"skipped {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} under {root}: "
            f"{shown}{more}",
            SkippedFilesWarning,
            stacklevel=3,
        )


def _folder_listing(root: Path) -> tuple[list[Path], list[int], tuple[str, ...]]:
    classes = tuple(
        sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    )
    files, labels, skipped = [], [], []
    for i, c in enumerate(classes):
        listing = scan_folder(root / c, recursive=False)
        files += listing.photos
        labels += [i] * len(listing.photos)
        skipped += listing.skipped
    _warn_skipped(root, skipped)
    return files, labels, classes


def _cache_key(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:12]


def _folder_signature(root: Path) -> str:
    """Identity of an ImageFolder for its cache: every class folder's name and every file's name,
    size and modification time (a photo overwritten in place, or replaced by one of the same
    name, changes it)."""
    parts = [str(root.resolve())]
    for d in sorted((e for e in os.scandir(root) if e.is_dir()), key=lambda e: e.name):
        parts.append(d.name)
        for f in sorted(os.scandir(d.path), key=lambda e: e.name):
            st = f.stat()
            parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    return _cache_key(*parts)


def _load_image_folder_split(root: Path, size: Optional[int], name: str) -> ImageSet:
    stem = cache_dir("datasets") / f"{name}-{_folder_signature(root)}-{size}"
    cached = _load_cached(stem)
    if cached is not None:
        return cached
    files, labels, classes = _folder_listing(root)
    if not files:
        raise FileNotFoundError(f"no images found under {root} (expected <class>/<image> files).")
    images = _decode_all(files, size, desc=f"decoding {name}")
    _save_cached(stem, images, np.asarray(labels, dtype=np.int64), classes)
    return ImageSet(torch.from_numpy(images), torch.tensor(labels, dtype=torch.int64), classes)


def load_cifar10(
    split: str = "train", root: Optional[Union[str, Path]] = None, download: bool = True
) -> ImageSet:
    """CIFAR-10 as an ImageSet (uint8 N x 3 x 32 x 32, int64 labels in torchvision's order).

    Sources, in order: an ImageFolder copy at ``<root>/cifar10-jpeg/<split>`` (or ``root`` itself
    when it holds ``train/`` and ``test/``); torchvision's CIFAR10 in ``<root>``, downloaded when
    ``download`` and online. ``root`` defaults to :func:`anw_helpers.machinery.paths.data_root` (env
    ``ANW_DATA``). Decoded arrays are cached under ``$ANW_CACHE``, so a second load takes well under
    a second.

    Every source gives the images in one **canonical order**: by class, and within a class in the
    original CIFAR-10 order (an image's identity is its class and its rank among that class's images
    in the original batches; the offline copy's ``<class>/NNNN.jpg`` are numbered so). Seeded
    selections (training subset, users, held-out user) are therefore the same images from either
    source, and the set is named (``ImageSet.origin``) so that cached models serve both.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
    base = Path(root).expanduser() if root is not None else data_root()
    for folder in (base / "cifar10-jpeg" / split, base / split):
        if folder.is_dir() and any(folder.iterdir()):
            data = _load_image_folder_split(folder, None, f"cifar10-jpeg-{split}")
            if data.classes != CIFAR10_CLASSES:
                raise ValueError(
                    f"{folder} has classes {data.classes}; expected CIFAR-10's {CIFAR10_CLASSES}."
                )
            if not _numbered_in_cifar_order(folder):
                warnings.warn(
                    f"{folder}: files are not numbered 0000, 0001, ... in each class "
                    "folder, so their CIFAR-10 order is unknown: seeded users differ "
                    "from torchvision's CIFAR-10; cached models are matched by pixels.",
                    stacklevel=2,
                )
                return data
            return _named_cifar10(data, split)
    return _named_cifar10(_load_torchvision_cifar10(base, split, download), split)


def _named_cifar10(data: ImageSet, split: str) -> ImageSet:
    """``data`` (CIFAR-10 in canonical order) named ``cifar10-<split>``, whatever its source."""
    return ImageSet(data.images, data.labels, data.classes, origin=f"cifar10-{split}")


def _numbered_in_cifar_order(folder: Path) -> bool:
    """Whether each class folder's images are named 0, 1, 2, ... (zero-padded) in sorted order, so
    that the folder's order within a class is the file numbering (the original CIFAR-10 order)."""
    for d in (e for e in os.scandir(folder) if e.is_dir()):
        names = sorted(
            e.name for e in os.scandir(d.path) if Path(e.name).suffix.lower() in IMAGE_SUFFIXES
        )
        stems = [Path(n).stem for n in names]
        if not all(stem.isdigit() and int(stem) == i for i, stem in enumerate(stems)):
            return False
    return True


def cifar10_canonical_order(labels: np.ndarray) -> np.ndarray:
    """Positions that put CIFAR-10 images given in the original order (torchvision's batches) into
    the canonical order: by class, then within a class in the original order (a stable sort)."""
    return np.argsort(np.asarray(labels), kind="stable")


def _load_torchvision_cifar10(base: Path, split: str, download: bool) -> ImageSet:
    name = f"cifar10-torchvision-{split}-canonical-{_cache_key(base.resolve())}"
    stem = cache_dir("datasets") / name
    cached = _load_cached(stem)
    if cached is not None:
        return cached
    from torchvision.datasets import CIFAR10

    try:
        ds = CIFAR10(str(base), train=(split == "train"), download=False)
    except RuntimeError:
        if not download:
            raise _missing_cifar(base, "download=False") from None
        try:
            base.mkdir(parents=True, exist_ok=True)
            ds = CIFAR10(str(base), train=(split == "train"), download=True)
        except Exception as exc:  # noqa: BLE001 - offline, permission, ...
            raise _missing_cifar(base, f"the download failed: {exc}") from exc
    labels = np.asarray(ds.targets, dtype=np.int64)
    order = cifar10_canonical_order(labels)
    images, labels = ds.data.transpose(0, 3, 1, 2)[order].copy(), labels[order].copy()
    _save_cached(stem, images, labels, CIFAR10_CLASSES)
    return ImageSet(torch.from_numpy(images), torch.from_numpy(labels), CIFAR10_CLASSES)


def _missing_cifar(base: Path, why: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"CIFAR-10 not found under data root {base} ({why}). Either (1) point ANW_DATA at a folder "
        f"that holds an offline copy as cifar10-jpeg/{{train,test}}/<class>/*.jpg (e.g. "
        "ANW_DATA=../shared/data), or (2) connect to the internet so torchvision can download "
        f"CIFAR-10 into {base}."
    )


#: CUB-200-2011 (Wah et al. 2011), the paper's high-resolution dataset (Sec. 5.2, Fig. 2i).
CUB200_URL = "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz"
CUB200_MD5 = "97eceeb196236b17998738112f37df78"


def _cub_table(path: Path) -> dict[int, str]:
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            key, value = line.split(maxsplit=1)
            rows[int(key)] = value.strip()
    return rows


def _find_cub(base: Path, download: bool) -> Path:
    for folder in (base / "CUB_200_2011", base):
        if (folder / "images.txt").is_file():
            return folder
    if not download:
        raise FileNotFoundError(
            f"CUB-200-2011 not found under data root {base} (download=False): expected "
            f"{base / 'CUB_200_2011' / 'images.txt'}."
        )
    from torchvision.datasets.utils import download_and_extract_archive

    try:
        download_and_extract_archive(CUB200_URL, str(base), md5=CUB200_MD5)
    except Exception as exc:  # noqa: BLE001 - offline, permission, ...
        raise FileNotFoundError(
            f"CUB-200-2011 not found under data root {base} and the download failed ({exc}). "
            f"Download {CUB200_URL} yourself and extract it into {base} (it holds "
            "CUB_200_2011/images.txt)."
        ) from exc
    return base / "CUB_200_2011"


def load_cub200(
    split: str = "train",
    size: int = 448,
    root: Optional[Union[str, Path]] = None,
    download: bool = True,
) -> ImageSet:
    """CUB-200-2011 birds (5,994 training / 5,794 test photos, 200 classes) as uint8 ``size`` x
    ``size`` images.

    The paper's high-resolution experiment (Sec. 5.2, Fig. 2i) uses 448 x 448. The official split of
    ``train_test_split.txt`` is used; each photo is centre-cropped to a square and resized. Found
    under ``<root>/CUB_200_2011`` (``root`` defaults to ``ANW_DATA``), else downloaded (1.1 GB) when
    ``download`` and online. Decoded arrays are cached under ``$ANW_CACHE`` (about 3.6 GB for the
    training split at 448).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels; got {size}.")
    folder = _find_cub(Path(root).expanduser() if root is not None else data_root(), download)
    stem = cache_dir("datasets") / f"cub200-{split}-{size}-{_folder_signature(folder / 'images')}"
    cached = _load_cached(stem)
    if cached is not None:
        return cached
    paths, labels = _cub_table(folder / "images.txt"), _cub_table(folder / "image_class_labels.txt")
    is_train, names = (
        _cub_table(folder / "train_test_split.txt"),
        _cub_table(folder / "classes.txt"),
    )
    ids = [i for i in sorted(paths) if (is_train[i] == "1") == (split == "train")]
    if not ids:
        raise FileNotFoundError(f"no {split} photos listed in {folder / 'train_test_split.txt'}.")
    images = _decode_all(
        [folder / "images" / paths[i] for i in ids], size, desc=f"decoding cub200-{split}"
    )
    label_array = np.asarray([int(labels[i]) - 1 for i in ids], dtype=np.int64)
    classes = tuple(names[c].split(".", 1)[-1] for c in sorted(names))
    _save_cached(stem, images, label_array, classes)
    return ImageSet(torch.from_numpy(images), torch.from_numpy(label_array), classes)


def load_image_folder(
    path: Union[str, Path], size: int = 32, labels_file: Optional[Union[str, Path]] = None
) -> ImageSet:
    """A person's own photos as an ImageSet, centre-cropped and resized to ``size`` x ``size``.

    Either an ImageFolder (``path/<class>/<image>``), or a flat folder of images plus a CSV
    ``labels_file`` with rows ``filename,class_name``. Unreadable images raise with the file named.
    """
    path = Path(path).expanduser()
    if what_is_wrong(path, "folder"):
        raise FileNotFoundError(f"image folder {path} {what_is_wrong(path, 'folder')}.")
    if labels_file is None:
        files, labels, classes = _folder_listing(path)
        if not files:
            raise FileNotFoundError(
                f"no class sub-folders with images under {path}; for a flat folder pass "
                "labels_file= (CSV: filename,class)."
            )
    else:
        files, labels, classes = _flat_listing(path, Path(labels_file))
    reading = progress.over(files, f"reading {path.name}", total=len(files))
    images = [_decode(f, size) for f in reading]  # PhotoError (a ValueError) names the file
    return ImageSet(
        torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64), classes
    )


def _flat_listing(path: Path, labels_file: Path) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """The photos directly in ``path`` with their classes from the CSV ``labels_file``. Raises for
    a folder without photos (an ImageFolder needs no labels file) and for photos without a row;
    warns about rows naming files that are not there (``SkippedFilesWarning``)."""
    rows = _read_labels(labels_file)
    listing: Listing = scan_folder(path, recursive=False)
    files = listing.photos
    if not files:
        folders = [p.name for p, why in listing.skipped if why == NESTED_REASON]
        hint = (
            f"; it has sub-folders ({', '.join(folders[:3])}): an ImageFolder <class>/<photo> "
            "needs no labels file, leave it out"
            if folders
            else ""
        )
        raise FileNotFoundError(f"no photos directly in {path} to label with {labels_file}{hint}.")
    _warn_skipped(path, listing.skipped)
    missing = [f.name for f in files if f.name not in rows]
    if missing:
        raise ValueError(
            f"{len(missing)} images have no label in {labels_file}, e.g. {missing[:3]}."
        )
    present = {f.name for f in files}
    absent = [name for name in rows if name not in present]
    if absent:
        warnings.warn(
            f"{len(absent)} row(s) of {labels_file} name files that are not photos in {path}, "
            f"e.g. {', '.join(absent[:3])}: they are not used (check the names).",
            SkippedFilesWarning,
            stacklevel=3,
        )
    classes = tuple(sorted({rows[f.name] for f in files}))
    return files, [classes.index(rows[f.name]) for f in files], classes


def _read_labels(labels_file: Path) -> dict[str, str]:
    """Rows ``filename,class`` of a CSV (an optional header row; an Excel export's UTF-8 BOM is
    fine).

    Raises ValueError naming the file when it is not UTF-8 text, has no rows or short rows, or gives
    one file two different classes.
    """
    if what_is_wrong(labels_file):
        raise FileNotFoundError(
            f"labels file {labels_file} {what_is_wrong(labels_file)} (expected a CSV file with "
            "rows filename,class)."
        )
    try:
        with open(labels_file, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r and r[0].strip() and not r[0].startswith("#")]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(
            f"labels file {labels_file} is not a UTF-8 CSV ({exc}); save it as "
            "'CSV UTF-8' with rows filename,class."
        ) from exc
    if rows and rows[0][0].strip().lower() in ("filename", "file", "name"):
        rows = rows[1:]
    bad = [r for r in rows if len(r) < 2]
    if bad or not rows:
        raise ValueError(
            f"labels file {labels_file} must have rows 'filename,class'; got "
            f"{bad[:2] or 'no rows'}."
        )
    labels: dict[str, str] = {}
    for row in rows:
        name, cls = row[0].strip(), row[1].strip()
        if labels.get(name, cls) != cls:
            raise ValueError(
                f"labels file {labels_file} gives {name} two classes, {labels[name]!r} and "
                f"{cls!r}: keep one row per file."
            )
        labels[name] = cls
    return labels
