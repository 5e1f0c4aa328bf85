"""Every lesson's first cell (install the helpers only when missing) and Colab badges.

Both written (``set-repository``) and linted (``check``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from .lessons import COLAB_BADGE, SET_REPOSITORY, lesson_sources
from .settings import _COLAB_LINK, RepositorySetting, repository_setting

#: Lessons whose install cell adds an extra of pyproject.toml: number -> (extra, what it adds).
LESSON_EXTRAS: dict[str, tuple[str, str]] = {"06": ("dp", "Opacus, for DP-SGD")}
_GIT_URL = re.compile(r"git\+https://github\.com/[^\s\"']+")
_INSTALL_HEAD = (
    "# Install the course helpers only when missing (Colab, a fresh machine); "
    "torch is never reinstalled.",
    "# Or from a wheel your instructor gives you: set ANW_WHEEL to its path or URL, "
    "or upload it here.",
)
_PIP = re.compile(r"\bpip\b.*\binstall\b")
_UPGRADE = re.compile(r"(^|\s)(-U|--upgrade|--force-reinstall|--ignore-installed|-I)(\s|$)")
_TORCH = re.compile(r"(?<![\w-])torch(vision|audio)?\b")


def lesson_extra(name: str) -> Optional[tuple[str, str]]:
    """The extra of pyproject.toml that a lesson's install cell adds, and what it brings (or None).

    ``name`` is the lesson's file or stem, e.g. ``06_augmentations_and_defences.py``.
    """
    return LESSON_EXTRAS.get(Path(name).name[:2])


#: After ``%pip``: import again, and say what to do when the install failed (one message).
_CHECK_IMPORT = (
    "    try:",
    "        import anw_helpers  # noqa: F401",
    "    except ModuleNotFoundError:",
    "        raise SystemExit(",
    '            f"anw_helpers did not install from {source}: is that repository published? "',
    '            "Ask your instructor for a wheel (anw_helpers-*.whl) and upload it here (Files "',
    '            "pane) or set ANW_WHEEL to its path or URL, then run this cell again. '
    'Instructors: "',
    '            "docs/publishing.md."',
    "        ) from None",
)
#: Lesson 06's Opacus may not replace the torch already installed (Colab's matches its CUDA).
_KEEP_TORCH = (
    "    from importlib.metadata import PackageNotFoundError, version",
    "",
    "    try:",
    "        keep = f\"torch=={version('torch')}\"  # the torch already here stays",
    "    except PackageNotFoundError:",
    '        keep = "torch"',
)


def _install_block(setting: RepositorySetting, lesson: str = "") -> list[str]:
    """The install part of a lesson's first code cell (magics as in the notebook, uncommented)."""
    extra = lesson_extra(lesson) if lesson else None
    pip = '    %pip install -q "{source}"'
    lines = [
        *_INSTALL_HEAD,
        "try:",
        "    import anw_helpers",
        "except ModuleNotFoundError:",
        "    import glob",
        "    import os",
        "",
        '    wheel = os.environ.get("ANW_WHEEL") or max(glob.glob("anw_helpers-*.whl"), '
        'default="")',
        f'    source = wheel or "{setting.git_url}"',
    ]
    if extra:
        lines += [*_KEEP_TORCH, f"    # anw-helpers[{extra[0]}] adds {extra[1]}"]
        pip += f' "anw-helpers[{extra[0]}]" "{{keep}}"'
    return lines + [pip, *_CHECK_IMPORT]


def install_cell_source(setting: Optional[RepositorySetting] = None, lesson: str = "") -> str:
    """The canonical first code cell of ``lesson`` (file name or stem), as the notebook shows it.

    It installs the helpers only when they are missing: from a wheel named by ``ANW_WHEEL`` (a path
    or URL) or lying in the working folder (``anw_helpers-*.whl``), else from ``setting`` (default:
    ``[tool.anw]`` of this clone); lessons in ``LESSON_EXTRAS`` add their extra. Then the banner.
    """
    setting = setting or repository_setting()
    banner = [
        "from anw_helpers.machinery.runtime import describe_runtime",
        "",
        "print(describe_runtime())",
    ]
    return "\n".join(_install_block(setting, lesson) + banner)


