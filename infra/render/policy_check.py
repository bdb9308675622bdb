"""The policy pack as a `prodstack check` checker: the rendered resources, handed to the
pack's offline evaluation (policies/offline.py) as the engine would hand them over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.render.check import Checker, CheckSection, Finding
from infra.render.mock_runtime import Recording
from infra.render.render import RenderResult
from policies.offline import EngineResource, Evaluation, evaluate
from policies.rule import Level

STACK_TYPE = "pulumi:pulumi:Stack"


def engine_resources(recording: Recording, stack_urn: str = "") -> list[EngineResource]:
    """Every registered resource, plus the stack resource whose properties are the stack's
    outputs (what AnalyzeStack sees)."""
    resources = [
        EngineResource(
            r.type,
            r.name,
            r.urn,
            r.unredacted,
            protect=r.protect,
            parent=r.parent,
            secret_paths=r.secret_paths,
        )
        for r in recording.resources
    ]
    stack = next(
        (r.parent for r in recording.resources if r.parent.split("::")[2:3] == [STACK_TYPE]),
        stack_urn,
    )
    outputs: dict[str, Any] = dict(recording.plain_outputs)
    resources.append(
        EngineResource(
            STACK_TYPE,
            stack.rsplit("::", 1)[-1] if stack else "stack",
            stack,
            outputs,
            secret_paths=frozenset((key,) for key in recording.secret_outputs),
        )
    )
    return resources


def evaluate_recording(
    recording: Recording, environment: str, config: dict[str, Any] | None = None
) -> Evaluation:
    return evaluate(engine_resources(recording), environment, config)


def policy_checker(environment: str, config_file: Path | None = None) -> Checker:
    import json

    config = json.loads(config_file.read_text()) if config_file else None

    def check(result: RenderResult) -> CheckSection:
        evaluation = evaluate_recording(result.recording, environment, config)
        summary = (
            f"{evaluation.rules_run} rules at {environment} levels: "
            f"{len(evaluation.mandatory)} mandatory, {len(evaluation.advisory)} advisory violations"
        )
        if evaluation.waivers:
            summary += f"; {len(evaluation.waivers)} waived"
        findings = [
            Finding(
                f.rule,
                "mandatory" if f.level == Level.MANDATORY else "advisory",
                f.subject,
                f.message,
            )
            for f in evaluation.findings
        ]
        findings += [
            Finding(rule, "waived", subject, reason) for rule, subject, reason in evaluation.waivers
        ]
        findings += [
            Finding(rule, "not run", "preview", reason) for rule, reason in evaluation.not_run
        ]
        return CheckSection("policy pack", summary, findings)

    return check
