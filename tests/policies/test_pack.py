"""The pack as the engine runs it: policies, levels, config files, docs, unknown values."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationArgs, StackValidationPolicy
from pulumi_policy.policy import PolicyResourceOptions, _NotApplicableError
from pulumi_policy.proxy import unknown_checking_proxy

from policies.catalog import BY_ID, RULES
from policies.docs import SHIPPED_ADVISORIES, policies_markdown
from policies.offline import evaluate
from policies.pack import pack_config, policies
from policies.rule import Enforcement
from tests.policies.stacks import resources
from tests.support import ROOT

UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown sentinel


def args_for(
    type_: str, props: dict[str, Any], config: dict[str, Any] | None = None
) -> ResourceValidationArgs:
    options = PolicyResourceOptions(False, [], False, [], None, [], None)  # type: ignore[arg-type]
    return ResourceValidationArgs(
        type_, unknown_checking_proxy(props), "urn:x", "x", options, None, config
    )


def test_pack_defaults_to_prod_levels_and_types() -> None:
    built = {p.name: p for p in policies()}
    assert len(built) == len(RULES) >= 55
    assert built["k8s-image-digest"].enforcement_level == EnforcementLevel.MANDATORY
    assert built["k8s-probes-differ"].enforcement_level == EnforcementLevel.ADVISORY
    assert isinstance(built["network-default-deny"], StackValidationPolicy)


def test_a_policy_reports_through_the_engine_callback() -> None:
    policy = next(p for p in policies() if p.name == "docker-not-privileged")
    reported: list[str] = []
    policy.validate(
        args_for("docker:index/container:Container", {"privileged": True}),
        lambda m, urn=None: reported.append(m),
    )  # type: ignore[attr-defined]
    assert reported == ["the container is privileged"]


def test_rules_needing_secretness_are_not_applicable_under_the_engine() -> None:
    policy = next(p for p in policies() if p.name == "secrets-stored-as-secrets")
    with pytest.raises(_NotApplicableError):
        policy.validate(
            args_for("kubernetes:core/v1:Secret", {"stringData": {"a": "b"}}),
            lambda m, urn=None: None,
        )  # type: ignore[attr-defined]


def test_unknown_values_during_preview_report_nothing() -> None:
    """Every known value of every workload made unknown, as in a first preview."""

    def unknown(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: unknown(v) for k, v in value.items()}
        if isinstance(value, list):
            return [unknown(v) for v in value]
        return UNKNOWN_STRING

    stack = resources("prod")
    for resource in stack:
        if resource.type.startswith("kubernetes:apps/") or resource.type.endswith(":ConfigMap"):
            spec = resource.props.get("spec") or {}
            if "template" in spec:
                spec["template"]["spec"] = unknown(spec["template"]["spec"])
            if "data" in resource.props:
                resource.props["data"] = {k: UNKNOWN_STRING for k in resource.props["data"]}
    evaluation = evaluate(stack, "prod")
    assert [f for f in evaluation.findings if f.level == Enforcement.MANDATORY] == []


def test_config_files_and_docs_are_generated_from_the_pack() -> None:
    for environment in ("dev", "ephemeral", "prod"):
        shipped = json.loads((ROOT / "policies" / "config" / f"{environment}.json").read_text())
        assert shipped == pack_config(environment), "run: prodstack policies-doc"
    assert (ROOT / "docs" / "policies.md").read_text() == policies_markdown(), (
        "run: prodstack policies-doc"
    )


def test_config_file_overrides_levels_and_properties() -> None:
    stack = resources("prod")
    config = {
        "k8s-allowed-registries": {"enforcementLevel": "advisory", "allowedRegistries": ["ghcr.io"]}
    }
    evaluation = evaluate(stack, "prod", config, rules=[BY_ID["k8s-allowed-registries"]])
    assert evaluation.findings and {f.level for f in evaluation.findings} == {Enforcement.ADVISORY}
    assert any("quay.io" in f.message for f in evaluation.findings)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_advisories_are_justified(stack: str) -> None:
    evaluation = evaluate(resources(stack), stack)
    assert evaluation.mandatory == []
    assert {(stack, f.check) for f in evaluation.advisory} <= set(SHIPPED_ADVISORIES)


def test_check_exits_non_zero_on_a_mandatory_violation(tmp_path: Any) -> None:
    config = tmp_path / "strict.json"
    config.write_text(json.dumps({"observability-severities-routed": "mandatory"}))
    ok = subprocess.run(
        [str(ROOT / ".venv/bin/prodstack"), "check", "--stack", "dev"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout
    failed = subprocess.run(
        [
            str(ROOT / ".venv/bin/prodstack"),
            "check",
            "--stack",
            "dev",
            "--policy-config",
            str(config),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode != 0
    assert (
        "mandatory observability-severities-routed: Container prodstack-dev-alertmanager-alertmanager-files"
        in failed.stdout
    )


def test_pack_and_components_agree_on_the_labels_they_share() -> None:
    """The pack runs in its own virtualenv without the components, so it names them itself."""
    from components.platform import labels
    from policies import durability, view

    assert view.WAIVER_PREFIX == labels.WAIVER_PREFIX
    assert durability.VOLUME_PURPOSE_LABEL == labels.VOLUME_PURPOSE_LABEL
