"""The component layer's boundaries, read from its source: a component describes workloads
and asks its placement for what the platform provides; it never asks which platform it is on
(docs/architecture.md)."""

from __future__ import annotations

import re

from tests.support import ROOT

COMPONENTS = ROOT / "components"
# A comparison with a platform's name, or a read of the placement's `platform`.
ASKS_THE_PLATFORM = re.compile(
    r"""platform\s*[!=]=|[!=]=\s*["'](docker|kubernetes)["']|\.platform\b(?!\.)"""
)


def test_no_component_asks_which_platform_it_is_on() -> None:
    sources = [
        p for p in COMPONENTS.rglob("*.py") if p.relative_to(COMPONENTS).parts[0] != "platform"
    ]
    assert len(sources) > 30
    asking = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in sources
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if ASKS_THE_PLATFORM.search(line) and not line.lstrip().startswith(("from ", "import "))
    ]
    assert asking == []


def test_the_checks_find_what_they_look_for() -> None:
    for line in ('if args.platform == "kubernetes":', "x = placement.platform"):
        assert ASKS_THE_PLATFORM.search(line), line
    # What components/frontend/nginx.py once did.
    assert IMPORT.findall("from components.edge.directives import Block\n") == ["edge"]


# The component packages; the rest of components/ is shared vocabulary (workload.py,
# nginx_config.py, tls/, ...) and the placements (platform/).
PEERS = ("api", "edge", "frontend", "monitoring", "postgres", "redis", "secrets")
IMPORT = re.compile(r"^\s*(?:from|import)\s+components\.(\w+)", re.M)


def test_no_component_imports_another() -> None:
    """Components meet in infra/stack.py, handed to each other as values; what two of them
    share lives outside both."""
    leaning = sorted(
        f"{path.relative_to(ROOT)} imports components.{imported}"
        for peer in PEERS
        for path in (COMPONENTS / peer).rglob("*.py")
        for imported in IMPORT.findall(path.read_text())
        if imported in PEERS and imported != peer
    )
    assert leaning == []
