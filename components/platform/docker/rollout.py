"""How the engine replaces a workload's containers on Docker when they change.

The provider replaces a container for nearly any change (every field of `docker_container`
but a few resource limits is ForceNew: kreuzwerker/terraform-provider-docker v4.5.0,
internal/provider/resource_docker_container.go), and pulumi-docker asks the engine to delete
it first (provider/resources.go: `docker_container` has `DeleteBeforeReplace: true`). With
fixed names that is downtime on every release. So a workload gets one of two strategies,
like a Deployment's RollingUpdate and a Recreate:

- **surge**, for a workload without data volumes or host ports (the API, the frontend): every
  physical name of a replica (its containers, scratch volumes, files volumes and carriers)
  carries the workload's *release*, a digest of everything its containers run. A change
  makes new names, and the program asks for create-before-delete
  (`deleteBeforeReplace: false`, which overrides the provider's choice: pulumi/pulumi
  pkg/resource/deploy/step_generator.go, "The user can override the provider's decision").
  The engine creates the new replica, waits for it healthy (`wait`), and deletes the old one
  only "after all creates/updates finish" (same file). Both serve meanwhile, under the same
  network alias, and the edge follows Docker's DNS to both (components/edge/nginx.py).
- **recreate**, for a workload with data volumes (two servers on one data directory would
  corrupt it) or host ports (a port is bound once): fixed names, deleted before replaced.
  A server that reloads its files in place (the edge) is not replaced for a file change at
  all (files.py).

Either way a container is stopped before it is removed, with its grace period
(`destroy_grace_seconds`; without it the provider stops with a timeout of 0, a SIGKILL:
resource_docker_container_funcs.go, resourceDockerContainerDelete).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.workload import Workload

RELEASE_DIGITS = 10


@dataclass(frozen=True)
class Rollout:
    surge: bool
    # The workload's release (surge only): RELEASE_DIGITS hex digits.
    release: pulumi.Output[str] | None = None

    def name(self, fixed: str) -> pulumi.Input[str]:
        """A physical name: `fixed`, or under surge `fixed` and the release."""
        if self.release is None:
            return fixed
        return pulumi.Output.concat(fixed, "-", self.release)

    @property
    def options(self) -> pulumi.ResourceOptions:
        """Create the replacement first under surge (its names are new); delete first else
        (its names are fixed)."""
        return pulumi.ResourceOptions(delete_before_replace=not self.surge)


def rollout(workload: Workload, *context: Any) -> Rollout:
    """The strategy of `workload`; under surge its release digests the workload and
    `context` (what the placement adds: networks, labels)."""
    if workload.stateful or workload.public:
        return Rollout(surge=False)
    return Rollout(surge=True, release=digest(workload, *context))


def digest(*values: Any) -> pulumi.Output[str]:
    """RELEASE_DIGITS hex digits of SHA-256 over `values`, Outputs resolved. Secrets count
    (a rotated password is a new release) but the digest is not secret: it is a name, and
    no secret can be read back from 40 bits of a hash over it and the rest of a spec."""
    resolved = pulumi.Output.from_input(_plain(list(values)))

    def hashed(plain: Any) -> str:
        text = json.dumps(plain, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:RELEASE_DIGITS]

    return pulumi.Output.unsecret(resolved.apply(hashed))


def _plain(value: Any) -> Any:
    """Dataclasses as dicts, down to Outputs and plain values, for Output.from_input."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, frozenset | set) else items
    if isinstance(value, pulumi.Output | str | int | float | bool) or value is None:
        return value
    return repr(value)
