"""The SQL that prepares a new cluster and keeps role passwords in step with the secrets."""

from __future__ import annotations


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# Statements that carry a password are never logged, whatever the server's log settings.
QUIET = "SET log_statement = 'none'; SET log_min_duration_statement = -1;\n"


def roles_sql(monitor_user: str, monitor_password: str, logins: dict[str, str]) -> str:
    """Idempotent: creates the roles once, and sets their passwords every start, so a
    rotated secret reaches the server however it was restarted. The first of `logins`
    (login -> password) is the app's own role, which owns its database."""
    app_user = next(iter(logins))
    return (
        QUIET
        + f"""
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
ALTER ROLE {identifier(monitor_user)} PASSWORD {literal(monitor_password)};
GRANT pg_monitor TO {identifier(monitor_user)};
"""
        + "".join(login_sql(app_user, login, password) for login, password in logins.items())
    )


def login_sql(owner: str, login: str, password: str) -> str:
    """`login` exists, with `password`, and acts as `owner`: a second login of the app
    (a rollover's other slot) is created unable to log in, a member of the app's role that
    takes it on at login, so what it creates the app's role owns. The keeper decides who
    may log in (prodstack_pg.logins)."""
    created = ""
    if login != owner:
        created = f"""DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(login)}) THEN
    CREATE ROLE {identifier(login)} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE IN ROLE {identifier(owner)};
  END IF;
END
$$;
ALTER ROLE {identifier(login)} SET role TO {literal(owner)};
"""
    return created + f"ALTER ROLE {identifier(login)} PASSWORD {literal(password)};\n"


def database_sql(database: str, owner: str) -> str:
    return (
        f"CREATE DATABASE {identifier(database)} OWNER {identifier(owner)};\n"
        f"REVOKE ALL ON DATABASE {identifier(database)} FROM PUBLIC;\n"
    )


EXTENSIONS_SQL = "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;\n"
