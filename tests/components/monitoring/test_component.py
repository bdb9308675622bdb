"""The monitoring component in the stack: the configs it renders pass promtool and amtool,
and its placement follows the platform's rules."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
import yaml

from components.monitoring.prometheus import SERVICE_ACCOUNT_DIR
from infra.render.mock_runtime import Recording
from tests.certificates import make_ca
from tests.live import rendered_files, require
from tests.support import PROD, ROOT, one, render, render_shipped


def tool(*command: str) -> subprocess.CompletedProcess[str]:
    """promtool or amtool on a rendered file; the caller asserts on the outcome."""
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_rendered_prometheus_configuration_passes_promtool(dev: Recording, tmp_path: Path) -> None:
    require("promtool")
    files = rendered_files(dev, "prodstack-dev-prometheus-0")
    (tmp_path / "rules.yml").write_text(files["rules.yml"])
    # Only the rule file's path is adapted: /run/prodstack/config is the container's.
    config = files["prometheus.yml"].replace(
        "/run/prodstack/config/rules.yml", str(tmp_path / "rules.yml")
    )
    (tmp_path / "prometheus.yml").write_text(config)
    result = tool("promtool", "check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = {j["job_name"]: j for j in yaml.safe_load(config)["scrape_configs"]}
    assert jobs["api"]["static_configs"][0]["targets"] == ["api:8080"]
    # On Docker a sidecar answers on a host (and network) of its own, never its server's.
    assert jobs["edge"]["static_configs"][0]["targets"] == ["edge-exporter:9113"]
    assert jobs["postgres"]["static_configs"][0]["targets"] == [
        "postgres-backup-agent:9854",
        "postgres-exporter:9187",
    ]


def test_rendered_alertmanager_configuration_passes_amtool(dev: Recording, tmp_path: Path) -> None:
    require("amtool")
    path = tmp_path / "alertmanager.yml"
    path.write_text(rendered_files(dev, "prodstack-dev-alertmanager-0")["alertmanager.yml"])
    result = tool("amtool", "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rendered_runbook_url_names_an_existing_file(prod: Recording) -> None:
    config = one(prod, "kubernetes:core/v1:ConfigMap", "prometheus-prometheus-config").inputs[
        "data"
    ]
    for rule in yaml.safe_load(config["rules.yml"])["groups"][0]["rules"]:
        url = rule["annotations"]["runbook_url"]
        relative = url[url.index("docs/runbooks/") :]
        assert (ROOT / relative).is_file(), url


def test_prometheus_discovers_pods_with_a_read_only_token(prod: Recording) -> None:
    policy = one(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "prometheus").inputs["spec"]
    *to_targets, to_api_and_kubelets = policy["egress"]
    # Only what it scrapes, on the scraped ports: never a database or Redis port.
    reaches = {
        rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]: [
            p["port"] for p in rule["ports"]
        ]
        for rule in to_targets
    }
    assert reaches == {
        "api": [8080],
        "edge": [9113],
        "postgres": [9187, 9854],
        "redis": [9121],
        "alertmanager": [9093],
        "grafana": [3000],
        "kube-state-metrics": [8080],
        "blackbox": [9115],
    }
    assert to_api_and_kubelets == {"ports": [{"port": 443}, {"port": 6443}, {"port": 10250}]}
    config = one(prod, "kubernetes:core/v1:ConfigMap", "prometheus-prometheus-config").inputs[
        "data"
    ]
    assert "kubernetes_sd_configs" in config["prometheus.yml"]


def test_kubelet_metrics_need_one_read_only_cluster_role(prod: Recording) -> None:
    role = one(
        prod, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "prodstack-prod-prometheus"
    )
    assert role.inputs["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "watch"]},
        {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
    ]
    binding = one(
        prod,
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        "prodstack-prod-prometheus",
    )
    assert binding.inputs["roleRef"]["name"] == "prodstack-prod-prometheus"
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": "prometheus", "namespace": "prodstack-prod"}
    ]
    # The only cluster-wide grant of the stack: everything else is a namespaced Role.
    cluster_roles = prod.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    assert [r.name for r in cluster_roles] == ["prodstack-prod-prometheus"]


def test_the_kubelets_can_be_verified_against_a_ca_of_their_own(tmp_path: Path) -> None:
    """Where the kubelets' serving certificates are not signed by the cluster CA (the old
    render verified them against the service account's CA only), settings name their CA.
    (Debian's promtool has no Kubernetes discovery to check this file with.)"""
    _, ca_cert = make_ca(tmp_path)
    pem = ca_cert.read_text()
    data64 = base64.b64encode(pem.encode()).decode()
    values = {**PROD, "monitoring": {**PROD["monitoring"], "kubeletCaData": data64}}
    data = one(
        render("prod", values), "kubernetes:core/v1:ConfigMap", "prometheus-prometheus-config"
    ).inputs["data"]
    assert data["kubelet-ca.crt"] == pem
    jobs = {j["job_name"]: j for j in yaml.safe_load(data["prometheus.yml"])["scrape_configs"]}
    for job in ("kubelet", "cadvisor"):
        assert jobs[job]["tls_config"] == {"ca_file": "/run/prodstack/config/kubelet-ca.crt"}


@pytest.mark.parametrize("mode", ["skip-verify", "off"])
def test_kubelet_metrics_can_skip_verification_or_be_turned_off(mode: str) -> None:
    values = {**PROD, "monitoring": {**PROD["monitoring"], "kubeletMetrics": mode}}
    recording = render("prod", values)
    data = one(recording, "kubernetes:core/v1:ConfigMap", "prometheus-prometheus-config").inputs[
        "data"
    ]
    jobs = {j["job_name"]: j for j in yaml.safe_load(data["prometheus.yml"])["scrape_configs"]}
    policy = one(recording, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "prometheus")
    egress_ports = [p["port"] for p in policy.inputs["spec"]["egress"][-1]["ports"]]
    cluster_roles = recording.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    if mode == "off":
        assert "kubelet" not in jobs and "cadvisor" not in jobs
        assert 10250 not in egress_ports
        assert cluster_roles == []
    else:
        for job in ("kubelet", "cadvisor"):
            assert jobs[job]["tls_config"] == {"insecure_skip_verify": True}
        assert jobs["cadvisor"]["metrics_path"] == "/metrics/cadvisor"
        assert 10250 in egress_ports


def test_docker_stacks_scrape_no_kubelet() -> None:
    recording = render("dev", {"monitoring": {"kubeletMetrics": "verify"}})
    config = rendered_files(recording, "prodstack-dev-prometheus-0")["prometheus.yml"]
    assert "kubelet" not in config


def test_the_probe_checks_the_public_url(prod: Recording, dev: Recording) -> None:
    config = one(prod, "kubernetes:core/v1:ConfigMap", "prometheus-prometheus-config").inputs[
        "data"
    ]
    assert "https://api.example.com/health/live" in config["prometheus.yml"]
    blackbox = rendered_files(dev, "prodstack-dev-blackbox-0")
    module = yaml.safe_load(blackbox["blackbox.yml"])["modules"]["https_2xx"]["http"]
    # On Docker the edge is probed by name, against the stack's own CA.
    assert module["tls_config"] == {
        "server_name": "localhost",
        "ca_file": "/run/prodstack/config/probe-ca.crt",
    }
    assert blackbox["probe-ca.crt"] == "certificate edge-tls-ca"


def test_alertmanager_accepts_only_prometheus(prod: Recording) -> None:
    policy = one(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "alertmanager").inputs[
        "spec"
    ]
    (rule,) = policy["ingress"]
    assert [p["podSelector"]["matchLabels"] for p in rule["from"]] == [
        {"app.kubernetes.io/name": "prometheus"}
    ]


def test_prod_data_is_protected(prod: Recording) -> None:
    assert one(prod, "kubernetes:apps/v1:StatefulSet", "prometheus").protect
    assert one(prod, "kubernetes:apps/v1:StatefulSet", "alertmanager").protect


def test_kube_state_metrics_reads_only_the_stacks_namespace(
    prod: Recording, dev: Recording
) -> None:
    deployment = one(prod, "kubernetes:apps/v1:Deployment", "kube-state-metrics").inputs
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespaces=prodstack-prod" in args
    assert not [r for r in dev.resources if "kube-state-metrics" in r.name]


def test_grafana_is_provisioned_and_private(prod: Recording, dev: Recording) -> None:
    deployment = one(prod, "kubernetes:apps/v1:StatefulSet", "grafana")
    assert deployment.protect
    pod = deployment.inputs["spec"]["template"]["spec"]
    config_volume = next(v for v in pod["volumes"] if v["name"] == "grafana-config")
    paths = {item["path"] for item in config_volume["configMap"]["items"]}
    assert {
        "provisioning/datasources/prometheus.yaml",
        "provisioning/dashboards/prodstack.yaml",
        "dashboards/api.json",
        "dashboards/postgres.json",
    } <= paths
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert (
        env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/prodstack/secrets/grafana-admin-password"
    )
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    service = one(prod, "kubernetes:core/v1:Service", "grafana").inputs["spec"]
    assert service["type"] == "ClusterIP"
    files = rendered_files(dev, "prodstack-dev-grafana-0")
    assert set(files) >= {"prometheus.yaml", "prodstack.yaml", "api.json", "grafana-admin-password"}
    container = one(dev, "docker:index/container:Container", "prodstack-dev-grafana-0")
    assert "ports" not in container.inputs


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_rules_and_alertmanager_pass_the_tools(stack: str, tmp_path: Path) -> None:
    require("promtool", "amtool")
    recording = render_shipped(stack)
    if stack == "dev":
        files = rendered_files(recording, "prodstack-dev-prometheus-0")
        files |= rendered_files(recording, "prodstack-dev-alertmanager-0")
    else:
        files = {
            **one(recording, "kubernetes:core/v1:ConfigMap", "prometheus-prometheus-config").inputs[
                "data"
            ],
            **one(
                recording, "kubernetes:core/v1:ConfigMap", "alertmanager-alertmanager-config"
            ).inputs["data"],
        }
    (tmp_path / "rules.yml").write_text(files["rules.yml"])
    (tmp_path / "alertmanager.yml").write_text(files["alertmanager.yml"])
    rules_check = tool("promtool", "check", "rules", str(tmp_path / "rules.yml"))
    assert rules_check.returncode == 0, rules_check.stdout + rules_check.stderr
    am_check = tool("amtool", "check-config", str(tmp_path / "alertmanager.yml"))
    assert am_check.returncode == 0, am_check.stdout + am_check.stderr


def test_prods_prometheus_configuration_passes_promtool(tmp_path: Path) -> None:
    """Where promtool lacks Kubernetes discovery (Debian builds it without), the discovery
    block alone is swapped for file discovery; every other line, relabelling included, is
    promtool's to check. The discovery block itself is asserted here."""
    require("promtool")
    data = one(
        render_shipped("prod"), "kubernetes:core/v1:ConfigMap", "prometheus-prometheus-config"
    ).inputs["data"]
    (tmp_path / "rules.yml").write_text(data["rules.yml"])
    # Paths adapted: the rule file, and the service account's token and CA, which promtool
    # opens (the pod gets them from Kubernetes).
    (tmp_path / "token").write_text("a token")
    make_ca(tmp_path)
    document = yaml.safe_load(
        data["prometheus.yml"]
        .replace("/run/prodstack/config/rules.yml", str(tmp_path / "rules.yml"))
        .replace(f"{SERVICE_ACCOUNT_DIR}/", f"{tmp_path}/")
    )
    path = tmp_path / "prometheus.yml"

    def promtool() -> subprocess.CompletedProcess[str]:
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return tool("promtool", "check", "config", str(path))

    result = promtool()
    if "field kubernetes_sd_configs not found" in result.stderr:
        discovery = {}
        for job in document["scrape_configs"]:
            if "kubernetes_sd_configs" in job:
                discovery[job["job_name"]] = job.pop("kubernetes_sd_configs")
                job["file_sd_configs"] = [{"files": [str(tmp_path / "targets.json")]}]
        assert discovery == {
            "pods": [{"role": "pod", "namespaces": {"names": ["prodstack-prod"]}}],
            "kubelet": [{"role": "node"}],
            "cadvisor": [{"role": "node"}],
        }
        result = promtool()
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = [job["job_name"] for job in document["scrape_configs"]]
    assert jobs == ["pods", "kubelet", "cadvisor", "blackbox"]


def test_grafana_is_published_only_through_the_edge_when_asked() -> None:
    values = {**PROD, "monitoring": {**PROD["monitoring"], "grafanaPublic": True}}
    recording = render("prod", values)
    config = one(recording, "kubernetes:core/v1:ConfigMap", "edge-edge-config").inputs["data"]
    assert "location ^~ /grafana/ {" in config["nginx.conf"]
    assert (
        "set $upstream_of_grafana grafana.prodstack-prod.svc.cluster.local:3000;"
        in config["nginx.conf"]
    )
    policy = one(recording, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "grafana").inputs[
        "spec"
    ]
    admitted = {
        rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]: rule["ports"]
        for rule in policy["ingress"]
    }
    assert admitted == {"edge": [{"port": 3000}], "prometheus": [{"port": 3000}]}
    pod = one(recording, "kubernetes:apps/v1:StatefulSet", "grafana").inputs["spec"]["template"][
        "spec"
    ]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["GF_SERVER_ROOT_URL"] == "https://api.example.com/grafana/"
    services = {
        r.name: r.inputs["spec"].get("type", "ClusterIP")
        for r in recording.of_type("kubernetes:core/v1:Service")
    }
    assert services["grafana"] == "ClusterIP"  # still only the edge is public


def test_prometheus_and_alertmanager_are_restarted_on_health_not_readiness(
    prod: Recording,
) -> None:
    """Not ready (replaying the WAL, reloading) is no reason to kill the server: liveness
    asks /-/healthy, readiness /-/ready."""
    for name in ("prometheus", "alertmanager"):
        pod = one(prod, "kubernetes:apps/v1:StatefulSet", name).inputs["spec"]["template"]["spec"]
        server = next(c for c in pod["containers"] if c["name"] == name)
        assert server["readinessProbe"]["httpGet"]["path"] == "/-/ready", name
        assert server["livenessProbe"]["httpGet"]["path"] == "/-/healthy", name
