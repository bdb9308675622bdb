"""What a browser transfers from the frontend through the edge: a first visit, a repeat visit
(index.html revalidated, hashed files from its cache), and a visit right after a deploy that
changed the script. Debian's nginx on loopback, the rendered frontend.conf and nginx.conf,
the reference frontend built by its own build script.

Also the median time of 200 sequential requests for the page and for a hashed script.
Prints the figures; asserts nothing.
"""

from __future__ import annotations

import gzip
import re
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.components.edge.server import https_request
from tests.components.frontend.server import (
    SOURCE,
    FrontendStack,
    build_app,
    frontend_behind_edge,
    hashed,
)

REQUESTS = 200


@dataclass
class Browser:
    """A browser's HTTP cache, as far as these replies go: immutable files are reused without
    asking; the page is revalidated with its ETag."""

    stack: FrontendStack
    cache: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    requests: int = 0
    received: int = 0
    # What each request of the current visit got: "path status".
    replies: list[str] = field(default_factory=list)

    def fetch(self, path: str) -> bytes:
        cached = self.cache.get(path)
        if cached and "immutable" in cached[0]:
            return cached[1]
        headers = {"Accept-Encoding": "gzip"}
        if cached:
            headers["If-None-Match"] = cached[0].split("|", 1)[1]
        reply = https_request(self.stack.edge, self.stack.ca[1], "GET", path, headers)
        self.requests += 1
        self.received += len(reply.body)
        self.replies.append(f"{path.rsplit('/', 1)[-1] or '/'} {reply.status}")
        if reply.status == 304 and cached:
            return cached[1]
        policy = f"{reply.headers.get('Cache-Control', '')}|{reply.headers.get('ETag', '')}"
        self.cache[path] = (policy, reply.body)
        return reply.body

    def visit(self) -> tuple[int, int, str]:
        """Requests sent, bytes received, and what each request got."""
        before = (self.requests, self.received)
        self.replies = []
        page = self.fetch("/")
        text = gzip.decompress(page) if page[:2] == b"\x1f\x8b" else page
        for asset in re.findall(rb'"(/assets/[^"]+)"', text):
            self.fetch(asset.decode())
        return self.requests - before[0], self.received - before[1], ", ".join(self.replies)


def median_ms(stack: FrontendStack, path: str) -> float:
    times = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        https_request(stack.edge, stack.ca[1], "GET", path, {"Accept-Encoding": "gzip"})
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def deploy(stack: FrontendStack) -> None:
    """A new build whose script changed: new hashed name, new index.html; the CSS is the
    same file under the same name."""
    changed = stack.dist.parent / "src"
    shutil.copytree(SOURCE, changed)
    with (changed / "app.js").open("a") as script:
        script.write("\n// a new release\n")
    shutil.rmtree(stack.dist)
    build_app(stack.dist, changed)


def main() -> None:
    with frontend_behind_edge() as stack:
        browser = Browser(stack)
        plain = sum(p.stat().st_size for p in stack.dist.rglob("*") if p.suffix != ".gz")
        first = browser.visit()
        again = browser.visit()
        deploy(stack)
        after = browser.visit()
        page_ms, asset_ms = median_ms(stack, "/"), median_ms(stack, hashed(stack.dist, ".js"))
    print(f"built app: {plain} bytes uncompressed")
    # What each visit's requests got, as measured: a rebuild within the same second and of
    # the same size keeps nginx's ETag (mtime and size), so a deploy may show a 304 here.
    for label, (requests, received, replies) in (
        ("first visit", first),
        ("repeat visit", again),
        ("visit after deploy", after),
    ):
        print(f"{label + ':':20}{requests} requests, {received} bytes (gzip): {replies}")
    print(
        f"median of {REQUESTS} requests through the edge: page {page_ms:.2f} ms, hashed script {asset_ms:.2f} ms"
    )


if __name__ == "__main__":
    main()