def _to_percent(line: str) -> str:
    """A notebook line as jupytext's py:percent writes it: magics commented out (``# %pip``)."""
    body = line.lstrip()
    return f"{line[: len(line) - len(body)]}# {body}" if body.startswith("%") else line


def _rewrite_install_cell(text: str, setting: RepositorySetting, lesson: str) -> str:
    """A lesson's py:percent ``text`` with its first code cell's install block made canonical.

    The block is the comment lines above ``try:`` and the ``try: import anw_helpers / except``
    guard; the rest of the cell (the runtime banner) is kept. Raises ValueError without a guard.
    """
    lines = text.split("\n")
    marker = re.compile(r"^# %%(?!\s*\[(?:markdown|md|raw)\])")
    start = next((i for i, line in enumerate(lines) if marker.match(line)), None)
    if start is None:
        raise ValueError(f"{lesson}: no code cell; the first one must install the helpers")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("# %%")), len(lines))
    guard = next(
        (
            i
            for i in range(start + 1, end - 1)
            if lines[i].rstrip() == "try:" and lines[i + 1].strip() == "import anw_helpers"
        ),
        None,
    )
    handler = None
    if guard is not None:
        handler = next(
            (
                i
                for i in range(guard + 1, end)
                if re.match(r"^except (?:ModuleNotFoundError|ImportError):", lines[i])
            ),
            None,
        )
    if handler is None:
        raise ValueError(
            f"{lesson}: the first code cell has no 'try: import anw_helpers / except "
            "ModuleNotFoundError:' guard; write it by hand as in docs/publishing.md"
        )
    stop = next(
        (i for i in range(handler + 1, end) if lines[i].strip() and lines[i][0] not in " \t"), end
    )
    first = guard
    while (
        first > start + 1
        and lines[first - 1].startswith("#")
        and not lines[first - 1].startswith("# %")
    ):
        first -= 1
    block = [_to_percent(line) for line in _install_block(setting, lesson)]
    return "\n".join(lines[:first] + block + lines[stop:])


def _rewrite_colab_links(text: str, setting: RepositorySetting) -> str:
    """``text`` with every Colab link to a course notebook at ``setting``'s repository, branch."""
    return _COLAB_LINK.sub(lambda m: setting._colab(m.group("path")), text)


