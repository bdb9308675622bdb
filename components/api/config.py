"""api.json: the API's own configuration file, generated from typed values.

The reference API in images/api reads it; a user's API may read it too. It carries no
secret values, only the names of the files that hold them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from components.connections import ServiceConnection, ServiceKind
from components.workload import SECRETS_DIR

CONFIG_FILE = "api.json"


@dataclass(frozen=True)
class DependencyConfig:
    name: str
    kind: ServiceKind
    host: str
    port: int
    database: str | None
    user: str | None
    # Secret files of this dependency, by purpose ("password" -> /run/prodstack/secrets/...).
    secret_files: dict[str, str]
    # The CA to verify the server against, when it speaks TLS only (verify-full).
    ca_file: str | None = None


@dataclass(frozen=True)
class ApiConfig:
    port: int
    liveness_path: str
    readiness_path: str
    metrics_path: str
    secrets_dir: str
    dependencies: tuple[DependencyConfig, ...]

    def render(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def dependency_config(
    connection: ServiceConnection, ca_file: str | None = None
) -> DependencyConfig:
    prefix = f"{connection.name}-"
    return DependencyConfig(
        name=connection.name,
        kind=connection.kind,
        host=connection.host,
        port=connection.port,
        database=connection.database,
        user=connection.user,
        secret_files={
            f.name.removeprefix(prefix): f"{SECRETS_DIR}/{f.name}" for f in connection.secret_files
        },
        ca_file=ca_file if connection.tls else None,
    )
