"""nginx.conf as generated from typed values: each setting where it belongs."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import replace

import pytest

from components.config_values import ConfigValueError
from components.edge.nginx import EdgeConfig, Rate, path_pattern
from components.nginx_config import MAX_ARGUMENT_BYTES, Block, bucket_size, d, render

BASE = EdgeConfig(
    nginx_version=(1, 28),
    worker_processes=1,
    server_names=("api.example.com",),
    upstream="api:8080",
    cert_file="/run/prodstack/tls/tls.crt",
    key_file="/run/prodstack/tls/tls.key",
    tls_profile="intermediate",
    ocsp_stapling=True,
    hsts_max_age=31536000,
    hsts_include_subdomains=True,
    hsts_preload=False,
    content_security_policy="default-src 'self'",
    permissions_policy="camera=()",
    api_rate=Rate("api", 10, "second", 20),
    auth_rate=Rate("auth", 5, "minute", 5),
    auth_paths=("/api/auth/",),
    connections_per_client=100,
    zone_size_mib=10,
    max_body_mib=10,
    header_timeout=10,
    body_timeout=10,
    send_timeout=10,
    keepalive_timeout=65,
    proxy_connect_timeout=60,
    proxy_send_timeout=60,
    proxy_read_timeout=60,
    resolver="127.0.0.11",
    resolver_valid_seconds=1,
)


def lines(config: EdgeConfig) -> list[str]:
    return [line.strip() for line in config.render().splitlines()]


def test_intermediate_and_modern_profiles() -> None:
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in lines(BASE)
    assert any(line.startswith("ssl_ciphers ECDHE-") for line in lines(BASE))
    modern = lines(dataclasses.replace(BASE, tls_profile="modern"))
    assert "ssl_protocols TLSv1.3;" in modern
    assert not any(line.startswith("ssl_ciphers") for line in modern)
    assert "ssl_session_tickets off;" in modern


def test_ocsp_stapling_only_when_the_chain_allows() -> None:
    assert "ssl_stapling on;" in lines(BASE)
    # The responder's name is resolved by the edge's resolver (no resolver: nothing staples).
    assert any(line.startswith("resolver ") for line in lines(BASE))
    assert "ssl_stapling on;" not in lines(dataclasses.replace(BASE, ocsp_stapling=False))


@pytest.mark.parametrize(
    ("version", "expected", "absent"),
    [
        ((1, 28), "http2 on;", "listen 8443 ssl http2 default_server;"),
        ((1, 22), "listen 8443 ssl http2 default_server;", "http2 on;"),
    ],
)
def test_http2_syntax_follows_the_nginx_version(
    version: tuple[int, int], expected: str, absent: str
) -> None:
    rendered = lines(dataclasses.replace(BASE, nginx_version=version))
    assert expected in rendered and absent not in rendered


def test_hsts_preload_and_headers_always() -> None:
    preload = lines(dataclasses.replace(BASE, hsts_preload=True))
    assert (
        "add_header Strict-Transport-Security 'max-age=31536000; includeSubDomains; preload' always;"
        in preload
    )
    headers = [line for line in lines(BASE) if line.startswith("add_header")]
    assert headers and all(line.endswith(" always;") for line in headers)


def test_rate_limit_burst_counts_requests_at_once() -> None:
    rendered = lines(BASE)
    assert "limit_req_zone $binary_remote_addr zone=auth:10m rate=5r/m;" in rendered
    assert "limit_req zone=auth burst=4 nodelay;" in rendered  # 5 at once; the 6th is refused
    assert "limit_req zone=api burst=19 nodelay;" in rendered
    assert "limit_req_status 429;" in rendered


def test_real_client_address_only_from_trusted_proxies() -> None:
    direct = lines(BASE)
    assert not any(line.startswith("set_real_ip_from") for line in direct)
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in direct
    behind = lines(dataclasses.replace(BASE, trusted_proxies=("10.0.0.0/8",)))
    assert "set_real_ip_from 10.0.0.0/8;" in behind
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in behind


def test_allow_and_deny_lists() -> None:
    rendered = lines(dataclasses.replace(BASE, allow=("203.0.113.0/24",), deny=("203.0.113.7",)))
    order = [line for line in rendered if line.startswith(("allow ", "deny "))]
    assert order == ["deny 203.0.113.7;", "allow 203.0.113.0/24;", "deny all;"]


def test_directive_quoting() -> None:
    text = render([Block("map", ("$a", "$b"), [d("~^x{1,2}$", "1"), d("return", 200, "a b")])], "t")
    assert "'~^x{1,2}$' 1;" in text
    assert "return 200 'a b';" in text
    assert 'add_header X "a\'b";' in render([d("add_header", "X", "a'b")], "t")
    assert "add_header X 'a\\\\n';" in render([d("add_header", "X", "a\\n")], "t")


@pytest.mark.parametrize("value", ["a\nX-Injected: 1", "a\r\nb", "a\tb", "a\x00", "a\u2028b"])
def test_the_writer_refuses_a_value_that_would_end_the_parameter(value: str) -> None:
    """nginx turns an escaped \\n inside quotes into a line break: in a header value, a header
    of the author's choosing. The writer refuses rather than escapes."""
    with pytest.raises(ConfigValueError, match="control characters"):
        render([d("add_header", "X", value)], "t")


