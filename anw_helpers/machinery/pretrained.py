"""Learners in one download (issue 28): fill the model cache from an archive named by
``ANW_PRETRAINED``.

``python -m tools.pretrain --profile ci --archive OUT.tar`` writes a tar of the cached models a
profile's lessons load, with a ``manifest.json`` (per file: name, sha256, size, and the device type
and precision it was trained with; the profile and torch version). When ``ANW_PRETRAINED`` is set
(a local path or an http(s) URL), the first model-cache miss (``checkpoint.load_or_train``, whose
``on_miss`` ``train`` sets to it) calls :func:`install_from_env`: the archive is fetched once,
every file's hash checked, each file validated as a checkpoint, and the files for this runtime's
device and precision moved into ``$ANW_CACHE/models``; an existing valid file is never replaced.
``$ANW_CACHE/pretrained/installed.json`` records each archive installed (its sha256 and files), so
a later session does not fetch it again. Any failure is one warning naming ``ANW_PRETRAINED`` and
the lesson trains as usual.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Optional

from ..photos import what_is_wrong
from .paths import atomic_write, cache_dir
from .runtime import trained_with

__all__ = ["ENV", "MANIFEST", "ArchiveError", "file_sha256", "install", "install_from_env"]

#: The environment variable naming the archive (a local path or an http(s) URL).
ENV = "ANW_PRETRAINED"
#: The archive's manifest member.
MANIFEST = "manifest.json"
#: A model file's name: flat (no folder, no leading dot), as ``checkpoint.cache_path`` writes it.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,200}\.pt")
_INDEX = "installed.json"
#: (source, cache folder) pairs tried in this process: a failure warns once, not per cache miss.
_tried: set[tuple[str, str]] = set()


class ArchiveError(ValueError):
    """The archive cannot be used; the message says why."""


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _runtime() -> str:
    """This runtime's ``device/precision`` (``runtime.trained_with``: part of every model's key)."""
    here = trained_with()
    return f"{here['device']}/{here['precision']}"


def install_from_env() -> None:
    """On a model-cache miss: install the archive ``$ANW_PRETRAINED`` names, once per process and
    cache; any failure is one warning line and nothing else (the caller trains as usual)."""
    source = os.environ.get(ENV, "").strip()
    if not source:
        return
    tried = (source, str(cache_dir()))
    if tried in _tried:
        return
    _tried.add(tried)
    try:
        note = install(source)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the lesson trains as usual
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if not isinstance(exc, ArchiveError):
            reason = f"{type(exc).__name__}: {reason}".rstrip(": ")
        note = f"{reason}; the lesson trains as usual"
    if note:
        warnings.warn(f"{ENV}={source!r}: {note}.", RuntimeWarning, stacklevel=3)


def install(source: str) -> Optional[str]:
    """Install the archive at ``source`` (a path or an http(s) URL) into ``$ANW_CACHE/models``
    unless ``installed.json`` says it is installed (a local file: unchanged since) and its files are
    there. Returns a note when its models are for another device or precision than this runtime's
    (nothing installed), else None; raises :class:`ArchiveError` (or an OSError, a TarError) when
    it cannot be used, leaving nothing half-extracted."""
    index = _read_index()
    entry = index.get(source)
    if entry and entry.get("stamp") == _stamp(source):
        note = _other_runtime(entry["built_for"])
        models = cache_dir("models")
        if note or all((models / name).exists() for name in entry["files"]):
            return note
    with _local_copy(source) as archive:
        digest = file_sha256(archive)
        try:
            with tarfile.open(archive, "r:*") as tar:
                files = _manifest(tar)
                built_for = sorted({f"{f['device']}/{f['precision']}" for f in files})
                here = _runtime()
                usable = [f["name"] for f in files if f"{f['device']}/{f['precision']}" == here]
                if usable:
                    _extract(tar, files, usable)
        except (tarfile.TarError, EOFError) as exc:
            detail = str(exc).strip().splitlines()[0].rstrip(":") if str(exc).strip() else ""
            raise ArchiveError(f"not a tar archive, or a damaged one ({detail})") from None
    index[source] = {"sha256": digest, "files": usable, "built_for": built_for}
    index[source]["stamp"] = _stamp(source)
    atomic_write(cache_dir("pretrained") / _INDEX, lambda f: f.write(json.dumps(index).encode()))
    return _other_runtime(built_for)


def _other_runtime(built_for: list[str]) -> Optional[str]:
    """The note for an archive none of whose models this runtime would load, else None."""
    here = _runtime()
    if here in built_for:
        return None
    return (
        f"this archive holds {' and '.join(built_for) or 'no'} learners; this runtime trains "
        f"{here}: they would not be used; training as usual (build the archive on a runtime "
        "like this one)"
    )


def _read_index() -> dict:
    """``installed.json``: source -> {sha256, files, built_for, stamp}; empty when unreadable."""
    path = cache_dir("pretrained") / _INDEX
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return index if isinstance(index, dict) else {}


def _is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def _stamp(source: str) -> Optional[list[int]]:
    """A local archive's size and modification time (a rebuilt one is installed again); None for
    a URL, fetched once."""
    if _is_url(source):
        return None
    try:
        st = Path(source).expanduser().stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


@contextlib.contextmanager
def _local_copy(source: str) -> Iterator[Path]:
    """The archive as a local file: the path itself, or a download into ``$ANW_CACHE/pretrained``
    (a temporary file, renamed when complete, removed afterwards)."""
    if not _is_url(source):
        if "://" in source:
            raise ArchiveError("not a local path or an http(s) URL; give one of those")
        path = Path(source).expanduser()
        wrong = what_is_wrong(path)
        if wrong:
            raise ArchiveError(f"the archive {wrong}; give the path of the .tar or an http(s) URL")
        yield path
        return
    folder = cache_dir("pretrained")
    fd, part = tempfile.mkstemp(dir=folder, prefix=".download-", suffix=".part")
    done = folder / f"download-{os.getpid()}.tar"
    try:
        with os.fdopen(fd, "wb") as f:
            _download(source, f)
        os.replace(part, done)
        yield done
    finally:
        for leftover in (Path(part), done):
            leftover.unlink(missing_ok=True)


def _download(url: str, out: IO[bytes]) -> None:
    """Copy ``url``'s body into ``out``; a network error becomes an :class:`ArchiveError`."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, out, 1 << 20)
    except OSError as exc:  # URLError, HTTPError and timeouts are OSErrors
        raise ArchiveError(f"the download failed ({getattr(exc, 'reason', exc)})") from None


