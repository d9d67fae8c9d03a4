"""The RPM: built by packaging/build-rpm.sh, lint-clean, installed into a scratch root, and the
installed tcp-server and tcp-client talk to each other; the systemd unit and man pages check out.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from tcpchat.server.config import server_config
from tests.conftest import ServerProcess, join_peer, need_tool
from tests.packaging.conftest import (
    PACKAGING,
    ROOT,
    VERSION,
    Installed,
    build_rpm,
    find_interpreter,
    run,
    unit_venv,
)


def rpm_query(rpm: Path, *args: str) -> list[str]:
    return run([need_tool("rpm"), "-qp", *args, rpm]).stdout.splitlines()


def test_spec_version_and_changelog_match_the_package_version() -> None:
    spec = (PACKAGING / "tcp-chat.spec").read_text(encoding="utf-8")
    assert re.search(rf"^Version:\s+{re.escape(VERSION)}$", spec, re.M)
    latest = spec.split("%changelog", 1)[1].strip().splitlines()[0]
    assert latest.endswith(f" - {VERSION}-1"), latest


def test_rpm_is_named_with_version_release_and_dist_tag(el9_rpm: Path) -> None:
    assert el9_rpm.name == f"tcp-chat-{VERSION}-1.el9.noarch.rpm"


def test_rpmlint_reports_no_errors_or_warnings(el9_rpm: Path) -> None:
    result = run(
        [
            need_tool("rpmlint"),
            "--ignore-unused-rpmlintrc",
            "-c",
            PACKAGING / "rpmlint.toml",
            "-r",
            PACKAGING / "tcp-chat.rpmlintrc",
            el9_rpm,
            PACKAGING / "tcp-chat.spec",
        ],
        ok=False,
    )
    assert "0 errors, 0 warnings" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0


def test_rpm_puts_files_in_standard_paths(el9_rpm: Path) -> None:
    files = set(rpm_query(el9_rpm, "-l"))
    sitelib = next(p for p in files if p.endswith("/site-packages/tcpchat"))
    assert re.fullmatch(r"/usr/lib/python3\.\d+/site-packages/tcpchat", sitelib)
    for path in (
        "/usr/bin/tcp-server",
        "/usr/bin/tcp-client",
        f"{sitelib}/cli.py",
        f"{sitelib}/server/app.py",
        f"{sitelib}/core/hub.py",
        f"{sitelib}/client/ui.py",
        "/usr/lib/systemd/system/tcp-server.service",
        "/usr/lib/systemd/system/tcp-server@.service",
        "/etc/tcp-chat/server.conf",
        "/usr/share/man/man1/tcp-server.1.gz",
        "/usr/share/man/man1/tcp-client.1.gz",
    ):
        assert path in files, path
    assert any(p.endswith("/LICENSE") for p in files)
    assert any(p.endswith("/README.md") for p in files)
    # The path the docs and the unit quote, on EL and with Debian's rpm alike.
    assert "/usr/share/doc/tcp-chat/cluster-node.conf.example" in files
    assert not [p for p in files if p.startswith("/opt")]


def test_installed_readme_links_lead_to_installed_docs(el9_rpm: Path) -> None:
    """README.md and the docs it links to sit side by side as in a checkout, so a link such as
    ``docs/CLUSTER.md`` read in /usr/share/doc/tcp-chat leads to the file."""
    files = set(rpm_query(el9_rpm, "-l"))
    docdir = "/usr/share/doc/tcp-chat"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((docs/[^)#\s]+\.md)", readme))
    assert "docs/CLUSTER.md" in linked and "docs/PROTOCOL.md" in linked, linked
    for link in sorted(linked):
        assert f"{docdir}/{link}" in files, link
    # Every page of docs/ is shipped there, not only those README links to.
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"{docdir}/docs/{page.name}" in files, page.name


def test_server_conf_is_a_noreplace_config_file(el9_rpm: Path) -> None:
    flags = dict(
        line.split(" ", 1)[::-1]
        for line in rpm_query(el9_rpm, "--queryformat", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]")
    )
    assert flags["/etc/tcp-chat/server.conf"] == "cn"  # config, noreplace


def test_rpm_requires_the_interpreter_it_was_built_for(el9_rpm: Path) -> None:
    requires = rpm_query(el9_rpm, "--requires")
    assert "python3" in requires
    assert any(re.fullmatch(r"python\(abi\) = 3\.\d+", r) for r in requires), requires
    assert "/usr/bin/python3" in requires


def test_installed_commands_report_the_version(installed: Installed, tmp_path: Path) -> None:
    for command in ("tcp-server", "tcp-client"):
        result = run([installed.bin(command), "--version"], env=installed.env(tmp_path))
        assert result.stdout.splitlines()[0] == f"{command} {VERSION}"
    server = run([installed.bin("tcp-server"), "--version"], env=installed.env(tmp_path))
    assert server.stdout.splitlines()[1].startswith("history search: ")
    probe = run(
        [installed.interpreter("tcp-server"), "-c", "import tcpchat; print(tcpchat.__file__)"],
        env=installed.env(tmp_path),
    )
    assert probe.stdout.startswith(str(installed.root)), "imported from outside the scratch root"


def test_installed_server_and_client_chat_in_pipe_mode(
    installed: Installed, tmp_path: Path, programs: list[ServerProcess]
) -> None:
    """The RPM's tcp-server, with the RPM's server.conf, serves the RPM's tcp-client."""
    env = installed.env(tmp_path)
    conf = installed.root / "etc/tcp-chat/server.conf"
    # The packaged data_dir is /var/lib/tcp-chat (systemd's StateDirectory=): not here.
    assert "data_dir = /var/lib/tcp-chat" in conf.read_text(encoding="utf-8").splitlines()
    server = ServerProcess(
        tmp_path,
        "--config",
        str(conf),
        "--data-dir",
        str(tmp_path / "state"),
        env=env,
        command=[installed.bin("tcp-server")],
    )
    programs.append(server)
    port = server.port

    alice = join_peer(port, "alice")
    try:
        client = run(
            [installed.bin("tcp-client"), "--host", "127.0.0.1", "--port", str(port)]
            + ["--name", "bot"],
            input="hello from the rpm\n",
            env=env,
            cwd=tmp_path,
        )
        assert "*** You are bot. 2 users online: alice, bot." in client.stdout
        assert alice.expect(r"^<bot>") == "<bot> hello from the rpm"
    finally:
        alice.close()

    probe = run(
        [installed.bin("tcp-client"), "--probe", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        ok=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert server.stop() == 0, server.stderr()
    # The shipped server.conf keeps the log on stderr only: no log directory appears.
    assert not (tmp_path / "logs").exists()
    assert (tmp_path / "state" / "history.sqlite3").is_file()


def verify_unit(installed: Installed, tmp_path: Path, text: str, name: str) -> None:
    """``systemd-analyze verify`` and ``security`` of unit ``text``, saved as ``name``."""
    analyze = need_tool("systemd-analyze")
    # verify checks that ExecStart's program exists, so point it into the scratch root.
    copy = tmp_path / name
    copy.write_text(
        text.replace("ExecStart=/usr/bin/", f"ExecStart={installed.root}/usr/bin/"),
        encoding="utf-8",
    )
    verify = run([analyze, "verify", "--man=no", copy], ok=False)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    # Exposure on systemd's 0-100 scale (shown as 0.0-10.0); 1.2 when this was written.
    security = run([analyze, "security", "--offline=yes", "--threshold=20", copy], ok=False)
    assert security.returncode == 0, security.stdout + security.stderr


def test_systemd_unit_verifies_and_is_hardened(installed: Installed, tmp_path: Path) -> None:
    unit = installed.root / "usr/lib/systemd/system/tcp-server.service"
    text = unit.read_text(encoding="utf-8")
    for setting in (
        "DynamicUser=yes",
        "Restart=on-failure",
        "ExecStart=/usr/bin/tcp-server --config /etc/tcp-chat/server.conf",
        "LogsDirectory=tcp-chat",
        "StateDirectory=tcp-chat",
        "StateDirectoryMode=0700",
    ):
        assert setting in text.splitlines(), setting
    verify_unit(installed, tmp_path, text, "tcp-server.service")


def test_template_unit_runs_one_cluster_node_per_instance(
    installed: Installed, tmp_path: Path
) -> None:
    """tcp-server@a: its own config file, node name, state and log directories."""
    unit = installed.root / "usr/lib/systemd/system/tcp-server@.service"
    text = unit.read_text(encoding="utf-8")
    lines = text.splitlines()
    (start,) = [line for line in lines if line.startswith("ExecStart=")]
    for part in (
        "--config /etc/tcp-chat/server-%i.conf",
        "--node-name %i",
        "--data-dir /var/lib/tcp-chat-%i",
        "--log-dir /var/log/tcp-chat-%i",
    ):
        assert part in start, part
    for setting in ("StateDirectory=tcp-chat-%i", "LogsDirectory=tcp-chat-%i"):
        assert setting in lines, setting
    # An instance, as systemctl would load tcp-server@a.service from the template.
    verify_unit(installed, tmp_path, text, "tcp-server@a.service")


def test_man_pages_document_every_option_of_help(installed: Installed, tmp_path: Path) -> None:
    groff = need_tool("groff")
    for command in ("tcp-server", "tcp-client"):
        page = installed.root / f"usr/share/man/man1/{command}.1.gz"
        source = gzip.decompress(page.read_bytes()).decode("utf-8")
        rendered = run(
            [groff, "-man", "-Tutf8", "-ww"], input=source, env={"PATH": "/usr/bin:/bin"}
        )
        assert not rendered.stderr.strip(), rendered.stderr
        text = re.sub(r".\x08", "", rendered.stdout)  # overstrike bold/underline
        text = text.replace("\u2010", "-").replace("\u2212", "-")
        helptext = run([installed.bin(command), "--help"], env=installed.env(tmp_path)).stdout
        flags = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", helptext))
        assert "--host" in flags
        missing = sorted(flag for flag in flags if flag not in text)
        assert not missing, f"{command}(1) lacks {missing}"
        assert f"tcp-chat {VERSION}" in text


def test_el8_build_runs_on_python312(tmp_path: Path) -> None:
    """As on EL8: python3.12 from AppStream, site-packages of 3.12, .el8 in the name."""
    python = find_interpreter("3.12")
    if python is None:
        pytest.skip("no Python 3.12 here to build the el8 variant with")
    venv_python = unit_venv("3.12", python)  # has pytest, so %check runs the unit tests
    rpm = build_rpm(tmp_path, "--dist", "el8", "--python", venv_python)
    assert rpm.name == f"tcp-chat-{VERSION}-1.el8.noarch.rpm"
    requires = rpm_query(rpm, "--requires")
    for needed in ("python3.12", "python(abi) = 3.12", "/usr/bin/python3.12"):
        assert needed in requires, requires
    assert "/usr/lib/python3.12/site-packages/tcpchat/cli.py" in rpm_query(rpm, "-l")


def unit_settings(name: str) -> set[str]:
    """The settings of packaging/NAME's [Service] section, comments left out."""
    text = (PACKAGING / name).read_text(encoding="utf-8")
    service = text.split("[Service]", 1)[1].split("\n[", 1)[0]
    return {line for line in service.splitlines() if line and not line.startswith("#")}


def test_template_unit_has_the_hardening_of_the_plain_unit() -> None:
    """What differs between tcp-server.service and tcp-server@.service is per-instance only."""
    plain = unit_settings("tcp-server.service")
    template = unit_settings("tcp-server@.service")
    differ = {line.split("=", 1)[0] for line in plain ^ template}
    per_instance = {"ExecStart", "SyslogIdentifier", "StateDirectory", "LogsDirectory"}
    assert differ == per_instance | {"WorkingDirectory"}, differ


def test_cluster_node_example_is_a_server_config(tmp_path: Path) -> None:
    """The example node file is read by tcp-server as it is (the unit adds the node name)."""
    example = PACKAGING / "cluster-node.conf.example"
    config = server_config({"config": str(example), "node_name": "a"}, {})
    assert config.cluster.startswith("redis://")
    assert (config.port, config.node_name) == (54322, "a")
    assert config.cluster_wait > 0


def test_build_script_passes_shellcheck() -> None:
    run([need_tool("shellcheck"), PACKAGING / "build-rpm.sh"])


def test_make_rpm_target_calls_the_build_script() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nrpm:", 1)[1].split("\n\n", 1)[0]
    assert "packaging/build-rpm.sh" in recipe
