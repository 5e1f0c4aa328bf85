"""Issue 30: the exit codes ``anw`` returns are the ones its --help lists (130, 141 and 128+N were
missing from --help, and an internal error returned 1, which --help did not mention)."""

from __future__ import annotations

import re
import signal

import pytest

from anw_helpers.photo_cli import cli


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        cli.main([*argv, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("argv", [(), ("mark",), ("verify",)])
def test_every_help_lists_every_exit_code(capsys, argv):
    text = _help(capsys, *argv)
    assert " ".join(cli.EXIT_CODES.split()) in text
    listed = {
        int(n) for n in re.findall(r"(?<![+\d])(\d+) (?:done|the|bad|interrupted|output)", text)
    }
    assert listed >= {0, 1, 2, 130, 141} and "128+N stopped by signal N" in text


def _code_for(monkeypatch, exc: BaseException) -> int:
    def run(args):
        raise exc

    monkeypatch.setattr(cli, "_run", run)
    return cli.main(["verify", "model.pt", "photos"])


@pytest.mark.parametrize(
    "exc, words",
    [
        (cli.CliError("bad"), "bad input"),
        (ValueError("bad"), "bad input"),
        (PermissionError(13, "Permission denied"), "the system refused"),
        (KeyboardInterrupt(), "interrupted"),
        (BrokenPipeError(), "output pipe closed"),
        (RuntimeError("oops"), "an internal error"),
    ],
)
def test_main_returns_the_code_help_gives_for_each_case(monkeypatch, capsys, exc, words):
    code = _code_for(monkeypatch, exc)
    entries = re.sub(r"\([^)]*\)", "", cli.EXIT_CODES)  # no commas inside parentheses
    assert re.search(rf"\b{code} [^,]*{words}", entries), (code, words)


def test_a_signal_gives_128_plus_its_number(monkeypatch):
    assert _code_for(monkeypatch, cli.Terminated(signal.SIGTERM)) == 128 + signal.SIGTERM
