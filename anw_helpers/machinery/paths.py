"""Where the course finds its data and keeps its caches (variables ANW_DATA, ANW_CACHE)."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import IO, Callable

__all__ = ["CacheNotWritable", "atomic_write", "cache_dir", "data_root"]

_REPO_DATA = Path(__file__).resolve().parent.parent / "data"
#: Errors that mean "this folder cannot take the file", whose fix is another folder.
_UNWRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


class CacheNotWritable(PermissionError):
    """``$ANW_CACHE`` (or its default) cannot be created or written; the message names the fix."""


def data_root() -> Path:
    """The data root: ``$ANW_DATA`` if set, else the repository's ``data/``, else ``~/anw_data``.

    An offline copy of CIFAR-10 as JPEGs is found at ``<root>/cifar10-jpeg``; torchvision's download
    lands in ``<root>/cifar-10-batches-py``.
    """
    env = os.environ.get("ANW_DATA")
    if env:
        return Path(env).expanduser()
    if _REPO_DATA.is_dir():
        return _REPO_DATA
    return Path.home() / "anw_data"


def _cache_base() -> Path:
    return Path(os.environ.get("ANW_CACHE") or Path.home() / ".cache" / "anw").expanduser()


def _cache_error(path: Path, exc: OSError) -> CacheNotWritable:
    env = os.environ.get("ANW_CACHE")
    where = f"ANW_CACHE={env}" if env else f"the default cache {_cache_base()} (ANW_CACHE is unset)"
    fix = "Point ANW_CACHE at a folder you can write to, e.g. export ANW_CACHE=/tmp/anw-cache."
    return CacheNotWritable(f"cannot write {path} in {where}: {exc.strerror or exc}. {fix}")


def cache_dir(*parts: str) -> Path:
    """The cache directory ``$ANW_CACHE`` (default ``~/.cache/anw``), or a sub-folder of it, created
    on demand.

    Decoded datasets and trained models live here, never beside the (possibly read-only) data. A
    cache that exists may be read-only (an instructor's, shared with a class); one that cannot be
    created raises :class:`CacheNotWritable`, naming ``ANW_CACHE`` and the fix.
    """
    path = _cache_base().joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno in _UNWRITABLE or isinstance(exc, (FileExistsError, NotADirectoryError)):
            raise _cache_error(path, exc) from None
        raise
    return path


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _is_in_cache(path: Path) -> bool:
    base = _cache_base().resolve()
    here = path.resolve()
    return here == base or base in here.parents


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write a file atomically: ``write(f)`` fills a temporary file beside ``path``, which then
    replaces it.

    The data is flushed and ``fsync``-ed before the rename, so a crash, an interruption or a power
    cut leaves either the old file or the new one, never a half-written one. The file's mode follows
    the umask (like any new file, e.g. 0644 or 0664), so an instructor can share a cache with a
    class. A cache file that cannot be written raises :class:`CacheNotWritable` naming ``ANW_CACHE``
    and the fix.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        if exc.errno in _UNWRITABLE and _is_in_cache(path):
            raise _cache_error(path, exc) from None
        raise
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())  # mkstemp creates 0600: its owner's only
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except OSError as exc:
        if exc.errno in _UNWRITABLE and _is_in_cache(path):
            raise _cache_error(path, exc) from None
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
