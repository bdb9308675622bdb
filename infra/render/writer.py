"""Write a recording as files a reviewer can read and a validator can check.

Layout of the output directory:
  resources.json        every resource: type, name, inputs (secrets redacted), options
  outputs.json          the stack outputs
  kubernetes/*.yaml     one manifest per Kubernetes resource
  docker/*.json         one spec per Docker container, network, volume and image
  config/<owner>/<file> every generated configuration file, under the ConfigMap or container
                        that delivers it
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.workload import CONFIG_DIR
from infra.render.mock_runtime import REDACTED, RecordedResource, Recording

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when the wheel has it


@dataclass
class RenderedFiles:
    root: Path
    manifests: list[Path] = field(default_factory=list)
    docker_specs: list[Path] = field(default_factory=list)
    config_files: list[Path] = field(default_factory=list)
    # Each manifest's object, as written to its file.
    documents: dict[Path, dict[str, Any]] = field(default_factory=dict)

    @property
    def all(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file())


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


def kubernetes_kind(resource: RecordedResource) -> str | None:
    return resource.type.rsplit(":", 1)[-1] if resource.type.startswith("kubernetes:") else None


def manifest_of(resource: RecordedResource) -> dict[str, Any]:
    """The object Pulumi sends to the API server: apiVersion, kind, metadata, then the rest."""
    inputs = dict(resource.inputs)
    ordered: dict[str, Any] = {
        key: inputs.pop(key) for key in ("apiVersion", "kind", "metadata") if key in inputs
    }
    return {**ordered, **inputs}


def is_config_file(path: str) -> bool:
    return Path(path).is_relative_to(CONFIG_DIR)


def config_files_of(resource: RecordedResource) -> dict[str, str]:
    """Non-secret files a resource delivers, by path under the config directory."""
    if resource.type == "kubernetes:core/v1:ConfigMap":
        return {k: v for k, v in (resource.inputs.get("data") or {}).items() if v != REDACTED}
    if resource.type == "docker:index/container:Container":
        # The SDK marks the whole upload list secret when one file is; the config files are
        # the ones under CONFIG_DIR (the secret scan proves none of them holds a secret).
        return {
            str(Path(upload["file"]).relative_to(CONFIG_DIR)): upload["content"]
            for upload in resource.unredacted.get("uploads") or []
            if is_config_file(upload["file"])
        }
    return {}


def docker_spec_of(resource: RecordedResource, reveal_secrets: bool = False) -> dict[str, Any]:
    """The container spec, with its uploads listed file by file: config files in full,
    secret files masked (the SDK masks the whole list once one file is secret), or in full
    for a test that creates the stack on a real engine (`reveal_secrets`)."""
    uploads = resource.unredacted.get("uploads")
    if resource.type != "docker:index/container:Container" or not uploads:
        return resource.inputs
    shown = [
        upload
        if reveal_secrets or is_config_file(upload["file"])
        else {**upload, "content": REDACTED}
        for upload in uploads
    ]
    return {**resource.inputs, "uploads": shown}


def write(recording: Recording, out: Path, reveal_secrets: bool = False) -> RenderedFiles:
    """`reveal_secrets` writes secret files in full into docker/*.json: only for the
    end-to-end suite, into a private directory it deletes (tests/e2e)."""
    out.mkdir(parents=True, exist_ok=True)
    files = RenderedFiles(root=out)
    (out / "resources.json").write_text(
        json.dumps([r.as_json() for r in recording.resources], indent=2, sort_keys=True) + "\n"
    )
    (out / "outputs.json").write_text(
        json.dumps(recording.outputs, indent=2, sort_keys=True) + "\n"
    )
    for index, resource in enumerate(recording.resources):
        kind = kubernetes_kind(resource)
        if kind is not None:
            path = out / "kubernetes" / f"{index:03d}-{_slug(kind)}-{_slug(resource.name)}.yaml"
            path.parent.mkdir(exist_ok=True)
            manifest = manifest_of(resource)
            path.write_text(yaml.dump(manifest, Dumper=_DUMPER, sort_keys=False))
            files.manifests.append(path)
            files.documents[path] = manifest
        elif resource.type.startswith("docker:"):
            kind = resource.type.rsplit(":", 1)[-1].lower()
            path = out / "docker" / f"{_slug(kind)}-{_slug(resource.name)}.json"
            path.parent.mkdir(exist_ok=True)
            spec = docker_spec_of(resource, reveal_secrets)
            path.write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
            files.docker_specs.append(path)
        for name, content in config_files_of(resource).items():
            path = out / "config" / _slug(resource.name) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            files.config_files.append(path)
    return files
