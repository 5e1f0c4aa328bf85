"""Where the course finds its data and keeps its caches (environment variables ANW_DATA, ANW_CACHE)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable

__all__ = ["data_root", "cache_dir", "atomic_write"]

_REPO_DATA = Path(__file__).resolve().parent.parent / "data"


def data_root() -> Path:
    """The data root: ``$ANW_DATA`` if set, else the repository's ``data/`` folder, else ``~/anw_data``.

    An offline copy of CIFAR-10 as JPEGs is found at ``<root>/cifar10-jpeg``; torchvision's download
    lands in ``<root>/cifar-10-batches-py``.
    """
    env = os.environ.get("ANW_DATA")
    if env:
        return Path(env).expanduser()
    if _REPO_DATA.is_dir():
        return _REPO_DATA
    return Path.home() / "anw_data"


def cache_dir(*parts: str) -> Path:
    """The cache directory ``$ANW_CACHE`` (default ``~/.cache/anw``), or a sub-folder of it, created on demand.

    Decoded datasets and trained models live here, never beside the (possibly read-only) data.
    """
    base = Path(os.environ.get("ANW_CACHE") or Path.home() / ".cache" / "anw").expanduser()
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write a file atomically: ``write(f)`` fills a temporary file beside ``path``, which then replaces it.

    A crash or interruption leaves either the old file or none, never a half-written one.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
