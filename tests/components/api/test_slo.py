"""The objectives' alerts as generated (their firing is tested by promtool in
tests/components/monitoring/test_rules.py)."""

from __future__ import annotations

import re

from components.api.slo import BURNS, bucket_bound, slo_alerts


def test_a_bucket_bound_matches_as_go_and_python_clients_write_it() -> None:
    for seconds, written in ((0.5, ("0.5",)), (1.0, ("1", "1.0")), (2.5, ("2.5",))):
        pattern = re.compile(bucket_bound(seconds))
        assert all(pattern.fullmatch(label) for label in written), seconds
        assert not pattern.fullmatch("10"), seconds


def test_the_workbooks_windows_and_rates_scaled_to_the_budget() -> None:
    """99.9 %: a 0.1 % budget; 14.4x of it over 1 h and 5 m pages, 1x over 3 d and 6 h warns."""
    alerts = {a.name: a for a in slo_alerts("api", 99.9, 500, 95)}
    assert set(alerts) == {
        "ApiErrorBudgetBurn",
        "ApiErrorBudgetBurnSlow",
        "ApiLatencyBudgetBurn",
        "ApiLatencyBudgetBurnSlow",
    }
    page = alerts["ApiErrorBudgetBurn"]
    assert page.severity == "critical"
    assert "[1h]))) > 0.0144" in page.expr and "[5m]))) > 0.0144" in page.expr
    assert "[6h]))) > 0.006" in page.expr and "[30m]))) > 0.006" in page.expr
    latency = alerts["ApiLatencyBudgetBurnSlow"]
    assert latency.severity == "warning" and "[3d]))) > 0.05" in latency.expr
    assert [severity for severity, _ in BURNS] == ["critical", "warning"]
