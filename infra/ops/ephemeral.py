"""`prodstack ephemeral up|down NAME`: a test stack from dev, through the Pulumi Automation API.

up:   create or select `ephemeral-NAME`, set its config (ephemeral_config.derive), tag its
      expiry, `pulumi up`, then run the smoke test against its URL.
down: destroy every resource (refreshing first, so what a failed `up` left or someone removed
      by hand does not stop it), then remove the stack and its config file.

The backend is Pulumi's local file backend with passphrase secrets unless the user asks for
the one they are logged in to (`--logged-in`): an ephemeral stack needs no cloud account.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pulumi import automation as auto

from infra.ops import smoke as smoke_test
from infra.ops.ephemeral_config import EXPIRES_TAG, derive, parse_ttl, stack_name
from infra.render.stack_config import load_stack_config

Print = Callable[[str], None]
LOCAL_BACKEND = ".pulumi-local"


@dataclass(frozen=True)
class Backend:
    # Environment for every pulumi command: where state lives and how secrets are sealed.
    env: dict[str, str]
    # For `pulumi stack init`: passphrase on the local backend; the backend's own otherwise.
    secrets_provider: str | None

    @property
    def description(self) -> str:
        return self.env.get("PULUMI_BACKEND_URL", "the backend you are logged in to")


def backend_for(environ: Mapping[str, str], logged_in: bool, home: Path) -> Backend:
    """The local file backend (PULUMI_BACKEND_URL if set, as scripts/dev-up uses it), or with
    `logged_in` whatever `pulumi login` chose."""
    if logged_in:
        return Backend(env={}, secrets_provider=None)
    url = environ.get("PULUMI_BACKEND_URL") or f"file://{home / LOCAL_BACKEND}"
    env = {"PULUMI_BACKEND_URL": url}
    if "PULUMI_CONFIG_PASSPHRASE" not in environ and "PULUMI_CONFIG_PASSPHRASE_FILE" not in environ:
        # As on a laptop's dev stack: an empty passphrase, since the state stays on this machine.
        env["PULUMI_CONFIG_PASSPHRASE"] = ""
    return Backend(env=env, secrets_provider="passphrase")


def _options(backend: Backend, root: Path) -> auto.LocalWorkspaceOptions:
    url = backend.env.get("PULUMI_BACKEND_URL", "")
    if url.startswith("file://"):
        Path(url.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    return auto.LocalWorkspaceOptions(
        work_dir=str(root), env_vars=backend.env, secrets_provider=backend.secrets_provider
    )


def up(
    root: Path,
    name: str,
    ttl: str,
    backend: Backend,
    smoke: bool = True,
    out: Print = print,
    now: dt.datetime | None = None,
) -> int:
    spec = derive(
        load_stack_config(root, "dev"), name, parse_ttl(ttl), now or dt.datetime.now(dt.UTC)
    )
    out(f"ephemeral stack {spec.stack} on {backend.description}, expires {spec.expires_tag}")
    stack = auto.create_or_select_stack(
        spec.stack, work_dir=str(root), opts=_options(backend, root)
    )
    stack.set_all_config({key: auto.ConfigValue(value) for key, value in spec.config.items()})
    stack.set_tag(EXPIRES_TAG, spec.expires_tag)
    try:
        result = stack.up(on_output=out, color="never")
    except auto.CommandError:
        out(
            f"prodstack: `pulumi up` of {spec.stack} failed (its output is above); "
            f"`prodstack ephemeral down {name}` removes whatever it created"
        )
        return 1
    if not smoke:
        return 0
    url = str(result.outputs["url"].value)
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as ca:
        ca.write(str(result.outputs["caCertPem"].value))
        ca.flush()
        target = smoke_test.Target(
            url=url,
            ca_file=Path(ca.name),
            http_url=f"http://{urlsplit(url).hostname}:{spec.http_port}",
        )
        return smoke_test.run(target, out)


def workspace(root: Path, backend: Backend) -> auto.LocalWorkspace:
    options = _options(backend, root)
    return auto.LocalWorkspace(
        work_dir=options.work_dir,
        env_vars=options.env_vars,
        secrets_provider=options.secrets_provider,
    )


Outcome = Literal["destroyed", "absent", "failed", "locked"]


def destroy(root: Path, stack_id: str, backend: Backend, out: Print = print) -> Outcome:
    """Destroy every resource of a stack (refreshing first, so what a failed `up` left or
    someone removed by hand does not stop it), then remove the stack and its config file."""
    try:
        stack = auto.select_stack(stack_id, work_dir=str(root), opts=_options(backend, root))
    except auto.StackNotFoundError:
        out(f"no stack {stack_id} on {backend.description}: nothing to remove")
        return "absent"
    try:
        stack.destroy(on_output=out, color="never", refresh=True)
    except auto.ConcurrentUpdateError:
        return "locked"  # another reaper, or an update, holds the stack's lock
    except auto.CommandError:
        out(
            f"prodstack: destroying {stack_id} failed (its output is above); the stack is kept "
            "so nothing is lost track of: fix the cause and run it again"
        )
        return "failed"
    stack.workspace.remove_stack(stack_id)
    out(f"removed {stack_id}: every resource destroyed, the stack and its config deleted")
    return "destroyed"


def down(root: Path, name: str, backend: Backend, out: Print = print) -> int:
    outcome = destroy(root, stack_name(name), backend, out)
    if outcome == "locked":
        out(f"prodstack: {stack_name(name)} is locked by another update; try again after it")
    return 1 if outcome in ("failed", "locked") else 0


def from_environment(logged_in: bool) -> Backend:
    return backend_for(os.environ, logged_in, Path.home())
