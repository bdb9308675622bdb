"""What may stand in a value of a generated configuration file, for every writer of the stack.

Each server reads its configuration line by line (postgresql.conf, redis.conf, pgbackrest.conf)
or token by token (nginx.conf), so a line break inside a value ends it and starts a directive of
the settings author's choosing; other control characters are refused or misread by one server
or another. The settings model refuses them first (infra/settings/document.py); the writers
refuse them again, as defence in depth, with ConfigValueError.
"""

from __future__ import annotations

import re

# Unicode's control characters (category Cc: C0, DEL, C1) and its line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Longer values are cut in messages: a multi-megabyte setting must not make a megabyte line.
SHOWN_CHARACTERS = 60


class ConfigValueError(ValueError):
    """A value a writer will not put in a configuration file."""


def control_character(value: str) -> tuple[int, str] | None:
    """The position and name of the first control character (C0, DEL, C1, or a Unicode line or
    paragraph separator), or None."""
    match = _CONTROL.search(value)
    if match is None:
        return None
    character = match.group()
    name = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab"}.get(
        character, "a control character"
    )
    return match.start(), f"U+{ord(character):04X} ({name})"


def shown(value: object) -> str:
    """A value as messages quote it, as written in a stack file (true, null, 'text'): at most
    SHOWN_CHARACTERS of it, with its length if cut."""
    text = repr(value) if isinstance(value, str) else _as_written(value)
    if len(text) <= SHOWN_CHARACTERS:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[: SHOWN_CHARACTERS - 3]}...{size}"


def _as_written(value: object) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return "null" if value is None else str(value)


def control_character_problem(value: str) -> str | None:
    """What the settings and the writers say of a value holding a control character."""
    found = control_character(value)
    if found is None:
        return None
    position, what = found
    return f"must not contain control characters, found {what} at position {position}"


def checked_document(document: object, where: str) -> object:
    """`document` (mappings, lists, scalars) if no string in it, key or value, holds a control
    character; else ConfigValueError. YAML would quote such a value safely, but the servers
    reading it (a URL, a label, a matcher) would not expect one either."""
    pending = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple):
            pending += item
        elif isinstance(item, str):
            checked_value(item, where)
    return document


def checked_value(value: str, where: str) -> str:
    """`value`, if it may stand in a configuration file; else ConfigValueError naming `where`."""
    problem = control_character_problem(value)
    if problem is not None:
        raise ConfigValueError(f"{where}: {problem}: {shown(value)}")
    return value
