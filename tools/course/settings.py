"""Where the course is published: ``[tool.anw]`` of pyproject.toml (docs/publishing.md)."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .lessons import PYPROJECT, REPOSITORY_ROOT, SET_REPOSITORY, _default_root

_OWNER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$")
_BRANCH = re.compile(r"^(?![-/.])(?!.*\.\.)(?!.*//)[A-Za-z0-9._/+-]{1,200}(?<![/.])$")
_ANW_HEADER = re.compile(r"^\s*\[\s*tool\s*\.\s*anw\s*\]\s*(?:#.*)?$")
_COLAB_LINK = re.compile(
    r"https://colab\.research\.google\.com/github/"
    r"(?P<repository>[^/\s]+/[^/\s]+)/blob/(?P<branch>\S+?)/"
    r"(?P<path>(?:notebooks|student)/[^\s)\"'<>]+)"
)


@dataclass(frozen=True)
class RepositorySetting:
    """Where the course is published: ``[tool.anw] repository`` and ``branch`` of pyproject.toml.

    Raises ValueError, in one line, for a repository that is not ``OWNER/NAME`` or a bad branch.
    """

    repository: str
    branch: str = "main"

    def __post_init__(self) -> None:
        slug, branch = self.repository, self.branch
        if not isinstance(slug, str) or not _OWNER_NAME.match(slug):
            raise ValueError(
                f"malformed repository {slug!r}: expected OWNER/NAME as on GitHub, "
                "e.g. anw-course/anti-neuron-watermarking"
            )
        if slug.endswith(".git"):
            raise ValueError(f"malformed repository {slug!r}: write OWNER/NAME without '.git'")
        if not isinstance(branch, str) or not _BRANCH.match(branch) or branch.endswith(".lock"):
            raise ValueError(f"malformed branch {branch!r}: expected a git branch such as main")

    @property
    def git_url(self) -> str:
        """The pip address of the helpers: ``git+https://github.com/OWNER/NAME@BRANCH``."""
        return f"git+https://github.com/{self.repository}@{self.branch}"

    def colab_url(self, name: str, folder: str = "notebooks") -> str:
        """The Colab address that opens ``<folder>/<name>.ipynb`` of this repository and branch."""
        return self._colab(f"{folder}/{name}.ipynb")

    def _colab(self, path: str) -> str:
        repository, branch = self.repository, self.branch
        return f"https://colab.research.google.com/github/{repository}/blob/{branch}/{path}"


def _anw_table_fallback(text: str, where: str) -> dict[str, str]:
    """``[tool.anw]`` of a pyproject.toml text, read without a TOML library: ``key = "value"``."""
    table: dict[str, str] = {}
    inside = False
    line_re = re.compile(
        r"""^(?P<key>[A-Za-z0-9_-]+)\s*=\s*"""
        r"""(?:"(?P<basic>(?:[^"\\]|\\.)*)"|'(?P<lit>[^']*)')\s*(?:#.*)?$"""
    )
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("["):
            inside = _ANW_HEADER.match(line) is not None
        elif inside and line and not line.startswith("#"):
            m = line_re.match(line)
            if not m:
                raise ValueError(
                    f"{where}, line {number}: cannot read {line!r} in [tool.anw] "
                    '(expected key = "value")'
                )
            basic = m.group("basic")
            table[m.group("key")] = m.group("lit") if basic is None else json.loads(f'"{basic}"')
    return table


