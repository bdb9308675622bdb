"""CORS for the API, answered at the edge: which browser origins may call it, and how.

Rendered into the edge's nginx.conf (components/edge/nginx.py) as maps in the http block and
headers in each API location:

- an allowed origin is echoed in Access-Control-Allow-Origin; any other gets no CORS header at
  all (the browser then keeps the reply from the page);
- a preflight (OPTIONS with Origin and Access-Control-Request-Method) never reaches the API:
  204 with the allowed methods, headers and max age for an allowed origin, 403 otherwise;
- every API reply says `Vary: Origin`, so no cache hands one origin's answer to another.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.nginx_config import Block, Comment, Directive, d

ANY = "*"
ALLOW_ORIGIN = "$cors_allow_origin"
PREFLIGHT = "$cors_preflight"


@dataclass(frozen=True)
class CorsPolicy:
    origins: tuple[str, ...]  # ("*",) for any origin
    credentials: bool
    methods: tuple[str, ...]
    headers: tuple[str, ...]
    exposed: tuple[str, ...]
    max_age_seconds: int

    def __post_init__(self) -> None:
        # Browsers refuse it, and an echoed origin with credentials would be worse: never.
        if ANY in self.origins and self.credentials:
            raise ValueError("CORS for any origin cannot allow credentials")

    def _when_allowed(self, variable: str, value: str) -> Block:
        """`variable` is `value` for a request from an allowed origin, else empty."""
        return Block("map", (ALLOW_ORIGIN, variable), [d("", ""), d("default", value)])

    def _when_preflight(self, variable: str, value: str) -> Block:
        """`variable` is `value` for an allowed preflight alone, else empty."""
        return Block("map", (PREFLIGHT, variable), [d("default", ""), d("allowed", value)])

    def maps(self) -> list[Directive | Block | Comment]:
        if ANY in self.origins:
            origin: list[Directive | Block | Comment] = [d("default", ANY)]
        else:
            origin = [d("default", ""), *(d(o, "$http_origin") for o in self.origins)]
        preflight = "$request_method|$http_origin|$http_access_control_request_method|"
        found: list[Directive | Block | Comment] = [
            Comment("CORS: the origins allowed to call the API (components/edge/cors.py)"),
            Block("map", ("$http_origin", ALLOW_ORIGIN), origin),
            Block(
                "map",
                (preflight + ALLOW_ORIGIN, PREFLIGHT),
                [
                    d("default", ""),
                    d(r"~^OPTIONS\|[^|]+\|[^|]+\|$", "refused"),
                    d(r"~^OPTIONS\|[^|]+\|[^|]+\|.", "allowed"),
                ],
            ),
            self._when_preflight("$cors_allow_methods", ", ".join(self.methods)),
            self._when_preflight("$cors_allow_headers", ", ".join(self.headers)),
            self._when_preflight("$cors_max_age", str(self.max_age_seconds)),
        ]
        if self.exposed:
            found.append(self._when_allowed("$cors_expose_headers", ", ".join(self.exposed)))
        if self.credentials:
            found.append(self._when_allowed("$cors_allow_credentials", "true"))
        return found

    def location(self) -> list[Directive | Block | Comment]:
        """For each API location: preflights answered here, the headers on every reply (an
        empty value sends no header)."""
        headers = {
            "Vary": "Origin",
            "Access-Control-Allow-Origin": ALLOW_ORIGIN,
            "Access-Control-Allow-Methods": "$cors_allow_methods",
            "Access-Control-Allow-Headers": "$cors_allow_headers",
            "Access-Control-Max-Age": "$cors_max_age",
        }
        if self.exposed:
            headers["Access-Control-Expose-Headers"] = "$cors_expose_headers"
        if self.credentials:
            headers["Access-Control-Allow-Credentials"] = "$cors_allow_credentials"
        return [
            Comment("CORS preflights are answered here and never reach the API"),
            Block("if", (f"({PREFLIGHT}", "=", "allowed)"), [d("return", 204)]),
            Block("if", (f"({PREFLIGHT}", "=", "refused)"), [d("return", 403)]),
            *(d("add_header", name, value, "always") for name, value in headers.items()),
        ]
