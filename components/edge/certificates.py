"""Where the edge's certificate comes from: a self-signed CA (dev, ephemeral), cert-manager
(Kubernetes), or PEM files supplied as config secrets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

from components.edge.settings import Certificate
from components.tls.cert_manager import cert_manager_object
from components.workload import SECRETS_DIR, File

CERT_MANAGER_DIR = "/run/prodstack/tls"
CERT_MANAGER_SECRET = "edge-tls"
DAY_HOURS = 24


@dataclass(frozen=True)
class TlsMaterial:
    cert_file: str
    key_file: str
    # Secret files delivered by the placement (self-signed, supplied) ...
    files: tuple[File, ...] = ()
    # ... or a Kubernetes Secret someone else keeps current (cert-manager).
    existing_secret: str | None = None
    # The CA clients must trust, for a self-signed chain (a stack output).
    ca_cert_pem: pulumi.Output[str] | None = None
    # Stapling needs a CA with an OCSP responder; a private CA has none.
    ocsp_stapling: bool = False


def self_signed(name: str, domain: str, stack: str, parent: pulumi.Resource) -> TlsMaterial:
    opts = pulumi.ResourceOptions(parent=parent)
    ca_key = tls.PrivateKey(f"{name}-ca-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
    ca = tls.SelfSignedCert(
        f"{name}-ca",
        private_key_pem=ca_key.private_key_pem,
        is_ca_certificate=True,
        subject=tls.SelfSignedCertSubjectArgs(
            common_name=f"prodstack {stack} CA", organization="prodstack"
        ),
        validity_period_hours=365 * DAY_HOURS,
        early_renewal_hours=30 * DAY_HOURS,
        allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
        opts=opts,
    )
    key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=opts)
    request = tls.CertRequest(
        f"{name}-csr",
        private_key_pem=key.private_key_pem,
        subject=tls.CertRequestSubjectArgs(common_name=domain, organization="prodstack"),
        dns_names=sorted({domain, "localhost"}),
        ip_addresses=["127.0.0.1"],
        opts=opts,
    )
    cert = tls.LocallySignedCert(
        f"{name}-cert",
        cert_request_pem=request.cert_request_pem,
        ca_private_key_pem=ca_key.private_key_pem,
        ca_cert_pem=ca.cert_pem,
        # Renewed by `pulumi up` within 30 days of expiry.
        validity_period_hours=90 * DAY_HOURS,
        early_renewal_hours=30 * DAY_HOURS,
        allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
        opts=opts,
    )
    return TlsMaterial(
        cert_file=f"{SECRETS_DIR}/tls.crt",
        key_file=f"{SECRETS_DIR}/tls.key",
        files=(
            File("tls.crt", cert.cert_pem),
            File("tls.key", pulumi.Output.secret(key.private_key_pem)),
        ),
        ca_cert_pem=ca.cert_pem,
    )


def supplied(cert_pem: pulumi.Input[str], key_pem: pulumi.Input[str]) -> TlsMaterial:
    return TlsMaterial(
        cert_file=f"{SECRETS_DIR}/tls.crt",
        key_file=f"{SECRETS_DIR}/tls.key",
        files=(File("tls.crt", cert_pem), File("tls.key", pulumi.Output.secret(key_pem))),
        ocsp_stapling=True,
    )


def cert_manager(
    name: str,
    settings: Certificate,
    domain: str,
    namespace: str,
    labels: dict[str, str],
    parent: pulumi.Resource,
) -> TlsMaterial:
    """A cert-manager Certificate; cert-manager keeps the Secret current, the edge reloads."""
    cert_manager_object(
        f"{name}-certificate",
        "Certificate",
        name,
        namespace,
        {
            "secretName": CERT_MANAGER_SECRET,
            "issuerRef": {"name": settings.issuer, "kind": "ClusterIssuer"},
            "dnsNames": [domain],
            "duration": "2160h",
            "renewBefore": "720h",
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        },
        parent,
        labels,
    )
    return TlsMaterial(
        cert_file=f"{CERT_MANAGER_DIR}/tls.crt",
        key_file=f"{CERT_MANAGER_DIR}/tls.key",
        existing_secret=CERT_MANAGER_SECRET,
        ocsp_stapling=True,
    )
