"""The SQL that prepares a new cluster and keeps role passwords in step with the secrets."""

from __future__ import annotations


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def roles_sql(app_user: str, app_password: str, monitor_user: str, monitor_password: str) -> str:
    """Idempotent: creates the roles once, and sets their passwords every start, so rotating a
    secret in settings reaches the server on the next rollout."""
    return f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(app_user)}) THEN
    CREATE ROLE {identifier(app_user)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(monitor_user)}) THEN
    CREATE ROLE {identifier(monitor_user)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
  END IF;
END
$$;
ALTER ROLE {identifier(app_user)} PASSWORD {literal(app_password)};
ALTER ROLE {identifier(monitor_user)} PASSWORD {literal(monitor_password)};
GRANT pg_monitor TO {identifier(monitor_user)};
"""


def database_sql(database: str, owner: str) -> str:
    return (
        f"CREATE DATABASE {identifier(database)} OWNER {identifier(owner)};\n"
        f"REVOKE ALL ON DATABASE {identifier(database)} FROM PUBLIC;\n"
    )


EXTENSIONS_SQL = "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;\n"
