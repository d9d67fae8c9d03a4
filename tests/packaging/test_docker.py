"""The Dockerfile: hadolint-clean, two stages on Oracle Linux 8, a non-root runtime with a
health check. No Docker engine runs here, so the image is linted, not built.
"""

from __future__ import annotations

import re

from tests.conftest import ROOT
from tests.packaging.conftest import dev_tool, run

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_hadolint_finds_nothing() -> None:
    run([dev_tool("hadolint"), "Dockerfile"], cwd=ROOT)


def test_image_builds_the_rpm_then_installs_only_it_on_oracle_linux_8() -> None:
    steps = instructions()
    assert ("ARG", "BASE_IMAGE=oraclelinux:8") in steps
    froms = [args for word, args in steps if word == "FROM"]
    assert froms == ["${BASE_IMAGE} AS rpmbuild", "${BASE_IMAGE}"]
    final = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM") :]
    runs = " ".join(args for word, args in final if word == "RUN")
    assert "dnf -y install" in runs and "/tmp/rpms/*.rpm" in runs
    assert ("COPY", "--from=rpmbuild /rpms/ /tmp/rpms/") in final
    build_stage = " ".join(args for word, args in steps[: len(steps) - len(final)])
    assert "packaging/build-rpm.sh" in build_stage


def test_runtime_is_non_root_exposes_the_port_and_checks_health() -> None:
    from tcpchat.core import limits

    steps = dict(instructions()[::-1])  # the last of each instruction wins
    user = steps["USER"]
    assert user.isdigit() and int(user) != 0
    assert steps["EXPOSE"] == str(limits.DEFAULT_PORT)
    assert "tcp-client" in steps["HEALTHCHECK"] and "--probe" in steps["HEALTHCHECK"]
    assert steps["CMD"].startswith('["tcp-server"')
    assert "ENTRYPOINT" not in steps


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".git", ".venv", ".venv-*", "build", "dist"):
        assert entry in ignored, entry


def test_history_lives_in_a_volume_the_runtime_user_owns() -> None:
    """The RPM's server.conf puts data_dir in /var/lib/tcp-chat: the image makes it for USER."""
    steps = instructions()
    assert ("VOLUME", '["/var/lib/tcp-chat"]') in steps
    user = dict(steps[::-1])["USER"]
    runs = " ".join(args for word, args in steps if word == "RUN")
    assert f"install -d -m 0700 -o {user} -g {user} /var/lib/tcp-chat" in runs
