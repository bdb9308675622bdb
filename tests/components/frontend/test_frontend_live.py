"""The frontend's rendered frontend.conf and the edge's nginx.conf, run by Debian's nginx on
loopback: the reference frontend (built by its own build script) behind the edge, with the
reference API under /api/. What a browser gets: cache lifetimes, the app's routes, 404s for
missing files, compression, security headers everywhere, and CORS for the API."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.components.edge.server import Reply, assert_security_headers, https_request
from tests.components.frontend.server import FrontendStack, frontend_behind_edge, hashed

pytestmark = pytest.mark.live

APP_ORIGIN = "https://app.example.com"
DEV_SERVER = "http://localhost:5173"
IMMUTABLE = "public, max-age=31536000, immutable"
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Max-Age",
    "Access-Control-Expose-Headers",
)


@dataclass
class Browser:
    stack: FrontendStack

    def get(self, path: str, method: str = "GET", **headers: str) -> Reply:
        named = {name.replace("_", "-"): value for name, value in headers.items()}
        return https_request(self.stack.edge, self.stack.ca[1], method, path, named)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    settings: dict[str, object] = {
        "edge": {
            "cors": {"allowedOrigins": [APP_ORIGIN, DEV_SERVER], "allowCredentials": True},
        }
    }
    with frontend_behind_edge(settings) as stack:
        yield Browser(stack)


def index_html(browser: Browser) -> bytes:
    return (browser.stack.dist / "index.html").read_bytes()


def test_a_hashed_asset_is_cached_for_a_year_as_immutable(browser: Browser) -> None:
    for suffix in (".js", ".css"):
        path = hashed(browser.stack.dist, suffix)
        reply = browser.get(path)
        assert reply.status == 200, path
        assert reply.headers["Cache-Control"] == IMMUTABLE
        assert reply.body == (browser.stack.dist / path.lstrip("/")).read_bytes()
        assert_security_headers(reply)


def test_index_html_is_revalidated_with_etag_and_last_modified(browser: Browser) -> None:
    for path in ("/", "/index.html"):
        reply = browser.get(path)
        assert reply.status == 200
        assert reply.body == index_html(browser)
        assert reply.headers["Cache-Control"] == "no-cache"
        assert reply.headers["Content-Type"].startswith("text/html")
        etag, modified = reply.headers["ETag"], reply.headers["Last-Modified"]
        assert etag and modified
        # A browser revalidating: nothing changed, nothing sent again.
        assert browser.get(path, If_None_Match=etag).status == 304
        assert browser.get(path, If_Modified_Since=modified).status == 304
    # The page points at the hashed files a deploy replaces.
    assert hashed(browser.stack.dist, ".js").encode() in index_html(browser)


def test_a_client_route_gets_the_app_and_an_unhashed_file_is_revalidated(
    browser: Browser,
) -> None:
    for route in ("/items", "/items/42", "/settings/profile", "/users/jane.doe"):
        reply = browser.get(route)
        assert reply.status == 200, route
        assert reply.body == index_html(browser), route
        assert reply.headers["Cache-Control"] == "no-cache", route
    # A page the build prerendered (a static-site generator's about/index.html) is its own.
    (browser.stack.dist / "about").mkdir(exist_ok=True)
    (browser.stack.dist / "about" / "index.html").write_text("<p>about</p>")
    for path in ("/about", "/about/"):
        about = browser.get(path)
        assert about.status == 200 and about.body == b"<p>about</p>", path
        assert about.headers["Cache-Control"] == "no-cache"
    icon = browser.get("/favicon.svg")
    assert icon.status == 200 and icon.headers["Cache-Control"] == "no-cache"


def test_a_missing_asset_is_a_404_never_the_html_page(browser: Browser) -> None:
    for path in (
        "/assets/app.0123456789.js",  # an old build's script, after a deploy
        "/assets/app.css",
        "/logo.png",
        "/fonts/inter.woff2",
        "/manifest.webmanifest",
        "/static/js/main.js.map",
        "/.env",
        "/.git/config",
    ):
        reply = browser.get(path)
        assert reply.status == 404, path
        assert b"<!doctype html>" not in reply.body.lower(), path
        assert "immutable" not in reply.headers.get("Cache-Control", ""), path
        assert_security_headers(reply)


def test_text_is_gzipped_from_the_builds_own_gz_files(browser: Browser) -> None:
    dist = browser.stack.dist
    for path in (hashed(dist, ".js"), hashed(dist, ".css"), "/index.html"):
        plain = browser.get(path)
        packed = browser.get(path, Accept_Encoding="gzip")
        assert plain.headers.get("Content-Encoding") is None
        assert packed.headers["Content-Encoding"] == "gzip", path
        # The bytes of the build's .gz (gzip_static), not compressed again on the way.
        assert packed.body == (dist / (path.lstrip("/") + ".gz")).read_bytes(), path
        assert gzip.decompress(packed.body) == plain.body
        assert "Accept-Encoding" in packed.headers["Vary"]


def test_text_without_a_gz_file_is_compressed_on_the_fly(browser: Browser) -> None:
    dist = browser.stack.dist
    (dist / "data.json").write_text('{"items": [' + ",".join(['"x"'] * 400) + "]}")
    reply = browser.get("/data.json", Accept_Encoding="gzip")
    assert reply.status == 200
    assert reply.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(reply.body) == (dist / "data.json").read_bytes()


def test_every_reply_carries_the_security_headers_with_the_apps_csp(browser: Browser) -> None:
    app = browser.get("/items")
    api = browser.get("/api/items")
    missing = browser.get("/assets/gone.0123456789.js")
    for reply in (app, api, missing, browser.get("/metrics")):
        assert_security_headers(reply)
    # The app's pages: its own scripts only; the API keeps the strict default.
    assert "script-src 'self'" in app.headers["Content-Security-Policy"]
    assert api.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "script-src" not in api.headers["Content-Security-Policy"]


def test_the_api_answers_under_its_prefix_and_at_its_health_path(browser: Browser) -> None:
    items = browser.get("/api/items")
    assert items.status == 200 and items.headers["Content-Type"].startswith("application/json")
    assert browser.get("/health/live").status == 200
    # Its metrics and its readiness stay inside the stack, frontend or not.
    assert browser.get("/metrics").status == 404
    assert browser.get("/health/ready").status == 404


def test_cors_echoes_an_allowed_origin_with_vary(browser: Browser) -> None:
    for origin in (APP_ORIGIN, DEV_SERVER):
        reply = browser.get("/api/items", Origin=origin)
        assert reply.status == 200
        assert reply.headers["Access-Control-Allow-Origin"] == origin
        assert reply.headers["Access-Control-Allow-Credentials"] == "true"
        assert reply.headers["Access-Control-Expose-Headers"] == "X-Request-ID"
        assert "Origin" in reply.headers.get_all("Vary", [])
        # Only a preflight says what may be sent.
        assert reply.headers.get("Access-Control-Allow-Methods") is None


def test_cors_sends_nothing_to_an_origin_not_allowed(browser: Browser) -> None:
    for origin in ("https://evil.example", "https://app.example.com.evil.example", "null"):
        reply = browser.get("/api/items", Origin=origin)
        assert reply.status == 200  # the API answers; the browser keeps it from the page
        present = [h for h in CORS_HEADERS if reply.headers.get(h) is not None]
        assert present == [], (origin, present)
        assert "Origin" in reply.headers.get_all("Vary", [])


def test_a_preflight_is_answered_at_the_edge(browser: Browser) -> None:
    for path in ("/api/notes", "/api/auth/login"):
        reply = browser.get(
            path,
            "OPTIONS",
            Origin=APP_ORIGIN,
            Access_Control_Request_Method="POST",
            Access_Control_Request_Headers="content-type",
        )
        # The reference API has no OPTIONS route: a 204 is the edge's.
        assert reply.status == 204, path
        assert reply.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
        assert "POST" in reply.headers["Access-Control-Allow-Methods"]
        assert "Content-Type" in reply.headers["Access-Control-Allow-Headers"]
        assert reply.headers["Access-Control-Max-Age"] == "600"
        assert "Origin" in reply.headers.get_all("Vary", [])
        assert_security_headers(reply)


def test_a_preflight_from_an_origin_not_allowed_is_refused(browser: Browser) -> None:
    reply = browser.get(
        "/api/notes",
        "OPTIONS",
        Origin="https://evil.example",
        Access_Control_Request_Method="DELETE",
    )
    assert reply.status == 403
    present = [h for h in CORS_HEADERS if reply.headers.get(h) is not None]
    assert present == []
    assert_security_headers(reply)


def test_the_frontends_own_files_get_no_cors_headers(browser: Browser) -> None:
    """CORS is the API's: an origin the API allows gets nothing for the frontend's files
    either (the API's route, the control, does answer it)."""
    assert (
        browser.get("/api/items", Origin=APP_ORIGIN).headers.get("Access-Control-Allow-Origin")
        == APP_ORIGIN
    )
    for origin in (APP_ORIGIN, DEV_SERVER, "https://evil.example"):
        for path in ("/items", "/"):
            reply = browser.get(path, Origin=origin)
            assert reply.status == 200, (path, reply.status)
            cors = {k for k in reply.headers if k.lower().startswith("access-control-")}
            assert not cors, (path, origin, cors)


def test_the_smoke_test_checks_the_page_is_revalidated(browser: Browser) -> None:
    """`prodstack smoke`'s frontend check against this edge, and against one whose
    index.html is cached an hour."""
    from infra.ops.smoke import Target, check_frontend

    edge = browser.stack.edge
    target = Target(f"https://localhost:{edge.https_port}", ca_file=browser.stack.ca[1])
    passed = check_frontend(target)
    assert passed.passed and "no-cache" in passed.detail, passed
    cached = {"frontend": {"enabled": True, "cache": {"entryMaxAgeSeconds": 3600}}}
    with frontend_behind_edge(cached) as stale:
        target = Target(f"https://localhost:{stale.edge.https_port}", ca_file=stale.ca[1])
        failed = check_frontend(target)
    assert not failed.passed and "max-age=3600" in failed.detail, failed


def test_the_edge_keeps_serving_a_release_s_assets_after_it_is_gone() -> None:
    """A tab opened before a deploy names the old release's files: once served, the edge
    keeps them (for frontend.cache.previousAssetsHours) though no replica has them any
    more. A file never served is still a 404."""
    with frontend_behind_edge() as stack:
        browser = Browser(stack)
        old = hashed(stack.dist, ".js")
        first = browser.get(old)
        assert first.status == 200
        # The new release: its replicas no longer have the old file.
        (stack.dist / old.removeprefix("/")).unlink()
        (stack.dist / (old.removeprefix("/") + ".gz")).unlink()
        kept = browser.get(old)
        assert kept.status == 200 and kept.body == first.body
        assert_security_headers(kept)
        assert browser.get("/assets/app.0123456789.js").status == 404
