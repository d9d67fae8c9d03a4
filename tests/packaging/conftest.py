"""Packaging test fixtures: the sdist, wheel and RPM are built once per session, in temp dirs.

The RPM tests use Debian's rpm/rpmbuild/rpmlint (installed by .ci/run); each test that needs a
tool goes through ``need_tool`` (skipped locally, a failure under CI=true).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI, ROOT, WAIT, ServerProcess, child_env, need_tool

PACKAGING = ROOT / "packaging"
BUILD_TIMEOUT = 600.0  # seconds for one build (sdist + wheel, or one rpmbuild with %check)
UNIT_VERSIONS = ("3.9", "3.12", "3.13")


def read_version() -> str:
    text = (ROOT / "src" / "tcpchat" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    assert match, "no __version__ in src/tcpchat/__init__.py"
    return match.group(1)


VERSION = read_version()


def run(
    cmd: Sequence[str | Path],
    *,
    timeout: float = WAIT * 3,
    ok: bool = True,
    **kwargs: object,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; with ``ok`` a non-zero exit fails the test with its output."""
    result = subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )
    if ok and result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, cmd))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


def dev_tool(name: str) -> str:
    """A tool from the test venv (requirements-dev.txt), else from PATH via ``need_tool``."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    return need_tool(name)


def isolated_env(**extra: str) -> dict[str, str]:
    """The environment for installed programs: no TCPCHAT_*, no PYTHONPATH to the checkout."""
    env = child_env(**extra)
    if "PYTHONPATH" not in extra:
        env.pop("PYTHONPATH", None)
    return env


# --- interpreters --------------------------------------------------------------------------


def pyenv_root() -> Path:
    pyenv = shutil.which("pyenv")
    if pyenv:
        result = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=WAIT)
        if result.returncode == 0 and result.stdout.strip():
            return Path(result.stdout.strip())
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def find_interpreter(version: str) -> Path | None:
    """The newest pyenv build of ``version`` (e.g. "3.9"), else ``python3.9`` on PATH."""
    builds = []
    for path in (pyenv_root() / "versions").glob(f"{version}.*/bin/python{version}"):
        patch = path.parent.parent.name[len(version) + 1 :]
        if patch.isdigit():
            builds.append((int(patch), path))
    if builds:
        return max(builds)[1]
    found = shutil.which(f"python{version}")
    return Path(found) if found else None


def default_version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def unit_requirements(version: str) -> list[str]:
    """Pins for the unit-test tools, and for redis-py (the cluster's extra, whose unit tests
    then run with the redis-py pip installs on that Python: 7.0 on 3.9, which takes fewer URL
    options): requirements-dev.txt's for 3.10+, older ones for 3.9."""
    if version == "3.9":
        source = Path(__file__).with_name("requirements-py39.txt")
    else:
        source = ROOT / "requirements-dev.txt"
    wanted = ("pytest==", "pytest-timeout==", "hypothesis==", "redis==", "hiredis==")
    lines = source.read_text(encoding="utf-8").splitlines()
    pins = (line.split("#")[0].strip() for line in lines)  # (a pin may have a comment)
    return sorted(pin for pin in pins if pin.startswith(wanted))


def unit_venv(version: str, python: Path) -> Path:
    """``.venv-py39`` and friends: cached between runs, rebuilt when the pins change.

    A lock file (outside the venv, which may be cleared) serialises concurrent test runs.
    """
    venv = ROOT / f".venv-py{version.replace('.', '')}"
    stamp = venv / ".unit-tools"
    wanted = "\n".join([str(python), *unit_requirements(version)]) + "\n"
    key = hashlib.sha256(str(venv).encode()).hexdigest()[:12]
    with open(Path(tempfile.gettempdir()) / f"tcpchat-{venv.name}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        vpy = venv / "bin" / "python"
        if not vpy.exists() or not stamp.exists() or stamp.read_text() != wanted:
            run([python, "-m", "venv", "--clear", venv], timeout=BUILD_TIMEOUT)
            run(
                [vpy, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
                + unit_requirements(version),
                timeout=BUILD_TIMEOUT,
            )
            stamp.write_text(wanted)
    return vpy


# --- built artefacts -----------------------------------------------------------------------


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """``python -m build``: the sdist, then the wheel built from that sdist."""
    try:
        import build  # noqa: F401
    except ImportError:
        message = "the 'build' package is not installed (requirements-dev.txt)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", out, ROOT], timeout=BUILD_TIMEOUT)
    return Dists(out / f"tcp_chat-{VERSION}.tar.gz", out / f"tcp_chat-{VERSION}-py3-none-any.whl")


def build_rpm(topdir: Path, *args: str | Path) -> Path:
    """Run packaging/build-rpm.sh; return the RPM it reports on its last line."""
    need_tool("rpmbuild")
    result = run(
        ["sh", PACKAGING / "build-rpm.sh", "--topdir", topdir, "--outdir", topdir / "out", *args],
        timeout=BUILD_TIMEOUT,
    )
    rpm = Path(result.stdout.strip().splitlines()[-1])
    assert rpm.is_file(), result.stdout
    return rpm


@pytest.fixture(scope="session")
def el9_rpm(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The RPM built from the sdist, named and built as on EL9 (the platform python3)."""
    return build_rpm(tmp_path_factory.mktemp("rpmbuild"), "--source", dists.sdist, "--dist", "el9")


@dataclass(frozen=True)
class Installed:
    """The RPM's files under a scratch root, as ``rpm -i --root`` put them."""

    root: Path

    @property
    def sitelib(self) -> Path:
        found = sorted(self.root.glob("usr/lib/python3*/site-packages/tcpchat"))
        assert len(found) == 1, f"tcpchat installed {len(found)} times: {found}"
        return found[0].parent

    def bin(self, name: str) -> Path:
        return self.root / "usr" / "bin" / name

    def env(self, home: Path) -> dict[str, str]:
        return isolated_env(PYTHONPATH=str(self.sitelib), XDG_CONFIG_HOME=str(home))

    def interpreter(self, command: str) -> str:
        """The interpreter named on the wrapper's #! line."""
        first = self.bin(command).read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("#!"), first
        return first[2:].split()[0]


@pytest.fixture(scope="session")
def installed(el9_rpm: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("scratch-root")
    # No scriptlets: the scratch root has no /bin/sh or systemctl to run them with.
    run([need_tool("rpm"), "-i", "--root", root, "--nodeps", "--noscripts", el9_rpm])
    return Installed(root)


# --- processes -----------------------------------------------------------------------------


@pytest.fixture
def programs() -> Iterator[list[ServerProcess]]:
    """Servers started by a test; whatever is still running at the end is stopped."""
    started: list[ServerProcess] = []
    yield started
    for program in started:
        program.stop()
