"""Every default, per environment, in one place. docs/settings.md is generated from this table.

A user's `Pulumi.<stack>.yaml` is merged over these values key by key; what no environment
gives a default for (the prod domain and API image) must be set by the user.
"""

from __future__ import annotations

import copy
from typing import Any

from infra.settings.model import REFERENCE_IMAGE, Environment

Tree = dict[str, Any]

COMMON: Tree = {
    "api": {
        "port": 8080,
        "env": {},
        "livenessPath": "/health/live",
        "readinessPath": "/health/ready",
        "metricsPath": "/metrics",
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
    "secrets": {"rotation": "initial", "rotate": {}, "fromConfig": []},
    "kubernetes": {
        "schemaVersion": "1.33",
        "topologyKeys": ["topology.kubernetes.io/zone", "kubernetes.io/hostname"],
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
