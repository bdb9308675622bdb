"""The rules as CrossGuard policies, and the pack's configuration for each environment.

`policies()` is what `policies/__main__.py` hands to `PolicyPack` and what the offline check
runs; `pack_config(environment)` is the file `pulumi preview --policy-pack-config` reads
(policies/config/<environment>.json, generated and kept in sync by a test). Without a config
file the pack enforces prod's levels: the stricter choice is the default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.catalog import RULES
from policies.rule import ENVIRONMENTS, Context, Enforcement, Rule
from policies.view import Subject

PACK_NAME = "prodstack"
DEFAULT_ENVIRONMENT = "prod"
NOT_VISIBLE = (
    "CrossGuard gives policies plaintext without saying what is secret "
    "(pulumi/pulumi-policy#241); `prodstack check` runs this rule"
)
LEVELS = {
    Enforcement.MANDATORY: EnforcementLevel.MANDATORY,
    Enforcement.ADVISORY: EnforcementLevel.ADVISORY,
    Enforcement.DISABLED: EnforcementLevel.DISABLED,
}


def context_of(rule: Rule, config: Mapping[str, Any] | None, sees_secrets: bool) -> Context:
    return Context({**rule.defaults(), **(config or {})}, sees_secrets)


def subject_of(args: ResourceValidationArgs) -> Subject:
    return Subject(
        args.resource_type,
        args.name,
        args.urn,
        args.props,
        protect=bool(args.opts.protect),
        parent=args.opts.parent or "",
    )


def stack_subjects(args: StackValidationArgs) -> list[Subject]:
    return [
        Subject(r.resource_type, r.name, r.urn, r.props, bool(r.opts.protect), r.opts.parent or "")
        for r in args.resources
    ]


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if rule.types and args.resource_type not in rule.types:
            return
        if rule.needs_secrets:
            args.not_applicable(NOT_VISIBLE)
        for violation in rule.evaluate_resource(
            subject_of(args), context_of(rule, args.get_config(), sees_secrets=False)
        ):
            report(violation.message, None)

    return ResourceValidationPolicy(rule.id, rule.requires, validate, **_common(rule))


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        if rule.needs_secrets:
            args.not_applicable(NOT_VISIBLE)
        context = context_of(rule, args.get_config(), sees_secrets=False)
        for violation in rule.evaluate_stack(stack_subjects(args), context):
            report(violation.message, violation.subject.urn if violation.subject else None)

    return StackValidationPolicy(rule.id, rule.requires, validate, **_common(rule))


def _common(rule: Rule) -> dict[str, Any]:
    return {
        "enforcement_level": LEVELS[rule.levels.of(DEFAULT_ENVIRONMENT)],
        "config_schema": PolicyConfigSchema({k: dict(v) for k, v in rule.config.items()})
        if rule.config
        else None,
        "remediation_steps": rule.why,
        "tags": [rule.id.split("-", 1)[0]],
    }


def policies() -> list[Policy]:
    return [_stack_policy(r) if r.is_stack_rule else _resource_policy(r) for r in RULES]


def pack_config(environment: str) -> dict[str, Any]:
    """The --policy-pack-config file for an environment: each rule's level there."""
    if environment not in ENVIRONMENTS:
        raise ValueError(
            f"environment must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}"
        )
    return {rule.id: {"enforcementLevel": rule.levels.of(environment).value} for rule in RULES}


def write_configs(directory: Path) -> list[Path]:
    """policies/config/<environment>.json for every environment."""
    written = []
    for environment in ENVIRONMENTS:
        target = directory / f"{environment}.json"
        target.write_text(json.dumps(pack_config(environment), indent=2) + "\n")
        written.append(target)
    return written
