"""`prodstack check`: render, then run every checker over the result and report.

A checker is any callable taking the RenderResult and returning a section of findings
(policies/report.py); the policy pack (policy_check.py) plugs in as one more checker.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pulumi.runtime.rpc import UNKNOWN

from infra.render import consistency, kubernetes_schema, secret_scan
from infra.render.policy_check import policy_checker
from infra.render.render import RenderResult, render
from infra.render.stack_config import MissingStackFileError, StackConfigError
from infra.settings import SettingsError, parse_settings
from policies.report import FAILING, Finding, Level, Section

Checker = Callable[[RenderResult], Section]


@dataclass
class Report:
    stack: str
    sections: list[Section] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.sections for f in s.findings]

    @property
    def passed(self) -> bool:
        return not any(f.level in FAILING for f in self.findings)

    def text(self) -> str:
        lines = [f"prodstack check --stack {self.stack}"]
        for section in self.sections:
            status = "FAIL" if section.failed else "ok"
            lines.append(f"  {section.name:<18} {status:<5} {section.summary}")
            lines += [
                f"      {f.level} {f.check}: {f.subject}: {f.message}" for f in section.findings
            ]
        lines.append(f"result: {'passed' if self.passed else 'FAILED'}")
        return "\n".join(lines)


def schema_checker(version: str) -> Checker:
    def check(result: RenderResult) -> Section:
        # A first preview leaves some values unknown: those manifests cannot be validated yet.
        pending = [m for m in result.files.manifests if UNKNOWN in m.read_text()]
        manifests = [m for m in result.files.manifests if m not in pending]
        # A Docker stack has no manifests: nothing to load the schemas (and jsonschema) for.
        problems = (
            kubernetes_schema.validate(manifests, version, result.files.documents)
            if manifests
            else []
        )
        custom = [
            f"{r.inputs['kind']} {r.inputs['apiVersion']}"
            for r in result.recording.resources
            if r.type.startswith("kubernetes:")
            and "kind" in r.inputs
            and kubernetes_schema.is_custom_resource(r.inputs)
        ]
        unchecked = f"; custom resources without an upstream schema: {', '.join(custom)}"
        waiting = f"; {len(pending)} with values not known before the first update" * bool(pending)
        return Section(
            "kubernetes schema",
            f"{len(manifests)} manifests against Kubernetes {version}"
            + (unchecked if custom else "")
            + waiting,
            [
                Finding("kubernetes-schema", Level.ERROR, p.manifest.name, p.message)
                for p in problems
            ],
        )

    return check


def consistency_checker(result: RenderResult) -> Section:
    return consistency.section(consistency.manifests_of(result.recording.resources))


def secrets_checker(result: RenderResult) -> Section:
    files = result.files.all
    leaks = secret_scan.scan(files, result.recording.secret_values)
    return Section(
        "secrets",
        f"{len(result.recording.secret_values)} secret values, scanned {len(files)} files",
        [
            Finding(
                "secret-plaintext",
                Level.ERROR,
                str(leak.path.relative_to(result.files.root)),
                f"line {leak.line} holds a secret value in plaintext",
            )
            for leak in leaks
        ],
    )


def _located(error: str) -> tuple[str, str]:
    """`Pulumi.dev.yaml:4:3: duplicate key` -> ("Pulumi.dev.yaml:4:3", "duplicate key")."""
    where, _, message = error.partition(": ")
    return where, message


def run_check(
    root: Path,
    stack: str,
    out: Path | None = None,
    kubernetes_version: str | None = None,
    extra_checkers: Sequence[Checker] = (),
    policy_config: Path | None = None,
    preview: bool = False,
) -> Report:
    """Every problem with the stack is a finding of the report; only a stack that cannot be
    checked at all (no stack file: MissingStackFileError) raises. Without `out`, the rendered
    files live in a temporary directory for the checks and are removed after."""
    if out is not None:
        return _check(root, stack, out, kubernetes_version, extra_checkers, policy_config, preview)
    with tempfile.TemporaryDirectory(prefix=f"prodstack-{stack}-") as temporary:
        return _check(
            root,
            stack,
            Path(temporary),
            kubernetes_version,
            extra_checkers,
            policy_config,
            preview,
            temporary=True,
        )


def _check(
    root: Path,
    stack: str,
    out: Path,
    kubernetes_version: str | None,
    extra_checkers: Sequence[Checker],
    policy_config: Path | None,
    preview: bool,
    temporary: bool = False,
) -> Report:
    report = Report(stack)
    try:
        result = render(root, stack, out, preview=preview)
    except MissingStackFileError:
        raise
    except StackConfigError as error:
        report.sections.append(
            Section(
                "stack file",
                "invalid; nothing rendered",
                [Finding("stack-file", Level.ERROR, *_located(str(error)))],
            )
        )
        return report
    except SettingsError as error:
        report.sections.append(
            Section(
                "settings",
                "invalid; nothing rendered",
                [Finding("settings", Level.ERROR, "config", p) for p in error.problems],
            )
        )
        return report
    settings_summary = ", ".join(
        f"{k} {v}" for k, v in result.recording.outputs.items() if k in ("environment", "platform")
    )
    report.sections.append(Section("settings", f"valid ({settings_summary})"))
    if preview:
        unknown = sum(json.dumps(r.unredacted).count(UNKNOWN) for r in result.recording.resources)
        report.sections.append(
            Section("preview", f"as a first preview: {unknown} input values not known yet")
        )
    files = result.files
    where = "(removed after the check; --out keeps them)" if temporary else f"in {files.root}"
    report.sections.append(
        Section(
            "render",
            f"{len(result.recording.resources)} resources: {len(files.manifests)} Kubernetes "
            f"manifests, {len(files.docker_specs)} Docker specs, {len(files.config_files)} "
            f"config files {where}",
        )
    )
    settings, _ = parse_settings(result.config.values, result.config.secret_keys, stack)
    version = kubernetes_version or settings.kubernetes.schema_version
    checkers: list[Checker] = [
        schema_checker(version),
        consistency_checker,
        secrets_checker,
        policy_checker(settings.environment, policy_config),
    ]
    for checker in [*checkers, *extra_checkers]:
        report.sections.append(checker(result))
    return report
