"""Certificates made with pulumi-tls: a CA, the certificates it signs, and the edge's
self-signed (dev) and supplied certificates as files.

One builder for every CA of the stack: the Docker placement's internal CA
(components/platform/docker/certificates.py) and the edge's dev CA are both `authority`s. A
changed certificate is a changed file, which replaces the containers that read it: `pulumi
up` renews each within its early-renewal window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

from components.workload import SECRETS_DIR, File, TlsFiles

DAY_HOURS = 24
CA_USES = ["cert_signing", "crl_signing", "digital_signature"]


def new_key(name: str, opts: pulumi.ResourceOptions) -> tls.PrivateKey:
    """Every key the stack makes: ECDSA P-256 (cert-manager's are the same:
    components/platform/kubernetes/cert_manager.py)."""
    return tls.PrivateKey(name, algorithm="ECDSA", ecdsa_curve="P256", opts=opts)


@dataclass(frozen=True)
class Authority:
    key: tls.PrivateKey
    cert: tls.SelfSignedCert


def authority(
    name: str, common_name: str, valid_days: int, renew_days: int, opts: pulumi.ResourceOptions
) -> Authority:
    key = new_key(f"{name}-key", opts)
    cert = tls.SelfSignedCert(
        name,
        private_key_pem=key.private_key_pem,
        is_ca_certificate=True,
        subject=tls.SelfSignedCertSubjectArgs(common_name=common_name, organization="prodstack"),
        validity_period_hours=valid_days * DAY_HOURS,
        early_renewal_hours=renew_days * DAY_HOURS,
        allowed_uses=CA_USES,
        opts=opts,
    )
    return Authority(key, cert)


@dataclass(frozen=True)
class Signed:
    key: tls.PrivateKey
    cert: tls.LocallySignedCert


def signed(
    name: str,
    ca: Authority,
    common_name: str,
    dns_names: Sequence[str],
    uses: Sequence[str],
    valid_days: int,
    renew_days: int,
    opts: pulumi.ResourceOptions,
) -> Signed:
    """A key and a certificate `ca` signs for these names (and 127.0.0.1)."""
    key = new_key(f"{name}-key", opts)
    request = tls.CertRequest(
        f"{name}-csr",
        private_key_pem=key.private_key_pem,
        subject=tls.CertRequestSubjectArgs(common_name=common_name, organization="prodstack"),
        dns_names=list(dns_names),
        ip_addresses=["127.0.0.1"],
        opts=opts,
    )
    cert = tls.LocallySignedCert(
        f"{name}-cert",
        cert_request_pem=request.cert_request_pem,
        ca_private_key_pem=ca.key.private_key_pem,
        ca_cert_pem=ca.cert.cert_pem,
        validity_period_hours=valid_days * DAY_HOURS,
        early_renewal_hours=renew_days * DAY_HOURS,
        allowed_uses=["digital_signature", "key_encipherment", *uses],
        opts=opts,
    )
    return Signed(key, cert)


def self_signed(name: str, domain: str, stack: str, parent: pulumi.Resource) -> TlsFiles:
    """The edge's certificate for dev and ephemeral stacks, from a CA of its own that the
    stack exports for clients to trust."""
    opts = pulumi.ResourceOptions(parent=parent)
    ca = authority(f"{name}-ca", f"prodstack {stack} CA", valid_days=365, renew_days=30, opts=opts)
    served = signed(
        name,
        ca,
        domain,
        sorted({domain, "localhost"}),
        ["server_auth"],
        valid_days=90,
        renew_days=30,
        opts=opts,
    )
    return TlsFiles(
        cert_file=f"{SECRETS_DIR}/tls.crt",
        key_file=f"{SECRETS_DIR}/tls.key",
        secret_files=(
            File("tls.crt", served.cert.cert_pem),
            File("tls.key", pulumi.Output.secret(served.key.private_key_pem)),
        ),
        ca_cert_pem=ca.cert.cert_pem,
    )


def supplied(cert_pem: pulumi.Input[str], key_pem: pulumi.Input[str]) -> TlsFiles:
    """A certificate chain and key given as config secrets (a public CA's: it staples, the
    responder's name resolved by the edge's resolver)."""
    return TlsFiles(
        cert_file=f"{SECRETS_DIR}/tls.crt",
        key_file=f"{SECRETS_DIR}/tls.key",
        secret_files=(File("tls.crt", cert_pem), File("tls.key", pulumi.Output.secret(key_pem))),
        ocsp_stapling=True,
    )
