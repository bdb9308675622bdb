"""Validate rendered manifests against the official Kubernetes OpenAPI schemas.

kubernetes-validate ships the upstream JSON schemas per Kubernetes version; strict mode also
rejects fields the API server would not know, which catches misspelt keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import kubernetes_validate
import yaml
from kubernetes_validate.utils import all_versions

DEFAULT_VERSION = "1.33"


@dataclass(frozen=True)
class SchemaProblem:
    manifest: Path
    message: str


def supported_versions() -> list[str]:
    return sorted(
        {".".join(v.split(".")[:2]) for v in all_versions()},
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )


def validate(manifests: Iterable[Path], version: str = DEFAULT_VERSION) -> list[SchemaProblem]:
    if version not in supported_versions():
        raise ValueError(
            f"Kubernetes {version} has no schema here; supported: {', '.join(supported_versions())}"
        )
    problems: list[SchemaProblem] = []
    for path in manifests:
        document = yaml.safe_load(path.read_text())
        try:
            kubernetes_validate.validate(document, f"{version}.0", strict=True)
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(p) for p in error.path) or "<root>"
            problems.append(SchemaProblem(path, f"{where}: {error.message}"))
        except kubernetes_validate.SchemaNotFoundError as error:
            problems.append(SchemaProblem(path, error.message))
    return problems
