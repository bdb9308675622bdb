"""The policy pack as a `prodstack check` checker: the rendered resources, handed to the
pack's offline evaluation (policies/offline.py) as the engine would hand them over."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.render.mock_runtime import RecordedResource, Recording
from infra.render.render import RenderResult
from policies.offline import Evaluation, evaluate
from policies.report import Section

STACK_TYPE = "pulumi:pulumi:Stack"


def engine_resources(recording: Recording) -> list[RecordedResource]:
    """Every registered resource, plus the stack resource whose properties are the stack's
    outputs (what AnalyzeStack sees)."""
    stack = next(
        (r.parent for r in recording.resources if r.parent.split("::")[2:3] == [STACK_TYPE]),
        "",
    )
    outputs: dict[str, Any] = dict(recording.plain_outputs)
    stack_resource = RecordedResource(
        urn=stack,
        type=STACK_TYPE,
        name=stack.rsplit("::", 1)[-1] if stack else "stack",
        custom=False,
        parent="",
        inputs={},
        protect=False,
        retain_on_delete=False,
        depends_on=[],
        ignore_changes=[],
        unredacted=outputs,
        secret_paths=frozenset((key,) for key in recording.secret_outputs),
    )
    return [*recording.resources, stack_resource]


def evaluate_recording(
    recording: Recording, environment: str, config: dict[str, Any] | None = None
) -> Evaluation:
    return evaluate(engine_resources(recording), environment, config)


def policy_checker(
    environment: str, config_file: Path | None = None
) -> Callable[[RenderResult], Section]:
    config = json.loads(config_file.read_text()) if config_file else None

    def check(result: RenderResult) -> Section:
        evaluation = evaluate_recording(result.recording, environment, config)
        summary = (
            f"{evaluation.rules_run} rules at {environment} levels: "
            f"{len(evaluation.mandatory)} mandatory, {len(evaluation.advisory)} advisory violations"
        )
        if evaluation.waived:
            summary += f"; {len(evaluation.waived)} waived"
        findings = [*evaluation.findings, *evaluation.waived, *evaluation.not_run]
        return Section("policy pack", summary, findings)

    return check
