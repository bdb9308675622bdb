"""prodstack:index:InternalTls — certificates for encryption inside the stack (Postgres,
Redis), from the stack's own CA.

On Docker the CA and the certificates are pulumi-tls resources: a changed certificate is a
changed file, which replaces the containers that read it (`pulumi up` renews within 30 days of
expiry). On Kubernetes cert-manager keeps them: a self-signed issuer makes the stack's CA, a CA
issuer signs each workload's certificate, and cert-manager renews it in place (the servers
reload it; components/postgres and components/redis).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

from components.tls.cert_manager import cert_manager_object
from components.workload import CONFIG_DIR, SECRETS_DIR, File

# Where cert-manager's Secret (tls.crt, tls.key, ca.crt) is mounted.
TLS_DIR = "/run/prodstack/internal-tls"
DAY_HOURS = 24


@dataclass(frozen=True)
class ServiceTls:
    """A workload's certificate and the CA it trusts, as files of its containers."""

    cert_file: str
    key_file: str
    ca_file: str
    # Delivered by the placement (Docker) ...
    secret_files: tuple[File, ...] = ()
    config_files: tuple[File, ...] = ()
    # ... or a Secret cert-manager keeps current, mounted at TLS_DIR (Kubernetes).
    existing_secret: str | None = None

    @property
    def existing_secrets(self) -> tuple[tuple[str, str], ...]:
        return ((self.existing_secret, TLS_DIR),) if self.existing_secret else ()


@dataclass(frozen=True)
class InternalTlsArgs:
    platform: str
    stack: str
    namespace: str


class InternalTls(pulumi.ComponentResource):
    ca_cert_pem: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: InternalTlsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("prodstack:index:InternalTls", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self.ca_cert_pem = None
        if args.platform == "kubernetes":
            self._issuer = self._cert_manager_ca()
        else:
            self._ca_key = tls.PrivateKey(
                f"{name}-ca-key", algorithm="ECDSA", ecdsa_curve="P256", opts=self._child
            )
            self._ca = tls.SelfSignedCert(
                f"{name}-ca",
                private_key_pem=self._ca_key.private_key_pem,
                is_ca_certificate=True,
                subject=tls.SelfSignedCertSubjectArgs(
                    common_name=f"prodstack {args.stack} internal CA", organization="prodstack"
                ),
                validity_period_hours=5 * 365 * DAY_HOURS,
                early_renewal_hours=90 * DAY_HOURS,
                allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
                opts=self._child,
            )
            self.ca_cert_pem = self._ca.cert_pem
        self.register_outputs({})

    def dns_names(self, workload: str) -> list[str]:
        """The names clients use: the workload's (Docker, and Kubernetes inside the
        namespace), its Service's full names, and localhost for clients in its pod."""
        ns = self._args.namespace
        names = [workload, "localhost"]
        if self._args.platform == "kubernetes":
            names += [f"{workload}.{ns}.svc", f"{workload}.{ns}.svc.cluster.local"]
        return sorted(names)

    def server(self, workload: str) -> ServiceTls:
        return self._issue(workload, self.dns_names(workload), ["server_auth"])

    def client(self, workload: str) -> ServiceTls:
        """What a client needs to verify the servers: the CA (on Kubernetes it comes with a
        client certificate of its own, the only way cert-manager hands out its CA)."""
        if self._args.platform == "kubernetes":
            return self._issue(workload, [workload], ["client_auth"])
        return ServiceTls(
            cert_file="",
            key_file="",
            ca_file=f"{CONFIG_DIR}/internal-ca.crt",
            config_files=(File("internal-ca.crt", self._ca.cert_pem),),
        )

    def _issue(self, workload: str, names: Sequence[str], uses: list[str]) -> ServiceTls:
        name = f"{self._name}-{workload}"
        if self._args.platform == "kubernetes":
            secret = f"{workload}-internal-tls"
            usages = ["digital signature", "key encipherment"] + [u.replace("_", " ") for u in uses]
            cert_manager_object(
                name,
                "Certificate",
                secret,
                self._args.namespace,
                {
                    "secretName": secret,
                    "issuerRef": {"name": self._issuer, "kind": "Issuer"},
                    "commonName": workload,
                    "dnsNames": list(names),
                    **({"ipAddresses": ["127.0.0.1"]} if "server_auth" in uses else {}),
                    "usages": usages,
                    "duration": "2160h",
                    "renewBefore": "720h",
                    "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                },
                self,
            )
            return ServiceTls(
                cert_file=f"{TLS_DIR}/tls.crt",
                key_file=f"{TLS_DIR}/tls.key",
                ca_file=f"{TLS_DIR}/ca.crt",
                existing_secret=secret,
            )
        key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=self._child)
        request = tls.CertRequest(
            f"{name}-csr",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=workload, organization="prodstack"),
            dns_names=list(names),
            ip_addresses=["127.0.0.1"],
            opts=self._child,
        )
        cert = tls.LocallySignedCert(
            f"{name}-cert",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=self._ca_key.private_key_pem,
            ca_cert_pem=self._ca.cert_pem,
            validity_period_hours=365 * DAY_HOURS,
            early_renewal_hours=30 * DAY_HOURS,
            allowed_uses=["digital_signature", "key_encipherment", *uses],
            opts=self._child,
        )
        return ServiceTls(
            cert_file=f"{SECRETS_DIR}/internal-tls.crt",
            key_file=f"{SECRETS_DIR}/internal-tls.key",
            ca_file=f"{CONFIG_DIR}/internal-ca.crt",
            secret_files=(
                File("internal-tls.crt", cert.cert_pem),
                File("internal-tls.key", pulumi.Output.secret(key.private_key_pem)),
            ),
            config_files=(File("internal-ca.crt", self._ca.cert_pem),),
        )

    def _cert_manager_ca(self) -> str:
        """A self-signed issuer that makes the CA, and the CA issuer that signs with it."""
        ns = self._args.namespace
        issuer = "internal-ca"

        def resource(name: str, kind: str, spec: dict[str, object]) -> None:
            cert_manager_object(f"{self._name}-{name}", kind, name, ns, spec, self)

        resource("internal-ca-bootstrap", "Issuer", {"selfSigned": {}})
        resource(
            "internal-ca",
            "Certificate",
            {
                "isCA": True,
                "commonName": f"prodstack {self._args.stack} internal CA",
                "secretName": "internal-ca",
                "duration": "43800h",
                "renewBefore": "2160h",
                "privateKey": {"algorithm": "ECDSA", "size": 256},
                "issuerRef": {"name": "internal-ca-bootstrap", "kind": "Issuer"},
            },
        )
        resource(issuer + "-issuer", "Issuer", {"ca": {"secretName": "internal-ca"}})
        return issuer + "-issuer"
