"""Every default, per environment, in one place. docs/settings.md is generated from this table.

A user's `Pulumi.<stack>.yaml` is merged over these values key by key; what no environment
gives a default for (the prod domain and API image) must be set by the user.
"""

from __future__ import annotations

import copy
from typing import Any

from infra.settings.model import REFERENCE_IMAGE, Environment

Tree = dict[str, Any]

# nginx's autoscaling (on CPU alone: components/settings.py, CpuAutoscaling): off, with the
# target it would use once turned on.
FIXED_REPLICAS: Tree = {
    "enabled": False,
    "minReplicas": 1,
    "maxReplicas": 1,
    "targetCpuPercent": 70,
    "scaleDownWindowSeconds": 300,
}

COMMON: Tree = {
    "api": {
        "port": 8080,
        "env": {},
        "livenessPath": "/health/live",
        "readinessPath": "/health/ready",
        "metricsPath": "/metrics",
        # The seed plans: 99.9 % availability, p95 under 500 ms.
        "slo": {"availabilityPercent": 99.9, "latencyMs": 500, "latencyPercent": 95},
        # The reference API's healthcheck program; set your own with your own image on Docker.
        "healthCommand": ["api-healthcheck"],
        "preStopSeconds": 5,
        "shutdownGraceSeconds": 25,
        # The seed plans: requests 250m / 512Mi, limits 1 CPU / 1 GiB.
        "resources": {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "autoscaling": {
            "targetCpuPercent": 70,
            "targetMemoryPercent": 80,
            "scaleDownWindowSeconds": 300,
        },
    },
    "postgres": {
        "image": REFERENCE_IMAGE,
        "version": 17,
        "exporterImage": "quay.io/prometheuscommunity/postgres-exporter:v0.17.1",
        "database": "app",
        "appUser": "app",
        "storageGib": 20,
        # The seed plans: 100 max connections.
        "maxConnections": 100,
        "archiveTimeoutSeconds": 60,
        "slowQueryMs": 500,
        "resources": {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"cpu": "2", "memory": "1Gi"},
        },
        "backup": {
            "schedule": {"full": "0 1 * * 0", "diff": "0 1 * * 1-6"},
            "retention": {"full": 4, "fullType": "count", "diff": 7},
            "compression": "lz4",
            "repository": {"type": "volume", "sizeGib": 40},
            "drillSchedule": "0 4 1 * *",
        },
    },
    "redis": {
        "image": "redis:7.2.11-bookworm",
        "exporterImage": "oliver006/redis_exporter:v1.67.0-alpine",
        "storageGib": 5,
        "maxmemoryPercent": 50,
        "evictionPolicy": "noeviction",
        # The seed plans: memory under 1 GiB for typical use.
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
    },
    "edge": {
        "image": "nginxinc/nginx-unprivileged:1.28.0-alpine",
        "nginxVersion": "1.28",
        "exporterImage": "nginx/nginx-prometheus-exporter:1.4.2",
        "replicas": 1,
        "autoscaling": FIXED_REPLICAS,
        "resources": {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"cpu": "1", "memory": "256Mi"},
        },
        "tlsProfile": "intermediate",
        "hsts": {"maxAgeSeconds": 31536000, "includeSubdomains": True, "preload": False},
        "contentSecurityPolicy": (
            "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'; "
            "form-action 'self'"
        ),
        "permissionsPolicy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        # The seed plans: API 10 r/s burst 20, authentication 5 r/min burst 5, 10 MiB zones.
        "rateLimits": {
            "api": {"rate": 10, "per": "second", "burst": 20},
            "auth": {"rate": 5, "per": "minute", "burst": 5},
            "frontend": {"rate": 50, "per": "second", "burst": 100},
            "authPaths": ["/api/auth/"],
            "connectionsPerClient": 100,
            "zoneSizeMib": 10,
        },
        "client": {
            "maxBodyMib": 10,
            "headerTimeoutSeconds": 10,
            "bodyTimeoutSeconds": 10,
            "sendTimeoutSeconds": 10,
            "keepaliveTimeoutSeconds": 65,
        },
        # The seed plans: proxy send and read timeouts 60 s. Their upstream keepalive 32 is
        # given up: a keepalive pool needs an upstream block, whose names nginx before 1.27.3
        # resolves only at start, so the edge could not follow replicas as they change.
        # A connection inside the stack opens in well under a millisecond; one that does
        # not within 1 s is to a replica just removed (its address lingers a second in the
        # edge's DNS cache), and is tried on the next replica instead of hanging the request.
        "upstream": {
            "connectTimeoutSeconds": 1,
            "sendTimeoutSeconds": 60,
            "readTimeoutSeconds": 60,
        },
        "allow": [],
        "deny": [],
        "trustedProxies": [],
        # The stack's own origin unless set; no cookies across origins unless asked for.
        "cors": {
            "allowCredentials": False,
            "allowedMethods": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            "allowedHeaders": ["Authorization", "Content-Type", "X-Request-ID"],
            "exposedHeaders": ["X-Request-ID"],
            "maxAgeSeconds": 600,
        },
        "certificate": {"source": "self-signed"},
        "publicPorts": {"http": 80, "https": 443, "address": "0.0.0.0"},
        # One host has no load balancer to wait for.
        "loadBalancer": {
            "deregistrationSeconds": 0,
            "clientAddress": "preserved",
            "proxySources": [],
            "annotations": {},
        },
    },
    "frontend": {
        "enabled": False,
        "root": "/usr/share/nginx/html",
        "apiPaths": ["/api/"],
        # A single-page app's own scripts, styles and API calls; nothing inline, no frames.
        "contentSecurityPolicy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
            "object-src 'none'; form-action 'self'"
        ),
        "replicas": 1,
        "autoscaling": FIXED_REPLICAS,
        "resources": {
            "requests": {"cpu": "50m", "memory": "32Mi"},
            "limits": {"cpu": "500m", "memory": "128Mi"},
        },
        # Entry points revalidate on every use, so a deploy shows at once.
        "cache": {"entryMaxAgeSeconds": 0, "immutablePaths": [], "previousAssetsHours": 24},
    },
    "monitoring": {
        "prometheusImage": "prom/prometheus:v2.55.1",
        "alertmanagerImage": "prom/alertmanager:v0.27.0",
        "blackboxImage": "prom/blackbox-exporter:v0.25.0",
        "grafanaImage": "grafana/grafana:11.3.0",
        "kubeStateMetricsImage": "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0",
        # The seed plans: scrape every 10 to 15 s.
        # Outage alerts wait two scrapes (components/alerts.py): 10 s pages within a minute.
        "scrapeIntervalSeconds": 10,
        "retentionDays": 15,
        "retentionSizeGib": 8,
        "storageGib": 10,
        "runbookBaseUrl": "docs/runbooks",
        "grafana": True,
        "grafanaPublic": False,
        "kubeletMetrics": "verify",
        # Alerts stay in Alertmanager until receivers are set (prod must set them).
        "receivers": {
            "paging": {"kind": "none"},
            "chat": {"kind": "none"},
            "heartbeat": {"kind": "none"},
        },
    },
    # The seed plans: a page within a minute of the database going down; a restore from a
    # backup at most an hour old within 15 to 30 minutes (with WAL archiving, the data lost
    # is bounded by postgres.archiveTimeoutSeconds, not by the backup's age).
    "recovery": {
        "pageWithinSeconds": 60,
        "restartSeconds": 30,
        "failFastSeconds": 6,
        "rtoSeconds": 1800,
        "rpoSeconds": 60,
    },
    "secrets": {
        "rotation": "initial",
        "rotate": {},
        "rollover": {},
        "retireAfterIdleSeconds": 60,
        "fromConfig": [],
    },
    "kubernetes": {
        "schemaVersion": "1.33",
        "topologyKeys": ["topology.kubernetes.io/zone", "kubernetes.io/hostname"],
        "dns": {
            "namespace": "kube-system",
            "podLabel": "k8s-app=kube-dns",
            "ports": [53],
            # NodeLocal DNSCache's default address; harmless where there is none.
            "addresses": ["169.254.20.10"],
        },
    },
    "docker": {"logMaxSize": "10m", "logMaxFiles": 3},
}