def _anw_table(text: str, where: str) -> dict:
    """The ``[tool.anw]`` table of a pyproject.toml text ({} when absent).

    tomllib on Python >= 3.11, else ``tomli`` when installed, else a small reader of that one table.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.9 and 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            return _anw_table_fallback(text, where)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{where} is not valid TOML: {exc}") from None
    table = data.get("tool", {}).get("anw", {})
    return table if isinstance(table, dict) else {}


def repository_setting(root: Optional[Path] = None) -> RepositorySetting:
    """The course's repository and branch, read from ``[tool.anw]`` of ``root``'s pyproject.toml.

    Where ``root`` (default: this clone) has no pyproject.toml, e.g. a folder of made-up lessons in
    a test, the pyproject.toml of the clone that holds this package is read.
    """
    folder = Path(root) if root is not None else _default_root()
    candidates = [folder / PYPROJECT, REPOSITORY_ROOT / PYPROJECT]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise FileNotFoundError(
            f"no {PYPROJECT} in {folder}: the course's repository is set in "
            "its [tool.anw] table (run from a clone of the course)"
        )
    table = _anw_table(path.read_text(encoding="utf-8"), str(path))
    if not table.get("repository"):
        raise ValueError(
            f'{path} has no [tool.anw] repository = "OWNER/NAME": add it, or run  '
            f"{SET_REPOSITORY} OWNER/NAME"
        )
    return RepositorySetting(str(table["repository"]), str(table.get("branch", "main")))


def _set_toml_key(text: str, key: str, value: str) -> str:
    """``text`` with ``key = "value"`` in its ``[tool.anw]`` table (replaced, else added)."""
    lines = text.split("\n")
    header = next((i for i, line in enumerate(lines) if _ANW_HEADER.match(line)), None)
    entry = f'{key} = "{value}"'
    if header is None:
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join(lines + ["", "[tool.anw]", entry, ""])
    end = next(
        (i for i in range(header + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines)
    )
    for i in range(header + 1, end):
        m = re.match(rf"""^(\s*{re.escape(key)}\s*=\s*)("[^"]*"|'[^']*')(.*)$""", lines[i])
        if m:
            lines[i] = f'{m.group(1)}"{value}"{m.group(3)}'
            return "\n".join(lines)
    last = max([header] + [i for i in range(header + 1, end) if lines[i].strip()])
    lines.insert(last + 1, entry)
    return "\n".join(lines)


def _wanted_setting(
    root: Path, repository: Optional[str], branch: Optional[str]
) -> RepositorySetting:
    """``root``'s setting with ``repository`` and ``branch`` (None: keep) applied, validated."""
    if not repository and not branch:
        return repository_setting(root)
    path = Path(root) / PYPROJECT
    current = _anw_table(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else {}
    if not repository and not current.get("repository"):
        raise ValueError(f"{path} has no [tool.anw] repository yet: give OWNER/NAME")
    return RepositorySetting(
        repository or str(current["repository"]), branch or str(current.get("branch", "main"))
    )


def write_repository_setting(
    root: Optional[Path] = None, repository: Optional[str] = None, branch: Optional[str] = None
) -> RepositorySetting:
    """Set ``[tool.anw] repository`` (and ``branch``) in ``root``'s pyproject.toml; returns it.

    Only those two lines change; a value not given keeps its current one (branch: ``main``).
    Raises ValueError for a malformed OWNER/NAME or branch, before anything is written.
    """
    path = (Path(root) if root is not None else _default_root()) / PYPROJECT
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: the setting lives in the course's {PYPROJECT}"
        )
    text = path.read_text(encoding="utf-8")
    setting = _wanted_setting(path.parent, repository, branch)
    new = _set_toml_key(text, "repository", setting.repository)
    new = _set_toml_key(new, "branch", setting.branch)
    if new != text:
        path.write_text(new, encoding="utf-8")
    if repository_setting(path.parent) != setting:  # pragma: no cover - the edit did not take
        raise ValueError(f"could not set [tool.anw] in {path}: edit it by hand")
    return setting


def colab_url(
    name: str, folder: str = "notebooks", branch: Optional[str] = None, root: Optional[Path] = None
) -> str:
    """The Colab address of ``<folder>/<name>.ipynb`` in the course repository (``[tool.anw]``)."""
    setting = repository_setting(root)
    if branch is not None:
        setting = RepositorySetting(setting.repository, branch)
    return setting.colab_url(name, folder)
