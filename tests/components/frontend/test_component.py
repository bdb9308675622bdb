"""The frontend component on both platforms, under Pulumi mocks: a hardened workload behind
the edge, never public, and the edge's routes to it."""

from __future__ import annotations

import pytest

from infra.render.mock_runtime import Recording
from tests.support import PROD, one, pinned, render, uploads_of

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def prod() -> Recording:
    return render("prod", {**PROD, "frontend": {"enabled": True, "image": pinned("web")}})


@pytest.fixture(scope="module")
def dev() -> Recording:
    return render("dev", {"frontend": {"enabled": True}})


def test_off_by_default_the_edge_sends_everything_to_the_api() -> None:
    recording = render("dev", {})
    assert not [r for r in recording.resources if "frontend" in r.name]
    conf = uploads_of(recording, "prodstack-dev-edge-0")["/run/prodstack/config/nginx.conf"]
    assert "upstream frontend" not in conf["content"]


def test_prod_frontend_is_hardened_replicated_and_not_public(prod: Recording) -> None:
    spec = one(prod, DEPLOYMENT, "frontend").inputs["spec"]
    assert spec["replicas"] >= 2
    pod = spec["template"]["spec"]
    server = pod["containers"][0]
    assert server["image"] == pinned("web")
    assert server["command"] == [
        *("sh", "-c", 'rm -f "$0" && exec "$@"', "/run/nginx-status/nginx.sock"),
        *("nginx", "-c", "/run/prodstack/config/frontend.conf"),
    ]
    context = server["securityContext"]
    assert context["runAsNonRoot"] and context["runAsUser"] == 10103
    assert context["readOnlyRootFilesystem"] and not context["allowPrivilegeEscalation"]
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    service = one(prod, "kubernetes:core/v1:Service", "frontend").inputs["spec"]
    assert service.get("type", "ClusterIP") == "ClusterIP"
    hpa = one(prod, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "frontend")
    assert hpa.inputs["spec"]["minReplicas"] >= 2


def test_only_the_edge_reaches_it_and_prometheus_its_exporter(prod: Recording) -> None:
    policy = one(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "frontend").inputs["spec"]
    admitted = {
        (
            source["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
            tuple(sorted(p["port"] for p in rule["ports"])),
        )
        for rule in policy["ingress"]
        for source in rule["from"]
    }
    assert admitted == {("edge", (8080,)), ("prometheus", (9113,))}
    # It opens no connections of its own: egress is denied, no rule allows any.
    assert "Egress" in policy["policyTypes"] and policy.get("egress", []) == []


def test_the_edge_routes_the_api_and_the_app(prod: Recording) -> None:
    conf = one(prod, "kubernetes:core/v1:ConfigMap", "edge-edge-config").inputs["data"][
        "nginx.conf"
    ]
    assert "set $upstream_of_frontend frontend.prodstack-prod.svc.cluster.local:8080;" in conf
    assert "location ~* ^/api/ {" in conf
    assert "location = /health/live {" in conf
    assert "location = /health/ready {" not in conf  # refused at the edge, not routed
    # The app's pages under the app's CSP, rate limited by its own zone.
    app = conf[conf.index("        location / {") :]
    assert "script-src 'self'" in app
    assert "limit_req zone=frontend burst=99 nodelay;" in app
    assert "proxy_pass http://$upstream_of_frontend;" in app


def test_on_docker_it_is_on_its_own_network_alone_with_the_edge(dev: Recording) -> None:
    frontend = one(dev, CONTAINER, "prodstack-dev-frontend-0").inputs
    assert frontend.get("ports", []) == []
    assert {n["name"] for n in frontend["networksAdvanced"]} == {"prodstack-dev-frontend"}
    assert frontend["readOnly"] and frontend["user"] == "10103:10103"
    edge = one(dev, CONTAINER, "prodstack-dev-edge-0").inputs
    assert "prodstack-dev-frontend" in {n["name"] for n in edge["networksAdvanced"]}
    # Built from images/frontend, like the reference API.
    image = one(dev, "docker:index/image:Image", "frontend-image").inputs
    assert image["imageName"].startswith("prodstack-frontend:")
    assert image["build"]["dockerfile"].endswith("images/frontend/Dockerfile")
