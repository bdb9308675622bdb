"""Read api.json (written by components/api/config.py) and the secret files it names."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Dependency:
    name: str
    kind: str
    host: str
    port: int
    # The user the API logs in as: a plain field of api.json, not a secret.
    user: str | None
    database: str | None
    secret_files: dict[str, str]
    # The stack's CA, when the server speaks TLS only (it is verified against it).
    ca_file: str | None = None

    def secret(self, purpose: str) -> str | None:
        path = self.secret_files.get(purpose)
        return Path(path).read_text().strip() if path else None


@dataclass(frozen=True)
class Config:
    port: int
    liveness_path: str
    readiness_path: str
    metrics_path: str
    secrets_dir: Path
    dependencies: tuple[Dependency, ...]

    def secret(self, name: str) -> str | None:
        path = self.secrets_dir / name
        return path.read_text().strip() if path.is_file() else None


def load(path: str | None = None) -> Config:
    source = Path(path or os.environ.get("PRODSTACK_CONFIG", "/run/prodstack/config/api.json"))
    raw = json.loads(source.read_text())
    return Config(
        port=int(raw["port"]),
        liveness_path=raw["liveness_path"],
        readiness_path=raw["readiness_path"],
        metrics_path=raw["metrics_path"],
        secrets_dir=Path(raw["secrets_dir"]),
        dependencies=tuple(
            Dependency(
                d["name"],
                d["kind"],
                d["host"],
                int(d["port"]),
                d.get("user"),
                d.get("database"),
                dict(d["secret_files"]),
                d.get("ca_file"),
            )
            for d in raw.get("dependencies", [])
        ),
    )
