"""The Kubernetes placement: a restricted namespace, and each workload as its objects.

platform.py     the component: namespace, default deny, DNS; and the placement
workload.py     which objects one workload gets, in order
scope.py        what every object of a workload shares: names, labels, metadata
hardening.py    the restricted profile (components/platform/hardening.py) as security contexts
pods.py         pod template: containers, probes, volumes
files.py        ConfigMap and Secret for a container's files
rbac.py         ServiceAccount, and a Role only for declared API access
controllers.py  Deployment or StatefulSet
service.py      Service (ClusterIP; a LoadBalancer for the public edge)
disruption.py   PodDisruptionBudget
autoscaling.py  HorizontalPodAutoscaler
network.py      the workload's NetworkPolicy, from the connection graph
jobs.py         release task (a Job per release) and scheduled jobs (CronJobs)
"""

from components.platform.kubernetes.platform import (
    KubernetesPlacement,
    KubernetesPlatform,
    KubernetesPlatformArgs,
)
from components.platform.kubernetes.pods import FILES_DIGEST_ANNOTATION

__all__ = [
    "FILES_DIGEST_ANNOTATION",
    "KubernetesPlacement",
    "KubernetesPlatform",
    "KubernetesPlatformArgs",
]
