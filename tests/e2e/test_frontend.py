"""The reference frontend on the running stack: built from images/frontend on the engine,
served by its own container behind the published edge, with the API under /api/."""

from __future__ import annotations

import gzip
import re

from tests.components.edge.server import assert_security_headers
from tests.e2e.procedures import https
from tests.e2e.stack import RunningStack

IMMUTABLE = "public, max-age=31536000, immutable"


def assets_of(page: bytes) -> list[str]:
    return re.findall(r'"(/assets/[^"]+)"', page.decode())


def test_the_app_is_served_at_the_root_and_its_routes(stack: RunningStack) -> None:
    page = https(stack, "/")
    assert page.status == 200 and b"prodstack reference frontend" in page.body
    assert page.headers["Cache-Control"] == "no-cache"
    assert page.headers["ETag"] and page.headers["Last-Modified"]
    revalidated = https(stack, "/", headers={"If-None-Match": page.headers["ETag"]})
    assert revalidated.status == 304
    for route in ("/items", "/items/7"):
        reply = https(stack, route)
        assert reply.status == 200 and reply.body == page.body, route
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert_security_headers(page)


def test_hashed_assets_are_immutable_and_gzipped_from_the_build(stack: RunningStack) -> None:
    assets = assets_of(https(stack, "/").body)
    assert {a.rsplit(".", 1)[1] for a in assets} == {"js", "css"}
    for asset in assets:
        plain = https(stack, asset)
        assert plain.status == 200 and plain.headers["Cache-Control"] == IMMUTABLE, asset
        packed = https(stack, asset, headers={"Accept-Encoding": "gzip"})
        assert packed.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(packed.body) == plain.body
        # The build's own .gz, as the image holds it: the same bytes.
        held = stack.container("frontend").exec_run(["cat", f"/usr/share/nginx/html{asset}.gz"])
        assert held.exit_code == 0 and held.output == packed.body


def test_a_missing_asset_is_a_404_with_every_header(stack: RunningStack) -> None:
    for path in ("/assets/app.0123456789.js", "/assets/missing.css", "/logo.png"):
        reply = https(stack, path)
        assert reply.status == 404, path
        assert b"<!doctype html>" not in reply.body.lower()
        assert_security_headers(reply)


def test_the_api_keeps_its_prefix_and_cors_answers_for_the_stacks_origin(
    stack: RunningStack,
) -> None:
    own = stack.url  # https://localhost:<port>: the default allowed origin
    items = https(stack, "/api/items", headers={"Origin": own})
    assert items.status == 200 and len(items.json()) == 50
    assert items.headers["Access-Control-Allow-Origin"] == own
    assert "Origin" in items.headers["Vary"]
    stranger = https(stack, "/api/items", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers
    preflight = {"Origin": own, "Access-Control-Request-Method": "POST"}
    allowed = https(stack, "/api/notes", "OPTIONS", headers=preflight)
    assert allowed.status == 204
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    refused = https(
        stack, "/api/notes", "OPTIONS", headers={**preflight, "Origin": "https://evil.example"}
    )
    assert refused.status == 403 and "Access-Control-Allow-Origin" not in refused.headers
