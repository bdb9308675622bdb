"""What a rule is: an id, what it requires and why, its level in each environment, and a check.

Rules are plain values so that the pack (`policies/pack.py`), the offline check
(`policies/offline.py`), the generated `docs/policies.md` and the tests all read the same
definitions. A resource rule looks at one resource; a stack rule looks at all of them, for
requirements that span resources (a PodDisruptionBudget for every Deployment).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from policies.view import Subject

ENVIRONMENTS = ("dev", "ephemeral", "prod")


class Enforcement(StrEnum):
    """The enforcement levels of CrossGuard, as its config files spell them."""

    MANDATORY = "mandatory"
    ADVISORY = "advisory"
    DISABLED = "disabled"


M, A, D = Enforcement.MANDATORY, Enforcement.ADVISORY, Enforcement.DISABLED


@dataclass(frozen=True)
class Levels:
    """A rule's level per environment. Security and data-safety rules are mandatory
    everywhere; prod is stricter for availability and supply chain."""

    dev: Enforcement
    ephemeral: Enforcement
    prod: Enforcement

    def of(self, environment: str) -> Enforcement:
        level: Enforcement = getattr(self, environment)
        return level


EVERYWHERE = Levels(M, M, M)
ADVISE_ALL_ENFORCE_PROD = Levels(A, A, M)
ADVISE_ALL = Levels(A, A, A)
PROD_ONLY = Levels(D, D, M)


@dataclass(frozen=True)
class Context:
    """What a check may read besides resources: the rule's config properties (defaults from
    its schema, overridden by the pack config) and whether secretness is visible."""

    config: Mapping[str, Any]
    # The engine hands policies plaintext with secretness removed (pulumi/pulumi-policy#241);
    # only the offline check keeps it.
    sees_secrets: bool = False


@dataclass(frozen=True)
class Violation:
    message: str
    subject: Subject | None = None  # None: the stack as a whole


ResourceCheck = Callable[[Subject, Context], Iterable[str]]
StackCheck = Callable[[Sequence[Subject], Context], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    id: str
    requires: str
    why: str
    levels: Levels
    # Public checkers with an equivalent check (kube-score, Polaris, kube-linter, Checkov, PSS).
    equivalents: tuple[str, ...] = ()
    # Resource types a resource rule looks at; a stack rule sees every resource.
    types: frozenset[str] = frozenset()
    check_resource: ResourceCheck | None = None
    check_stack: StackCheck | None = None
    # JSON-schema properties of the rule's config, with defaults.
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Whether the rule needs secretness, which only the offline check can see.
    needs_secrets: bool = False
    # Advisory rules may be waived for one workload with a reason (see policies/view.py);
    # security and data-safety rules never.
    waivable: bool = False

    def __post_init__(self) -> None:
        if (self.check_resource is None) == (self.check_stack is None):
            raise ValueError(f"{self.id}: exactly one of check_resource and check_stack")
        if self.waivable and Enforcement.MANDATORY in (self.levels.dev, self.levels.ephemeral):
            raise ValueError(f"{self.id}: a rule mandatory outside prod cannot be waivable")

    @property
    def is_stack_rule(self) -> bool:
        return self.check_stack is not None

    def defaults(self) -> dict[str, Any]:
        return {
            key: schema["default"] for key, schema in self.config.items() if "default" in schema
        }

    def evaluate_resource(self, subject: Subject, context: Context) -> list[Violation]:
        assert self.check_resource is not None
        if self.types and subject.type not in self.types:
            return []
        if self.waivable and subject.waiver(self.id):
            return []
        return [Violation(m, subject) for m in self.check_resource(subject, context)]

    def evaluate_stack(self, subjects: Sequence[Subject], context: Context) -> list[Violation]:
        assert self.check_stack is not None
        return [
            v
            for v in self.check_stack(subjects, context)
            if not (self.waivable and v.subject is not None and v.subject.waiver(self.id))
        ]


def resource_rule(
    id: str,
    requires: str,
    why: str,
    levels: Levels,
    types: Iterable[str],
    equivalents: tuple[str, ...] = (),
    **extra: Any,
) -> Callable[[ResourceCheck], Rule]:
    """Declare a resource rule on its check function."""

    def wrap(check: ResourceCheck) -> Rule:
        return Rule(
            id, requires, why, levels, equivalents, frozenset(types), check_resource=check, **extra
        )

    return wrap


def stack_rule(
    id: str,
    requires: str,
    why: str,
    levels: Levels,
    equivalents: tuple[str, ...] = (),
    **extra: Any,
) -> Callable[[StackCheck], Rule]:
    """Declare a stack rule on its check function."""

    def wrap(check: StackCheck) -> Rule:
        return Rule(id, requires, why, levels, equivalents, check_stack=check, **extra)

    return wrap
