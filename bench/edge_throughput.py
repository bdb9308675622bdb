"""The generated edge against a minimal nginx TLS reverse proxy, with wrk over TLS on loopback.

Both proxy to the same upstream (an nginx answering a fixed JSON body, so the upstream is not
the bottleneck), with the same certificate, in the same run, alternating. The generated
configuration has its rate limits raised so the benchmark is not throttled; everything else
(headers, logging, gzip, timeouts, request ids) is as rendered.

Goal (issue 4): throughput at least 0.9 of the minimal proxy, p99 latency at most 1.2 times.
Two cores shared with other tenants make single runs vary by 20% or more, so each round runs
every proxy once and the ratios are taken within rounds; a second, identical minimal proxy (the
control) shows how far noise alone moves a ratio.
Prints the figures; asserts nothing. BENCH_SECONDS (default 4), BENCH_ROUNDS (default 15).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.components.edge.server import Edge, make_ca, require_nginx, stack_files
from tests.live import free_port, owned_tempdir, require, server_root

SECONDS = int(os.environ.get("BENCH_SECONDS", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "15"))
# With gzip asked for, only the generated edge compresses: a feature's cost, not overhead.
GZIP = os.environ.get("BENCH_GZIP", "0") == "1"

CONNECTIONS = 64
BODY = '{"items":[' + ",".join(f'{{"id":{i},"name":"item {i}"}}' for i in range(1, 51)) + "]}"
UNTHROTTLED = {
    "rateLimits": {
        "api": {"rate": 100000, "per": "second", "burst": 100000},
        "auth": {"rate": 100000, "per": "second", "burst": 100000},
        "connectionsPerClient": 65535,
    }
}


# Two cores: wrk on one, every nginx on the other, the same for both proxies, so that the
# load generator's scheduling does not decide the tail latency.
SERVER_CPU = ["taskset", "-c", "1"] if (os.cpu_count() or 1) >= 2 else []
CLIENT_CPU = ["taskset", "-c", "0"] if (os.cpu_count() or 1) >= 2 else []


def nginx(conf: Path, cpu: list[str] = SERVER_CPU) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [*cpu, "/usr/sbin/nginx", "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return process


def upstream(root: Path, port: int) -> Path:
    (root / "body.json").write_text(BODY)
    conf = root / "upstream.conf"
    conf.write_text(f"""
worker_processes 1; pid {root}/upstream.pid; error_log {root}/upstream.err;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 100000;
  server {{ listen 127.0.0.1:{port}; default_type application/json;
    location / {{ alias {root}/body.json; }} }} }}
""")
    return conf


def minimal(root: Path, port: int, upstream_port: int, cert: Path, key: Path) -> Path:
    conf = root / "minimal.conf"
    conf.write_text(f"""
worker_processes auto; pid {root}/minimal.pid; error_log {root}/minimal.err;
events {{ worker_connections 4096; }}
http {{ access_log off;
  upstream api {{ server 127.0.0.1:{upstream_port}; keepalive 32; }}
  server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {cert}; ssl_certificate_key {key};
    location / {{ proxy_pass http://api; proxy_http_version 1.1;
      proxy_set_header Connection ""; }} }} }}
""")
    return conf


def wrk(port: int) -> tuple[float, float]:
    """Requests per second and p99 latency in ms."""
    encoding = ["-H", "Accept-Encoding: gzip"] if GZIP else []
    out = subprocess.run(
        [
            *CLIENT_CPU,
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{SECONDS}s",
            "--latency",
            *encoding,
            f"https://127.0.0.1:{port}/api/items",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return rps, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    require_nginx()
    require("wrk")
    with server_root("www-data") as root:
        upstream_port = free_port()
        ca = make_ca(root)
        (root / "edge").mkdir()
        edge = Edge(root / "edge", stack_files(UNTHROTTLED), f"127.0.0.1:{upstream_port}")
        owned_tempdir(root, "www-data")
        edge.prepare(ca)
        # The benchmark reads access logs neither way: send the edge's to a file, as stdout.
        # The upstream is cheap: it shares the client's core, the proxies get one each in turn.
        processes = [nginx(upstream(root, upstream_port), cpu=CLIENT_CPU)]
        edge.start(prefix=tuple(SERVER_CPU))

        ports = {"generated": edge.https_port}
        # The control is a second, identical minimal proxy: its ratio to the minimal one is
        # what this machine's noise alone does to a ratio.
        for name in ("minimal", "control"):
            (root / name).mkdir()
            ports[name] = free_port()
            conf = minimal(root / name, ports[name], upstream_port, edge.cert, edge.key)
            processes.append(nginx(conf))
        try:
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in ports}
            for round_ in range(ROUNDS):
                # Rotate the order so that no proxy always runs first (or right after another).
                names = list(ports)[round_ % 3 :] + list(ports)[: round_ % 3]
                for name in names:
                    results[name].append(wrk(ports[name]))
        finally:
            edge.stop()
            for process in processes:
                process.terminate()
                process.wait()
    report(results)


def quartiles(values: list[float]) -> str:
    low, median, high = statistics.quantiles(values, n=4)
    return f"{median:.2f} (quartiles {low:.2f}-{high:.2f})"


def report(results: dict[str, list[tuple[float, float]]]) -> None:
    """Ratios are taken round by round, each proxy against the minimal one of the same round,
    so that drift of the machine's speed between rounds cancels out."""
    print(
        f"wrk over TLS on loopback: {CONNECTIONS} connections, 1 thread, {SECONDS} s per run, "
        f"{ROUNDS} rounds, {os.cpu_count()} cores; GET /api/items (JSON)"
    )
    for name, runs in results.items():
        rps = statistics.median(r for r, _ in runs)
        p99 = statistics.median(p for _, p in runs)
        print(f"  {name:<9} median {rps:7.0f} req/s, p99 {p99:6.2f} ms")
    minimal_runs = results["minimal"]
    for name in ("generated", "control"):
        throughput = [r / m for (r, _), (m, _) in zip(results[name], minimal_runs, strict=True)]
        latency = [p / m for (_, p), (_, m) in zip(results[name], minimal_runs, strict=True)]
        print(f"  {name}/minimal: throughput {quartiles(throughput)}, p99 {quartiles(latency)}")
    print("  goal: generated/minimal throughput >= 0.9 and p99 <= 1.2; control shows the noise")


if __name__ == "__main__":
    main()
