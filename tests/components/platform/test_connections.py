"""The connection graph: one declaration, both sides; a peer that is not there is an error."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.platform.connections import Connection, ConnectionGraph
from components.workload import Peer, PlacedWorkload, WorkloadError
from tests.components.platform.doubles import app, front, store


def ref(name: str, **ports: int) -> PlacedWorkload:
    return PlacedWorkload(name, name, ports)


STORE = ref("store", db=5432, metrics=9187)
APP = ref("app", http=8080)


def test_a_connection_declared_by_either_side_is_one_connection() -> None:
    server = replace(store(protect=False, with_job=False), allowed_clients=(Peer(APP, (5432,)),))
    graph = ConnectionGraph([server, app(STORE), front(APP)])
    # The app also declared it (connects_to): still one connection.
    assert graph.clients_of("store") == (Connection("app", "store", (5432,)),)
    assert graph.servers_of("app") == (Connection("app", "store", (5432,)),)
    assert graph.clients_of("app") == (Connection("front", "app", (8080,)),)
    assert graph.servers_of("store") == ()


def test_a_peer_that_no_component_placed_is_named_in_the_error() -> None:
    # The edge routing to a workload that was renamed: a clear error, not a silent gap.
    with pytest.raises(WorkloadError, match="names app, which no component placed"):
        ConnectionGraph([store(protect=False, with_job=False), front(APP)])


def test_a_port_the_server_does_not_serve_is_refused() -> None:
    client = replace(app(STORE), connects_to=(Peer(STORE, (6379,)),))
    with pytest.raises(WorkloadError, match=r"on \[6379\], which store does not serve"):
        ConnectionGraph([store(protect=False, with_job=False), client])


def test_a_server_without_ports_cannot_be_connected_to() -> None:
    silent = replace(store(protect=False, with_job=False), sidecars=())
    silent = replace(silent, main=replace(silent.main, ports=()))
    with pytest.raises(WorkloadError, match="store, which serves no port"):
        ConnectionGraph([silent, app(STORE)])
