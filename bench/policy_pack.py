"""All policy rules over generated stacks of growing size (not a timed test).

The prod stack's resources are replicated with new names until there are N of them; each size
is evaluated the way `prodstack check` does (props through the engine's Struct and the SDK's
proxies, every rule at prod levels). Prints seconds per size, and seconds per resource for the
stack rules, which should stay flat (linear time)."""

from __future__ import annotations

import copy
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.render.policy_check import engine_resources
from policies.catalog import RULES
from policies.offline import EngineResource, evaluate
from tests.support import render_shipped


def scaled(base: list[EngineResource], count: int) -> list[EngineResource]:
    out: list[EngineResource] = []
    copy_index = 0
    while len(out) < count:
        for r in base:
            if len(out) == count:
                break
            props = copy.deepcopy(dict(r.props))
            metadata = props.get("metadata")
            if isinstance(metadata, dict) and copy_index:
                metadata["name"] = f"{metadata.get('name')}-{copy_index}"
            out.append(
                EngineResource(
                    r.type,
                    f"{r.name}-{copy_index}",
                    f"{r.urn}-{copy_index}",
                    props,
                    r.protect,
                    r.parent,
                    r.secret_paths,
                )
            )
        copy_index += 1
    return out


def seconds(resources: list[EngineResource], rules: tuple = RULES, rounds: int = 5) -> float:  # type: ignore[type-arg]
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        evaluate(resources, "prod", rules=rules)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    base = engine_resources(render_shipped("prod"))
    stack_rules = tuple(r for r in RULES if r.is_stack_rule)
    print(
        f"{len(RULES)} rules ({len(stack_rules)} stack rules); prod stack has {len(base)} resources"
    )
    for count in (250, 500, 1000, 2000):
        resources = scaled(base, count)
        every = seconds(resources)
        stack_only = seconds(resources, stack_rules)
        print(
            f"{count:5d} resources: all rules {every:.3f} s; stack rules {stack_only:.3f} s ({stack_only / count * 1e6:.0f} µs per resource)"
        )


if __name__ == "__main__":
    main()
