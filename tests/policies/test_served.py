"""The pack served as the Pulumi CLI serves it: `policies/` alone, copied away from the project,
run by its own virtualenv made from policies/requirements.txt only (scripts/bootstrap), serving
the Analyzer gRPC service on 127.0.0.1. This test plays the engine's side with the SDK's
generated stubs and compares every answer with the offline evaluation."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from infra.render.mock_runtime import RecordedResource
from policies.catalog import BY_ID, RULES
from policies.offline import evaluate
from tests.live import require
from tests.policies.cases import CASES, Case
from tests.policies.stacks import resources
from tests.support import ROOT

PACK_PYTHON = ROOT / ".tools" / "policy-pack" / "bin" / "python"
# Rules that need to know which values are secret: the engine does not say (offline only).
OFFLINE_ONLY = {r.id for r in RULES if r.needs_secrets}


@dataclass
class ServedPack:
    stub: analyzer_pb2_grpc.AnalyzerStub

    def configure(self, config: dict[str, Any]) -> None:
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, entry in config.items():
            level = entry if isinstance(entry, str) else entry.get("enforcementLevel", "")
            settings = (
                {}
                if isinstance(entry, str)
                else {k: v for k, v in entry.items() if k != "enforcementLevel"}
            )
            properties = struct_pb2.Struct()
            properties.update(settings)
            request.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(enforcementLevel=_level(level), properties=properties)
            )
        self.stub.Configure(request)

    def analyze(
        self, stack: list[RecordedResource], only: set[str] | None = None
    ) -> tuple[dict[str, Counter[str]], Counter[str]]:
        """Diagnostics per rule: of each resource by URN (Analyze; those in `only` when
        given), and of the whole stack (AnalyzeStack)."""
        each: dict[str, Counter[str]] = {}
        whole = analyzer_pb2.AnalyzeStackRequest()
        for r in stack:
            if r.type == "pulumi:pulumi:Stack":
                continue
            properties = struct_pb2.Struct()
            properties.update(json.loads(json.dumps(r.props)))
            options = analyzer_pb2.AnalyzerResourceOptions(protect=r.protect, parent=r.parent)
            if only is None or r.urn in only:
                answer = self.stub.Analyze(
                    analyzer_pb2.AnalyzeRequest(
                        type=r.type, properties=properties, urn=r.urn, name=r.name, options=options
                    )
                )
                each[r.urn] = Counter(d.policyName for d in answer.diagnostics)
            whole.resources.append(
                analyzer_pb2.AnalyzerResource(
                    type=r.type,
                    properties=properties,
                    urn=r.urn,
                    name=r.name,
                    options=options,
                    parent=r.parent,
                )
            )
        answer = self.stub.AnalyzeStack(whole)
        return each, Counter(d.policyName for d in answer.diagnostics)

    def violations(self, stack: list[RecordedResource]) -> Counter[str]:
        """How many diagnostics of each rule, Analyze and AnalyzeStack together."""
        each, whole = self.analyze(stack)
        return served_counts(sum(each.values(), whole))


def served_counts(found: Counter[str]) -> Counter[str]:
    return Counter({rule: n for rule, n in found.items() if rule not in OFFLINE_ONLY})


# What Analyze says of each shipped resource, per stack at its own levels: a weakening's
# unchanged resources get the same answer, so only what it changed is sent again.
SHIPPED: dict[str, dict[str, Counter[str]]] = {}


def changed_by(weakened: list[RecordedResource], stack: str) -> set[str]:
    shipped = {r.urn: r for r in resources(stack)}
    return {r.urn for r in weakened if shipped.get(r.urn) != r}


def _level(name: str) -> int:
    return {"advisory": 0, "mandatory": 1, "disabled": 2, "remediate": 3}[name]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPack]:
    require(str(PACK_PYTHON))  # scripts/bootstrap makes it
    home = tmp_path_factory.mktemp("pack")
    # The pack and the runbooks one rule reads (observability-runbooks-exist), and nothing
    # else of the repository: no components/, no infra/, no project packages beside it.
    shutil.copytree(
        ROOT / "policies", home / "policies", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(ROOT / "docs" / "runbooks", home / "docs" / "runbooks")
    process = subprocess.Popen(
        [str(PACK_PYTHON), "-u", str(home / "policies" / "__main__.py")],
        cwd=home / "policies",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read() if process.stderr else port
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield ServedPack(analyzer_pb2_grpc.AnalyzerStub(channel))
        channel.close()
    finally:
        process.kill()
        process.wait()


def offline(stack: list[RecordedResource], environment: str) -> Counter[str]:
    evaluation = evaluate(stack, environment)
    return Counter(f.check for f in evaluation.findings if f.check not in OFFLINE_ONLY)


def test_the_served_pack_lists_every_rule_with_its_level_and_schema(served: ServedPack) -> None:
    info = served.stub.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "prodstack"
    policies = {p.name: p for p in info.policies}
    assert set(policies) == {r.id for r in RULES}
    for name, policy in policies.items():
        rule = BY_ID[name]
        assert policy.enforcementLevel == _level(rule.levels.prod.value), name
        schema = json_format.MessageToDict(policy.configSchema)
        assert set(schema.get("properties", {})) == set(rule.config), name


@pytest.mark.parametrize("stack", ["prod", "dev"])
def test_the_served_pack_finds_what_the_offline_check_finds(served: ServedPack, stack: str) -> None:
    config = json.loads((ROOT / "policies" / "config" / f"{stack}.json").read_text())
    served.configure(config)
    shipped = resources(stack)
    over_grpc = served.violations(shipped)
    assert over_grpc == offline(shipped, stack)
    if stack == "prod":
        assert over_grpc == Counter()  # the shipped prod stack passes


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_each_weakening_is_caught_over_grpc_as_offline(served: ServedPack, case: Case) -> None:
    """The weakenings of tests/policies/test_rules.py, each judged by the served pack at its
    stack's levels: what the rule reports is what it reports offline (the rules that need
    secretness are not applicable over gRPC, where the engine does not tell). The resources
    a weakening changed (or added) are sent again; the others get what the served pack said
    of them in the shipped stack; AnalyzeStack always gets the whole weakened stack."""
    served.configure(json.loads((ROOT / "policies" / "config" / f"{case.stack}.json").read_text()))
    if case.stack not in SHIPPED:
        SHIPPED[case.stack] = served.analyze(resources(case.stack))[0]
    weakened = resources(case.stack)
    case.weaken(weakened)
    changed = changed_by(weakened, case.stack)
    assert changed or len(weakened) < len(resources(case.stack)), "the weakening changed nothing"
    each, whole = served.analyze(weakened, only=changed)
    unchanged = [
        SHIPPED[case.stack][r.urn]
        for r in weakened
        if r.urn not in changed and r.urn in SHIPPED[case.stack]
    ]
    over_grpc = served_counts(sum([*each.values(), *unchanged], whole))
    assert over_grpc == offline(weakened, case.stack)
    if case.rule not in OFFLINE_ONLY:
        assert over_grpc[case.rule] > 0
