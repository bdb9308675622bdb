"""The internal CA and the certificates cert-manager keeps for the stack (prod, under mocks)."""

from __future__ import annotations

from typing import Any

from infra.render.mock_runtime import Recording

CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"


def hours(text: str) -> int:
    assert text.endswith("h"), text
    return int(text[:-1])


def certificates(recording: Recording) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs["spec"] for r in recording.of_type(CERTIFICATE)}


def test_a_renewed_internal_ca_keeps_every_client_trusting_every_server(prod: Recording) -> None:
    """Clients trust the ca.crt of their own Secret, refreshed when their certificate
    renews. The old render let the CA take a new key when it renewed (cert-manager's
    default from 1.18): servers renewed after it would be refused by clients not yet
    renewed, for up to 60 days."""
    specs = certificates(prod)
    ca = specs.pop("internal-tls-internal-ca")
    assert ca["isCA"] is True
    assert ca["privateKey"]["rotationPolicy"] == "Never"
    internal = {n: s for n, s in specs.items() if s["issuerRef"]["name"] == "internal-ca-issuer"}
    assert {"internal-tls-postgres", "internal-tls-redis"} <= set(internal)
    for name, spec in internal.items():
        # Every Secret carries the renewed CA before the old CA certificate ends.
        refreshed_every = hours(spec["duration"]) - hours(spec["renewBefore"])
        assert refreshed_every < hours(ca["renewBefore"]), name
        # Leaf keys still rotate at each renewal.
        assert spec["privateKey"]["rotationPolicy"] == "Always", name
