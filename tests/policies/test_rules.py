"""One case per rule: a deliberate weakening of a shipped stack that the rule reports with its
message, while the stack as shipped is not reported by it. Each case edits what the program
rendered (the engine's view of a component), so the rule is tested on the real resources."""

from __future__ import annotations

import pytest

from policies.catalog import BY_ID, RULES
from policies.offline import evaluate
from tests.policies.cases import CASES, Case, Resources
from tests.policies.stacks import resources


def findings(resources: Resources, rule_id: str, environment: str) -> list[str]:
    evaluation = evaluate(resources, environment, rules=[BY_ID[rule_id]])
    assert not evaluation.not_run
    return [f"{f.subject}: {f.message}" for f in evaluation.findings]


def test_every_rule_has_a_case() -> None:
    """At least one weakening per rule; a rule with several branches has one case each."""
    assert {c.rule for c in CASES} == {r.id for r in RULES}
    assert len(RULES) >= 55


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_rule_reports_the_weakening_and_not_the_shipped_stack(case: Case) -> None:
    environment = case.stack
    assert findings(resources(case.stack), case.rule, environment) == []
    weakened = resources(case.stack)
    case.weaken(weakened)
    reported = findings(weakened, case.rule, environment)
    assert any(case.message in line for line in reported), reported


def test_settings_that_cache_the_entry_points_long_fail_the_pack() -> None:
    """The same rules, reached through settings: index.html for an hour; any origin in prod."""
    from infra.render.policy_check import engine_resources
    from tests.support import render

    cached = render("dev", {"frontend": {"enabled": True, "cache": {"entryMaxAgeSeconds": 3600}}})
    reported = findings(list(engine_resources(cached)), "frontend-entry-cache", "dev")
    assert any("is cached 3600 s (more than 300)" in line for line in reported), reported
    # Dev may allow any origin without credentials: not prod's rule, and no credentials.
    anywhere = render("dev", {"edge": {"cors": {"allowedOrigins": ["*"]}}})
    resources = list(engine_resources(anywhere))
    assert findings(resources, "edge-cors-credentials", "dev") == []
    assert any("any origin" in line for line in findings(resources, "edge-cors-origins", "prod"))


def test_data_store_clients_come_from_the_connection_graph() -> None:
    """A new client the program declares (a pooler in front of Postgres) needs no change to
    the pack; one the program does not declare is reported, and a pinned list in the pack
    config holds the line whatever the program declares."""
    from tests.policies.stacks import props

    def admit(r: Resources, client: str, declare: bool) -> None:
        policy = props(r, ":NetworkPolicy", "postgres")["spec"]["ingress"][0]["from"]
        policy.append({"podSelector": {"matchLabels": {"app.kubernetes.io/name": client}}})
        if declare:
            annotations = props(r, ":StatefulSet", "postgres")["metadata"]["annotations"]
            clients = annotations["prodstack.dev/clients"]
            annotations["prodstack.dev/clients"] = clients.replace("5432=api", f"5432=api,{client}")

    rule = BY_ID["network-data-store-clients"]
    declared = resources("prod")
    admit(declared, "pgbouncer", declare=True)
    assert findings(declared, rule.id, "prod") == []
    undeclared = resources("prod")
    admit(undeclared, "pgbouncer", declare=False)
    assert any(
        "lets pgbouncer reach postgres on 5432; its clients are api" in f
        for f in findings(undeclared, rule.id, "prod")
    )
    pinned = evaluate(
        declared,
        "prod",
        rules=[rule],
        config={rule.id: {"dataStoreClients": {"postgres": ["api"]}}},
    )
    assert [f.message for f in pinned.findings] == [
        "NetworkPolicy prodstack-prod/postgres lets pgbouncer reach postgres on 5432; its "
        "clients are api"
    ]
