"""blackbox.yml as the stacks render it, read by Debian's blackbox exporter."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.edge.nginx import HTTPS_PORT
from components.monitoring.blackbox import BlackboxConfig
from tests.live import rendered_files, require
from tests.support import render_shipped

EXPORTER = "prometheus-blackbox-exporter"


def check(text: str, path: Path) -> subprocess.CompletedProcess[str]:
    path.write_text(text)
    return subprocess.run(
        [EXPORTER, f"--config.file={path}", "--config.check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_exporter_accepts_each_shipped_stacks_config(stack: str, tmp_path: Path) -> None:
    require(EXPORTER)
    recording = render_shipped(stack)
    carrier = "prodstack-dev-blackbox-0" if stack == "dev" else None
    if carrier is not None:
        text = rendered_files(recording, carrier)["blackbox.yml"]
    else:
        config_map = next(
            r
            for r in recording.resources
            if r.type == "kubernetes:core/v1:ConfigMap" and r.name == "blackbox-blackbox-config"
        )
        text = config_map.inputs["data"]["blackbox.yml"]
    # The CA the dev probe trusts is the container's; any readable file stands in for it.
    result = check(
        text.replace("/run/prodstack/config/probe-ca.crt", "/etc/hostname"), tmp_path / "b.yml"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_refuses_a_broken_config(tmp_path: Path) -> None:
    require(EXPORTER)
    broken = BlackboxConfig("example.com").render().replace("fail_if_not_ssl", "fail_if_not_tls")
    result = check(broken, tmp_path / "b.yml")
    assert result.returncode != 0


def test_the_prober_reaches_the_edge_pods_where_the_load_balancer_routes_inside() -> None:
    """GKE, AKS and MetalLB route the load balancer's address inside the cluster, where
    kube-proxy rewrites it to an edge pod's port before the policy applies: the prober's
    egress admits the edge's pods on that port, and the edge admits the prober."""
    recording = render_shipped("prod")
    policies = {
        r.name: r.inputs["spec"]
        for r in recording.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }

    def named(rules: list[dict], side: str) -> dict[str, list[int]]:  # type: ignore[type-arg]
        return {
            rule[side][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]: [
                p["port"] for p in rule.get("ports", [])
            ]
            for rule in rules
            if side in rule and "podSelector" in rule[side][0]
        }

    assert named(policies["blackbox"]["egress"], "to")["edge"] == [HTTPS_PORT]
    assert HTTPS_PORT in named(policies["edge"]["ingress"], "from")["blackbox"]