def check_install_cell(
    source: str, setting: Optional[RepositorySetting] = None, extra: Optional[str] = None
) -> list[str]:
    """Problems with a lesson's first code cell (empty: fine). The expected shape::

        try:
            import anw_helpers
        except ModuleNotFoundError:
            import glob
            import os

            wheel = os.environ.get("ANW_WHEEL") or max(glob.glob("anw_helpers-*.whl"), default="")
            source = wheel or "git+https://github.com/<repository>@<branch>"
            %pip install -q "{source}"
            try:
                import anw_helpers  # noqa: F401
            except ModuleNotFoundError:
                raise SystemExit(f"... {source} ... ANW_WHEEL ... docs/publishing.md.") from None
        from anw_helpers.machinery.runtime import describe_runtime

        print(describe_runtime())

    (or the git address straight in the ``%pip`` line, without the wheel). It installs the helpers
    only when missing, from the repository and branch of ``setting`` (default: ``[tool.anw]`` of
    pyproject.toml) or an instructor's wheel, never (re)installs torch, and installs ``extra``
    (e.g. ``dp``) when given, and a failed install stops with one message naming the repository,
    ``ANW_WHEEL``, a wheel upload and docs/publishing.md. The banner names the device and tells a
    Colab user how to get a GPU.
    """
    setting = setting or repository_setting()
    problems = []
    m = re.search(
        r"^try:[ \t]*\n[ \t]+import anw_helpers[ \t]*\n(?:[ \t]*#[^\n]*\n)*"
        r"except (?:ModuleNotFoundError|ImportError):[ \t]*\n"
        r"(?P<block>(?:[ \t]+[^\n]*(?:\n|$)|[ \t]*(?:\n|$))+)",
        source,
        re.M,
    )

    def code_lines(text: str) -> list[str]:
        return [
            line.strip()
            for line in text.split("\n")
            if line.strip() and not line.lstrip().startswith("#")
        ]

    code, block = code_lines(source), code_lines(m.group("block")) if m else []
    pip_lines = [line for line in code if _PIP.search(line)]
    block_pips = [line for line in block if _PIP.search(line)]
    if not m:
        problems.append(
            "no 'try: import anw_helpers / except ModuleNotFoundError:' guard around the install"
        )
    elif not block_pips:
        problems.append("the except branch does not '%pip install' the helpers")
    if len(pip_lines) != len(block_pips):
        problems.append(
            "a pip install runs outside the 'except ModuleNotFoundError' branch "
            "(it would run every time)"
        )
    urls = sorted({u for line in code for u in _GIT_URL.findall(line)})
    fix = (
        f"pyproject.toml [tool.anw] names {setting.repository}, branch {setting.branch}; "
        f"run  {SET_REPOSITORY}"
    )
    if block_pips and not urls:
        problems.append(f"the install names no repository: expected {setting.git_url} ({fix})")
    for url in urls:
        if url != setting.git_url:
            problems.append(
                f"the install is from {url}, not the course repository {setting.git_url} ({fix})"
            )
    for line in pip_lines:
        if not line.startswith("%pip"):
            problems.append(f"use '%pip install' (installs into the running kernel), not: {line}")
        if _UPGRADE.search(line):
            problems.append(
                "the install upgrades or reinstalls packages (it would replace "
                f"Colab's torch): {line}"
            )
    pinned = {line.strip() for line in _KEEP_TORCH}
    for line in dict.fromkeys(pip_lines + block):
        if line not in pinned and _TORCH.search(_GIT_URL.sub("", line)):
            problems.append(
                f"the install names torch (Colab ships its own; never reinstall it): {line}"
            )
    wanted = re.compile(rf"anw[-_]helpers\[[^\]]*\b{re.escape(extra or '')}\b")
    if extra and not any(wanted.search(line) for line in block_pips):
        problems.append(
            f"the install does not add the [{extra}] extra this lesson needs: "
            f'expected "anw-helpers[{extra}]" in the %pip line (run  {SET_REPOSITORY})'
        )
    if block_pips and not all(word in source for word in ("ANW_WHEEL", "docs/publishing.md")):
        problems.append(
            "a failed install is not explained: after %pip the cell must import again and name "
            f"the repository, ANW_WHEEL, a wheel upload and docs/publishing.md ({SET_REPOSITORY})"
        )
    if not re.search(r"^print\(describe_runtime\(\)\)", source, re.M):
        problems.append(
            "the cell does not print(describe_runtime()) (device banner, how to get a GPU in Colab)"
        )
    return problems


def first_code_cell(nb) -> str:
    """Source of a notebook's first code cell ('' when there is none)."""
    return next((c.source for c in nb.cells if c.cell_type == "code"), "")


def colab_link_problems(
    text: str, where: str, setting: Optional[RepositorySetting] = None
) -> list[str]:
    """Colab links in ``text`` (a lesson, the README) that open elsewhere than ``setting``."""
    setting = setting or repository_setting()
    wrong = [
        m
        for m in _COLAB_LINK.finditer(text)
        if (m.group("repository"), m.group("branch")) != (setting.repository, setting.branch)
    ]
    if not wrong:
        return []
    seen = sorted({f"{m.group('repository')} (branch {m.group('branch')})" for m in wrong})
    return [
        f"{where}: {len(wrong)} Colab link(s) open {', '.join(seen)}, not "
        f"{setting.repository} (branch {setting.branch}) of pyproject.toml [tool.anw]; "
        f"run  {SET_REPOSITORY}"
    ]


def readme_badge_problems(
    readme_text: str,
    notebooks_dir: Optional[Path] = None,
    setting: Optional[RepositorySetting] = None,
) -> list[str]:
    """Lessons without a README Colab badge at the address of ``setting``, and links elsewhere.

    ``setting`` defaults to the ``[tool.anw]`` of the repository holding ``notebooks_dir``.
    """
    lessons = lesson_sources(notebooks_dir)
    if setting is None:
        setting = repository_setting(lessons[0].parent.parent if lessons else None)
    problems = colab_link_problems(readme_text, "README.md", setting)
    for py in lessons:
        badge = f"[![Open In Colab]({COLAB_BADGE})]({setting.colab_url(py.stem)})"
        if badge not in readme_text:
            problems.append(
                f"README.md has no Colab badge for {py.stem}: expected {badge} "
                f"(run  {SET_REPOSITORY}  when only the address differs)"
            )
    return problems
