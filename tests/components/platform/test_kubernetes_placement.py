"""The Kubernetes placement, resource by resource, on the prod settings with test doubles."""

from __future__ import annotations

from typing import Any

import pytest

from components.platform.kubernetes import FILES_DIGEST_ANNOTATION
from components.workload import CONFIG_DIR, SECRETS_DIR
from infra.render.mock_runtime import Recording
from tests.components.platform.doubles import program_with_doubles
from tests.support import PROD, one, pod_specs, render

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RECOMMENDED = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
)


@pytest.fixture(scope="module")
def prod() -> Recording:
    return render("prod", PROD, program=program_with_doubles)


@pytest.fixture(scope="module")
def ephemeral() -> Recording:
    values = {**PROD, "environment": "ephemeral", "platform": "kubernetes"}
    return render("pr-7", values, program=program_with_doubles)


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec["containers"] + spec.get("initContainers", [])


def test_namespace_enforces_restricted_pod_security(prod: Recording) -> None:
    namespace = one(prod, "kubernetes:core/v1:Namespace", "platform")
    labels = namespace.inputs["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_namespace_denies_all_traffic_by_default_and_allows_dns(prod: Recording) -> None:
    deny = one(prod, NETWORK_POLICY, "platform-default-deny").inputs["spec"]
    assert deny["podSelector"] == {}
    assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny and "egress" not in deny
    dns = one(prod, NETWORK_POLICY, "platform-allow-dns").inputs["spec"]
    ports = dns["egress"][0]["ports"]
    assert {(p["protocol"], p["port"]) for p in ports} == {("UDP", 53), ("TCP", 53)}


def test_every_container_is_restricted(prod: Recording) -> None:
    specs = pod_specs(prod)
    assert {r.name for r, _ in specs} == {
        "api",
        "postgres",
        "redis",
        "store",
        "edge",
        "store-backup",
        "prometheus",
        "alertmanager",
        "blackbox",
        "kube-state-metrics",
        "grafana",
    }
    for resource, spec in specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0, resource.name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in containers(spec):
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] > 0 and sc["runAsGroup"] > 0
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["privileged"] is False
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}


def test_writable_paths_are_bounded_empty_dirs(prod: Recording) -> None:
    for _, spec in pod_specs(prod):
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in containers(spec):
            tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
            assert volumes[tmp["name"]]["emptyDir"]["sizeLimit"] == "64Mi"


def test_every_container_has_requests_and_limits(prod: Recording) -> None:
    for _, spec in pod_specs(prod):
        for container in containers(spec):
            resources = container["resources"]
            assert set(resources["requests"]) == {"cpu", "memory"}
            assert set(resources["limits"]) == {"cpu", "memory"}


def test_long_running_containers_have_three_probes(prod: Recording) -> None:
    for resource, spec in pod_specs(prod):
        if resource.type == "kubernetes:batch/v1:CronJob":
            continue
        for container in spec["containers"]:
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in container, (resource.name, container["name"], probe)


def test_api_probes_use_its_health_endpoints(prod: Recording) -> None:
    container = one(prod, DEPLOYMENT, "api").inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": 8080}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": 8080}


def test_pods_use_a_dedicated_service_account_token_only_with_declared_access(
    prod: Recording,
) -> None:
    accounts = {r.name: r.inputs for r in prod.of_type("kubernetes:core/v1:ServiceAccount")}
    for resource, spec in pod_specs(prod):
        name = spec["serviceAccountName"]
        assert name != "default"
        # Prometheus discovers the stack's pods; kube-state-metrics reads their state.
        needs_api = resource.name in ("prometheus", "kube-state-metrics")
        assert spec["automountServiceAccountToken"] is needs_api, resource.name
        assert accounts[name]["automountServiceAccountToken"] is needs_api
    roles = {r.name: r for r in prod.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")}
    assert set(roles) == {"prometheus", "kube-state-metrics"}
    for role in roles.values():
        assert {v for rule in role.inputs["rules"] for v in rule["verbs"]} == {
            "get",
            "list",
            "watch",
        }
    role = roles["prometheus"]
    assert role.inputs["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["pods", "services", "endpoints"],
            "verbs": ["get", "list", "watch"],
        }
    ]
    binding = one(prod, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "prometheus")
    assert binding.inputs["subjects"][0]["name"] == "prometheus"


def test_rolling_updates_never_reduce_capacity_and_drain_before_stop(prod: Recording) -> None:
    deployment = one(prod, DEPLOYMENT, "api").inputs["spec"]
    assert deployment["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    pod = deployment["template"]["spec"]
    pause = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > pause > 0
    keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


def test_prod_api_has_pdb_and_hpa(prod: Recording) -> None:
    pdb = one(prod, "kubernetes:policy/v1:PodDisruptionBudget", "api").inputs["spec"]
    assert pdb["maxUnavailable"] == 1
    hpa = one(prod, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "api").inputs["spec"]
    assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] > hpa["minReplicas"]
    assert {m["resource"]["name"] for m in hpa["metrics"]} == {"cpu", "memory"}
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}


def test_autoscaled_replicas_are_left_to_the_autoscaler(prod: Recording) -> None:
    assert one(prod, DEPLOYMENT, "api").ignore_changes == ["spec.replicas"]


def test_one_replica_stacks_have_no_hpa_and_budgets_that_let_drains_evict() -> None:
    values = {**PROD, "environment": "ephemeral", "platform": "kubernetes"}
    recording = render("pr-1", values)
    budgets = recording.of_type("kubernetes:policy/v1:PodDisruptionBudget")
    controllers = recording.of_type(DEPLOYMENT) + recording.of_type(STATEFULSET)
    assert {b.name for b in budgets} == {c.name for c in controllers}
    assert all(b.inputs["spec"]["maxUnavailable"] == 1 for b in budgets)
    assert recording.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler") == []


