"""The frontend: index.html and the other unhashed entry points are revalidated, so a deploy
reaches browsers at once. Read from the generated frontend.conf wherever it is carried."""

from __future__ import annotations

import re
from collections.abc import Iterator

from policies.edge import Block, parse
from policies.rule import EVERYWHERE, Context, resource_rule
from policies.view import FILE_CARRIERS, Subject, files

CONFIG_FILE = "frontend.conf"
INDEX = "/index.html"
# Longer than this and a deploy reaches browsers late (components/frontend/settings.py says
# the same to the user).
ENTRY_MAX_AGE_LIMIT = 300


def _serves_index(location: Block) -> bool:
    """A location that answers with index.html: the page itself, the app's routes (not one
    that only returns a status, like the status server's 404)."""
    if location.first("return") is not None:
        return False
    if location.args == ["=", INDEX] or location.args == ["/"]:
        return True
    return any(INDEX in d.args for d in location.all("try_files"))


def _cache_control(*scopes: Block) -> list[str] | None:
    """The Cache-Control a location sends: its own add_header, else the nearest scope's
    (nginx inherits add_header only into a level that has none of its own)."""
    for scope in scopes:
        added = scope.all("add_header")
        if added:
            found = [h.args[1:] for h in added if h.args and h.args[0].lower() == "cache-control"]
            return found[0] if found else None
    return None


def entry_problem(value: list[str] | None) -> str | None:
    if value is None:
        return "sends no Cache-Control, so browsers guess a lifetime from Last-Modified"
    text = " ".join(value).lower()
    if "immutable" in text:
        return f"is cached as immutable ({' '.join(value)})"
    if "no-cache" in text or "no-store" in text:
        return None
    match = re.search(r"max-age=(\d+)", text)
    age = int(match.group(1)) if match else None
    if age is None:
        return f"has no max-age or no-cache ({' '.join(value)}), so browsers guess a lifetime"
    if age > ENTRY_MAX_AGE_LIMIT:
        return f"is cached {age} s (more than {ENTRY_MAX_AGE_LIMIT})"
    return None


@resource_rule(
    "frontend-entry-cache",
    f"index.html and the app's routes are sent with no-cache (revalidated) or a max-age of at most {ENTRY_MAX_AGE_LIMIT} s, never immutable.",
    "index.html names the build's hashed files: cached long, browsers keep running the old build after a deploy and ask for files it no longer has.",
    EVERYWHERE,
    FILE_CARRIERS,
    ("web.dev HTTP caching", "create-react-app and Vite deployment docs"),
)
def entry_cache(subject: Subject, _: Context) -> Iterator[str]:
    text = files(subject).get(CONFIG_FILE)
    if text is None:
        return
    http = parse(text).first("http")
    if http is None:
        return
    for server in http.all("server"):
        for location in server.all("location"):
            if not _serves_index(location):
                continue
            problem = entry_problem(_cache_control(location, server, http))
            if problem:
                yield f"{CONFIG_FILE}: location {' '.join(location.args)} {problem}"
