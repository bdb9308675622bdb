"""The edge component on both platforms, under Pulumi mocks."""

from __future__ import annotations

import re

from infra.render.mock_runtime import Recording
from tests.support import one, render, uploads_of


def test_prod_edge_is_replicated_autoscaled_and_protected_from_disruption(prod: Recording) -> None:
    deployment = one(prod, "kubernetes:apps/v1:Deployment", "edge").inputs["spec"]
    assert deployment["replicas"] >= 2
    hpa = one(prod, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "edge").inputs["spec"]
    assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] > hpa["minReplicas"]
    assert (
        one(prod, "kubernetes:policy/v1:PodDisruptionBudget", "edge").inputs["spec"][
            "maxUnavailable"
        ]
        == 1
    )


def test_the_only_public_service_keeps_the_client_address(prod: Recording) -> None:
    services = {r.name: r.inputs["spec"] for r in prod.of_type("kubernetes:core/v1:Service")}
    public = {name for name, spec in services.items() if spec.get("type") == "LoadBalancer"}
    assert public == {"edge"}
    edge = services["edge"]
    assert (edge["type"], edge["externalTrafficPolicy"]) == ("LoadBalancer", "Local")
    assert {(p["port"], p["targetPort"]) for p in edge["ports"]} == {(80, "http"), (443, "https")}


def test_a_stopping_edge_pod_serves_until_its_load_balancer_has_let_go() -> None:
    """The old render slept 5 s before nginx quit, with a grace of 35 s: under Local a cloud
    balancer sends to a stopping pod for 20-60 s, and requests may take proxy_read_timeout."""
    from tests.support import PROD

    balancer = {
        "deregistrationSeconds": 50,
        "annotations": {"service.beta.kubernetes.io/aws-load-balancer-type": "external"},
    }
    recording = render("prod", {**PROD, "edge": {**PROD["edge"], "loadBalancer": balancer}})
    service = one(recording, "kubernetes:core/v1:Service", "edge").inputs["metadata"]
    assert service["annotations"] == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
        "prodstack.dev/deregistration-seconds": "50",
    }
    pod = one(recording, "kubernetes:apps/v1:Deployment", "edge").inputs["spec"]["template"]
    nginx = pod["spec"]["containers"][0]
    assert nginx["lifecycle"]["preStop"]["sleep"]["seconds"] == 50
    # Then nginx drains: the slowest upstream reply (proxy_read_timeout 60 s) and a margin.
    assert pod["spec"]["terminationGracePeriodSeconds"] == 50 + 60 + 5


def test_prod_waits_45_seconds_for_its_load_balancer(prod: Recording) -> None:
    pod = one(prod, "kubernetes:apps/v1:Deployment", "edge").inputs["spec"]["template"]["spec"]
    assert pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"] == 45


