"""The entry points' own words: --help (each default once, as people write it), where the usage
goes, and the one line an old Python gets instead of a traceback."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tcpchat.cli import client_parser, server_parser
from tests.conftest import WAIT, child_env


def _help(parser_name: str) -> str:
    parser = server_parser() if parser_name == "server" else client_parser()
    return " ".join(parser.format_help().split())  # argparse wraps where it likes


def _rows(parser_name: str) -> list[str]:
    """The help of each option, as --help prints it."""
    parser = server_parser() if parser_name == "server" else client_parser()
    return [action.help % {} for action in parser._actions if action.help and "env" in action.help]


@pytest.mark.parametrize("program", ["server", "client"])
def test_help_says_each_default_once_and_in_plain_words(program: str) -> None:
    rows = _rows(program)
    assert len(rows) > 10
    for row in rows:
        assert row.count("default") <= 1, row
        assert "default: ''" not in row
        assert not re.search(r"default: \d+\.0[;)]", row), row


def test_help_keeps_the_options_own_words_for_a_default() -> None:
    assert "(default: the system's) (env TCPCHAT_TLS_CA)" in _help("client")
    assert "(default: 10; env TCPCHAT_FLOOD_BURST)" in _help("server")
    assert "(default: 5; env TCPCHAT_WAIT)" in _help("client")


def _tcpchat(*args: str, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-m", "tcpchat", *args],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )


def test_module_help_goes_to_stdout_and_exits_0() -> None:
    done = _tcpchat("--help")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("usage: python -m tcpchat {server,client}")


def test_module_without_a_program_is_a_usage_error_on_stderr() -> None:
    done = _tcpchat()
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("usage: ")


OLD_PYTHON = "tcp-chat needs Python 3.9 or newer (this is Python 3.8)\n"


def test_an_old_python_gets_one_line_not_a_traceback() -> None:
    """Whatever the interpreter, the package's first lines refuse an old one (a stub version)."""
    stub = (
        "import runpy, sys; sys.version_info = (3, 8, 18, 'final', 0); "
        "runpy.run_module('tcpchat', run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", stub, "server", "--help"],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert (done.returncode, done.stdout, done.stderr) == (1, "", OLD_PYTHON)


def _old_pythons() -> list[str]:
    found = []
    for version in ("3.6", "3.7", "3.8"):
        pyenv = sorted(Path("/root/.pyenv/versions").glob(f"{version}.*/bin/python"))
        path = str(pyenv[-1]) if pyenv else shutil.which(f"python{version}")
        if path:
            found.append(path)
    return found


@pytest.mark.parametrize("python", _old_pythons() or [pytest.param("", marks=pytest.mark.skip)])
@pytest.mark.parametrize(
    "entry",
    [
        ["-m", "tcpchat", "server", "--help"],
        ["-c", "from tcpchat.cli import client_main; client_main()"],  # the console script
    ],
)
def test_a_real_old_python_gets_one_line_not_a_traceback(python: str, entry: list[str]) -> None:
    done = subprocess.run(
        [python, *entry], env=child_env(), capture_output=True, text=True, timeout=WAIT
    )
    assert done.returncode == 1
    line = r"tcp-chat needs Python 3\.9 or newer \(this is Python 3\.\d\)\n"
    assert re.fullmatch(line, done.stderr)


@pytest.mark.parametrize("program", ["server", "client"])
def test_a_setting_refused_in_the_config_file_is_one_line_and_exit_2(
    program: str, tmp_path: Path
) -> None:
    """Not the twenty lines of usage before it, which hid it in the journal."""
    conf = tmp_path / "bad.conf"
    conf.write_text(f"[{program}]\nbogus = 1\n", encoding="utf-8")
    done = _tcpchat(program, "--config", str(conf))
    assert (done.returncode, done.stdout) == (2, "")
    line = f"python -m tcpchat {program}: error: config file {conf}: unknown key 'bogus'"
    assert done.stderr.startswith(line) and done.stderr.count("\n") == 1, done.stderr


def _server_into_journal(tmp_path: Path, *args: str) -> tuple[int, str]:
    """``python -m tcpchat server ARGS`` with stderr a file that ``JOURNAL_STREAM`` names, as
    systemd names the journal's stream: its exit status and what it wrote there."""
    err = tmp_path / "journal"
    with err.open("w+b") as stream:
        found = os.fstat(stream.fileno())
        env = {**child_env(), "JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"}
        done = subprocess.run(
            [sys.executable, "-m", "tcpchat", "server", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stream,
            timeout=WAIT,
        )
    return done.returncode, err.read_text(encoding="utf-8")


def test_a_usage_error_in_the_journal_is_one_line_at_priority_err(tmp_path: Path) -> None:
    """Each line on stderr is a record of its own in the journal, at priority info unless it
    says otherwise: the usage before the error hid it from ``journalctl -p err``."""
    status, text = _server_into_journal(tmp_path, "--port", "many")
    assert status == 2
    assert re.fullmatch(
        r"<3>python -m tcpchat server: error: argument --port: .*'many'.*\n", text
    ), text
    conf = tmp_path / "bad.conf"
    conf.write_text("[server]\nbogus = 1\n", encoding="utf-8")
    status, text = _server_into_journal(tmp_path, "--config", str(conf))
    assert status == 2
    bad = f"config file {conf}: unknown key 'bogus' in [server]"
    assert text == f"<3>python -m tcpchat server: error: {bad}\n"


def test_a_usage_error_on_a_terminal_keeps_argparse_s_usage() -> None:
    done = _tcpchat("server", "--port", "many")
    assert done.returncode == 2
    assert done.stderr.startswith("usage: python -m tcpchat server"), done.stderr
    assert "error: argument --port:" in done.stderr and "<3>" not in done.stderr
