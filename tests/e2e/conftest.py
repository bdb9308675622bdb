"""The end-to-end suite needs a Docker engine (scripts/test starts one). Under CI=true a
missing engine is a failure like any skip (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import RunningStack, running_stack


def engine_available() -> str | None:
    try:
        import docker

        docker.from_env().ping()
    except Exception as error:
        return f"no Docker engine ({type(error).__name__}); scripts/test starts one"
    return None


@pytest.fixture(scope="session")
def stack() -> Iterator[RunningStack]:
    missing = engine_available()
    if missing:
        pytest.skip(missing)
    with running_stack() as running:
        print(
            f"\nthe stack was healthy {running.seconds_to_healthy:.1f} s after the first container"
        )
        yield running
