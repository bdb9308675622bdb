"""All policy rules over generated stacks of growing size (not a timed test).

The prod stack's resources are replicated until there are N of them, each copy a distinct
set of workloads: new names, and the app.kubernetes.io/name label (and every selector on it)
renamed, so that no rule sees two copies as one workload. Each size is evaluated the way
`prodstack check` does (props through the engine's Struct and the SDK's proxies, every rule at
prod levels). Prints seconds per size and per resource; goal (issue 15): the cost per resource
at 10,000 within 1.2x of that at 1,000.

    python bench/policy_pack.py [SIZE ...]      (default: 1000 2000 5000 10000)
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.render.mock_runtime import RecordedResource
from infra.render.policy_check import engine_resources
from policies.catalog import RULES
from policies.offline import evaluate
from tests.support import render_shipped

NAME_LABEL = re.compile(r'("app\.kubernetes\.io/name": ")([^"]+)(")')
GOAL_RATIO = 1.2


def copy_of(resource: RecordedResource, index: int) -> RecordedResource:
    if index == 0:
        return resource
    text = NAME_LABEL.sub(rf"\g<1>\g<2>-{index}\g<3>", json.dumps(resource.unredacted))
    props = json.loads(text)
    metadata = props.get("metadata")
    if isinstance(metadata, dict) and "name" in metadata:
        metadata["name"] = f"{metadata['name']}-{index}"
    return replace(
        resource,
        name=f"{resource.name}-{index}",
        urn=f"{resource.urn}-{index}",
        unredacted=props,
    )


def scaled(base: list[RecordedResource], count: int) -> list[RecordedResource]:
    stack = [r for r in base if r.type == "pulumi:pulumi:Stack"]
    body = [r for r in base if r.type != "pulumi:pulumi:Stack"]
    out: list[RecordedResource] = []
    index = 0
    while len(out) < count - len(stack):
        out += [copy_of(r, index) for r in body][: count - len(stack) - len(out)]
        index += 1
    return [*out, *stack]


def seconds(resources: list[RecordedResource]) -> float:
    started = time.perf_counter()
    evaluate(resources, "prod", rules=RULES)
    return time.perf_counter() - started


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 2000, 5000, 10000]
    base = engine_resources(render_shipped("prod"))
    print(f"{len(RULES)} rules; the prod stack has {len(base)} resources")
    per_resource: dict[int, float] = {}
    for count in sizes:
        resources = scaled(base, count)
        elapsed = seconds(resources)
        per_resource[count] = elapsed / count
        print(f"{count:6d} resources: {elapsed:7.2f} s, {elapsed / count * 1e6:6.0f} µs each")
    if len(sizes) > 1:
        ratio = per_resource[sizes[-1]] / per_resource[sizes[0]]
        verdict = "meets" if ratio <= GOAL_RATIO else "MISSES"
        print(
            f"per-resource cost at {sizes[-1]} is {ratio:.2f}x that at {sizes[0]} "
            f"({verdict} the {GOAL_RATIO}x goal)"
        )


if __name__ == "__main__":
    main()
