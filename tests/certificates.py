"""A test CA and the certificates it signs (openssl), for the live tests of every server
that speaks TLS (the edge, Postgres, Redis)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def new_key_request(key: Path, out: Path, subject: str, *options: str) -> None:
    """`openssl req` with a new P-256 key, unencrypted: a request, or with -x509 a
    self-signed certificate."""
    openssl(
        "req", *options, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", out, "-subj", subject,
    )  # fmt: skip


def make_ca(directory: Path) -> tuple[Path, Path]:
    key, cert = directory / "ca.key", directory / "ca.crt"
    new_key_request(
        key, cert, "/CN=test CA", "-x509", "-days", "2",
        "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return key, cert


def issue(directory: Path, ca: tuple[Path, Path], name: str) -> tuple[Path, Path]:
    """A server certificate for localhost and 127.0.0.1, signed by the test CA."""
    key, csr, cert = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.crt"
    new_key_request(key, csr, "/CN=localhost")
    extensions = directory / f"{name}.ext"
    extensions.write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
    )
    openssl(
        "x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial",
        "-out", cert, "-days", "1", "-extfile", extensions,
    )  # fmt: skip
    return key, cert


def install(source: Path, target: Path, owner: str, mode: int = 0o600) -> None:
    """Put a certificate or key in place atomically, as a renewed Secret volume does, owned
    by the server's user."""
    temporary = target.with_name(f".{target.name}")
    shutil.copy(source, temporary)
    shutil.chown(temporary, owner, owner)
    temporary.chmod(mode)
    temporary.replace(target)
