"""The doubles placed on each platform under Pulumi's mocks, once per module."""

from __future__ import annotations

import pytest

from infra.render.mock_runtime import Recording
from tests.components.platform.doubles import on_docker, on_kubernetes
from tests.support import render


@pytest.fixture(scope="module")
def docker_stack() -> Recording:
    return render("t", program=on_docker)


@pytest.fixture(scope="module")
def kubernetes_stack() -> Recording:
    """Data protected, as in prod."""
    return render("t", program=lambda: on_kubernetes(protect=True))


@pytest.fixture(scope="module")
def kubernetes_unprotected() -> Recording:
    return render("t", program=lambda: on_kubernetes(protect=False))
