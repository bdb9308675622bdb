"""The shipped stacks as the engine would hand them to the pack, and ways to weaken them."""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from dataclasses import replace as copy_of
from typing import Any

from infra.render.mock_runtime import RecordedResource
from infra.render.policy_check import engine_resources
from tests.support import PROD, carrier_name, render, render_shipped

# The one record of a rendered resource, as the pack's offline evaluation takes it.
EngineResource = RecordedResource


def resource(type_: str, name: str, urn: str, props: dict[str, Any]) -> RecordedResource:
    """A resource a weakening adds to a stack."""
    return RecordedResource(urn, type_, name, True, "", props, False, False, [], [], props)


@functools.cache
def _resources(stack: str) -> tuple[EngineResource, ...]:
    if stack == "ephemeral":
        recording = render("pr-1", {**PROD, "environment": "ephemeral", "platform": "kubernetes"})
    else:
        recording = render_shipped(stack)
    return tuple(engine_resources(recording))


def resources(stack: str) -> list[EngineResource]:
    """A fresh, mutable copy of a stack's resources."""
    return [copy_of(r, unredacted=copy.deepcopy(r.unredacted)) for r in _resources(stack)]


def find(resources: list[EngineResource], type_suffix: str, name: str) -> EngineResource:
    return next(r for r in resources if r.type.endswith(type_suffix) and r.name == name)


def props(resources: list[EngineResource], type_suffix: str, name: str) -> Any:
    return find(resources, type_suffix, name).props


def replace(resources: list[EngineResource], old: EngineResource, **changes: Any) -> None:
    resources[resources.index(old)] = copy_of(old, **changes)


def pod(resources: list[EngineResource], kind: str, name: str) -> Any:
    return props(resources, kind, name)["spec"]["template"]["spec"]


def container(resources: list[EngineResource], kind: str, name: str, index: int = 0) -> Any:
    return pod(resources, kind, name)["containers"][index]


def docker(resources: list[EngineResource], name: str) -> Any:
    return props(resources, ":Container", name)


def uploads(resources: list[EngineResource], container_name: str) -> list[dict[str, Any]]:
    """The files a container receives: its files carrier's uploads."""
    carrier = carrier_name(docker(resources, container_name)["mounts"])
    found: list[dict[str, Any]] = docker(resources, carrier)["uploads"]
    return found


def upload(resources: list[EngineResource], container_name: str, file: str) -> dict[str, Any]:
    for entry in uploads(resources, container_name):
        if entry["file"].endswith("/" + file):
            return dict(entry)
    raise KeyError(file)


def set_upload(resources: list[EngineResource], container_name: str, file: str, text: str) -> None:
    for entry in uploads(resources, container_name):
        if entry["file"].endswith("/" + file):
            entry["content"] = text


def config_map(resources: list[EngineResource], name: str) -> dict[str, str]:
    data: dict[str, str] = props(resources, ":ConfigMap", name)["data"]
    return data


def all_pods(resources: list[EngineResource]) -> Iterator[Any]:
    for r in resources:
        spec = r.props.get("spec", {})
        if isinstance(spec, dict) and "template" in spec:
            yield spec["template"]["spec"]
