"""The sdist and wheel from ``python -m build``: contents, and the wheel's commands in a venv."""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

from tests.conftest import ServerProcess, join_peer
from tests.packaging.conftest import VERSION, Dists, isolated_env, run


def test_sdist_carries_what_the_rpm_build_needs(dists: Dists) -> None:
    with tarfile.open(dists.sdist) as tar:
        names = set(tar.getnames())
    top = f"tcp_chat-{VERSION}"
    for path in (
        "packaging/tcp-chat.spec",
        "packaging/build-rpm.sh",
        "packaging/manpages.py",
        "packaging/tcp-server.service",
        "packaging/tcp-server@.service",
        "packaging/cluster-node.conf.example",
        "packaging/server.conf",
        "src/tcpchat/cli.py",
        "tests/conftest.py",
        "LICENSE",
        "README.md",
        "docs/PROTOCOL.md",
    ):
        assert f"{top}/{path}" in names, path
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_wheel_declares_both_console_scripts(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as whl:
        entry_points = whl.read(f"tcp_chat-{VERSION}.dist-info/entry_points.txt").decode()
        names = whl.namelist()
    assert "tcp-server = tcpchat.cli:server_main" in entry_points
    assert "tcp-client = tcpchat.cli:client_main" in entry_points
    assert {"tcpchat/server/app.py", "tcpchat/core/hub.py", "tcpchat/client/ui.py"} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "packaging/"))]


def test_wheel_installs_into_a_fresh_venv_and_its_commands_run(
    dists: Dists, tmp_path: Path, programs: list[ServerProcess]
) -> None:
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], timeout=300)
    vbin = venv / "bin"
    env = isolated_env(XDG_CONFIG_HOME=str(tmp_path))
    run([vbin / "python", "-m", "pip", "install", "--quiet", "--no-index", dists.wheel], env=env)

    for command in ("tcp-server", "tcp-client"):
        result = run([vbin / command, "--version"], env=env, cwd=tmp_path)
        assert result.stdout.splitlines()[0] == f"{command} {VERSION}"
    where = run([vbin / "python", "-c", "import tcpchat; print(tcpchat.__file__)"], env=env)
    assert where.stdout.startswith(str(venv)), where.stdout

    server = ServerProcess(tmp_path, "--no-log-file", env=env, command=[vbin / "tcp-server"])
    programs.append(server)
    port = server.port
    watcher = join_peer(port, "watcher")
    try:
        client = run(
            [vbin / "tcp-client", "--host", "127.0.0.1", "--port", str(port), "--name", "bot"],
            input="hello from the wheel\n",
            env=env,
            cwd=tmp_path,
        )
        assert "*** You are bot." in client.stdout
        assert watcher.expect(r"^<bot>") == "<bot> hello from the wheel"
    finally:
        watcher.close()
    assert server.stop() == 0
