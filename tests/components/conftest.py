"""The dev and prod stacks rendered once for every component test that reads them.

Component tests that can test the workload value a component builds do so; these are for
what only the placed stack shows (the files a container receives, how two components are
wired)."""

from __future__ import annotations

import pytest

from infra.render.mock_runtime import Recording
from tests.support import PROD, render


@pytest.fixture(scope="session")
def dev() -> Recording:
    return render("dev", {})


@pytest.fixture(scope="session")
def prod() -> Recording:
    return render("prod", PROD)