def test_cert_manager_certificate_is_mounted_from_its_secret(prod: Recording) -> None:
    certificate = one(prod, "kubernetes:cert-manager.io/v1:Certificate", "edge-tls-certificate")
    spec = certificate.inputs["spec"]
    assert spec["issuerRef"] == {"name": "letsencrypt-prod", "kind": "ClusterIssuer"}
    assert spec["dnsNames"] == ["api.example.com"]
    pod = one(prod, "kubernetes:apps/v1:Deployment", "edge").inputs["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["edge-edge-tls"]["secret"]["secretName"] == "edge-tls"
    edge = pod["containers"][0]
    mount = next(m for m in edge["volumeMounts"] if m["name"] == "edge-edge-tls")
    assert (mount["mountPath"], mount["readOnly"]) == ("/run/prodstack/tls", True)
    config = one(prod, "kubernetes:core/v1:ConfigMap", "edge-edge-config").inputs["data"][
        "nginx.conf"
    ]
    assert "ssl_certificate /run/prodstack/tls/tls.crt;" in config
    # Let's Encrypt's certificates name no OCSP responder since 2025: nothing to staple.
    assert "ssl_stapling" not in config
    assert "set $upstream_of_api api.prodstack-prod.svc.cluster.local:8080;" in config
    assert "resolver kube-dns.kube-system.svc.cluster.local valid=5s ipv6=off;" in config


def test_edge_runs_unprivileged_through_its_reloader(prod: Recording) -> None:
    pod = one(prod, "kubernetes:apps/v1:Deployment", "edge").inputs["spec"]["template"]["spec"]
    edge = pod["containers"][0]
    # Under the watcher, which reloads it on a new configuration or a renewed certificate,
    # once a stale status
    # socket (a killed nginx's) is gone.
    nginx = "nginx -c /run/prodstack/config/nginx.conf"
    assert edge["command"] == [
        *("sh", "-c", 'rm -f "$0" && exec "$@"', "/run/nginx-status/nginx.sock"),
        *("sh", "/run/prodstack/config/watch.sh"),
        *("--reload", f"{nginx} -t -q && {nginx} -s reload", "--stop", f"{nginx} -s quit"),
        *("--watch", "/run/prodstack/config/nginx.conf"),
        *("--watch", "/run/prodstack/tls/tls.crt", "--watch", "/run/prodstack/tls/tls.key"),
        *("--", "nginx", "-c", "/run/prodstack/config/nginx.conf", "-g", "daemon off;"),
    ]
    # Above 10000 (Checkov CKV_K8S_40): no host account shares it.
    assert edge["securityContext"]["runAsUser"] == 10101
    # The status port (8081) is on loopback: no port of the pod's.
    assert {p["containerPort"] for p in edge["ports"]} == {8080, 8443}
    exporter = pod["containers"][1]
    # stub_status on the socket in the scratch space both mount, never a port.
    assert exporter["args"] == ["--nginx.scrape-uri=unix:/run/nginx-status/nginx.sock:/stub_status"]
    mounts = [{(m["name"], m["mountPath"]) for m in c["volumeMounts"]} for c in (edge, exporter)]
    assert all(("status", "/run/nginx-status") in m for m in mounts)


def test_on_docker_it_publishes_80_and_443_on_the_public_network_only() -> None:
    recording = render("dev", {})
    edge = one(recording, "docker:index/container:Container", "prodstack-dev-edge-0").inputs
    assert {(p["internal"], p["external"]) for p in edge["ports"]} == {(8080, 80), (8443, 443)}
    # The public network is the edge's alone; its own network admits its scrapers, and it
    # joins the API's, the one server it proxies to.
    assert [n["name"] for n in edge["networksAdvanced"]] == [
        "prodstack-dev-edge",
        "prodstack-dev-api",
        "prodstack-dev-public",
    ]
    files = set(uploads_of(recording, "prodstack-dev-edge-0"))
    assert {"/run/prodstack/secrets/tls.crt", "/run/prodstack/secrets/tls.key"} <= files


def test_self_signed_chain_is_a_stack_output_and_its_key_a_secret() -> None:
    recording = render("dev", {})
    assert recording.outputs["caCertPem"] == "certificate edge-tls-ca"
    assert recording.outputs["url"] == "https://localhost"
    key = one(recording, "tls:index/privateKey:PrivateKey", "edge-tls-key")
    assert key.inputs == {"algorithm": "ECDSA", "ecdsaCurve": "P256"}
    assert any(s.endswith("private-key-pem") for s in recording.secret_values)


def test_each_request_to_the_api_opens_its_own_connection(prod: Recording) -> None:
    """A keepalive pool to the Service's address pins connections to the pods kube-proxy
    picked when they opened: new pods get little traffic, terminating ones keep getting
    it. Without one (no upstream block, no keepalive), kube-proxy balances every request."""
    config = one(prod, "kubernetes:core/v1:ConfigMap", "edge-edge-config").inputs["data"][
        "nginx.conf"
    ]
    assert not re.search(r"^\s*upstream\s", config, re.M)
    assert not re.search(r"^\s*keepalive\s", config, re.M)
    assert "proxy_pass http://$upstream_of_api;" in config
