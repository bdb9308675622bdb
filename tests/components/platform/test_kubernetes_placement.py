"""The Kubernetes placement, on the doubles: a restricted namespace, hardened pods, and
each workload's objects (account, files, controller, Service, budget, autoscaler,
NetworkPolicy from the connection graph, CronJob)."""

from __future__ import annotations

from typing import Any

from components.platform.kubernetes import FILES_DIGEST_ANNOTATION
from components.workload import CONFIG_DIR, SECRETS_DIR
from infra.render.mock_runtime import Recording
from tests.components.platform.doubles import Edits, on_kubernetes, restarts_follow_restart_views
from tests.support import one, pod_specs, render

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RECOMMENDED = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
)


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec["containers"] + spec.get("initContainers", [])


def peers(rules: list[dict[str, Any]], side: str) -> dict[str, list[int] | None]:
    """Workload name -> ports, for each rule that names pods."""
    return {
        rule[side][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]: (
            [p["port"] for p in rule["ports"]] if "ports" in rule else None
        )
        for rule in rules
        if side in rule
    }


def test_namespace_enforces_restricted_pod_security(kubernetes_stack: Recording) -> None:
    namespace = one(kubernetes_stack, "kubernetes:core/v1:Namespace", "platform")
    labels = namespace.inputs["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_namespace_denies_all_traffic_by_default_and_allows_dns(
    kubernetes_stack: Recording,
) -> None:
    deny = one(kubernetes_stack, NETWORK_POLICY, "platform-default-deny").inputs["spec"]
    assert deny["podSelector"] == {}
    assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny and "egress" not in deny
    dns = one(kubernetes_stack, NETWORK_POLICY, "platform-allow-dns").inputs["spec"]
    pods, node_local = dns["egress"]
    assert {(p["protocol"], p["port"]) for p in pods["ports"]} == {("UDP", 53), ("TCP", 53)}
    assert pods["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    # NodeLocal DNSCache answers on the node itself, at a link-local address.
    assert node_local["to"] == [{"ipBlock": {"cidr": "169.254.20.10/32"}}]


def test_dns_egress_follows_the_clusters_name_server() -> None:
    """DNS pods on another port or label, and a cache on the node: from settings."""
    from tests.support import PROD

    dns = {"ports": [5353], "podLabel": "app=dns", "addresses": ["10.96.0.10"]}
    recording = render("prod", {**PROD, "kubernetes": {**PROD["kubernetes"], "dns": dns}})
    pods, node_local = one(recording, NETWORK_POLICY, "platform-allow-dns").inputs["spec"]["egress"]
    assert {p["port"] for p in pods["ports"]} == {5353}
    assert pods["to"][0]["podSelector"]["matchLabels"] == {"app": "dns"}
    assert node_local["to"] == [{"ipBlock": {"cidr": "10.96.0.10/32"}}]


def test_one_declaration_yields_both_sides_of_each_connection(
    kubernetes_stack: Recording,
) -> None:
    policies = {r.name: r.inputs["spec"] for r in kubernetes_stack.of_type(NETWORK_POLICY)}
    # The app declared the store, the scraper the store's exporter: the store admits each
    # on exactly its port, and nobody else.
    assert peers(policies["store"]["ingress"], "from") == {"app": [5432], "scraper": [9187]}
    assert peers(policies["app"]["egress"], "to") == {"store": [5432]}
    assert peers(policies["app"]["ingress"], "from") == {"front": [8080], "scraper": [8080]}
    # No ports declared: every port of the server, on its side and on the client's.
    assert peers(policies["scraper"]["egress"], "to") == {"store": [9187], "app": None}
    assert policies["scraper"]["egress"][-1] == {"ports": [{"port": 443}]}
    # The public workload: its public port from anywhere, nothing else.
    assert policies["front"]["ingress"] == [{"ports": [{"port": 8443}]}]
    assert "ingress" not in policies["scraper"]
    for name, spec in policies.items():
        if not name.startswith("platform"):
            assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]


def test_every_container_is_restricted(kubernetes_stack: Recording) -> None:
    specs = pod_specs(kubernetes_stack)
    assert {r.name for r, _ in specs} == {"store", "store-backup", "app", "front", "scraper"}
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


def test_writable_paths_are_bounded_empty_dirs(kubernetes_stack: Recording) -> None:
    for _, spec in pod_specs(kubernetes_stack):
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in containers(spec):
            tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
            assert volumes[tmp["name"]]["emptyDir"]["sizeLimit"] == "64Mi"


def test_every_container_has_requests_and_limits(kubernetes_stack: Recording) -> None:
    """ephemeral-storage too: the node disk its emptyDirs may fill, so the kubelet, short of
    disk, evicts the pods that use more than they asked for."""
    for _, spec in pod_specs(kubernetes_stack):
        on_disk = {
            v["name"]: int(v["emptyDir"]["sizeLimit"].removesuffix("Mi"))
            for v in spec["volumes"]
            if "emptyDir" in v and v["emptyDir"].get("medium") != "Memory"
        }
        for container in containers(spec):
            own = sum(on_disk.get(m["name"], 0) for m in container["volumeMounts"])
            assert own > 0, container["name"]  # a /tmp at least
            assert container["resources"] == {
                "requests": {"cpu": "100m", "memory": "64Mi", "ephemeral-storage": f"{own}Mi"},
                "limits": {"cpu": "500m", "memory": "256Mi"},
            }


