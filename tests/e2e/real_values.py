"""Provider stand-ins that compute what the real providers would: random passwords and bytes
from the system's generator, and TLS keys and certificates made by openssl, so the stack
brought up on Docker runs with real secrets and serves a certificate its own CA signed."""

from __future__ import annotations

import base64
import secrets
import string
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from pulumi.runtime import mocks

from infra.render.mock_runtime import StackMocks, _unwrapped

ALPHANUMERIC = string.ascii_letters + string.digits
# What openssl's -addext keyUsage and extendedKeyUsage call pulumi-tls's allowed uses.
KEY_USAGE = {
    "cert_signing": "keyCertSign",
    "crl_signing": "cRLSign",
    "digital_signature": "digitalSignature",
    "key_encipherment": "keyEncipherment",
}
EXTENDED_USAGE = {"server_auth": "serverAuth", "client_auth": "clientAuth"}


def openssl(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["openssl", *args], input=stdin, capture_output=True, text=True, check=True
    )
    return done.stdout


class RealValues(StackMocks):
    """StackMocks with real generated values; every other resource is echoed as before.

    One instance across the renders of a running stack is its state: a resource registered
    again with the same inputs keeps the values it was given (the engine's "same": a
    password is not generated anew on every update); changed inputs make new ones (the
    provider's replacement)."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[str, str] = {}  # private key PEM by public-key stand-in
        self.state: dict[tuple[str, str], tuple[dict[str, Any], tuple[str | None, dict[str, Any]]]]
        self.state = {}

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        key = (args.typ, args.name)
        inputs = dict(_unwrapped(args.inputs))
        if key in self.state and self.state[key][0] == inputs:
            return self.state[key][1]
        made = self.generate(args)
        self.state[key] = (inputs, made)
        return made

    def generate(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(_unwrapped(args.inputs))
        if args.typ == "random:index/randomPassword:RandomPassword":
            length = int(inputs.get("length", 32))
            value = "".join(secrets.choice(ALPHANUMERIC) for _ in range(length))
            self.generated_secrets.add(value)
            return f"{args.name}-id", {**inputs, "result": value}
        if args.typ == "random:index/randomBytes:RandomBytes":
            raw = secrets.token_bytes(int(inputs.get("length", 32)))
            state = {**inputs, "base64": base64.b64encode(raw).decode(), "hex": raw.hex()}
            self.generated_secrets.update((state["base64"], state["hex"]))
            return f"{args.name}-id", state
        if args.typ == "tls:index/privateKey:PrivateKey":
            return f"{args.name}-id", {**inputs, **self.private_key(inputs)}
        if args.typ == "tls:index/selfSignedCert:SelfSignedCert":
            return f"{args.name}-id", {**inputs, "certPem": self.self_signed(inputs)}
        if args.typ == "tls:index/certRequest:CertRequest":
            return f"{args.name}-id", {**inputs, "certRequestPem": self.request(inputs)}
        if args.typ == "tls:index/locallySignedCert:LocallySignedCert":
            return f"{args.name}-id", {**inputs, "certPem": self.sign(inputs)}
        return super().new_resource(args)

    def private_key(self, inputs: dict[str, Any]) -> dict[str, str]:
        if inputs.get("algorithm") == "ECDSA":
            curve = {"P256": "P-256", "P384": "P-384"}[inputs.get("ecdsaCurve", "P256")]
            pem = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}")
        else:
            bits = str(inputs.get("rsaBits", 2048))
            pem = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}")
        self.generated_secrets.add(pem)
        return {"privateKeyPem": pem, "publicKeyPem": openssl("pkey", "-pubout", stdin=pem)}

    def self_signed(self, inputs: dict[str, Any]) -> str:
        with tempfile.TemporaryDirectory() as work:
            key = Path(work) / "key.pem"
            key.write_text(inputs["privateKeyPem"])
            return openssl(
                "req", "-x509", "-new", "-key", str(key), "-subj", subject(inputs),
                "-days", str(max(1, int(inputs["validityPeriodHours"]) // 24)),
                *extensions(inputs),
            )  # fmt: skip

    def request(self, inputs: dict[str, Any]) -> str:
        with tempfile.TemporaryDirectory() as work:
            key = Path(work) / "key.pem"
            key.write_text(inputs["privateKeyPem"])
            names = ",".join(
                [f"DNS:{n}" for n in inputs.get("dnsNames", [])]
                + [f"IP:{a}" for a in inputs.get("ipAddresses", [])]
            )
            extra = ["-addext", f"subjectAltName={names}"] if names else []
            return openssl("req", "-new", "-key", str(key), "-subj", subject(inputs), *extra)

    def sign(self, inputs: dict[str, Any]) -> str:
        with tempfile.TemporaryDirectory() as work:
            files = {
                "ca.pem": inputs["caCertPem"],
                "ca-key.pem": inputs["caPrivateKeyPem"],
                "request.pem": inputs["certRequestPem"],
            }
            for name, text in files.items():
                (Path(work) / name).write_text(text)
            ext = Path(work) / "ext.cnf"
            ext.write_text("\n".join(extension_lines(inputs, copy_names=True)) + "\n")
            return openssl(
                "x509", "-req", "-in", f"{work}/request.pem", "-CA", f"{work}/ca.pem",
                "-CAkey", f"{work}/ca-key.pem", "-CAcreateserial", "-CAserial",
                f"{work}/ca.srl", "-days", str(max(1, int(inputs["validityPeriodHours"]) // 24)),
                "-extfile", str(ext), "-copy_extensions", "copyall",
            )  # fmt: skip


def subject(inputs: dict[str, Any]) -> str:
    given = inputs.get("subject") or {}
    parts = {"CN": given.get("commonName"), "O": given.get("organization")}
    return "".join(f"/{k}={v}" for k, v in parts.items() if v) or "/CN=prodstack"


def extension_lines(inputs: dict[str, Any], copy_names: bool = False) -> list[str]:
    uses = inputs.get("allowedUses", [])
    lines = [f"basicConstraints=critical,CA:{'TRUE' if inputs.get('isCaCertificate') else 'FALSE'}"]
    usage = [KEY_USAGE[u] for u in uses if u in KEY_USAGE]
    if usage:
        lines.append("keyUsage=critical," + ",".join(usage))
    extended = [EXTENDED_USAGE[u] for u in uses if u in EXTENDED_USAGE]
    if extended:
        lines.append("extendedKeyUsage=" + ",".join(extended))
    return lines


def extensions(inputs: dict[str, Any]) -> list[str]:
    return [arg for line in extension_lines(inputs) for arg in ("-addext", line)]
