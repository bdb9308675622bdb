"""Validate rendered manifests against the official Kubernetes OpenAPI schemas.

The schemas are the ones kubernetes-validate ships per Kubernetes version (strict: unknown
fields are errors, which catches misspelt keys). Validators are built once per kind and
version: parsing the shared definitions for every manifest would dominate `prodstack check`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import jsonschema
    from referencing import Registry

DEFAULT_VERSION = "1.33"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when the wheel has it


def _schemas() -> Any:
    """The vendored schemas; the package is imported on first use (it loads jsonschema)."""
    return resources.files("kubernetes_validate") / "kubernetes-json-schema"


@dataclass(frozen=True)
class SchemaProblem:
    manifest: Path
    message: str


def supported_versions() -> list[str]:
    from kubernetes_validate.utils import all_versions  # it loads jsonschema: only when used

    return sorted(
        {".".join(v.split(".")[:2]) for v in all_versions()},
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )


@functools.cache
def _registry(version: str) -> Registry:
    # jsonschema and referencing load on the first manifest: a Docker stack has none.
    from referencing import Registry, Resource

    definitions = json.loads(
        (_schemas() / f"v{version}.0-local-strict" / "_definitions.json").read_text()
    )
    return Resource.from_contents(definitions) @ Registry()


@functools.cache
def _validator(version: str, api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    # rbac.authorization.k8s.io/v1 -> rbac-v1, apps/v1 -> apps-v1, v1 -> v1
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _schemas() / f"v{version}.0-local-strict" / f"{kind.lower()}-{group}.json"
    if not path.is_file():
        return None
    import jsonschema
    from referencing import Resource

    schema = json.loads(path.read_text())
    registry = Resource.from_contents(schema) @ _registry(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def is_custom_resource(manifest: dict[str, Any]) -> bool:
    """A resource of a CRD (cert-manager.io/v1 Certificate): no upstream schema to check."""
    group = str(manifest["apiVersion"]).rpartition("/")[0]
    return "." in group and not group.endswith(".k8s.io")


def validate_manifest(manifest: dict[str, Any], version: str) -> list[str]:
    validator = _validator(version, manifest["apiVersion"], manifest["kind"])
    if validator is None:
        if is_custom_resource(manifest):
            return []
        return [
            f"no schema for {manifest['kind']} {manifest['apiVersion']} in Kubernetes {version}"
        ]
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(manifest)
    ]


def validate(
    manifests: Iterable[Path],
    version: str = DEFAULT_VERSION,
    documents: Mapping[Path, dict[str, Any]] | None = None,
) -> list[SchemaProblem]:
    """Problems of each manifest file; `documents` holds the objects already written to them
    (the writer keeps them: parsing 100 manifests back costs a check a fifth of a second)."""
    known = documents or {}
    if version not in supported_versions():
        raise ValueError(
            f"Kubernetes {version} has no schema here; supported: {', '.join(supported_versions())}"
        )
    return [
        SchemaProblem(path, message)
        for path in manifests
        for message in validate_manifest(
            known[path] if path in known else yaml.load(path.read_text(), Loader=_LOADER),
            version,
        )
    ]
