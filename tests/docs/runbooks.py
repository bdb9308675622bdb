"""What the runbook tests read from a runbook: its commands, as a shell would split them."""

from __future__ import annotations

import re
import shlex


def shell_commands(text: str) -> list[list[str]]:
    """Every command in the text's sh code blocks and inline code, continuation lines joined.
    Inline code is a command when it starts with prodstack or pulumi and has arguments."""
    found: list[list[str]] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                found.append(shlex.split(line))
    for inline in re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S)):
        words = inline.split()
        # `prodstack smoke` alone is a mention; with arguments it is a command.
        if len(words) > 2 and words[0] in ("prodstack", "pulumi"):
            found.append(shlex.split(inline))
    return found
