"""Evaluate the pack without the engine, the way the engine does.

For each resource the props go through the protobuf Struct the engine sends and the SDK's own
`deserialize_properties` and `unknown_checking_proxy`; each policy gets the SDK's
`ResourceValidationArgs` or `StackValidationArgs` with its config (schema defaults overlaid
with the environment's pack config) and its enforcement level from that config. An unknown
value stops a policy with an advisory note, as in the engine, and never a violation.

One difference, on purpose: the engine does not tell policies which values are secret, so the
rules that need it (`needs_secrets`) are not applicable there and run only here, where the
recording knows.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped]
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from policies.catalog import RULES
from policies.pack import context_of, policies
from policies.report import Finding, Level
from policies.rule import Enforcement, Rule
from policies.view import Subject


class EngineResource(Protocol):
    """A resource as the engine would send it: type, name, URN, properties, options. The
    recording of a rendered stack (infra/render/mock_runtime.py) is one."""

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def urn(self) -> str: ...
    @property
    def props(self) -> Mapping[str, Any]: ...
    @property
    def protect(self) -> bool: ...
    @property
    def parent(self) -> str: ...
    @property
    def secret_paths(self) -> frozenset[tuple[str | int, ...]]: ...


@dataclass
class Evaluation:
    environment: str
    # Violations, at their rule's level (mandatory or advisory).
    findings: list[Finding] = field(default_factory=list)
    # Rules the engine could not run during preview (unknown values), with the reason.
    not_run: list[Finding] = field(default_factory=list)
    waived: list[Finding] = field(default_factory=list)
    rules_run: int = 0

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.findings if f.level == Level.MANDATORY]

    @property
    def advisory(self) -> list[Finding]:
        return [f for f in self.findings if f.level == Level.ADVISORY]


def as_engine_props(props: Mapping[str, Any]) -> Any:
    """Through the protobuf Struct the engine sends, then the SDK's deserialization."""
    struct = struct_pb2.Struct()
    struct.update(props)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def _options(resource: EngineResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(resource.protect, [], False, [], None, [], resource.parent or None)  # type: ignore[arg-type]


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The evaluation allocates millions of small, acyclic objects that live until it ends;
    each cyclic collection would rescan all of them, which made large stacks superlinear
    (5,000 resources: half the time in the collector). Reference counting still frees them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def evaluate(
    resources: Sequence[EngineResource],
    environment: str,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    rules: Sequence[Rule] = RULES,
) -> Evaluation:
    """Every rule over the resources, with the environment's levels (or `config`, in the
    format of a --policy-pack-config file, which wins)."""
    with _no_cyclic_gc():
        return _evaluate(resources, environment, config, rules)


def _evaluate(
    resources: Sequence[EngineResource],
    environment: str,
    config: Mapping[str, Mapping[str, Any]] | None,
    rules: Sequence[Rule],
) -> Evaluation:
    evaluation = Evaluation(environment)
    built = {p.name: p for p in policies()}
    subjects = [
        Subject(
            r.type, r.name, r.urn, as_engine_props(r.props), r.protect, r.parent, r.secret_paths
        )
        for r in resources
    ]
    options = [_options(r) for r in resources]
    for rule in rules:
        overrides = _overrides(config or {}, rule.id)
        level = Enforcement(overrides.pop("enforcementLevel", rule.levels.of(environment)))
        properties = {**rule.defaults(), **overrides}
        if level == Enforcement.DISABLED:
            continue
        evaluation.rules_run += 1
        found: list[tuple[str, str]] = []  # (subject, message)
        try:
            if rule.needs_secrets:
                found = _with_secrets(rule, subjects, properties)
            elif rule.is_stack_rule:
                found = _run_stack_policy(built[rule.id], subjects, options, properties)
            else:
                found = _run_resource_policy(built[rule.id], rule, subjects, options, properties)
        except UnknownValueError as error:
            evaluation.not_run.append(Finding(rule.id, Level.NOT_RUN, "preview", error.message))
            continue
        evaluation.findings += [Finding(rule.id, Level(level.value), s, m) for s, m in found]
        if rule.waivable:
            evaluation.waived += [
                Finding(rule.id, Level.WAIVED, s.display, reason)
                for s in subjects
                if (reason := s.waiver(rule.id))
            ]
    return evaluation


def _overrides(config: Mapping[str, Any], rule_id: str) -> dict[str, Any]:
    """A rule's entry of a --policy-pack-config file: `"all"` sets every rule's level, and
    a level alone may stand for `{"enforcementLevel": level}`, as in CrossGuard."""
    entries = [config.get("all"), config.get(rule_id)]
    merged: dict[str, Any] = {}
    for entry in entries:
        if isinstance(entry, str):
            merged["enforcementLevel"] = entry
        elif isinstance(entry, Mapping):
            merged.update(entry)
    return merged


def _run_stack_policy(
    policy: Any,
    subjects: Sequence[Subject],
    options: Sequence[PolicyResourceOptions],
    config: Mapping[str, Any],
) -> list[tuple[str, str]]:
    display = {s.urn: s.display for s in subjects}
    found: list[tuple[str, str]] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append((display.get(urn or "", "stack"), message))

    resources = [
        PolicyResource(s.type, s.props, s.urn, s.name, o, None, None, [], {})
        for s, o in zip(subjects, options, strict=True)
    ]
    policy.validate(StackValidationArgs(resources, config), report)
    return found


def _run_resource_policy(
    policy: Any,
    rule: Rule,
    subjects: Sequence[Subject],
    options: Sequence[PolicyResourceOptions],
    config: Mapping[str, Any],
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for subject, opts in zip(subjects, options, strict=True):
        if rule.types and subject.type not in rule.types:
            continue

        def report(message: str, _: str | None = None, where: str = subject.display) -> None:
            found.append((where, message))

        args = ResourceValidationArgs(
            subject.type, subject.props, subject.urn, subject.name, opts, None, config
        )
        policy.validate(args, report)
    return found


def _with_secrets(
    rule: Rule, subjects: Sequence[Subject], properties: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """A rule that needs secretness, which only the recording knows."""
    context = context_of(rule, properties, sees_secrets=True)
    if rule.is_stack_rule:
        violations = rule.evaluate_stack(subjects, context)
    else:
        violations = [v for s in subjects for v in rule.evaluate_resource(s, context)]
    return [(v.subject.display if v.subject else "stack", v.message) for v in violations]
