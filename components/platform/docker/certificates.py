"""TLS inside the stack on Docker: the stack's own CA, made with pulumi-tls (components/tls)
on first use, and the certificates it signs, delivered as files. A renewed certificate is a
changed file, which replaces the containers that read it (`pulumi up` renews within 30 days
of expiry)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from components.tls.certificates import Authority, authority, signed
from components.workload import CONFIG_DIR, SECRETS_DIR, File, TlsFiles

CA_FILE = "internal-ca.crt"
# These resources were once the children of an InternalTls component: the alias keeps
# their identity (and the CA) for stacks deployed before.
FORMER_PARENT = ("internal-tls", "prodstack:index:InternalTls")


class InternalCa:
    def __init__(self, stack: str, parent: pulumi.Resource) -> None:
        self._stack = stack
        self._opts = pulumi.ResourceOptions(
            parent=parent,
            aliases=[pulumi.Alias(parent=pulumi.create_urn(*FORMER_PARENT))],
        )
        self._ca: Authority | None = None

    @property
    def ca(self) -> Authority:
        if self._ca is None:
            self._ca = authority(
                "internal-tls-ca",
                f"prodstack {self._stack} internal CA",
                valid_days=5 * 365,
                renew_days=90,
                opts=self._opts,
            )
        return self._ca

    def trust(self) -> TlsFiles:
        """The CA alone: what a client needs to verify the stack's servers."""
        return TlsFiles(
            cert_file="",
            key_file="",
            ca_file=f"{CONFIG_DIR}/{CA_FILE}",
            config_files=(File(CA_FILE, self.ca.cert.cert_pem),),
        )

    def server(self, workload: str, names: Sequence[str]) -> TlsFiles:
        issued = signed(
            f"internal-tls-{workload}",
            self.ca,
            workload,
            names,
            ["server_auth"],
            valid_days=365,
            renew_days=30,
            opts=self._opts,
        )
        return TlsFiles(
            cert_file=f"{SECRETS_DIR}/internal-tls.crt",
            key_file=f"{SECRETS_DIR}/internal-tls.key",
            ca_file=f"{CONFIG_DIR}/{CA_FILE}",
            secret_files=(
                File("internal-tls.crt", issued.cert.cert_pem),
                File("internal-tls.key", pulumi.Output.secret(issued.key.private_key_pem)),
            ),
            config_files=(File(CA_FILE, self.ca.cert.cert_pem),),
        )