def test_secrets_reach_pods_only_as_read_only_files(prod: Recording) -> None:
    for resource, spec in pod_specs(prod):
        for container in containers(spec):
            assert "envFrom" not in container
            for env in container.get("env", []):
                assert "valueFrom" not in env, (resource.name, env)
                assert env["value"] not in prod.secret_values
        for volume in spec["volumes"]:
            if "secret" in volume:
                assert volume["secret"]["defaultMode"] == 0o440
    api = one(prod, DEPLOYMENT, "api").inputs["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["mountPath"]: m for m in api["volumeMounts"]}
    assert mounts[SECRETS_DIR]["readOnly"] is True
    assert mounts[CONFIG_DIR]["readOnly"] is True
    secret = one(prod, "kubernetes:core/v1:Secret", "api-api-secrets").inputs
    assert set(secret["stringData"]) == {
        "signing-key",
        "postgres-password",
        "redis-password",
        "redis-user",
    }
    assert set(secret["stringData"].values()) == {"[secret]"}


def test_changed_files_roll_the_pods(prod: Recording) -> None:
    template = one(prod, DEPLOYMENT, "api").inputs["spec"]["template"]
    assert len(template["metadata"]["annotations"][FILES_DIGEST_ANNOTATION]) == 64


def test_api_accepts_only_its_declared_clients(prod: Recording) -> None:
    policy = one(prod, NETWORK_POLICY, "api").inputs["spec"]
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    reaches = {
        rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]: rule["ports"]
        for rule in policy["ingress"]
    }
    assert reaches == {"edge": [{"port": 8080}], "prometheus": [{"port": 8080}]}


def test_data_store_is_reachable_only_from_its_clients(prod: Recording) -> None:
    policy = one(prod, NETWORK_POLICY, "store").inputs["spec"]
    (rule,) = policy["ingress"]
    assert [p["podSelector"]["matchLabels"] for p in rule["from"]] == [
        {"app.kubernetes.io/name": "api"}
    ]
    edge = one(prod, NETWORK_POLICY, "edge").inputs["spec"]
    assert edge["egress"] == [
        {
            "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "api"}}}],
            "ports": [{"port": 8080}],
        }
    ]


def test_only_the_edge_is_public(prod: Recording) -> None:
    services = {r.name: r.inputs["spec"] for r in prod.of_type("kubernetes:core/v1:Service")}
    public = {name for name, spec in services.items() if spec["type"] != "ClusterIP"}
    assert public == {"edge"}
    assert services["edge"]["type"] == "LoadBalancer"
    assert services["edge"]["externalTrafficPolicy"] == "Local"
    assert {p["port"] for p in services["edge"]["ports"]} == {80, 443}


def test_prod_data_is_protected_and_retained(prod: Recording) -> None:
    statefulset = one(prod, STATEFULSET, "store")
    assert statefulset.protect and statefulset.retain_on_delete
    policy = statefulset.inputs["spec"]["persistentVolumeClaimRetentionPolicy"]
    assert policy == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    claim = statefulset.inputs["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"] == {"storage": "10Gi"}


def test_ephemeral_data_is_not_protected(ephemeral: Recording) -> None:
    statefulset = one(ephemeral, STATEFULSET, "store")
    assert not statefulset.protect and not statefulset.retain_on_delete
    policy = statefulset.inputs["spec"]["persistentVolumeClaimRetentionPolicy"]
    assert policy == {"whenDeleted": "Delete", "whenScaled": "Delete"}
    assert not any(r.protect for r in ephemeral.resources)


def test_cron_jobs_are_bounded(prod: Recording) -> None:
    spec = one(prod, "kubernetes:batch/v1:CronJob", "store-backup").inputs["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 3
    job = spec["jobTemplate"]["spec"]
    assert job["ttlSecondsAfterFinished"] > 0 and job["activeDeadlineSeconds"] > 0
    assert job["template"]["spec"]["restartPolicy"] == "Never"


def test_job_pods_mount_the_workload_claims_they_name(prod: Recording) -> None:
    cron = one(prod, "kubernetes:batch/v1:CronJob", "store-backup").inputs["spec"]
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    mounted = {m["name"] for c in pod["containers"] for m in c["volumeMounts"]}
    declared = {v["name"] for v in pod["volumes"]}
    assert mounted <= declared


def test_sidecars_share_the_pod(prod: Recording) -> None:
    pod = one(prod, STATEFULSET, "store").inputs["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["store", "exporter"]


def test_recommended_labels_and_matching_selectors(prod: Recording) -> None:
    for resource in prod.resources:
        if not resource.type.startswith("kubernetes:") or resource.name.startswith(
            ("platform", "doubles-platform")
        ):
            continue
        labels = resource.inputs["metadata"]["labels"]
        assert all(key in labels for key in RECOMMENDED), resource.name
    for resource in prod.of_type(DEPLOYMENT) + prod.of_type(STATEFULSET):
        spec = resource.inputs["spec"]
        selector = spec["selector"]["matchLabels"]
        template_labels = spec["template"]["metadata"]["labels"]
        assert selector.items() <= template_labels.items()


def test_children_are_parented_to_their_component(prod: Recording) -> None:
    deployment = one(prod, DEPLOYMENT, "api")
    assert deployment.parent.endswith("prodstack:index:Api::api")
    namespace = one(prod, "kubernetes:core/v1:Namespace", "platform")
    assert namespace.parent.endswith("prodstack:index:KubernetesPlatform::platform")
