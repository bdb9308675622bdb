"""The blackbox exporter: probes the public URL (and its certificate) as a client would."""

from __future__ import annotations

from components.images import version_label
from components.monitoring.args import BLACKBOX_PORT, NOBODY, MonitoringArgs
from components.monitoring.blackbox import BlackboxConfig
from components.workload import (
    CONFIG_DIR,
    Checks,
    Container,
    File,
    Outbound,
    Peer,
    Port,
    Probe,
    Resources,
    Workload,
)


def blackbox(args: MonitoringArgs) -> Workload:
    s = args.settings
    files = []
    ca_file = None
    if args.probe_ca_pem is not None:
        ca_file = f"{CONFIG_DIR}/probe-ca.crt"
        files.append(File("probe-ca.crt", args.probe_ca_pem))
    config = BlackboxConfig(server_name=args.probe_server_name, ca_file=ca_file)
    server = Container(
        name="blackbox",
        image=s.blackbox_image,
        resources=Resources(25, 32, 250, 128),
        checks=Checks.always(Probe.http(BLACKBOX_PORT, "/-/healthy")),
        args=(f"--config.file={CONFIG_DIR}/blackbox.yml",),
        ports=(Port("web", BLACKBOX_PORT),),
        config_files=(File("blackbox.yml", config.render()), *files),
        run_as_user=NOBODY,
    )
    return Workload(
        name="blackbox",
        singleton="a second prober would report every probe twice; the target-down alert covers it",
        component="monitoring",
        version=version_label(s.blackbox_image),
        main=server,
        # It probes the public URL as a client would: on Docker, the edge inside the stack; on
        # Kubernetes, the load balancer, whose address some clusters route inside (GKE, AKS,
        # MetalLB), where kube-proxy rewrites it to an edge pod's port before the policy
        # applies: so the edge's pods too, not only port 443 outside.
        connects_to=(Peer(args.edge, (args.edge.port("https"),)),),
        outbound=(Outbound((443,)),),
    )
