"""postgresql.conf, generated from typed values.

Memory settings derive from the container's memory limit; a setting that only a newer
major knows is rendered only for that major, so one generator serves Debian's Postgres
(the local drill) and the image's.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config_values import checked_value

STANZA = "main"
PORT = 5432
DATA_DIR = "/var/lib/postgresql/data/pgdata"
SOCKET_DIR = "/var/run/postgresql"


@dataclass(frozen=True)
class Setting:
    name: str
    value: str | int | bool
    since: int = 0  # first major that knows it
    why: str = ""
    # Read only when the server starts (pg_settings.context 'postmaster'); every other
    # setting takes effect on a reload, which the backup agent asks for when the file changes
    # (prodstack_pg.agent, ServerFileWatch). tests/components/postgres checks each against a
    # live server's pg_settings.
    restart: bool = False


# Postgres keeps these settings in an int of their unit: their largest values, in MiB
# (guc_tables.c: effective_cache_size INT_MAX 8 kB pages, shared_buffers INT_MAX / 2 pages,
# work_mem MAX_KILOBYTES). A memory limit beyond them (terabytes) is capped, not refused.
PAGES_MAX_MIB = (2**31 - 1) * 8 // 1024
SHARED_BUFFERS_MAX_MIB = (2**30 - 1) * 8 // 1024
KILOBYTES_MAX_MIB = (2**31 - 1) // 1024


@dataclass(frozen=True)
class PostgresConfig:
    major: int
    memory_limit_mib: int
    max_connections: int
    archive_timeout_seconds: int
    slow_query_ms: int
    hba_file: str
    port: int = PORT
    socket_dir: str = SOCKET_DIR
    # The server's certificate and key, when clients must connect with TLS (settings:
    # postgres.tls); pg_hba.conf then admits network clients over TLS only.
    tls_cert_file: str | None = None
    tls_key_file: str | None = None

    # -- memory, from the limit ------------------------------------------------------------

    @property
    def shared_buffers_mib(self) -> int:
        return min(SHARED_BUFFERS_MAX_MIB, max(16, self.memory_limit_mib // 4))

    @property
    def effective_cache_size_mib(self) -> int:
        return min(PAGES_MAX_MIB, max(32, self.memory_limit_mib * 3 // 4))

    @property
    def maintenance_work_mem_mib(self) -> int:
        return max(16, min(1024, self.memory_limit_mib // 16))

    @property
    def work_mem_mib(self) -> int:
        # What is left after shared buffers, shared by every connection's sorts and hashes.
        spare = self.memory_limit_mib - self.shared_buffers_mib
        return min(KILOBYTES_MAX_MIB, max(1, spare // (self.max_connections * 3)))

    # -- the file ----------------------------------------------------------------------------

    def tls_settings(self) -> list[Setting]:
        if self.tls_cert_file is None or self.tls_key_file is None:
            return []
        return [
            Setting("ssl", True),
            Setting("ssl_cert_file", self.tls_cert_file),
            Setting("ssl_key_file", self.tls_key_file),
            Setting("ssl_min_protocol_version", "TLSv1.2"),
            Setting("ssl_prefer_server_ciphers", True),
        ]

    def settings(self) -> list[Setting]:
        return [
            *self.tls_settings(),
            Setting("listen_addresses", "*", restart=True),
            Setting("port", self.port, restart=True),
            Setting("unix_socket_directories", self.socket_dir, restart=True),
            Setting("hba_file", self.hba_file, restart=True),
            Setting("max_connections", self.max_connections, restart=True),
            Setting(
                "reserved_connections",
                3,
                since=16,
                why="for pg_use_reserved_connections",
                restart=True,
            ),
            Setting("password_encryption", "scram-sha-256"),
            Setting(
                "shared_buffers",
                f"{self.shared_buffers_mib}MB",
                why="25% of the memory limit",
                restart=True,
            ),
            Setting("effective_cache_size", f"{self.effective_cache_size_mib}MB"),
            Setting("maintenance_work_mem", f"{self.maintenance_work_mem_mib}MB"),
            Setting("work_mem", f"{self.work_mem_mib}MB"),
            Setting("huge_pages", False, why="containers rarely get huge pages", restart=True),
            # Point-in-time recovery: every WAL segment goes to pgBackRest.
            Setting("wal_level", "replica", restart=True),
            Setting("archive_mode", True, restart=True),
            Setting("archive_command", f"pgbackrest --stanza={STANZA} archive-push %p"),
            Setting(
                "archive_timeout",
                f"{self.archive_timeout_seconds}s",
                why="bounds the data a lost server can take with it",
            ),
            Setting("max_wal_senders", 4, restart=True),
            Setting("wal_compression", True),
            Setting("max_wal_size", "1GB"),
            Setting("checkpoint_timeout", "10min"),
            Setting("checkpoint_completion_target", "0.9"),
            # Observability.
            Setting("shared_preload_libraries", "pg_stat_statements", restart=True),
            Setting("pg_stat_statements.track", "all"),
            Setting("track_io_timing", True),
            Setting("log_destination", "stderr"),
            Setting("logging_collector", False, why="the platform collects stderr", restart=True),
            Setting("log_line_prefix", "%m [%p] %q%u@%d "),
            Setting("log_min_duration_statement", self.slow_query_ms),
            Setting("log_checkpoints", True),
            Setting("log_connections", True),
            Setting("log_disconnections", True),
            Setting("log_lock_waits", True),
            Setting("log_temp_files", 0),
            Setting("log_autovacuum_min_duration", "1s"),
            # Autovacuum, a little more eager than the defaults for an OLTP API.
            Setting("autovacuum", True),
            Setting("autovacuum_max_workers", 3, restart=True),
            Setting("autovacuum_naptime", "30s"),
            Setting("autovacuum_vacuum_scale_factor", "0.05"),
            Setting("autovacuum_analyze_scale_factor", "0.02"),
            Setting("autovacuum_vacuum_cost_limit", 1000),
            # Safety.
            Setting("idle_in_transaction_session_timeout", "10min"),
            Setting(
                "allow_alter_system",
                False,
                since=17,
                why="the configuration is code; ALTER SYSTEM would drift from it",
            ),
        ]

    def render(self, restart_only: bool = False) -> str:
        lines = [
            "# Generated by prodstack (components/postgres/config.py); do not edit.",
            f"# Rendered for PostgreSQL {self.major}.",
        ]
        for setting in self.settings():
            if self.major < setting.since or (restart_only and not setting.restart):
                continue
            comment = f"  # {setting.why}" if setting.why else ""
            name = checked_value(setting.name, "postgresql.conf")
            lines.append(f"{name} = {_value(setting.value)}{comment}")
        return "\n".join(lines) + "\n"

    def restart_view(self) -> str:
        """What of the file the server reads only at start (File.restart_view): a change to
        any other line reaches it by a reload, without a restart."""
        return self.render(restart_only=True)


def _value(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return str(value)
    # A line break would end the value and start a setting of the author's choosing.
    return "'" + checked_value(value, "postgresql.conf").replace("'", "''") + "'"
