"""Each malformed config stops the program with one clear message per key, creating nothing."""

from __future__ import annotations

from typing import Any

import pytest

from infra.program import main
from infra.render.mock_runtime import MockRun
from infra.settings import SettingsError
from tests.support import PROD, config_of

DIGEST = "@sha256:" + "b" * 64

# (stack, config, secret config, the message each case must produce)
CASES: list[tuple[str, str, dict[str, Any], dict[str, str], str]] = [
    (
        "replicas-zero",
        "dev",
        {"api": {"replicas": 0}},
        {},
        "prodstack:api.replicas: must be at least 1, got 0",
    ),
    (
        "replicas-wrong-type",
        "dev",
        {"api": {"replicas": "three"}},
        {},
        "prodstack:api.replicas: must be a whole number, got 'three'",
    ),
    (
        "unknown-top-level-key",
        "dev",
        {"replica": 2},
        {},
        "prodstack:replica: unknown key; allowed keys here: environment, platform, domain",
    ),
    (
        "unknown-nested-key-typo",
        "dev",
        {"api": {"autoscalng": {"enabled": True}}},
        {},
        "prodstack:api.autoscalng: unknown key (did you mean autoscaling?)",
    ),
    (
        "platform-not-allowed",
        "dev",
        {"platform": "nomad"},
        {},
        "prodstack:platform: must be one of 'docker' or 'kubernetes', got 'nomad'",
    ),
    (
        "environment-not-allowed",
        "dev",
        {"environment": "staging"},
        {},
        "prodstack:environment: must be one of dev, prod, ephemeral, got 'staging'",
    ),
    (
        "environment-missing-for-other-stack",
        "feature-x",
        {},
        {},
        "prodstack:environment: required for stack 'feature-x'; one of dev, prod, ephemeral",
    ),
    (
        "prod-domain-missing",
        "prod",
        {"api": {"image": "ghcr.io/o/api:1" + DIGEST}},
        {},
        "prodstack:domain: required, but not set",
    ),
    (
        "prod-image-missing",
        "prod",
        {"domain": "api.example.com"},
        {},
        "prodstack:api.image: required, but not set",
    ),
    (
        "prod-image-not-digest",
        "prod",
        {**PROD, "api": {"image": "ghcr.io/o/api:1.0"}},
        {},
        "prodstack:api.image: must be pinned by digest in prod",
    ),
    (
        "prod-trusts-every-address-as-a-proxy",
        "prod",
        {**PROD, "edge": {**PROD["edge"], "trustedProxies": ["10.0.0.0/16", "0.0.0.0/0"]}},
        {},
        "prodstack:edge.trustedProxies[1]: 0.0.0.0/0 would let any client in it set its own "
        "address and pass every per-address rate limit; in prod name the proxies, at most a /8",
    ),
    (
        "prod-trusts-a-wide-ipv6-range-as-a-proxy",
        "prod",
        {**PROD, "edge": {**PROD["edge"], "trustedProxies": ["2001:db8::/16"]}},
        {},
        "prodstack:edge.trustedProxies[0]: 2001:db8::/16 would let any client",
    ),
    (
        "prod-cors-any-origin",
        "prod",
        {**PROD, "edge": {**PROD["edge"], "cors": {"allowedOrigins": ["*"]}}},
        {},
        "prodstack:edge.cors.allowedOrigins[0]: * lets every site's pages call the API; in prod "
        "list the origins that may (unset: the stack's own)",
    ),
    (
        "prod-cors-plain-http-origin",
        "prod",
        {**PROD, "edge": {**PROD["edge"], "cors": {"allowedOrigins": ["http://app.example.com"]}}},
        {},
        "prodstack:edge.cors.allowedOrigins[0]: http://app.example.com is not HTTPS",
    ),
    (
        "cors-any-origin-with-credentials",
        "dev",
        {"edge": {"cors": {"allowedOrigins": ["*"], "allowCredentials": True}}},
        {},
        "prodstack:edge.cors: * cannot go with allowCredentials",
    ),
    (
        "cors-origin-with-a-path",
        "dev",
        {"edge": {"cors": {"allowedOrigins": ["https://app.example.com/"]}}},
        {},
        "prodstack:edge.cors.allowedOrigins[0]: must be an origin like https://app.example.com",
    ),
    (
        "prod-frontend-without-an-image",
        "prod",
        {**PROD, "frontend": {"enabled": True}},
        {},
        "prodstack:frontend.image: required when frontend.enabled is true",
    ),
    (
        "frontend-image-latest",
        "dev",
        {"frontend": {"enabled": True, "image": "ghcr.io/example/web:latest"}},
        {},
        "prodstack:frontend.image: must not use the tag 'latest'",
    ),
    (
        "prod-frontend-image-by-tag",
        "prod",
        {**PROD, "frontend": {"enabled": True, "image": "ghcr.io/example/web:2.3.0"}},
        {},
        "prodstack:frontend.image: must be pinned by digest in prod",
    ),
    (
        "image-latest",
        "dev",
        {"api": {"image": "nginx:latest"}},
        {},
        "prodstack:api.image: must not use the tag 'latest'",
    ),
    (
        "image-malformed",
        "dev",
        {"api": {"image": "Not An Image!"}},
        {},
        "prodstack:api.image: must be 'reference' or an image reference",
    ),
    (
        "reference-image-on-kubernetes",
        "dev",
        {"platform": "kubernetes"},
        {},
        "prodstack:api.image: 'reference' is built on the Docker host and needs platform docker",
    ),
    (
        "autoscaling-max-below-min",
        "dev",
        {"api": {"autoscaling": {"enabled": True, "minReplicas": 4, "maxReplicas": 2}}},
        {},
        "prodstack:api.autoscaling: maxReplicas must be at least minReplicas (4), got 2",
    ),
    (
        "cpu-quantity-malformed",
        "dev",
        {"api": {"resources": {"requests": {"cpu": "lots"}}}},
        {},
        "prodstack:api.resources.requests.cpu: must be a CPU quantity like 250m, 1 or 1.5, got 'lots'",
    ),
    (
        "memory-request-above-limit",
        "dev",
        {"api": {"resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}}},
        {},
        "prodstack:api.resources: requests.memory (2Gi) must not exceed limits.memory (1Gi)",
    ),
    (
        "secret-as-environment-value",
        "dev",
        {"api": {"env": {"DB_PASSWORD": "hunter2"}}},
        {},
        "prodstack:api.env: 'DB_PASSWORD' looks like a secret",
    ),
    (
        "prod-data-unprotected",
        "prod",
        {**PROD, "protectData": False},
        {},
        "prodstack:protectData: must be true in prod, got false",
    ),
    (
        "port-privileged",
        "dev",
        {"api": {"port": 80}},
        {},
        "prodstack:api.port: must be at least 1024, got 80",
    ),
    (
        "domain-malformed",
        "dev",
        {"domain": "Bad_Domain!"},
        {},
        "prodstack:domain: must be a lowercase host name like api.example.com, got 'Bad_Domain!'",
    ),
    (
        "protect-data-wrong-type",
        "dev",
        {"protectData": "maybe"},
        {},
        "prodstack:protectData: must be true or false, got 'maybe'",
    ),
    (
        "api-not-a-mapping",
        "dev",
        {"api": ["replicas", 2]},
        {},
        "prodstack:api: must be a mapping of keys to values",
    ),
    (
        "declared-secret-not-set",
        "dev",
        {"secrets": {"fromConfig": ["stripeKey"]}},
        {},
        "prodstack:stripeKey: listed in prodstack:secrets.fromConfig but not set",
    ),
    (
        "secret-set-but-not-declared",
        "dev",
        {},
        {"stripeKey": "sk_live_0123456789"},
        "prodstack:stripeKey: secret config key not listed in prodstack:secrets.fromConfig",
    ),
    (
        "namespace-invalid",
        "prod",
        {**PROD, "kubernetes": {"namespace": "Prod_NS"}},
        {},
        "prodstack:kubernetes.namespace: must be a DNS label",
    ),
    (
        "rotate-unknown-secret",
        "dev",
        {"secrets": {"rotate": {"jwt": "2"}}},
        {},
        "prodstack:secrets.rotate.jwt: must be one of 'databasePassword', 'databaseMonitorPassword'",
    ),
    (
        "cert-manager-on-docker",
        "dev",
        {"edge": {"certificate": {"source": "cert-manager", "issuer": "le"}}},
        {},
        "prodstack:edge.certificate.source: cert-manager needs platform kubernetes",
    ),
    (
        "self-signed-in-prod",
        "prod",
        {**PROD, "edge": {**PROD["edge"], "certificate": {"source": "self-signed"}}},
        {},
        "prodstack:edge.certificate.source: must be cert-manager or supplied in prod",
    ),
    (
        "hsts-shorter-than-a-year",
        "dev",
        {"edge": {"hsts": {"maxAgeSeconds": 3600}}},
        {},
        "prodstack:edge.hsts.maxAgeSeconds: must be at least 31536000, got 3600",
    ),
    (
        "deny-list-not-a-network",
        "dev",
        {"edge": {"deny": ["10.0.0.0/33"]}},
        {},
        "prodstack:edge.deny[0]: must be an address or network like 10.0.0.0/8",
    ),
    (
        "supplied-certificate-not-set",
        "dev",
        {
            "edge": {
                "certificate": {
                    "source": "supplied",
                    "certConfig": "edgeCert",
                    "keyConfig": "edgeKey",
                }
            }
        },
        {},
        "prodstack:edgeCert: listed in prodstack:edge.certificate.certConfig but not set",
    ),
    (
        "prod-pages-nobody",
        "prod",
        {
            **PROD,
            "monitoring": {
                **PROD["monitoring"],
                "receivers": {
                    "paging": {"kind": "none"},
                    "chat": {"kind": "none"},
                    "heartbeat": {"kind": "webhook", "url": "https://hb.example.com"},
                },
            },
        },
        {},
        "prodstack:monitoring.receivers.paging.kind: must notify someone in prod, got 'none'",
    ),
    (
        "slack-receiver-without-channel",
        "dev",
        {"monitoring": {"receivers": {"chat": {"kind": "slack", "secretConfig": "slackUrl"}}}},
        {},
        "prodstack:monitoring.receivers.chat: kind slack needs channel",
    ),
]


@pytest.mark.parametrize(
    ("stack", "values", "secrets", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_malformed_config_names_the_key_and_creates_nothing(
    stack: str, values: dict[str, Any], secrets: dict[str, str], message: str
) -> None:
    run = MockRun(config_of(stack, values, secrets))
    with pytest.raises(SettingsError) as raised:
        run.run(main)
    assert any(problem.startswith(message) for problem in raised.value.problems), (
        raised.value.problems
    )
    assert run.recording.resources == []


def test_there_are_at_least_fifteen_cases() -> None:
    assert len(CASES) >= 15


def test_every_problem_is_reported_at_once() -> None:
    run = MockRun(config_of("dev", {"api": {"replicas": 0, "port": 80}, "platform": "x"}))
    with pytest.raises(SettingsError) as raised:
        run.run(main)
    assert len(raised.value.problems) == 3
    assert str(raised.value).startswith("3 settings are invalid; nothing was created:")


def test_settings_error_is_a_clean_pulumi_run_error() -> None:
    """RunError makes `pulumi up` print the message without a Python traceback."""
    import pulumi

    assert issubclass(SettingsError, pulumi.RunError)
