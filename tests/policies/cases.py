"""The policy pack's weakening cases, one or more per rule: each edits what the program
rendered (the engine's view of a component) so that the rule must report it. Read by the
rule tests (test_rules.py) and by the served pack's tests (test_served.py)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from tests.policies.stacks import (
    EngineResource,
    config_map,
    container,
    docker,
    find,
    pod,
    props,
    replace,
    resource,
    set_upload,
    upload,
)

Resources = list[EngineResource]
D, S = ":Deployment", ":StatefulSet"


@dataclass(frozen=True)
class Case:
    rule: str
    stack: str
    weaken: Callable[[Resources], None]
    message: str


def api(r: Resources) -> dict:  # type: ignore[type-arg]
    return container(r, D, "api")  # type: ignore[no-any-return]


def security(r: Resources, **values: object) -> None:
    api(r)["securityContext"].update(values)


def budget_for(name: str) -> Callable[[Resources], None]:
    """A PodDisruptionBudget like the API's, selecting the workload `name`."""

    def weaken(r: Resources) -> None:
        api = find(r, ":PodDisruptionBudget", "api")
        props = copy.deepcopy(api.props)
        props["metadata"]["name"] = name
        props["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] = name
        r.append(resource(api.type, name, f"{api.urn}-{name}", props))

    return weaken


def edit_config(name: str, file: str, old: str, new: str) -> Callable[[Resources], None]:
    def weaken(r: Resources) -> None:
        data = config_map(r, name)
        assert old in data[file], (file, old)
        data[file] = data[file].replace(old, new)

    return weaken


def edit_upload(container_name: str, file: str, old: str, new: str) -> Callable[[Resources], None]:
    def weaken(r: Resources) -> None:
        text = upload(r, container_name, file)["content"]
        assert old in text, (file, old)
        set_upload(r, container_name, file, text.replace(old, new))

    return weaken


def add_sidecar(r: Resources, **spec: object) -> None:
    pod(r, D, "api")["containers"].append({**api(r), "name": "debug", **spec})


def remove(type_suffix: str, name: str) -> Callable[[Resources], None]:
    def weaken(r: Resources) -> None:
        r.remove(find(r, type_suffix, name))

    return weaken


def protect(name: str, value: bool) -> Callable[[Resources], None]:
    def weaken(r: Resources) -> None:
        replace(r, find(r, S, name), protect=value)

    return weaken


def unsecret(type_suffix: str, name: str) -> Callable[[Resources], None]:
    def weaken(r: Resources) -> None:
        replace(r, find(r, type_suffix, name), secret_paths=frozenset())

    return weaken


DOCKER_API = "prodstack-dev-api-0"
EDGE_CONF = ("edge-edge-config", "nginx.conf")
RULES_FILE = ("prometheus-prometheus-config", "rules.yml")
ALERTMANAGER = ("alertmanager-alertmanager-config", "alertmanager.yml")
FRONTEND_CONF = ("frontend-frontend-config", "frontend.conf")
# The origin map: the stack's own origin, nothing for any other.
ORIGIN_DEFAULT = "map $http_origin $cors_allow_origin {\n        default '';"
ORIGIN_ECHOED = "map $http_origin $cors_allow_origin {\n        default $http_origin;"


def echo_origins_with_credentials(r: Resources) -> None:
    edit_config(*EDGE_CONF, ORIGIN_DEFAULT, ORIGIN_ECHOED)(r)
    edit_config(
        *EDGE_CONF,
        "add_header Vary Origin always;",
        "add_header Vary Origin always;\n add_header Access-Control-Allow-Credentials true always;",
    )(r)


CASES = [
    Case(
        "k8s-no-privileged",
        "prod",
        lambda r: add_sidecar(r, securityContext={**api(r)["securityContext"], "privileged": True}),
        "container debug is privileged",
    ),
    Case(
        "k8s-no-privilege-escalation",
        "prod",
        lambda r: security(r, allowPrivilegeEscalation=True),
        "allowPrivilegeEscalation",
    ),
    Case("k8s-run-as-non-root", "prod", lambda r: security(r, runAsUser=0), "runs as uid 0"),
    Case("k8s-non-root-groups", "prod", lambda r: security(r, runAsGroup=0), "group 0"),
    Case(
        "k8s-read-only-root-filesystem",
        "prod",
        lambda r: security(r, readOnlyRootFilesystem=False),
        "writable root filesystem",
    ),
    Case(
        "k8s-drop-all-capabilities",
        "prod",
        lambda r: security(r, capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
        "adds capabilities SYS_ADMIN",
    ),
    Case(
        "k8s-seccomp-profile",
        "prod",
        lambda r: security(r, seccompProfile={"type": "Unconfined"}),
        "seccomp profile Unconfined",
    ),
    Case(
        "k8s-no-host-namespaces", "prod", lambda r: pod(r, D, "api").update(hostPID=True), "hostPID"
    ),
    Case(
        "k8s-no-host-ports",
        "prod",
        lambda r: api(r)["ports"][0].update(hostPort=8080),
        "host port 8080",
    ),
    Case(
        "k8s-restricted-volume-types",
        "prod",
        lambda r: pod(r, D, "api")["volumes"].append(
            {"name": "logs", "hostPath": {"path": "/var/log"}}
        ),
        "volume logs is of type hostPath",
    ),
    Case(
        "k8s-no-runtime-socket",
        "prod",
        lambda r: pod(r, D, "api")["volumes"].append(
            {"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}
        ),
        "runtime socket",
    ),
    Case(
        "k8s-default-proc-mount",
        "prod",
        lambda r: security(r, procMount="Unmasked"),
        "procMount Unmasked",
    ),
    Case(
        "k8s-safe-sysctls",
        "prod",
        lambda r: (
            pod(r, D, "api")
            .setdefault("securityContext", {})
            .update(sysctls=[{"name": "kernel.msgmax", "value": "1"}])
        ),
        "unsafe sysctl kernel.msgmax",
    ),
    Case(
        "k8s-resource-requests",
        "prod",
        lambda r: api(r)["resources"].pop("requests"),
        "requests no cpu",
    ),
    Case(
        "k8s-memory-limits",
        "prod",
        lambda r: api(r)["resources"]["limits"].pop("memory"),
        "no memory limit",
    ),
    Case(
        "k8s-scratch-requested",
        "prod",
        lambda r: container(r, S, "postgres")["resources"]["requests"].pop("ephemeral-storage"),
        "of ephemeral-storage",
    ),
    Case(
        "k8s-scratch-requested",
        "prod",
        # The old render's drill: 100Gi of the node's disk beside the database.
        lambda r: pod(r, S, "postgres")["volumes"].append(
            {"name": "drill", "emptyDir": {"sizeLimit": "100Gi"}}
        ),
        "may take 102",
    ),
    Case(
        "k8s-data-store-guaranteed",
        "prod",
        lambda r: container(r, S, "postgres")["resources"]["requests"].update(memory="1Gi"),
        "not Guaranteed",
    ),
    Case(
        "k8s-data-store-guaranteed",
        "prod",
        lambda r: pod(r, S, "redis").pop("priorityClassName"),
        "no priorityClassName",
    ),
    Case("k8s-probes", "prod", lambda r: api(r).pop("readinessProbe"), "no readinessProbe"),
    Case(
        "k8s-probes",
        "prod",
        lambda r: container(r, S, "postgres", 2).update(
            readinessProbe=container(r, S, "postgres", 2)["livenessProbe"]
        ),
        "has a readinessProbe, which gates",
    ),
    Case(
        "k8s-probes-differ",
        "prod",
        lambda r: api(r).update(livenessProbe=api(r)["readinessProbe"]),
        "identical liveness and readiness",
    ),
    Case(
        "k8s-image-tag-pinned",
        "prod",
        lambda r: api(r).update(image="ghcr.io/example/api:latest"),
        "without a pinned tag",
    ),
    Case(
        "k8s-image-digest",
        "prod",
        lambda r: api(r).update(image="ghcr.io/example/api:1.4.2"),
        "without a sha256 digest",
    ),
    Case(
        "k8s-allowed-registries",
        "prod",
        lambda r: api(r).update(image="evil.example.net/api:1.0@sha256:" + "a" * 64),
        "pulls from evil.example.net",
    ),
    Case(
        "k8s-no-bare-pods",
        "prod",
        lambda r: r.append(
            resource(
                "kubernetes:core/v1:Pod",
                "debug",
                "urn:debug",
                {
                    "metadata": {"name": "debug", "namespace": "prodstack-prod"},
                    "spec": pod(r, D, "api"),
                },
            )
        ),
        "bare pod",
    ),
    Case(
        "k8s-dedicated-service-account",
        "prod",
        lambda r: pod(r, D, "api").update(serviceAccountName="default"),
        "default ServiceAccount",
    ),
    Case(
        "k8s-no-token-automount",
        "prod",
        lambda r: pod(r, D, "api").update(automountServiceAccountToken=True),
        "mounts an API token for api",
    ),
    Case(
        "k8s-rbac-read-only",
        "prod",
        lambda r: props(r, ":ClusterRole", "prodstack-prod-prometheus")["rules"].append(
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
        ),
        "reads Secrets in every namespace",
    ),
    Case(
        "k8s-rbac-read-only",
        "prod",
        lambda r: props(r, ":Role", "kube-state-metrics")["rules"][0]["resources"].append(
            "secrets"
        ),
        "reads Secrets in its namespace",
    ),
    Case(
        "k8s-rbac-read-only",
        "prod",
        lambda r: props(r, ":Role", "kube-state-metrics")["rules"][0].update(verbs=["*"]),
        "grants a wildcard",
    ),
    Case(
        "k8s-rbac-read-only",
        "prod",
        lambda r: props(r, ":Role", "prometheus")["rules"][0]["verbs"].append("delete"),
        "grants delete on pods",
    ),
    Case(
        "k8s-namespace",
        "prod",
        lambda r: props(r, D, "api")["metadata"].update(namespace="default"),
        "in the default namespace",
    ),
    Case(
        "k8s-namespace-pod-security",
        "prod",
        lambda r: props(r, ":Namespace", "platform")["metadata"]["labels"].update(
            {"pod-security.kubernetes.io/enforce": "baseline"}
        ),
        "baseline, not restricted",
    ),
    Case(
        "k8s-unique-env",
        "prod",
        lambda r: (
            api(r)
            .setdefault("env", [])
            .extend([{"name": "X", "value": "1"}, {"name": "X", "value": "2"}])
        ),
        "defines X 2 times",
    ),
    Case(
        "k8s-recommended-labels",
        "prod",
        lambda r: props(r, D, "api")["metadata"]["labels"].pop("app.kubernetes.io/version"),
        "lacks labels app.kubernetes.io/version",
    ),
    Case(
        "k8s-selector-matches-template",
        "prod",
        lambda r: props(r, D, "api")["spec"]["selector"]["matchLabels"].update({"tier": "web"}),
        "selects tier=web",
    ),
    Case(
        "k8s-cronjob-limits",
        "prod",
        lambda r: r.append(
            resource(
                "kubernetes:batch/v1:CronJob",
                "report",
                "urn:report",
                {
                    "metadata": {"name": "report", "namespace": "prodstack-prod"},
                    "spec": {
                        "schedule": "0 * * * *",
                        "concurrencyPolicy": "Allow",
                        "jobTemplate": {
                            "spec": {
                                "ttlSecondsAfterFinished": 60,
                                "template": {"spec": pod(r, D, "api")},
                            }
                        },
                    },
                },
            )
        ),
        "allows concurrent runs",
    ),
    Case(
        "k8s-job-ttl",
        "prod",
        lambda r: r.append(
            resource(
                "kubernetes:batch/v1:Job",
                "migrate",
                "urn:migrate",
                {
                    "metadata": {"name": "migrate", "namespace": "prodstack-prod"},
                    "spec": {"template": {"spec": pod(r, D, "api")}},
                },
            )
        ),
        "no ttlSecondsAfterFinished",
    ),
    Case(
        "availability-replicas",
        "prod",
        lambda r: props(r, ":HorizontalPodAutoscaler", "api")["spec"].update(minReplicas=1),
        "autoscales between 1",
    ),
    Case(
        "availability-disruption-budget",
        "prod",
        remove(":PodDisruptionBudget", "api"),
        "has no PodDisruptionBudget",
    ),
    Case(
        "availability-disruption-budget",
        "prod",
        budget_for("postgres"),
        "protects nothing",
    ),
    Case(
        "availability-spread",
        "prod",
        lambda r: pod(r, D, "api").pop("topologySpreadConstraints"),
        "no spread over nodes",
    ),
    Case(
        "availability-rolling-update",
        "prod",
        lambda r: props(r, D, "api")["spec"]["strategy"]["rollingUpdate"].update(maxUnavailable=1),
        "allows 1 unavailable",
    ),
    Case(
        "network-default-deny",
        "prod",
        remove(":NetworkPolicy", "platform-default-deny"),
        "no default-deny",
    ),
    Case(
        "network-pods-selected",
        "prod",
        remove(":NetworkPolicy", "api"),
        "no NetworkPolicy of their own",
    ),
    Case(
        "network-public-services",
        "prod",
        lambda r: props(r, ":Service", "postgres")["spec"].update(type="LoadBalancer"),
        "LoadBalancer but not the edge",
    ),
    Case(
        "network-data-store-clients",
        "prod",
        lambda r: props(r, ":NetworkPolicy", "postgres")["spec"]["ingress"][0]["from"].append(
            {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "grafana"}}}
        ),
        "lets grafana reach postgres on 5432",
    ),
    Case(
        "no-node-credentials",
        "prod",
        # What keyType auto needed: the node's credentials from the metadata service.
        lambda r: props(r, ":NetworkPolicy", "postgres")["spec"]["egress"].append(
            {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"port": 80}]}
        ),
        "reaches the instance metadata service 169.254.169.254",
    ),
    Case(
        "no-node-credentials",
        "prod",
        lambda r: props(r, ":NetworkPolicy", "postgres")["spec"]["egress"].append(
            {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}
        ),
        "egress to 0.0.0.0/0 reaches",
    ),
    Case(
        "edge-drains-before-stop",
        "prod",
        # The old render: a 5 s preStop before a balancer that sends for 45 s.
        lambda r: container(r, D, "edge")["lifecycle"]["preStop"]["sleep"].update(seconds=5),
        "stops serving 5 s after it is told to stop, while its load balancer sends it new connections for 45 s",
    ),
    Case(
        "edge-drains-before-stop",
        "prod",
        lambda r: pod(r, D, "edge").update(terminationGracePeriodSeconds=45),
        "is killed after 45 s, before its 45 s preStop",
    ),
    Case(
        "docker-not-privileged",
        "dev",
        lambda r: docker(r, DOCKER_API).update(privileged=True),
        "privileged",
    ),
    Case(
        "docker-drop-all-capabilities",
        "dev",
        lambda r: docker(r, DOCKER_API).update(capabilities={"drops": ["NET_RAW"]}),
        "does not drop ALL",
    ),
    Case(
        "docker-no-new-privileges",
        "dev",
        lambda r: docker(r, DOCKER_API).update(securityOpts=[]),
        "no-new-privileges",
    ),
    Case(
        "docker-read-only-rootfs",
        "dev",
        lambda r: docker(r, DOCKER_API).update(readOnly=False),
        "writable",
    ),
    Case(
        "docker-non-root-user",
        "dev",
        lambda r: docker(r, DOCKER_API).pop("user"),
        "image default user",
    ),
    Case(
        "docker-resource-limits",
        "dev",
        lambda r: docker(r, DOCKER_API).pop("memory"),
        "no memory limit",
    ),
    Case(
        "docker-healthcheck",
        "dev",
        lambda r: docker(r, DOCKER_API).pop("healthcheck"),
        "no healthcheck",
    ),
    Case(
        "docker-restart-policy",
        "dev",
        lambda r: docker(r, DOCKER_API).update(restart="no"),
        "restart policy is no",
    ),
    Case(
        "docker-log-rotation", "dev", lambda r: docker(r, DOCKER_API).pop("logOpts"), "not rotated"
    ),
    Case(
        "docker-no-host-namespaces",
        "dev",
        lambda r: docker(r, DOCKER_API).update(pidMode="host"),
        "pidMode host",
    ),
    Case(
        "docker-no-sensitive-mounts",
        "dev",
        lambda r: docker(r, DOCKER_API)["mounts"].append(
            {"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock"}
        ),
        "/var/run/docker.sock",
    ),
    Case(
        "docker-ports-edge-only",
        "dev",
        lambda r: docker(r, "prodstack-dev-postgres-0").update(
            ports=[{"internal": 5432, "external": 5432}]
        ),
        "postgres publishes ports 5432",
    ),
    Case(
        "docker-data-stores-internal",
        "dev",
        lambda r: docker(r, "prodstack-dev-redis-0")["networksAdvanced"].append(
            {"name": "prodstack-dev-public"}
        ),
        "routable network prodstack-dev-public",
    ),
    Case(
        "secrets-not-in-env",
        "prod",
        lambda r: (
            api(r)
            .setdefault("env", [])
            .append({"name": "DATABASE_PASSWORD", "value": "correct-horse-battery"})
        ),
        "DATABASE_PASSWORD is a credential given as a literal",
    ),
    Case(
        "secrets-not-in-configmaps",
        "prod",
        lambda r: config_map(r, "api-api-config").update(
            {"extra.conf": "api_key = sk_live_abcdefghijklmnop1234"}
        ),
        "holds a credential",
    ),
    Case(
        "secrets-stored-as-secrets",
        "prod",
        unsecret(":Secret", "api-api-secrets"),
        "is not a Pulumi secret",
    ),
    Case(
        "secrets-outputs-marked",
        "prod",
        unsecret(":Stack", "prodstack-prod"),
        "databaseUrl carries a credential",
    ),
    Case(
        "durability-wal-archiving",
        "prod",
        edit_config(
            "postgres-postgres-config", "postgresql.conf", "archive_mode = on", "archive_mode = off"
        ),
        "archive_mode off",
    ),
    Case(
        "durability-backup-schedule",
        "prod",
        lambda r: container(r, S, "postgres", 1)["args"].__setitem__(slice(0, 2), []),
        "no --full schedule",
    ),
    Case(
        "durability-backup-encrypted",
        "prod",
        edit_config(
            "postgres-postgres-config",
            "pgbackrest.conf",
            "repo1-cipher-type=aes-256-cbc",
            "repo1-cipher-type=none",
        ),
        "unencrypted",
    ),
    Case(
        "durability-backup-off-host",
        "prod",
        edit_config(
            "postgres-postgres-config", "pgbackrest.conf", "repo1-type=s3", "repo1-type=posix"
        ),
        "on posix storage",
    ),
    Case(
        "durability-backup-reachable",
        "prod",
        # The audit's finding: Egress declared, no rule out, so WAL never leaves the pod.
        lambda r: props(r, ":NetworkPolicy", "postgres")["spec"].__setitem__("egress", []),
        "postgres's NetworkPolicy lets no connection out on 443, where its s3 repository is",
    ),
    Case(
        "durability-restore-drill",
        "prod",
        remove(":CronJob", "postgres-drill"),
        "no job runs the restore drill",
    ),
    Case(
        "durability-restore-drill",
        "prod",
        # The old render: the backup agent ran the drill inside the database's pod.
        lambda r: container(r, S, "postgres", 1).update(
            command=["python3", "-m", "prodstack_pg.drill"]
        ),
        "runs the restore drill inside the database's pod",
    ),
    Case(
        "durability-data-protected",
        "prod",
        protect("postgres", False),
        "holds data but is not protected",
    ),
    Case(
        "durability-ephemeral-unprotected",
        "ephemeral",
        protect("postgres", True),
        "protected in an ephemeral stack",
    ),
    Case(
        "durability-redis-persistence",
        "dev",
        lambda r: (
            edit_upload("prodstack-dev-redis-0", "redis.conf", "appendonly yes", "appendonly no")(
                r
            ),
            edit_upload("prodstack-dev-redis-0", "redis.conf", "save 3600 1", 'save ""')(r),
        ),
        "persistence off",
    ),
    Case(
        "nginx-worker-count",
        "prod",
        edit_config(*EDGE_CONF, "worker_processes 1;", "worker_processes auto;"),
        "worker_processes is auto",
    ),
    Case(
        "edge-tls-versions",
        "prod",
        edit_config(
            *EDGE_CONF, "ssl_protocols TLSv1.2 TLSv1.3;", "ssl_protocols TLSv1 TLSv1.2 TLSv1.3;"
        ),
        "allows TLSv1",
    ),
    Case(
        "edge-http-redirects",
        "prod",
        edit_config(*EDGE_CONF, "return 308 https://$host$request_uri;", "proxy_pass http://api;"),
        "instead of redirecting",
    ),
    Case(
        "edge-hsts",
        "prod",
        edit_config(*EDGE_CONF, "max-age=31536000", "max-age=86400"),
        "max-age is 86400",
    ),
    Case(
        "edge-security-headers",
        "prod",
        edit_config(*EDGE_CONF, "add_header X-Content-Type-Options nosniff always;", ""),
        "X-Content-Type-Options",
    ),
    Case(
        "edge-rate-limits",
        "prod",
        edit_config(*EDGE_CONF, "rate=5r/m", "rate=50r/s"),
        "no more strictly than the API",
    ),
    Case(
        "edge-cors-origins",
        "prod",
        edit_config(
            *EDGE_CONF,
            "add_header Access-Control-Allow-Origin $cors_allow_origin always;",
            "add_header Access-Control-Allow-Origin * always;",
        ),
        "CORS allows any origin",
    ),
    Case(
        "edge-cors-origins",
        "prod",
        edit_config(*EDGE_CONF, ORIGIN_DEFAULT, ORIGIN_ECHOED),
        "CORS allows any origin",
    ),
    Case(
        "edge-cors-credentials",
        "prod",
        echo_origins_with_credentials,
        "CORS allows credentials from any origin",
    ),
    Case(
        "frontend-entry-cache",
        "prod",
        edit_config(
            *FRONTEND_CONF,
            "add_header Cache-Control no-cache;",
            "add_header Cache-Control 'public, max-age=31536000';",
        ),
        "location = /index.html is cached 31536000 s (more than 300)",
    ),
    Case(
        "frontend-entry-cache",
        "prod",
        edit_config(
            *FRONTEND_CONF,
            "location / {\n            add_header Cache-Control no-cache;",
            "location / {\n            add_header Cache-Control 'public, max-age=31536000, immutable';",
        ),
        "location / is cached as immutable",
    ),
    Case(
        "frontend-entry-cache",
        "prod",
        edit_config(*FRONTEND_CONF, "add_header Cache-Control no-cache;", ""),
        "sends no Cache-Control",
    ),
    Case(
        "edge-certificate-source",
        "prod",
        remove(":Certificate", "edge-tls-certificate"),
        "no certificate source",
    ),
    Case(
        "observability-alert-metadata",
        "prod",
        edit_config(
            *RULES_FILE,
            "      severity: critical\n",
            "",
        ),
        "has no severity",
    ),
    Case(
        "observability-runbooks-exist",
        "prod",
        edit_config(*RULES_FILE, "docs/runbooks/redis.md", "docs/runbooks/missing.md"),
        "missing.md, which does not exist",
    ),
    Case(
        "observability-severities-routed",
        "prod",
        edit_config(
            *ALERTMANAGER, "- name: paging\n  webhook_configs:", "- name: paging\n  disabled:"
        ),
        "severity critical routes to receiver paging, which delivers nowhere",
    ),
    Case(
        "observability-watchdog",
        "prod",
        edit_config(*RULES_FILE, "alert: Watchdog", "alert: Heartbeat"),
        "no Watchdog",
    ),
    Case(
        "observability-receiver-credentials",
        "prod",
        edit_config(
            *ALERTMANAGER,
            "- name: chat\n",
            "- name: chat\n  slack_configs:\n  - api_url: https://hooks.slack.com/services/T0/B0/XYZ\n",
        ),
        "api_url is inline",
    ),
    Case(
        "observability-workloads-scraped",
        "prod",
        lambda r: container(r, D, "api")["ports"][0].update(name="app"),
        "not scraped",
    ),
]
