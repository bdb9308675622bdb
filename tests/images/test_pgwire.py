"""The reference API's Postgres client: SCRAM-SHA-256 as RFC 7677 specifies it. The
end-to-end suite runs it against the stack's Postgres 17 (tests/e2e)."""

from __future__ import annotations

import sys

import pytest

from tests.support import ROOT

sys.path.insert(0, str(ROOT / "images" / "api"))

from refapi.pgwire import PostgresError, Scram

# RFC 7677, section 3: user "user", password "pencil".
CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = (
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
CLIENT_FINAL = (
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def test_scram_sha_256_matches_the_rfc_7677_exchange() -> None:
    scram = Scram("pencil", nonce=CLIENT_NONCE, user="user")
    assert scram.client_first() == f"n,,n=user,r={CLIENT_NONCE}"
    assert scram.client_final(SERVER_FIRST) == CLIENT_FINAL
    scram.verify(SERVER_FINAL)


def test_scram_refuses_a_server_that_does_not_know_the_password() -> None:
    scram = Scram("not-pencil", nonce=CLIENT_NONCE, user="user")
    scram.client_final(SERVER_FIRST)
    with pytest.raises(PostgresError, match="did not prove"):
        scram.verify(SERVER_FINAL)


def test_scram_refuses_a_nonce_it_did_not_start() -> None:
    with pytest.raises(PostgresError, match="nonce"):
        Scram("pencil", nonce="another", user="user").client_final(SERVER_FIRST)
