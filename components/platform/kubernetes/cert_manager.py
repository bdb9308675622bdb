"""TLS on Kubernetes, kept by cert-manager: the stack's internal CA (a self-signed issuer makes
it, a CA issuer signs with it), each workload's certificate, and the edge's public one from a
ClusterIssuer. cert-manager renews each in its Secret, in place; the servers reload it
(components/postgres, components/redis, the edge's watcher)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.platform.placement import ManagedCertificate
from components.workload import TlsFiles

API_VERSION = "cert-manager.io/v1"
# Every certificate cert-manager issues for the stack: 90 days, renewed 30 days before, a new
# ECDSA P-256 key each time (the pulumi-tls ones are the same: components/tls).
DURATION = {"duration": "2160h", "renewBefore": "720h"}
KEY = {"algorithm": "ECDSA", "size": 256}
# Where a workload's Secret (tls.crt, tls.key, ca.crt) is mounted, and the edge's.
INTERNAL_DIR = "/run/prodstack/internal-tls"
EDGE_DIR = "/run/prodstack/tls"
ISSUER = "internal-ca-issuer"
# The internal CA: five years, renewed 90 days before it ends, with the same key. Clients
# trust the CA certificate that came in their own Secret's ca.crt, refreshed each time their
# certificate renews (every DURATION - renewBefore = 60 days). A renewal that kept the key
# leaves every ca.crt, old or new, verifying every certificate, old or new, and the old CA
# certificate is still valid for longer than it takes every Secret to carry the new one.
# A new key at each renewal (cert-manager's default rotationPolicy from 1.18) would leave
# clients trusting only the old key for up to 60 days: servers renewed meanwhile would fail.
CA_DURATION = {"duration": "43800h", "renewBefore": "2160h"}
CA_KEY = {**KEY, "rotationPolicy": "Never"}
# The internal CA's resources were once the children of an InternalTls component: the alias
# keeps their identity for stacks deployed before.
FORMER_PARENT = ("internal-tls", "prodstack:index:InternalTls")


def cert_manager_object(
    resource_name: str,
    kind: str,
    name: str,
    namespace: pulumi.Input[str],
    spec: Mapping[str, object],
    opts: pulumi.ResourceOptions,
    labels: Mapping[str, str] | None = None,
) -> None:
    k8s.apiextensions.CustomResource(
        resource_name,
        api_version=API_VERSION,
        kind=kind,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=namespace, labels=dict(labels) if labels else None
        ),
        spec=dict(spec),
        opts=opts,
    )


class InternalCa:
    def __init__(self, stack: str, namespace: str, parent: pulumi.Resource) -> None:
        self._stack = stack
        self._namespace = namespace
        self._opts = pulumi.ResourceOptions(
            parent=parent,
            aliases=[pulumi.Alias(parent=pulumi.create_urn(*FORMER_PARENT))],
        )
        self._issuer: str | None = None

    def _object(self, name: str, kind: str, spec: Mapping[str, object]) -> None:
        cert_manager_object(f"internal-tls-{name}", kind, name, self._namespace, spec, self._opts)

    @property
    def issuer(self) -> str:
        """The CA issuer, made on first use with the CA it signs with."""
        if self._issuer is None:
            self._object("internal-ca-bootstrap", "Issuer", {"selfSigned": {}})
            self._object(
                "internal-ca",
                "Certificate",
                {
                    "isCA": True,
                    "commonName": f"prodstack {self._stack} internal CA",
                    "secretName": "internal-ca",
                    **CA_DURATION,
                    "privateKey": CA_KEY,
                    "issuerRef": {"name": "internal-ca-bootstrap", "kind": "Issuer"},
                },
            )
            self._object(ISSUER, "Issuer", {"ca": {"secretName": "internal-ca"}})
            self._issuer = ISSUER
        return self._issuer

    def certificate(self, workload: str, names: Sequence[str], use: str) -> TlsFiles:
        """A server's certificate, or a client's: cert-manager hands out its CA only with a
        certificate, so a client gets one too."""
        secret = f"{workload}-internal-tls"
        cert_manager_object(
            f"internal-tls-{workload}",
            "Certificate",
            secret,
            self._namespace,
            {
                "secretName": secret,
                "issuerRef": {"name": self.issuer, "kind": "Issuer"},
                "commonName": workload,
                "dnsNames": list(names),
                **({"ipAddresses": ["127.0.0.1"]} if use == "server" else {}),
                "usages": ["digital signature", "key encipherment", f"{use} auth"],
                **DURATION,
                "privateKey": {**KEY, "rotationPolicy": "Always"},
            },
            self._opts,
        )
        return TlsFiles(
            cert_file=f"{INTERNAL_DIR}/tls.crt",
            key_file=f"{INTERNAL_DIR}/tls.key",
            ca_file=f"{INTERNAL_DIR}/ca.crt",
            mounted_secret=(secret, INTERNAL_DIR),
        )


def public_certificate(request: ManagedCertificate, namespace: str) -> TlsFiles:
    """The edge's certificate from a ClusterIssuer (a public CA's: it staples)."""
    secret = "edge-tls"
    cert_manager_object(
        f"{request.name}-certificate",
        "Certificate",
        request.name,
        namespace,
        {
            "secretName": secret,
            "issuerRef": {"name": request.issuer, "kind": "ClusterIssuer"},
            "dnsNames": [request.domain],
            **DURATION,
            "privateKey": {**KEY, "rotationPolicy": "Always"},
        },
        pulumi.ResourceOptions(parent=request.parent),
        request.labels,
    )
    return TlsFiles(
        cert_file=f"{EDGE_DIR}/tls.crt",
        key_file=f"{EDGE_DIR}/tls.key",
        mounted_secret=(secret, EDGE_DIR),
        # Let's Encrypt, the issuer cert-manager is set up with, ended its OCSP service in
        # 2025: its certificates name no responder, and nginx would staple nothing.
        ocsp_stapling=False,
    )