def _manifest(tar: tarfile.TarFile) -> list[dict]:
    """The manifest's file entries, each with a safe flat name, a sha256, a size, a device and a
    precision; raises :class:`ArchiveError` otherwise."""
    try:
        member = tar.getmember(MANIFEST)
    except KeyError:
        raise ArchiveError(f"no {MANIFEST} in it: not an archive tools.pretrain wrote") from None
    handle = tar.extractfile(member) if member.isreg() else None
    if handle is None:
        raise ArchiveError(f"its {MANIFEST} is not a regular file")
    try:
        files = json.loads(handle.read(1 << 20))["files"]
    except (ValueError, KeyError, TypeError):
        raise ArchiveError(f"its {MANIFEST} is not the manifest tools.pretrain writes") from None
    keys = ("name", "sha256", "size", "device", "precision")
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and all(k in f for k in keys) for f in files
    ):
        raise ArchiveError(f"its {MANIFEST} lacks a file list with {', '.join(keys)}")
    names = [str(f["name"]) for f in files]
    bad = [n for n in names if not _SAFE_NAME.fullmatch(n)]
    if bad or len(set(names)) != len(names):
        raise ArchiveError(f"its {MANIFEST} names an unsafe or repeated file {(bad or names)[0]!r}")
    return files


def _extract(tar: tarfile.TarFile, files: list[dict], usable: list[str]) -> None:
    """Copy every manifest file into a temporary folder in the cache, check its size, sha256 and
    that it is a course checkpoint, then move the ``usable`` ones into ``$ANW_CACHE/models`` (one
    atomic rename each; an existing valid file stays)."""
    from .checkpoint import CheckpointError, load

    models = cache_dir("models")
    with tempfile.TemporaryDirectory(dir=cache_dir("pretrained"), prefix=".extract-") as tmp:
        for entry in files:
            target = Path(tmp) / entry["name"]
            _copy_member(tar, entry, target)
            try:
                load(target)
            except CheckpointError as exc:
                raise ArchiveError(f"{entry['name']} is not a usable checkpoint ({exc})") from None
        for name in usable:
            if not _is_valid(models / name):
                os.replace(Path(tmp) / name, models / name)


def _copy_member(tar: tarfile.TarFile, entry: dict, target: Path) -> None:
    """Write the member named ``entry["name"]`` (a regular file, no link) to ``target``, checking
    its size and sha256 against the manifest."""
    name = entry["name"]
    try:
        member = tar.getmember(name)
    except KeyError:
        raise ArchiveError(f"{name} is in its manifest but not in the archive") from None
    if not member.isreg():
        raise ArchiveError(f"{name} in it is a link or a folder, not a file; refused")
    if member.size != entry["size"]:
        raise ArchiveError(f"{name} has {member.size} bytes, its manifest says {entry['size']}")
    source = tar.extractfile(member)
    assert source is not None  # a regular member always has its bytes
    digest = hashlib.sha256()
    with source, open(target, "wb") as out:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != entry["sha256"]:
        raise ArchiveError(
            f"{name}'s sha256 is {digest.hexdigest()[:12]}..., its manifest says "
            f"{str(entry['sha256'])[:12]}...: the archive is damaged or altered"
        )


def _is_valid(path: Path) -> bool:
    """Whether a checkpoint file exists and loads (``checkpoint.load``, validated)."""
    from .checkpoint import CheckpointError, load

    if not path.exists():
        return False
    try:
        load(path)
    except CheckpointError:
        return False
    return True