def test_the_writer_refuses_a_parameter_nginx_would_find_too_long() -> None:
    render([d("add_header", "X", "a" * MAX_ARGUMENT_BYTES)], "t")
    render([d("add_header", "X", "'" * (MAX_ARGUMENT_BYTES - 2))], "t")
    with pytest.raises(ConfigValueError, match="one nginx parameter"):
        render([d("add_header", "X", "a" * (MAX_ARGUMENT_BYTES + 1))], "t")
    with pytest.raises(ConfigValueError, match="one nginx parameter"):
        render([d("add_header", "X", "'" * (MAX_ARGUMENT_BYTES - 1))], "t")


def test_an_extra_route_repeats_every_header_with_its_own_csp() -> None:
    from components.edge.nginx import Route

    route = Route("grafana", "/grafana/", "grafana:3000", "default-src 'self' 'unsafe-inline'")
    text = dataclasses.replace(BASE, extra_routes=(route,)).render()
    block = text[text.index("location ^~ /grafana/ {") :]
    block = block[: block.index("\n        }")]
    headers = [line.strip() for line in block.splitlines() if "add_header" in line]
    server = text[text.index("listen 8443 ssl") : text.index("location ~* ")]
    names = {line.split()[1] for line in server.splitlines() if "add_header" in line}
    assert names and {line.split()[1] for line in headers} == names
    assert (
        "add_header Content-Security-Policy \"default-src 'self' 'unsafe-inline'\" always;"
        in headers
    )
    assert "set $upstream_of_grafana grafana:3000;" in block
    assert "proxy_pass http://$upstream_of_grafana;" in block
    assert "upstream grafana {" not in text  # resolved per request, never at start


def test_internal_paths_are_refused_at_the_edge_in_any_case() -> None:
    rendered = replace(BASE, internal_paths=("/metrics",)).render()
    assert "location ~* '^/metrics(/|$)' {\n            return 404;" in rendered
    assert "/metrics" not in BASE.render()
    pattern = re.compile(path_pattern("/metrics"), re.IGNORECASE)
    for path in ("/metrics", "/metrics/", "/METRICS/x", "/Metrics"):
        assert pattern.match(path), path
    assert not pattern.match("/metricsx") and not pattern.match("/api/metrics")


def test_the_auth_limit_matches_its_paths_in_any_case_before_the_api_limit() -> None:
    rendered = BASE.render()
    block = rendered[rendered.index("location ~* ^/api/auth/ {") :]
    assert block.index("limit_req zone=auth") < block.index("}")
    assert "location ^~ /api/auth/" not in rendered
    pattern = re.compile(path_pattern("/api/auth/"), re.IGNORECASE)
    assert pattern.match("/API/Auth/login") and not pattern.match("/api/authx")


def test_hosts_the_stack_does_not_serve_are_refused_on_both_ports() -> None:
    rendered = BASE.render()
    assert (
        "server {\n        listen 8080 default_server;\n        server_name _;\n"
        "        return 421;\n    }"
    ) in rendered
    catch_all = rendered[rendered.index("listen 8443 ssl default_server;") :]
    catch_all = catch_all[: catch_all.index("}")]
    assert "ssl_reject_handshake on;" in catch_all and "return 421;" in catch_all
    # The named servers carry no default_server: they answer only their own names.
    assert rendered.count("default_server") == 2


def test_workers_may_open_a_descriptor_for_both_ends_of_every_connection() -> None:
    rendered = BASE.render()
    assert "worker_connections 4096;" in rendered
    assert "worker_rlimit_nofile 9216;" in rendered


def test_cors_any_origin_is_a_star_and_never_with_credentials() -> None:
    from components.edge.cors import CorsPolicy

    policy = CorsPolicy(("*",), False, ("GET",), ("Content-Type",), (), 600)
    rendered = replace(BASE, cors=policy).render()
    assert "map $http_origin $cors_allow_origin {\n        default *;\n    }" in rendered
    assert "Access-Control-Allow-Credentials" not in rendered
    with pytest.raises(ValueError, match="credentials"):
        CorsPolicy(("*",), True, ("GET",), (), (), 600)


def test_cors_allows_the_stacks_own_origin_unless_told() -> None:
    from tests.support import render, uploads_of

    def allowed(values: dict[str, object]) -> str:
        conf = uploads_of(render("dev", values), "prodstack-dev-edge-0")
        text: str = conf["/run/prodstack/config/nginx.conf"]["content"]
        start = text.index("map $http_origin $cors_allow_origin {")
        return text[start : text.index("}", start)]

    assert "https://localhost $http_origin;" in allowed({})
    on_a_port = allowed({"edge": {"publicPorts": {"https": 8443}}})
    assert "https://localhost:8443 $http_origin;" in on_a_port
    listed = allowed({"edge": {"cors": {"allowedOrigins": ["https://app.example.com"]}}})
    assert "https://app.example.com $http_origin;" in listed and "localhost" not in listed


def test_a_burst_of_one_writes_no_burst_for_nginx_to_refuse() -> None:
    """nginx refuses burst=0: a limit that admits one request at a time has no burst at all
    (found by generated settings against nginx -t)."""
    text = replace(BASE, api_rate=Rate("api", 10, "second", 1)).render()
    assert "burst=0" not in text
    assert "limit_req zone=api;" in text


def test_hash_buckets_hold_the_longest_host_name() -> None:
    """A 253-character domain overflows nginx's default map and server-name hash buckets
    ("could not build map_hash"; found by generated settings against nginx -t)."""
    domain = ".".join(["a" * 63] * 3 + ["b" * 61])
    text = replace(BASE, server_names=(domain,)).render()
    sizes = dict(re.findall(r"(\w+_hash_bucket_size) (\d+);", text))
    assert int(sizes["server_names_hash_bucket_size"]) >= 256 + 16
    assert bucket_size(253) == 512 and bucket_size(10) == 64
