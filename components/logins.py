"""An app credential's two logins, and their keeper: a sidecar beside each data store that
keeps the logins as the stack says. The secrets component makes the credentials
(components/secrets/component.py); each data store places a keeper.

Every second it reads its files and makes the server agree (a file being rewritten, empty for
an instant, is skipped until the next pass): both logins have their
passwords, the active one may log in, and the retiring one (left by the last rollover) is
revoked once no client has used it for `secrets.retireAfterIdleSeconds`. The files are read
afresh each time, so a change delivered in place (a Kubernetes Secret) counts as much as a
new container (Docker). The keepers: images/postgres/prodstack_pg/logins.py for Postgres,
images/scripts/redis_logins.sh for Redis; both read the format rendered here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pulumi

from components.workload import Checks, Container, File, Probe, Resources, Scratch

Slot = Literal["a", "b"]


@dataclass(frozen=True)
class Credential:
    """An app credential: a password per login slot, and which slot the API uses."""

    passwords: Mapping[Slot, pulumi.Output[str]]
    active: Slot

    @property
    def retiring(self) -> Slot:
        """The slot the last rollover left (or, before any, the one the next fills)."""
        return "b" if self.active == "a" else "a"

    @property
    def password(self) -> pulumi.Output[str]:
        return self.passwords[self.active]

    @staticmethod
    def login(user: str, slot: Slot) -> str:
        """Slot a logs in as `user` itself, so a stack from before rollovers keeps its
        login; slot b as `user`_b."""
        return user if slot == "a" else f"{user}_b"


def slot_generations(generation: int) -> dict[Slot, int]:
    """The generation each slot last took a password at: a takes even ones, b odd ones
    (-1: b never has). So generation N + 1 regenerates only the slot N left idle."""
    return {"a": generation - generation % 2, "b": generation - 1 + generation % 2}


CONFIG_FILE = "logins.conf"
# The keeper touches it after each pass; stale for a minute, the keeper is stuck.
ALIVE_FILE = "/tmp/logins-alive"
KEEPER_RESOURCES = Resources(20, 32, 200, 64)


@dataclass(frozen=True)
class LoginsConfig:
    active: str
    retiring: str
    retire_after_idle_seconds: int

    def render(self) -> str:
        """`key value` lines: read by a POSIX shell loop as well as by Python."""
        return (
            f"active {self.active}\n"
            f"retiring {self.retiring}\n"
            f"retire-after-idle-seconds {self.retire_after_idle_seconds}\n"
        )


def password_file(login: str) -> str:
    """The secret file of `login`'s password, under SECRETS_DIR."""
    return f"login-{login}"


def app_logins(user: str, credential: Credential) -> tuple[tuple[str, pulumi.Output[str]], ...]:
    """(login, password) of both slots of `user`'s credential, the user's own role first."""
    return tuple(
        (Credential.login(user, slot), password)
        for slot, password in sorted(credential.passwords.items())
    )


def logins_keeper(
    image: pulumi.Input[str],
    command: tuple[str, ...],
    credential: Credential,
    user: str,
    retire_after_idle_seconds: int,
    socket: Scratch,
    run_as_user: int,
    env: Mapping[str, pulumi.Input[str]] | None = None,
    config_files: tuple[File, ...] = (),
    secret_files: tuple[File, ...] = (),
) -> Container:
    """The keeper of `user`'s two logins, reaching its server through `socket`."""
    config = LoginsConfig(
        active=Credential.login(user, credential.active),
        retiring=Credential.login(user, credential.retiring),
        retire_after_idle_seconds=retire_after_idle_seconds,
    )
    alive = Probe(command=("sh", "-c", f"find {ALIVE_FILE} -mmin -1 | grep -q ."), period_seconds=3)
    return Container(
        name="logins",
        image=image,
        resources=KEEPER_RESOURCES,
        checks=Checks.always(alive),
        command=command,
        env=env or {},
        # Read afresh every pass: a change reaches the keeper without a restart.
        config_files=(File(CONFIG_FILE, config.render(), restart_view=""), *config_files),
        secret_files=(
            *(
                File(password_file(login), password, restart_view="")
                for login, password in app_logins(user, credential)
            ),
            *secret_files,
        ),
        mounts=(socket.name,),
        run_as_user=run_as_user,
    )
