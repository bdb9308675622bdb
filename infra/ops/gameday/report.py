"""What a drill measured, against the stack's targets; the run's table and JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Measure:
    what: str
    value: float | None  # None: it never happened within the drill's bound
    unit: str  # s, rows, writes, requests
    target: float | None = None  # at most this; None: reported, not judged
    target_from: str = ""  # the setting (or promise) the target comes from

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value is not None and self.value <= self.target

    @property
    def shown(self) -> str:
        return "never" if self.value is None else f"{self.value:g} {self.unit}"

    @property
    def bound(self) -> str:
        return "" if self.target is None else f"≤ {self.target:g} {self.unit}"

    @property
    def verdict(self) -> str:
        return {True: "ok", False: "MISSED", None: ""}[self.met]

    def text(self) -> str:
        if self.target is None:
            return self.shown
        return f"{self.shown} (target {self.bound}, {self.target_from}: {self.verdict})"


@dataclass
class DrillResult:
    drill: str
    runbook: str  # the runbook the drill exercises, under docs/runbooks/
    measures: list[Measure] = field(default_factory=list)
    error: str = ""  # what stopped the drill, if anything did
    healthy_after: bool = False

    @property
    def passed(self) -> bool:
        return (
            not self.error and self.healthy_after and all(m.met is not False for m in self.measures)
        )


def table(results: list[DrillResult]) -> str:
    rows = [("drill", "measure", "value", "target", "")]
    for result in results:
        for m in result.measures:
            rows.append((result.drill, m.what, m.shown, m.bound, m.verdict))
        if result.error:
            rows.append((result.drill, "error", result.error, "", "FAILED"))
        rows.append((result.drill, "stack healthy after", "yes" if result.healthy_after else
                     "NO", "", "ok" if result.healthy_after else "FAILED"))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        for row in rows
    ).rstrip()


def as_json(stack: str, results: list[DrillResult]) -> str:
    return json.dumps(
        {
            "stack": stack,
            "passed": all(r.passed for r in results),
            "drills": [
                {**asdict(r), "passed": r.passed,
                 "measures": [{**asdict(m), "met": m.met} for m in r.measures]}
                for r in results
            ],
        },
        indent=2,
    )  # fmt: skip
