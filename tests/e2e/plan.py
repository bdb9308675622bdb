"""The engine's plan of one update, from the previous and the next render of a stack, by the
rules of the Pulumi engine and of the providers the Docker stack uses. Test support: the
end-to-end applier (engine.py) executes it, so a change to a running stack happens in the
order and the manner `pulumi up` would give it.

The engine (pulumi/pulumi, pkg/resource/deploy/step_generator.go and
deployment_executor.go):
- a resource registered under a URN the previous state lacks is created; one the program no
  longer registers is deleted;
- a resource whose provider reports no difference is the same; else it is updated in place,
  or replaced when a changed input is one the provider replaces for;
- a replacement creates the new resource first, and deletes the old one "after all
  creates/updates finish", unless it is delete-before-replace: the program's
  `deleteBeforeReplace` when it sets one ("The user can override the provider's decision"),
  else the provider's;
- delete-before-replace deletes the old resource at once, first deleting every resource
  depending on it that would be replaced by the change (calculateDependentReplacements:
  those whose inputs came from it, for an input their provider replaces for);
- an input that came from a resource being created or replaced is unknown until then, and
  counts as changed (the preview shows it as a computed value);
- deletes come after every create and update (performPostSteps: GenerateDeletes, then
  ScheduleDeletes), in reverse dependency order, each antichain in parallel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Op = Literal["create", "update", "replace", "delete"]


class UnknownFieldError(AssertionError):
    """The program renders a field these rules do not classify: classify it, or the plan
    would be guessed."""


@dataclass(frozen=True)
class ProviderRules:
    """How a provider diffs a resource type: the inputs it replaces for (None: every one),
    the ones its update applies, and the ones it only records in the state."""

    replaces: frozenset[str] | None
    updates: frozenset[str] = frozenset()
    recorded: frozenset[str] = frozenset()
    delete_before_replace: bool = False

    def classify(self, kind: str, key: str) -> str:
        if self.replaces is None or key in self.replaces:
            return "replace"
        if key in self.updates:
            return "update"
        if key in self.recorded:
            return "recorded"
        raise UnknownFieldError(f"{kind}: the provider's handling of {key!r} is not known here")


# kreuzwerker/terraform-provider-docker v4.5.0 (what pulumi-docker bridges), under the names
# pulumi-docker gives them. Replaced for: every field of `docker_container` marked ForceNew
# (internal/provider/resource_docker_container.go). Updated in place: what
# resourceDockerContainerUpdate applies (restart, memory, memory_reservation, memory_swap,
# cpu_shares, cpu_set; must_run false to true starts it: resource_docker_container_funcs.go).
# Neither ForceNew nor applied: a change is recorded in the state, and never reaches the
# container (healthcheck, tmpfs, init), or only matters to the provider itself.
CONTAINER_REPLACED_FOR = frozenset({
    "capabilities", "command", "cpus", "entrypoints", "envs", "image", "labels", "logDriver",
    "logOpts", "mounts", "name", "networkMode", "networksAdvanced", "ports", "privileged",
    "readOnly", "securityOpts", "stopTimeout", "uploads", "user",
})  # fmt: skip
CONTAINER_UPDATED = frozenset(
    {"restart", "memory", "memoryReservation", "memorySwap", "cpuShares", "cpuSet", "mustRun"}
)
CONTAINER_RECORDED = frozenset({
    "attach", "logs", "start", "wait", "waitTimeout", "destroyGraceSeconds", "healthcheck",
    "tmpfs", "init", "rm",
})  # fmt: skip
CONTAINER = ProviderRules(
    replaces=CONTAINER_REPLACED_FOR,
    updates=CONTAINER_UPDATED,
    recorded=CONTAINER_RECORDED,
    # pulumi-docker provider/resources.go: `docker_container` has DeleteBeforeReplace: true.
    delete_before_replace=True,
)
RULES: Mapping[str, ProviderRules] = {
    "docker:index/container:Container": CONTAINER,
    # Every field of docker_volume and docker_network is ForceNew (resource_docker_volume.go,
    # resource_docker_network.go).
    "docker:index/volume:Volume": ProviderRules(replaces=None),
    "docker:index/network:Network": ProviderRules(replaces=None),
    # pulumi-docker's own Image (provider/provider.go, Diff): any change is an update, a
    # rebuild under the same resource.
    "docker:index/image:Image": ProviderRules(
        replaces=frozenset(),
        updates=frozenset({"build", "imageName", "skipPush"}),
        recorded=frozenset({"buildOnPreview"}),
    ),
}
# pulumi-random and pulumi-tls: every input is ForceNew.
WHOLLY_REPLACED = ("random:", "tls:")


def rules_for(kind: str) -> ProviderRules:
    if kind in RULES:
        return RULES[kind]
    if kind.startswith(WHOLLY_REPLACED):
        return ProviderRules(replaces=None)
    raise UnknownFieldError(f"{kind}: no provider rules for this resource type")


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    name: str
    custom: bool
    inputs: Mapping[str, Any]
    depends_on: frozenset[str] = frozenset()
    property_dependencies: Mapping[str, frozenset[str]] = field(default_factory=dict)
    delete_before_replace: bool | None = None
    retain_on_delete: bool = False

    @classmethod
    def of(cls, recorded: Mapping[str, Any], inputs: Mapping[str, Any]) -> Resource:
        """From an entry of resources.json (RecordedResource.as_json) and its inputs."""
        options = recorded["options"]
        return cls(
            urn=recorded["urn"],
            type=recorded["type"],
            name=recorded["name"],
            custom=recorded["custom"],
            inputs=inputs,
            depends_on=frozenset(options["dependsOn"]),
            property_dependencies={
                k: frozenset(v) for k, v in (options.get("propertyDependencies") or {}).items()
            },
            delete_before_replace=options.get("deleteBeforeReplace"),
            retain_on_delete=bool(options.get("retainOnDelete")),
        )

    @property
    def deletes_first(self) -> bool:
        if self.delete_before_replace is not None:
            return self.delete_before_replace
        return rules_for(self.type).delete_before_replace


@dataclass(frozen=True)
class Step:
    op: Op
    resource: Resource  # the new one; the old one for a delete
    # The inputs that differ (computed ones included).
    keys: tuple[str, ...] = ()
    # A replacement whose old resource is deleted before the new one is created.
    delete_first: bool = False
    # Changed inputs the provider records and never applies (an update's).
    unapplied: tuple[str, ...] = ()

    @property
    def symbol(self) -> str:
        if self.op == "replace":
            return "-+" if self.delete_first else "+-"
        return {"create": "+", "update": "~", "delete": "-"}[self.op]


@dataclass
class Plan:
    # Creates, updates and replacements, in the program's registration order.
    changes: list[Step]
    # Deletes of removed resources and of replaced ones created first: after every change,
    # in antichains of reverse dependency order (each may run in parallel).
    deletes: list[list[Step]]
    # Old resources deleted before their replacement (and their dependents), by the URN of
    # the replacement that deletes them: dependents first.
    deleted_first: dict[str, list[Resource]]

    def step(self, name: str) -> Step | None:
        """The change planned for the resource of this logical name, if any."""
        return next((s for s in self.changes if s.resource.name == name), None)

    def deleted(self, name: str) -> bool:
        return any(s.resource.name == name for chain in self.deletes for s in chain)

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for step in [*self.changes, *(s for chain in self.deletes for s in chain)]:
            if step.op == "delete" and any(
                c.op == "replace" and c.resource.urn == step.resource.urn for c in self.changes
            ):
                continue  # the old half of a replacement
            counts[step.op] = counts.get(step.op, 0) + 1
        return counts

    def render(self) -> str:
        """As `pulumi preview` lists it: one line per step, then the counts."""
        lines = []
        for step in self.changes:
            what = f"{step.symbol} {step.resource.type} {step.resource.name}"
            if step.keys:
                what += f"  [{', '.join(step.keys)}]"
            if step.unapplied:
                what += f"  (recorded, never applied: {', '.join(step.unapplied)})"
            lines.append(what)
        for chain in self.deletes:
            lines += [f"- {s.resource.type} {s.resource.name}" for s in chain]
        counts = ", ".join(f"{n} to {op}" for op, n in sorted(self.summary().items()))
        return "\n".join([*lines, f"Resources: {counts or 'no changes'}"])


def plan(previous: Iterable[Resource], following: Iterable[Resource]) -> Plan:
    old = {r.urn: r for r in previous}
    new = {r.urn: r for r in following}
    changes: list[Step] = []
    unknown: set[str] = set()  # URNs whose outputs are not known until applied
    deleted_first: dict[str, list[Resource]] = {}
    already_deleted: set[str] = set()
    for urn, resource in new.items():
        if not resource.custom:
            continue  # a component: no provider, nothing to do
        before = old.get(urn)
        if before is None:
            changes.append(Step("create", resource))
            unknown.add(urn)
            continue
        step = diff(before, resource, unknown)
        if step is None:
            continue
        if step.op == "replace":
            unknown.add(urn)
            if step.delete_first and urn not in already_deleted:
                cascade = dependent_replacements(before, old)
                deleted_first[urn] = cascade
                already_deleted.update(r.urn for r in cascade)
            if urn in already_deleted:
                step = Step("replace", resource, step.keys, delete_first=True)
        changes.append(step)
    condemned = [r for urn, r in old.items() if urn not in new and r.custom]
    condemned += [old[s.resource.urn] for s in changes if s.op == "replace" and not s.delete_first]
    return Plan(changes, schedule_deletes(condemned, old), deleted_first)


def diff(before: Resource, after: Resource, unknown: set[str]) -> Step | None:
    rules = rules_for(after.type)
    keys = sorted(set(before.inputs) | set(after.inputs))
    changed = [k for k in keys if before.inputs.get(k) != after.inputs.get(k)]
    computed = [k for k, sources in after.property_dependencies.items() if sources & unknown]
    changed = sorted(set(changed) | set(computed))
    if not changed:
        return None
    kinds = {k: rules.classify(after.type, k) for k in changed}
    if "replace" in kinds.values():
        return Step("replace", after, tuple(changed), delete_first=after.deletes_first)
    unapplied = tuple(k for k, kind in kinds.items() if kind == "recorded")
    return Step("update", after, tuple(changed), unapplied=unapplied)


def dependent_replacements(root: Resource, old: Mapping[str, Resource]) -> list[Resource]:
    """`root` and what the engine deletes with it before replacing it: every resource whose
    inputs came from one being replaced, for an input its provider replaces for; dependents
    first (the order they are deleted in)."""
    replaced = {root.urn}
    order = [root]
    grew = True
    while grew:
        grew = False
        for resource in old.values():
            if resource.urn in replaced or not resource.custom:
                continue
            rules = rules_for(resource.type)
            if any(
                sources & replaced and rules.classify(resource.type, key) == "replace"
                for key, sources in resource.property_dependencies.items()
            ):
                replaced.add(resource.urn)
                order.append(resource)
                grew = True
    return list(reversed(order))


def schedule_deletes(condemned: list[Resource], old: Mapping[str, Resource]) -> list[list[Step]]:
    """Antichains: first those nothing else condemned depends on (ScheduleDeletes)."""
    remaining = {r.urn: r for r in condemned}
    chains: list[list[Step]] = []
    while remaining:
        needed = {dep for r in remaining.values() for dep in r.depends_on}
        free = [r for urn, r in remaining.items() if urn not in needed]
        if not free:
            raise AssertionError(f"a dependency cycle among {sorted(remaining)}")
        chains.append([Step("delete", r) for r in free])
        for r in free:
            del remaining[r.urn]
    return chains
