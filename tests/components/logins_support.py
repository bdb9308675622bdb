"""A rollover of an app credential, played against a live data store and its logins keeper
(components/logins.py): the same story for Postgres and Redis, told through callables."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from components.logins import CONFIG_FILE, LoginsConfig, password_file

IDLE_SECONDS = 10  # the least secrets.retireAfterIdleSeconds allows
NEW_PASSWORD = "rolled-over-password-0123456789ab"


def deliver(directory: Path, config: LoginsConfig, passwords: dict[str, str]) -> None:
    """The keeper's files, as a placement delivers them (config and secrets side by side)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(config.render())
    for login, password in passwords.items():
        (directory / password_file(login)).write_text(password)


def eventually(check: Callable[[], bool], seconds: float) -> bool:
    """Whether `check` came true within `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def play_rollover(
    files: Path,
    old: dict[str, str],
    can_log_in: Callable[[str, str], bool],
    hold_session: Callable[[str, str, float], None],
) -> None:
    """`old` maps login (slot a first, then b) to its password before the rollover, with a
    keeper already running on `files`. After it: slot b has a new password and is active,
    both log in, the old login stays valid while one of its sessions lasts longer than the
    idle time, and is refused within a few seconds of its idle time after that."""
    a, b = old
    deliver(files, LoginsConfig(b, a, IDLE_SECONDS), {a: old[a], b: NEW_PASSWORD})
    assert eventually(lambda: can_log_in(b, NEW_PASSWORD), 10), "the new login never worked"
    assert can_log_in(a, old[a]), "the old login stopped working during the switch"
    holding = threading.Thread(target=hold_session, args=(a, old[a], IDLE_SECONDS + 5))
    holding.start()
    time.sleep(IDLE_SECONDS + 2)
    assert can_log_in(a, old[a]), "the old login was revoked while a session of it lasted"
    holding.join()
    # Each check is itself a session the keeper may see: checked once before the idle time
    # is up, then once after it.
    time.sleep(IDLE_SECONDS - 3)
    assert can_log_in(a, old[a]), "the old login was revoked before its idle time"
    time.sleep(IDLE_SECONDS + 3)
    assert not can_log_in(a, old[a]), "the old login was never revoked"
    assert can_log_in(b, NEW_PASSWORD)
