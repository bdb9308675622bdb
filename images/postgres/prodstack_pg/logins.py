"""The logins keeper of the app's Postgres credential (components/logins.py): every second,
the app's two logins have the passwords in their files, the active one may log in, and the
retiring one is revoked (NOLOGIN) once no session of it has been seen for the idle time.

It runs beside the server as the postgres OS user and reaches it through the socket (peer
authentication), like the backup agent.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from prodstack_pg import sql
from prodstack_pg.environment import Paths

CONFIG_DIR = Path(os.environ.get("PRODSTACK_CONFIG", "/run/prodstack/config"))
APP_USER = os.environ.get("PRODSTACK_APP_USER", "app")
# Touched after each pass: the container's health check (components/logins.py).
ALIVE_FILE = Path(os.environ.get("PRODSTACK_LOGINS_ALIVE", "/tmp/logins-alive"))


def log(message: str) -> None:
    print(f"prodstack-logins: {message}", flush=True)


@dataclass(frozen=True)
class LoginsConfig:
    """logins.conf, as components/logins.py renders it."""

    active: str
    retiring: str
    retire_after_idle_seconds: int

    @classmethod
    def read(cls, path: Path) -> LoginsConfig:
        values = dict(line.split(" ", 1) for line in path.read_text().splitlines() if line)
        return cls(values["active"], values["retiring"], int(values["retire-after-idle-seconds"]))


@dataclass
class Keeper:
    paths: Paths
    config_file: Path
    # What it last applied: each login's password, and the config it started counting under.
    applied: dict[str, str] = field(default_factory=dict)
    counting_for: LoginsConfig | None = None
    idle_since: float = 0.0

    def step(self, now: float) -> None:
        config = LoginsConfig.read(self.config_file)
        if config != self.counting_for:
            # A new switch: the retiring login's idle time counts from now.
            self.counting_for, self.idle_since = config, now
        passwords = {
            login: self.paths.secret(f"login-{login}") for login in (config.active, config.retiring)
        }
        if not all(passwords.values()):
            raise ValueError("a password file is empty (being rewritten?)")
        statements = [
            sql.login_sql(APP_USER, login, password)
            for login, password in passwords.items()
            if password != self.applied.get(login)
        ]
        state = self._state(config)
        if not state.get(config.active, (False, 0))[0]:
            statements.append(f"ALTER ROLE {sql.identifier(config.active)} LOGIN;\n")
        can_login, sessions = state.get(config.retiring, (False, 0))
        if sessions:
            self.idle_since = now
        retire = can_login and now - self.idle_since >= config.retire_after_idle_seconds
        if retire:
            statements.append(f"ALTER ROLE {sql.identifier(config.retiring)} NOLOGIN;\n")
        if statements:
            self.paths.psql(sql.QUIET + "".join(statements))
            self.applied.update(passwords)
            log(
                f"active login {config.active}" + (f"; revoked {config.retiring}" if retire else "")
            )

    def _state(self, config: LoginsConfig) -> dict[str, tuple[bool, int]]:
        """Per login: may it log in, and how many sessions it has now."""
        names = ", ".join(sql.literal(n) for n in (config.active, config.retiring))
        rows = self.paths.psql(
            "SELECT r.rolname, r.rolcanlogin, "
            "(SELECT count(*) FROM pg_stat_activity a WHERE a.usename = r.rolname) "
            f"FROM pg_roles r WHERE r.rolname IN ({names})"
        )
        state: dict[str, tuple[bool, int]] = {}
        for row in rows.splitlines():
            name, can_login, sessions = row.split("|")
            state[name] = (can_login == "t", int(sessions))
        return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    args = parser.parse_args()
    keeper = Keeper(Paths.from_env(), CONFIG_DIR / "logins.conf")
    # The container's first process: without a handler SIGTERM would be ignored, and a stop
    # would wait out the whole grace period.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        try:
            keeper.step(time.monotonic())
            ALIVE_FILE.touch()
        except (OSError, RuntimeError, ValueError, KeyError) as error:
            # The server may be restarting: try again next second, without a traceback.
            log(f"not applied: {error}")
            if args.once:
                raise SystemExit(1) from error
        if args.once:
            return
        time.sleep(1)


if __name__ == "__main__":
    main()
