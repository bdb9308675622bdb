"""Postgres-side programs of prodstack: the server entrypoint, the backup agent, the drill."""
