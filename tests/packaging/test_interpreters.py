"""The unit tests (tests/ without e2e/ and packaging/) under every supported Python found here.

Interpreters come from pyenv (``$(pyenv root)/versions``) or PATH. A missing version is skipped;
under CI=true at least one besides the default interpreter must be found. Each version gets a
cached venv (``.venv-py39`` ...) with the test tools pinned for it.
"""

from __future__ import annotations

import pytest

from tests.conftest import IN_CI, ROOT, child_env
from tests.packaging.conftest import (
    UNIT_VERSIONS,
    default_version,
    find_interpreter,
    run,
    unit_venv,
)

UNIT_TIMEOUT = 600.0


@pytest.mark.parametrize("version", UNIT_VERSIONS)
def test_unit_tests_pass_under(version: str) -> None:
    if version == default_version():
        pytest.skip(f"{version} is the default interpreter: make test runs the suite with it")
    python = find_interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} here (pyenv or PATH)")
    venv_python = unit_venv(version, python)
    result = run(
        [venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
        + ["--ignore=tests/e2e", "--ignore=tests/packaging"],
        timeout=UNIT_TIMEOUT,
        env=child_env(),
        cwd=ROOT,
        ok=False,
    )
    if result.returncode == 5:
        pytest.skip("no unit tests collected")
    if result.returncode != 0:
        pytest.fail(
            f"unit tests under Python {version} exited {result.returncode}:\n"
            + result.stdout[-8000:]
            + result.stderr[-4000:]
        )


def test_another_interpreter_than_the_default_is_found() -> None:
    others = [v for v in UNIT_VERSIONS if v != default_version() and find_interpreter(v)]
    if not others:
        message = f"none of {', '.join(UNIT_VERSIONS)} found besides the default interpreter"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