_ONE_HOST: Tree = {
    "platform": "docker",
    "domain": "localhost",
    "protectData": False,
    "api": {
        "image": REFERENCE_IMAGE,
        "replicas": 1,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "autoscaling": {"enabled": False, "minReplicas": 1, "maxReplicas": 1},
    },
    "postgres": {
        "tls": False,
        "storageGib": 5,
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "backup": {
            "retention": {"full": 2, "fullType": "count", "diff": 3},
            "repository": {"type": "volume", "sizeGib": 10},
        },
    },
    # Built from images/frontend when enabled (the shipped dev stack enables it).
    "frontend": {"image": "reference"},
    "redis": {
        "tls": False,
        "storageGib": 1,
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
    },
}

BY_ENVIRONMENT: dict[Environment, Tree] = {
    "dev": _ONE_HOST,
    # Ephemeral test stacks: like dev, and nothing protected so `destroy` leaves nothing behind.
    "ephemeral": _ONE_HOST,
    "prod": {
        "platform": "kubernetes",
        "protectData": True,
        # The seed plans: 3 replicas, autoscaling under load.
        "api": {
            "replicas": 3,
            "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 10},
        },
        # Off-site backups: the bucket and its credentials have no default.
        "postgres": {"tls": True, "backup": {"repository": {"type": "s3"}}},
        # Encryption to the data stores (the seed plans): on in prod, available elsewhere.
        "redis": {"tls": True},
        "monitoring": {"retentionDays": 30, "retentionSizeGib": 40, "storageGib": 50},
        "edge": {
            "replicas": 2,
            "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 6},
            "certificate": {"source": "cert-manager", "issuer": "letsencrypt-prod"},
            # Cloud load balancers stop sending to a node 20-60 s after its health checks
            # start failing: a stopping edge replica serves that long.
            "loadBalancer": {"deregistrationSeconds": 45},
        },
        "frontend": {
            "replicas": 2,
            "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 6},
        },
    },
}


def merged(base: Tree, override: Tree) -> Tree:
    """`override` laid over `base`, mapping by mapping; lists and scalars are replaced whole."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def defaults_for(environment: Environment, stack: str) -> Tree:
    """The defaults of one environment, with the names that derive from the stack name."""
    named: Tree = {
        "kubernetes": {"namespace": f"prodstack-{stack}"},
        "docker": {"namePrefix": f"prodstack-{stack}"},
    }
    return merged(merged(merged(COMMON, named), BY_ENVIRONMENT[environment]), {})
