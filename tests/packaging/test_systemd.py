"""The RPM's units under a real systemd: tcp-server.service and tcp-server@.service started, used,
killed and stopped by systemd as PID 1, with every line of their hardening.

The container is this machine's own ``/usr`` booted by ``systemd-nspawn --volatile=yes`` (apt
``systemd-container``): ``/etc`` and ``/var`` start empty and are thrown away, ``/usr`` is an
overlay, so the RPM's files are copied in as ``rpm -i`` would put them without touching the host.
The container shares the host's network: the tests talk to the servers on 127.0.0.1 as users
would, and the nodes reach a redis-server the test starts on the host.

Two things differ from EL, both outside tcp-chat: Debian's python3 does not read
``/usr/lib/python3.X/site-packages`` (where the RPM puts tcpchat, as EL's does), so a ``.pth`` in
its dist-packages adds it; and the nodes' Redis client is put beside tcpchat as docs/CLUSTER.md
says to (``pip install 'redis[hiredis]'`` for the interpreter on tcp-server's ``#!`` line): the
packages of a venv of that interpreter with requirements-dev.txt's pins.

Needs root (systemd-nspawn), and the tools of .ci/run; without them the tests skip locally and
fail under CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI, WAIT, Peer, need_tool, poll_until
from tests.e2e.redis_server import RedisServer, free_port
from tests.packaging.conftest import PACKAGING, Installed, run, unit_venv

BOOT_TIMEOUT = 90.0  # seconds for the container's systemd to finish starting up
LEASE_S = 5.0  # a node's lease (core/limits.py): a restarted node may wait this long to join
# The Redis client and what it needs, copied from the venv beside tcpchat (async_timeout only
# exists there on Python before 3.11.3, where redis-py needs it).
CLIENT_PACKAGES = ("redis", "hiredis", "async_timeout")


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class Machine:
    """systemd booted in a container by ``systemd-nspawn``, ``payload`` (a tree of ``usr`` and
    ``etc``) copied over its ``/usr`` and ``/etc``; commands run inside it with ``nsenter``."""

    def __init__(self, payload: Path, log: Path) -> None:
        nspawn, self.nsenter = need_tool("systemd-nspawn"), need_tool("nsenter")
        self._log = open(log, "wb")  # noqa: SIM115 (closed in poweroff)
        self.log = log
        command = [nspawn, "--directory=/", "--volatile=yes", "--boot", "--console=passive"]
        command += ["--register=no", "--keep-unit", f"--machine=tcpchat-test-{os.getpid()}"]
        command += ["--overlay=/usr::/usr", f"--bind-ro={payload}:/payload"]
        command += ["--", "systemd.firstboot=off"]
        self.proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            self.pid = poll_until(self._init, "the container's systemd started", BOOT_TIMEOUT)
            state = poll_until(self._booted, "the container's systemd booted", BOOT_TIMEOUT)
            # degraded: units of the host's packages whose files in /etc are missing here fail.
            assert state in ("running", "degraded"), state
            self.run("cp", "-a", "/payload/usr/.", "/usr/")
            self.run("cp", "-a", "/payload/etc/.", "/etc/")
            self.systemctl("daemon-reload")
        except BaseException:
            self.poweroff()
            raise

    def _init(self) -> int | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"systemd-nspawn exited {self.proc.returncode}:\n{self.tail()}")
        for pid in children(self.proc.pid):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                return pid
        return None

    def _booted(self) -> str | None:
        """The system's state once start-up is over; None while its manager cannot be asked
        yet (no bus at first)."""
        state = self.run("systemctl", "is-system-running", "--wait", ok=False, timeout=BOOT_TIMEOUT)
        return state.stdout.strip() or None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def run(
        self, *command: str, ok: bool = True, timeout: float = WAIT * 3
    ) -> subprocess.CompletedProcess[str]:
        return run([self.nsenter, "-t", str(self.pid), "-a", *command], ok=ok, timeout=timeout)

    def systemctl(self, *args: str) -> str:
        return self.run("systemctl", "--no-pager", *args).stdout

    def show(self, unit: str, prop: str) -> str:
        return self.systemctl("show", "-P", prop, unit).strip()

    def journal(self, unit: str, *args: str) -> str:
        """The unit's journal as ``journalctl -o cat`` shows it; ``args`` add options
        (``-p warning``)."""
        return self.run("journalctl", "--no-pager", "-o", "cat", "-u", unit, *args).stdout

    def file(self, path: str) -> Path:
        """``path`` inside the container, seen from the host."""
        return Path(f"/proc/{self.pid}/root{path}")

    def poweroff(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # nspawn asks the container's systemd to power off
            try:
                self.proc.wait(BOOT_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)
        self._log.close()


def payload(
    installed: Installed, folder: Path, python: Path, ports: dict[str, int], url: str
) -> Path:
    """The RPM's ``usr`` and ``etc``, with: each server's port set in its file (the plain
    unit's server.conf and server-NAME.conf for each node, made from the shipped example as
    docs/CLUSTER.md does), the ``.pth`` Debian's python3 needs and the Redis client."""
    tree = folder / "payload"
    for top in ("usr", "etc"):
        shutil.copytree(installed.root / top, tree / top, symlinks=True)
    conf = tree / "etc/tcp-chat"
    plain = (conf / "server.conf").read_text(encoding="utf-8")
    (conf / "server.conf").write_text(set_port(plain, ports["plain"]), encoding="utf-8")
    example = (PACKAGING / "cluster-node.conf.example").read_text(encoding="utf-8")
    example = example.replace("cluster = redis://127.0.0.1:6379/0", f"cluster = {url}")
    for node in ("a", "b"):
        (conf / f"server-{node}.conf").write_text(set_port(example, ports[node]), encoding="utf-8")
    sitelib = installed.sitelib
    version = sitelib.parent.name  # python3.11
    dist = tree / "usr/lib/python3/dist-packages"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "tcp-chat-rpm.pth").write_text(f"/{sitelib.relative_to(installed.root)}\n")
    venv_site = python.parent.parent / "lib" / version / "site-packages"
    target = tree / sitelib.relative_to(installed.root)
    for name in CLIENT_PACKAGES:
        for found in [venv_site / name, *venv_site.glob(f"{name}-*.dist-info")]:
            if found.is_dir():
                shutil.copytree(found, target / found.name)
    assert (target / "redis").is_dir(), f"no redis-py in {venv_site}"
    return tree


