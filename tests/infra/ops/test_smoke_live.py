"""`prodstack smoke` against the dev stack's edge (Debian's nginx, the rendered config) in
front of the reference API, on loopback: every check passes, and each can fail."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.cli import main
from tests.certificates import make_ca
from tests.components.edge.server import EdgeAndApi, edge_in_front_of_api
from tests.support import ROOT

pytestmark = pytest.mark.live


# The API's own limit raised out of reach, so a run of smoke tests (each request counts)
# never meets it: the authentication route's limit is the one under test.
ROOMY_API = {"rateLimits": {"api": {"rate": 1000, "per": "second", "burst": 2000}}}


@pytest.fixture(scope="module")
def stack() -> Iterator[EdgeAndApi]:
    with edge_in_front_of_api(edge_settings=ROOMY_API) as running:
        yield running


def smoke(stack: EdgeAndApi, *extra: str, ca: Path | None = None) -> tuple[int, str]:
    """The installed command, as a runbook runs it."""
    result = subprocess.run(
        [
            str(ROOT / ".venv/bin/prodstack"),
            "smoke",
            "--url",
            f"https://localhost:{stack.edge.https_port}",
            "--ca",
            str(ca or stack.ca[1]),
            "--http-url",
            f"http://localhost:{stack.edge.http_port}",
            # The test CA issues for a day; the default (14) is checked on its own below.
            *(extra or ("--min-days", "0")),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return result.returncode, result.stdout + result.stderr


def lines(report: str) -> dict[str, str]:
    """Check name -> its report line."""
    found = {}
    for line in report.splitlines()[1:-1]:
        verdict, name = line.split()[:2]
        found[name] = line
        assert verdict in ("PASS", "FAIL"), line
    return found


def test_every_check_passes_against_the_dev_edge(stack: EdgeAndApi) -> None:
    code, report = smoke(stack)
    assert code == 0, report
    checks = lines(report)
    assert set(checks) == {"https", "redirect", "headers", "health", "rate-limit", "frontend"}
    assert all(line.split()[0] == "PASS" for line in checks.values()), report
    assert "certificate for localhost valid until" in checks["https"]
    assert "-> 308 https://localhost/smoke?check=redirect" in checks["redirect"]
    assert "GET /health/live -> 200" in checks["health"]
    assert "429 at request" in checks["rate-limit"]
    # The API alone answers / (the frontend is off by default): nothing to revalidate.
    assert "no frontend: GET / is application/json" in checks["frontend"]
    assert report.splitlines()[-1] == "6 of 6 checks passed"


def test_an_untrusted_certificate_fails(stack: EdgeAndApi, tmp_path: Path) -> None:
    _, other_ca = make_ca(tmp_path)
    code, report = smoke(stack, "--min-days", "0", "--auth-path", "/api/items", ca=other_ca)
    assert code == 1
    checks = lines(report)
    assert checks["https"].split()[0] == "FAIL"
    assert "certificate not trusted" in checks["https"]
    assert checks["redirect"].split()[0] == "PASS"  # plain HTTP needs no certificate


def test_a_missing_route_and_an_unlimited_route_fail(stack: EdgeAndApi) -> None:
    # /api/items has the API's limit, out of reach here: 20 requests in a row pass.
    code, report = smoke(
        stack, "--min-days", "0", "--health-path", "/health/nowhere", "--auth-path", "/api/items"
    )
    assert code == 1
    checks = lines(report)
    assert "GET /health/nowhere -> 404" in checks["health"]
    assert checks["health"].split()[0] == "FAIL"
    assert "no 429 in 20 requests" in checks["rate-limit"]
    assert checks["https"].split()[0] == "PASS"


def test_bad_arguments_name_what_is_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["smoke", "--url", "http://localhost"]) == 2
    assert "--url must be an https:// URL" in capsys.readouterr().err
    assert main(["smoke", "--url", "https://localhost", "--ca", "/nonexistent.pem"]) == 2
    assert "--ca /nonexistent.pem: no such file" in capsys.readouterr().err


def test_a_certificate_close_to_expiry_fails(stack: EdgeAndApi) -> None:
    code, report = smoke(stack, "--auth-path", "/api/items")  # the default: 14 days
    assert code == 1
    assert "less than 14 days left" in lines(report)["https"]
