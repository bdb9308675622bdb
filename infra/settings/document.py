"""Rules for the settings document as a whole, before the model reads any key of it.

Every string of a stack's settings may end up in a generated file, so none may hold a control
character (components/config_values.py says why). The walk is iterative and bounded: a stack
file nested hundreds of levels deep, or a value of megabytes, is refused in one line each,
never with a RecursionError and never by quoting the value whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.config_values import control_character_problem, shown
from infra.settings.errors import key_path

# The deepest setting is five levels down (postgres.backup.repository.s3.endpoint); a document
# nested deeper than this is no stack's settings.
MAX_DEPTH = 12
# Linux refuses an environment string (NAME=value) over 128 KiB, the largest value any server
# of the stack takes; no setting may be longer.
MAX_TEXT_BYTES = 128 * 1024
# The longest list or mapping any setting needs is a few dozen entries (CORS origins, allowed
# networks, environment variables).
MAX_ITEMS = 1000


def _text_problem(value: str) -> str | None:
    if len(value) > MAX_TEXT_BYTES or len(value.encode()) > MAX_TEXT_BYTES:
        return f"{len(value.encode())} bytes, more than any setting takes ({MAX_TEXT_BYTES})"
    problem = control_character_problem(value)
    return f"{problem}, got {shown(value)}" if problem else None


def too_deep(path: Sequence[int | str]) -> str:
    return f"{key_path(path)}: nested more than {MAX_DEPTH} levels deep; no setting is"


def document_problems(document: Any, root: Sequence[int | str] = ()) -> list[str]:
    """One line per string with a control character or over the size limit, and per branch
    nested deeper than MAX_DEPTH, each naming its key."""
    problems: list[str] = []
    pending: list[tuple[tuple[int | str, ...], Any]] = [(tuple(root), document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict | list) and len(path) > MAX_DEPTH:
            problems.append(too_deep(path))
            continue
        if isinstance(value, dict | list) and len(value) > MAX_ITEMS:
            problems.append(
                f"{key_path(path)}: {len(value)} entries, more than any setting takes ({MAX_ITEMS})"
            )
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                key_problem = _text_problem(key) if isinstance(key, str) else None
                if key_problem:
                    problems.append(f"{key_path(path)}: a key {key_problem}")
                    continue
                pending.append(((*path, key), item))
        elif isinstance(value, list):
            pending += [((*path, index), item) for index, item in enumerate(value)]
        elif isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                problems.append(f"{key_path(path)}: {problem}")
    return sorted(problems)