def set_port(text: str, port: int) -> str:
    """A server file's ``text`` with ``port``, and log files on (in the unit's LogsDirectory)."""
    changed, count = re.subn(r"(?m)^port = \d+$", f"port = {port}", text)
    changed, files = re.subn(r"(?m)^log_file = no$", "log_file = yes", changed)
    assert count == 1 and files == 1, text
    return changed


def logged(machine: Machine, folder: str, text: str) -> bool:
    """Whether a log file the server wrote in ``folder`` (in the container) holds ``text``."""
    files = list(machine.file(folder).glob("chat-*.log"))
    return any(text in path.read_text(encoding="utf-8", errors="replace") for path in files)


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return {"plain": free_port(), "a": free_port(), "b": free_port()}


@pytest.fixture(scope="module")
def machine(
    installed: Installed, ports: dict[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Machine]:
    if os.geteuid() != 0:
        message = "systemd-nspawn needs root"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    system = Path("/usr/bin/python3")  # the #! line of the RPM's tcp-server built here
    if not system.exists():
        need_tool("/usr/bin/python3")
    version = run([system, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).stdout
    version = version.strip()
    built = installed.sitelib.parent.name
    assert built == f"python{version}", f"the RPM was built for {built}, /usr has {version}"
    folder = tmp_path_factory.mktemp("systemd")
    redis = RedisServer(folder / "redis")
    try:
        venv = unit_venv(version, system)
        tree = payload(installed, folder, venv, ports, redis.url)
        booted = Machine(tree, folder / "nspawn.log")
        try:
            yield booted
        finally:
            booted.poweroff()
    finally:
        redis.stop()


def connected(port: int) -> Peer | None:
    try:
        return Peer(port)
    except OSError:
        return None


def user(port: int, name: str) -> Peer:
    """``name`` logged in on the server at ``port``, once it listens (systemd just started it)."""
    peer = poll_until(lambda: connected(port), f"a server listening on {port}")
    peer.expect(r"^\*\*\* Enter your name:")
    peer.send(f"{name}\n")
    peer.expect(r"^\*\*\* You are ")
    return peer


def test_the_plain_unit_serves_as_a_dynamic_user_and_stops_cleanly(
    machine: Machine, ports: dict[str, int]
) -> None:
    machine.systemctl("start", "tcp-server")
    alice, bob = user(ports["plain"], "алиса"), user(ports["plain"], "bob")
    alice.send("привет\n")
    bob.expect(r"^<алиса> привет$")
    bob.send(b"caf\xe9\n")  # Latin-1, not UTF-8: a WARNING
    bob.expect(r"^!!! ")
    pid = machine.show("tcp-server", "MainPID")
    status = machine.run("cat", f"/proc/{pid}/status").stdout  # (the container's pid)
    uid = re.search(r"^Uid:\s+(\d+)", status, re.M)
    assert uid and int(uid.group(1)) != 0, status
    assert machine.file("/var/lib/tcp-chat/history.sqlite3").is_file()
    machine.systemctl("stop", "tcp-server")
    assert bob.closed()
    assert machine.show("tcp-server", "Result") == "success"
    assert machine.show("tcp-server", "ExecMainStatus") == "0"
    journal = machine.journal("tcp-server")
    assert "алиса -> ALL" in journal and re.search(r"^INFO +stopped$", journal, re.M), journal
    assert not re.search(r"^\d{4}-\d\d-\d\d ", journal, re.M), journal  # the journal's time only
    # Each line at its priority: -p warning shows the WARNING, not the INFO records.
    warnings = machine.journal("tcp-server", "-p", "warning")
    assert re.search(r"^WARNING \[#\d+ .*\] user error invalid_utf8: ", warnings, re.M), warnings
    assert "алиса -> ALL" not in warnings and "stopped" not in warnings, warnings
    assert logged(machine, "/var/log/tcp-chat", "алиса -> ALL")  # log_file = yes
    for peer in (alice, bob):
        peer.close()


def test_two_nodes_share_one_chat_beside_the_plain_unit(
    machine: Machine, ports: dict[str, int]
) -> None:
    """The template's instances and the plain unit run at once on one host (their state
    directories once clashed: status=238/STATE_DIRECTORY for whichever came second)."""
    machine.systemctl("start", "tcp-server", "tcp-server@a", "tcp-server@b")
    for unit in ("tcp-server", "tcp-server@a", "tcp-server@b"):
        assert machine.show(unit, "ActiveState") == "active", machine.journal(unit)
    anna, boris = user(ports["a"], "anna"), user(ports["b"], "борис")
    anna.expect(r"^\*\*\* борис joined")
    boris.send("из b\n")
    anna.expect(r"^<борис> из b$")
    boris.expect(r"^\*\*\* Delivered to ALL \(1 user\)")
    anna.send("/w борис тайна\n")
    boris.expect(r"^\[PM from anna\] тайна$")
    anna.expect(r"^\*\*\* Delivered to борис\.$")
    solo = user(ports["plain"], "solo")  # the standalone server is a chat of its own
    solo.send("/users\n")
    solo.expect(r"^\*\*\* 1 user online: solo\.$")
    assert machine.file("/var/lib/tcp-chat-a/history.sqlite3").is_file()
    assert machine.file("/var/lib/tcp-chat-b/history.sqlite3").is_file()
    assert logged(machine, "/var/log/tcp-chat-b", "борис -> ALL")
    for peer in (anna, boris, solo):
        peer.close()


def test_a_node_killed_is_restarted_by_systemd_and_joins_the_cluster_again(
    machine: Machine, ports: dict[str, int]
) -> None:
    machine.systemctl("start", "tcp-server@a", "tcp-server@b")
    boris = user(ports["b"], "boris2")
    anna = user(ports["a"], "anna2")
    boris.expect(r"^\*\*\* anna2 joined")
    # kill -9 of the server's process, as the OOM killer or an admin would (systemctl kill goes
    # over the unit's cgroup, which failed once with EIO beside another container).
    machine.run("kill", "-KILL", machine.show("tcp-server@a", "MainPID"))
    boris.expect(r"^\*\*\* anna2 left", timeout=LEASE_S + WAIT)
    assert anna.closed()
    poll_until(
        lambda: (
            machine.show("tcp-server@a", "NRestarts") == "1"
            and machine.show("tcp-server@a", "ActiveState") == "active"
        ),
        "systemd started node a again",
    )
    again = user(ports["a"], "anna2")  # the name was freed, and the new run joined
    boris.expect(r"^\*\*\* anna2 joined")
    assert machine.journal("tcp-server@a").count("joined the cluster as a") == 2
    for peer in (boris, again):
        peer.close()
