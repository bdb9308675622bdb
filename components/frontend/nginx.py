"""The frontend's nginx configuration: a single-page app's files with the right cache lifetimes.

Composed from typed values (components/nginx_config.py). The edge in front of it adds TLS,
the security headers and the rate limits; this server decides what a browser may cache:

- a file whose name carries a content hash (or under an immutable prefix) is cached a year and
  never revalidated: a new build gives it a new name;
- index.html and every other file without a hash is revalidated (ETag, Last-Modified), so a
  deploy is seen on the next load;
- a path that looks like a client route is answered with index.html (the app routes it), but a
  missing script, stylesheet, image or font is a 404, never the HTML page;
- text is served gzip-compressed: the build's own .gz files when present, else on the fly.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.exporters import NGINX_STATUS_SOCKET
from components.nginx_config import (
    Block,
    Comment,
    Directive,
    d,
    http_basics,
    render,
    status_server,
)

PORT = 8080
STATUS_PORT = 8081
SCRATCH = "/tmp"
ONE_YEAR = 31_536_000
IMMUTABLE = f"public, max-age={ONE_YEAR}, immutable"
INDEX = "index.html"
# A name part of eight or more letters and digits, a digit among them, before the extension:
# app.3f9a1c2b.js, index-B7x2k9Qa.css (webpack, Vite, esbuild, Angular). A word like
# "application" carries no digit, so app-application.js is never taken for hashed.
HASHED_NAME = r"[.-](?=[A-Za-z0-9_]*[0-9])[A-Za-z0-9_]{8,}\.[A-Za-z0-9]+$"
# Files the app loads by name: missing, they are a 404, never index.html.
ASSET_EXTENSIONS = (
    "js", "mjs", "css", "map", "json", "wasm", "txt", "xml", "webmanifest",
    "png", "jpg", "jpeg", "gif", "svg", "ico", "webp", "avif",
    "woff", "woff2", "ttf", "otf", "eot", "mp4", "webm", "mp3", "pdf",
)  # fmt: skip
GZIP_TYPES = (
    "text/css",
    "text/plain",
    "text/xml",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "application/wasm",
    "image/svg+xml",
)


def entry_cache_control(max_age_seconds: int) -> str:
    """Cache-Control of index.html and the other unhashed files."""
    if max_age_seconds == 0:
        return "no-cache"
    return f"public, max-age={max_age_seconds}, must-revalidate"


@dataclass(frozen=True)
class FrontendConfig:
    # From the container's CPU limit (nginx_config.worker_processes).
    worker_processes: int
    root: str
    entry_max_age_seconds: int = 0
    immutable_paths: tuple[str, ...] = ()
    port: int = PORT
    status_port: int = STATUS_PORT
    status_socket: str = NGINX_STATUS_SOCKET
    scratch: str = SCRATCH

    def cache(self, value: str) -> Directive:
        # Not `always`: a 404 must not be cached for a year.
        return d("add_header", "Cache-Control", value)

    def locations(self) -> list[Directive | Block | Comment]:
        entry = self.cache(entry_cache_control(self.entry_max_age_seconds))
        immutable: list[Directive | Block | Comment] = [
            self.cache(IMMUTABLE),
            d("try_files", "$uri", "=404"),
        ]
        assets = "|".join(ASSET_EXTENSIONS)
        return [
            Comment("dot files (.git, .env) are never served"),
            Block("location", ("~", r"/\.(?!well-known/)"), [d("return", 404)]),
            *(Block("location", ("^~", prefix), immutable) for prefix in self.immutable_paths),
            Comment("a content hash in the name: the name changes when the file does"),
            Block("location", ("~", HASHED_NAME), immutable),
            Comment("other files by name: revalidated; missing, a 404 (never the HTML page)"),
            Block("location", ("~*", rf"\.({assets})$"), [entry, d("try_files", "$uri", "=404")]),
            Block("location", ("=", f"/{INDEX}"), [entry]),
            Comment("anything else: a file, a prerendered page, or a route of the app"),
            Block(
                "location",
                ("/",),
                [entry, d("try_files", "$uri", f"$uri/{INDEX}", f"/{INDEX}")],
            ),
        ]

    def server(self) -> Block:
        return Block(
            "server",
            children=[
                d("listen", self.port),
                d("root", self.root),
                d("index", INDEX),
                # The edge sends the visitor's Host; redirects must not point at this port.
                d("absolute_redirect", "off"),
                *self.locations(),
            ],
        )

    def render(self) -> str:
        http: list[Directive | Block | Comment] = [
            *http_basics(self.scratch),
            # The edge logs every request, with this server's status and timing.
            d("access_log", "off"),
            d("sendfile", "on"),
            d("tcp_nopush", "on"),
            # ETag and Last-Modified are nginx's defaults for files; revalidation needs them.
            d("etag", "on"),
            d("if_modified_since", "exact"),
            d("gzip_static", "on"),
            d("gzip", "on"),
            d("gzip_min_length", 256),
            d("gzip_vary", "on"),
            d("gzip_proxied", "any"),
            d("gzip_types", *GZIP_TYPES),
            self.server(),
            status_server(self.status_port, self.status_socket),
        ]
        top: list[Directive | Block | Comment] = [
            d("daemon", "off"),
            d("worker_processes", self.worker_processes),
            d("pid", f"{self.scratch}/nginx.pid"),
            d("error_log", "/dev/stderr", "warn"),
            Block("events", children=[d("worker_connections", 1024)]),
            Block("http", children=http),
        ]
        return render(top, "components/frontend/nginx.py")