def test_long_running_containers_are_probed_and_only_the_main_one_for_readiness(
    kubernetes_stack: Recording,
) -> None:
    for resource, spec in pod_specs(kubernetes_stack):
        if resource.type == "kubernetes:batch/v1:CronJob":
            assert all("readinessProbe" not in c for c in spec["containers"])
            continue
        main, *sidecars = spec["containers"]
        for container in spec["containers"]:
            for probe in ("startupProbe", "livenessProbe"):
                assert probe in container, (resource.name, container["name"], probe)
        # The pod is ready when its server is: a sidecar's readiness would gate it.
        assert "readinessProbe" in main, resource.name
        assert all("readinessProbe" not in c for c in sidecars), resource.name
    app = one(kubernetes_stack, DEPLOYMENT, "app").inputs["spec"]["template"]["spec"]
    assert app["containers"][0]["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8080}
    store = one(kubernetes_stack, STATEFULSET, "store").inputs["spec"]["template"]["spec"]
    assert store["containers"][0]["readinessProbe"]["exec"] == {"command": ["check"]}


def test_a_token_only_for_declared_api_access(kubernetes_stack: Recording) -> None:
    accounts = {
        r.name: r.inputs for r in kubernetes_stack.of_type("kubernetes:core/v1:ServiceAccount")
    }
    for resource, spec in pod_specs(kubernetes_stack):
        name = spec["serviceAccountName"]
        assert name != "default"
        long_running = resource.type != "kubernetes:batch/v1:CronJob"
        needs_api = resource.name == "scraper"
        assert spec["automountServiceAccountToken"] is (needs_api and long_running)
        assert accounts[name]["automountServiceAccountToken"] is needs_api
    (role,) = kubernetes_stack.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")
    assert role.name == "scraper"
    assert role.inputs["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}
    ]
    binding = one(kubernetes_stack, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
    assert binding.inputs["subjects"][0]["name"] == "scraper"


def test_rolling_updates_never_reduce_capacity_and_drain_before_stop(
    kubernetes_stack: Recording,
) -> None:
    deployment = one(kubernetes_stack, DEPLOYMENT, "app").inputs["spec"]
    assert deployment["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    pod = deployment["template"]["spec"]
    pause = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > pause > 0
    keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
    assert keys == {"topology.kubernetes.io/zone"}


def test_autoscaled_workload_has_an_autoscaler_that_owns_its_replicas(
    kubernetes_stack: Recording,
) -> None:
    hpas = kubernetes_stack.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    assert [h.name for h in hpas] == ["app"]
    hpa = hpas[0].inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 4)
    assert {m["resource"]["name"] for m in hpa["metrics"]} == {"cpu", "memory"}
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"}
    assert one(kubernetes_stack, DEPLOYMENT, "app").ignore_changes == ["spec.replicas"]
    assert one(kubernetes_stack, DEPLOYMENT, "front").ignore_changes == []


def test_every_workload_that_can_scale_has_a_budget_that_lets_drains_evict_and_skips_tasks(
    kubernetes_stack: Recording,
) -> None:
    """On one replica a budget protects nothing (a drain evicts it either way): only the
    workloads that can run more than one have one."""
    budgets = kubernetes_stack.of_type("kubernetes:policy/v1:PodDisruptionBudget")
    controllers = kubernetes_stack.of_type(DEPLOYMENT) + kubernetes_stack.of_type(STATEFULSET)
    scalable = {
        c.name
        for c in controllers
        if c.inputs["spec"].get("replicas", 1) > 1
        or any(h.name == c.name for h in kubernetes_stack.of_type(HPA))
    }
    assert scalable and scalable != {c.name for c in controllers}
    assert {b.name for b in budgets} == scalable
    for budget in budgets:
        spec = budget.inputs["spec"]
        assert spec["maxUnavailable"] == 1
        assert spec["selector"]["matchExpressions"] == [
            {"key": "prodstack.dev/task", "operator": "DoesNotExist"}
        ]


def test_secrets_reach_pods_only_as_read_only_files(kubernetes_stack: Recording) -> None:
    for resource, spec in pod_specs(kubernetes_stack):
        for container in containers(spec):
            assert "envFrom" not in container
            for env in container.get("env", []):
                assert "valueFrom" not in env, (resource.name, env)
        for volume in spec["volumes"]:
            if "secret" in volume:
                assert volume["secret"]["defaultMode"] == 0o440
    app = one(kubernetes_stack, DEPLOYMENT, "app").inputs["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m for m in app["containers"][0]["volumeMounts"]}
    assert mounts[SECRETS_DIR]["readOnly"] is True
    assert mounts[CONFIG_DIR]["readOnly"] is True
    secret = one(kubernetes_stack, "kubernetes:core/v1:Secret", "app-app-secrets").inputs
    assert secret["stringData"] == {"signing-key": "[secret]"}


def test_changed_files_roll_the_pods(kubernetes_stack: Recording) -> None:
    template = one(kubernetes_stack, DEPLOYMENT, "app").inputs["spec"]["template"]
    assert len(template["metadata"]["annotations"][FILES_DIGEST_ANNOTATION]) == 64


def test_files_the_servers_take_in_place_do_not_roll_the_pods() -> None:
    """The pod template's files digest follows the restart views (File.restart_view): the
    kubelet updates mounted files in place, and a server that applies them needs no roll."""

    def digest(edits: Edits) -> str:
        recording = render("t", program=lambda: on_kubernetes(edits=edits))
        template = one(recording, STATEFULSET, "store").inputs["spec"]["template"]
        return str(template["metadata"]["annotations"][FILES_DIGEST_ANNOTATION])

    restarts_follow_restart_views(digest)


def test_only_the_public_workload_gets_a_load_balancer(kubernetes_stack: Recording) -> None:
    services = {
        r.name: r.inputs["spec"] for r in kubernetes_stack.of_type("kubernetes:core/v1:Service")
    }
    assert {n for n, s in services.items() if s.get("type", "ClusterIP") != "ClusterIP"} == {
        "front"
    }
    assert services["front"]["externalTrafficPolicy"] == "Local"
    # The public Service carries the public ports only; the status port stays in the pod.
    assert [(p["port"], p["targetPort"]) for p in services["front"]["ports"]] == [(443, "https")]


def test_a_stateful_workload_is_governed_by_a_headless_service(
    kubernetes_stack: Recording,
) -> None:
    statefulset = one(kubernetes_stack, STATEFULSET, "store").inputs["spec"]
    governing = one(kubernetes_stack, "kubernetes:core/v1:Service", "store-pods").inputs["spec"]
    assert statefulset["serviceName"] == "store-pods"
    assert governing["clusterIP"] == "None"
    assert governing["selector"] == statefulset["selector"]["matchLabels"]
    # Clients keep the ordinary Service and its stable address.
    assert (
        "clusterIP"
        not in one(kubernetes_stack, "kubernetes:core/v1:Service", "store").inputs["spec"]
    )


def test_protected_data_is_retained(kubernetes_stack: Recording) -> None:
    statefulset = one(kubernetes_stack, STATEFULSET, "store")
    assert statefulset.protect and statefulset.retain_on_delete
    policy = statefulset.inputs["spec"]["persistentVolumeClaimRetentionPolicy"]
    assert policy == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    claim = statefulset.inputs["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"] == {"storage": "10Gi"}


def test_unprotected_data_goes_with_the_stack(kubernetes_unprotected: Recording) -> None:
    statefulset = one(kubernetes_unprotected, STATEFULSET, "store")
    assert not statefulset.protect and not statefulset.retain_on_delete
    policy = statefulset.inputs["spec"]["persistentVolumeClaimRetentionPolicy"]
    assert policy == {"whenDeleted": "Delete", "whenScaled": "Delete"}
    assert not any(r.protect for r in kubernetes_unprotected.resources)


def test_cron_jobs_are_bounded_and_mount_the_claims_they_name(
    kubernetes_stack: Recording,
) -> None:
    spec = one(kubernetes_stack, "kubernetes:batch/v1:CronJob", "store-backup").inputs["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 3
    job = spec["jobTemplate"]["spec"]
    assert job["ttlSecondsAfterFinished"] > 0 and job["activeDeadlineSeconds"] > 0
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    claims = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert claims == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-store-0"}}]


def test_sidecars_share_the_pod(kubernetes_stack: Recording) -> None:
    pod = one(kubernetes_stack, STATEFULSET, "store").inputs["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["store", "exporter"]


def test_recommended_labels_and_matching_selectors(kubernetes_stack: Recording) -> None:
    for resource in kubernetes_stack.resources:
        if not resource.type.startswith("kubernetes:") or resource.name.startswith("platform"):
            continue
        if resource.type.endswith("Patch"):
            continue  # a patch sets only the fields it holds (a claim's size)
        labels = resource.inputs["metadata"]["labels"]
        assert all(key in labels for key in RECOMMENDED), resource.name
    for resource in kubernetes_stack.of_type(DEPLOYMENT) + kubernetes_stack.of_type(STATEFULSET):
        spec = resource.inputs["spec"]
        selector = spec["selector"]["matchLabels"]
        template_labels = spec["template"]["metadata"]["labels"]
        assert selector.items() <= template_labels.items()


def test_children_are_parented_to_their_component(kubernetes_stack: Recording) -> None:
    deployment = one(kubernetes_stack, DEPLOYMENT, "app")
    assert deployment.parent.endswith("prodstack:test:Doubles::doubles")
    namespace = one(kubernetes_stack, "kubernetes:core/v1:Namespace", "platform")
    assert namespace.parent.endswith("prodstack:index:KubernetesPlatform::platform")
