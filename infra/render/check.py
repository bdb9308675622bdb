"""`prodstack check`: render, then run every checker over the result and report.

A checker is any callable taking the RenderResult and returning findings; the policy pack
plugs in as one more checker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from infra.render import kubernetes_schema, secret_scan
from infra.render.render import RenderResult, render
from infra.settings import SettingsError, parse_settings

# error and mandatory fail the check; the others are reported.
Level = Literal["error", "warning", "mandatory", "advisory", "waived", "not run"]
FAILING = ("error", "mandatory")


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    subject: str
    message: str


@dataclass
class CheckSection:
    name: str
    summary: str
    findings: list[Finding] = field(default_factory=list)


Checker = Callable[[RenderResult], CheckSection]


@dataclass
class Report:
    stack: str
    sections: list[CheckSection] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.sections for f in s.findings]

    @property
    def passed(self) -> bool:
        return not any(f.level in FAILING for f in self.findings)

    def text(self) -> str:
        lines = [f"prodstack check --stack {self.stack}"]
        for section in self.sections:
            status = "FAIL" if any(f.level in FAILING for f in section.findings) else "ok"
            lines.append(f"  {section.name:<18} {status:<5} {section.summary}")
            lines += [
                f"      {f.level} {f.check}: {f.subject}: {f.message}" for f in section.findings
            ]
        lines.append(f"result: {'passed' if self.passed else 'FAILED'}")
        return "\n".join(lines)


def schema_checker(version: str) -> Checker:
    def check(result: RenderResult) -> CheckSection:
        manifests = result.files.manifests
        problems = kubernetes_schema.validate(manifests, version)
        custom = [
            f"{r.inputs['kind']} {r.inputs['apiVersion']}"
            for r in result.recording.resources
            if r.type.startswith("kubernetes:")
            and "kind" in r.inputs
            and kubernetes_schema.is_custom_resource(r.inputs)
        ]
        unchecked = f"; custom resources without an upstream schema: {', '.join(custom)}"
        return CheckSection(
            "kubernetes schema",
            f"{len(manifests)} manifests against Kubernetes {version}"
            + (unchecked if custom else ""),
            [Finding("kubernetes-schema", "error", p.manifest.name, p.message) for p in problems],
        )

    return check


def secrets_checker(result: RenderResult) -> CheckSection:
    files = result.files.all
    leaks = secret_scan.scan(files, result.recording.secret_values)
    return CheckSection(
        "secrets",
        f"{len(result.recording.secret_values)} secret values, scanned {len(files)} files",
        [
            Finding(
                "secret-plaintext",
                "error",
                str(leak.path.relative_to(result.files.root)),
                f"line {leak.line} holds a secret value in plaintext",
            )
            for leak in leaks
        ],
    )


def run_check(
    root: Path,
    stack: str,
    out: Path | None = None,
    kubernetes_version: str | None = None,
    extra_checkers: Sequence[Checker] = (),
    policy_config: Path | None = None,
) -> Report:
    report = Report(stack)
    try:
        result = render(root, stack, out)
    except SettingsError as error:
        report.sections.append(
            CheckSection(
                "settings",
                "invalid; nothing rendered",
                [Finding("settings", "error", "config", p) for p in error.problems],
            )
        )
        return report
    settings_summary = ", ".join(
        f"{k} {v}" for k, v in result.recording.outputs.items() if k in ("environment", "platform")
    )
    report.sections.append(CheckSection("settings", f"valid ({settings_summary})"))
    files = result.files
    report.sections.append(
        CheckSection(
            "render",
            f"{len(result.recording.resources)} resources: {len(files.manifests)} Kubernetes "
            f"manifests, {len(files.docker_specs)} Docker specs, {len(files.config_files)} "
            f"config files in {files.root}",
        )
    )
    settings, _ = parse_settings(result.config.values, result.config.secret_keys, stack)
    version = kubernetes_version or settings.kubernetes.schema_version
    # Imported here: the policy checker builds on this module's findings.
    from infra.render.policy_check import policy_checker

    checkers: list[Checker] = [
        schema_checker(version),
        secrets_checker,
        policy_checker(settings.environment, policy_config),
    ]
    for checker in [*checkers, *extra_checkers]:
        report.sections.append(checker(result))
    return report
