"""kube-state-metrics: what the cluster runs for the stack, as metrics for the Kubernetes alerts."""

from __future__ import annotations

from components.images import version_label
from components.monitoring.args import NOBODY, MonitoringArgs
from components.platform.placement import ClusterApi
from components.workload import (
    ApiAccess,
    Checks,
    Container,
    Outbound,
    Port,
    Probe,
    Resources,
    Workload,
)

# What kube-state-metrics reads, in the stack's namespace only (--namespaces), and the only
# collectors it runs (--resources): never Secrets, which would let its token read every
# credential of the stack.
KSM_ACCESS = (
    ApiAccess(("",), ("pods", "services", "persistentvolumeclaims", "configmaps")),
    ApiAccess(("apps",), ("deployments", "statefulsets", "replicasets")),
    ApiAccess(("batch",), ("jobs", "cronjobs")),
    ApiAccess(("autoscaling",), ("horizontalpodautoscalers",)),
    ApiAccess(("policy",), ("poddisruptionbudgets",)),
)
KSM_PORT = 8080


def kube_state_metrics(args: MonitoringArgs, cluster: ClusterApi) -> Workload:
    """Pod, deployment, autoscaler and job state as metrics, for the Kubernetes alerts."""
    s = args.settings
    # The image is distroless: nothing for Docker to run (KSM runs on Kubernetes only).
    ready = Probe.http(KSM_PORT, "/healthz", command=("/kube-state-metrics", "--version"))
    server = Container(
        name="kube-state-metrics",
        image=s.kube_state_metrics_image,
        resources=Resources(50, 64, 250, 256),
        checks=Checks.around(ready, startup_seconds=60),
        args=(
            f"--port={KSM_PORT}",
            "--telemetry-port=8081",
            f"--namespaces={args.namespace}",
            "--resources=" + ",".join(r for access in KSM_ACCESS for r in access.resources),
            "--metric-labels-allowlist=pods=[app.kubernetes.io/name]",
        ),
        ports=(Port("ksm-metrics", KSM_PORT),),
        run_as_user=NOBODY,
    )
    return Workload(
        name="kube-state-metrics",
        singleton="a second kube-state-metrics would export every series twice",
        component="monitoring",
        version=version_label(s.kube_state_metrics_image),
        main=server,
        outbound=(Outbound(cluster.ports),),
        api_access=KSM_ACCESS,
    )
