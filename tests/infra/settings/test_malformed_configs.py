"""Each malformed config stops the program with one clear message per key, creating nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.program import main
from infra.render.mock_runtime import MockRun
from infra.settings import SettingsError, parse_settings
from tests.support import PROD, config_of

DIGEST = "@sha256:" + "b" * 64


def s3_backups(**s3: str) -> dict[str, Any]:
    """Settings with an S3 backup repository, `s3` changed from a valid one."""
    valid = {
        "endpoint": "s3.example.com",
        "bucket": "backups",
        "region": "eu-west-1",
        "path": "/p",
        "uriStyle": "path",
        "keyType": "auto",
    }
    return {"postgres": {"backup": {"repository": {"type": "s3", "s3": {**valid, **s3}}}}}


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
        "prod-without-storage-class",
        "prod",
        {key: value for key, value in PROD.items() if key != "kubernetes"},
        {},
        "prodstack:kubernetes.storageClass: required in prod: name a StorageClass that allows "
        "volume expansion",
    ),
    (
        "recovery-point-shorter-than-archiving",
        "dev",
        {"recovery": {"rpoSeconds": 30}, "postgres": {"archiveTimeoutSeconds": 120}},
        {},
        "prodstack:recovery.rpoSeconds: must be at least postgres.archiveTimeoutSeconds (120), "
        "got 30",
    ),
    (
        "recovery-page-unbounded",
        "dev",
        {"recovery": {"pageWithinSeconds": 5}},
        {},
        "prodstack:recovery.pageWithinSeconds: must be at least 10, got 5",
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
    # Values that would reach a generated file and change it (issue 22).
    (
        "header-value-with-a-line-break",
        "dev",
        {"edge": {"contentSecurityPolicy": "default-src 'self'\nX-Injected: 1"}},
        {},
        "prodstack:edge.contentSecurityPolicy: must not contain control characters, found "
        "U+000A (a line break) at position 18",
    ),
    (
        "backup-endpoint-adds-a-pgbackrest-line",
        "dev",
        s3_backups(endpoint="s3.example.com\nrepo1-storage-verify-tls=n"),
        {},
        "prodstack:postgres.backup.repository.s3.endpoint: must not contain control characters",
    ),
    (
        "env-value-with-a-nul",
        "dev",
        {"api": {"env": {"GREETING": "a\u0000b"}}},
        {},
        "prodstack:api.env.GREETING: must not contain control characters, found U+0000",
    ),
    (
        "control-character-in-a-key",
        "dev",
        {"api": {"env": {"A\u2028B": "x"}}},
        {},
        "prodstack:api.env: a key must not contain control characters",
    ),
    # Accepted before, refused by the server (issue 22).
    (
        "header-value-over-an-nginx-parameter",
        "dev",
        {"edge": {"contentSecurityPolicy": "default-src 'self' " + "'sha256-" + "A" * 4100 + "'"}},
        {},
        "prodstack:edge.contentSecurityPolicy: must fit one nginx parameter (4095 bytes quoted)",
    ),
    (
        "header-value-names-an-nginx-variable",
        "dev",
        {"edge": {"permissionsPolicy": "camera=($host)"}},
        {},
        "prodstack:edge.permissionsPolicy: must not contain $ (nginx would read a variable)",
    ),
    (
        "frontend-csp-not-ascii",
        "dev",
        {"frontend": {"contentSecurityPolicy": "default-src 'self' https://b\u00fccher.example"}},
        {},
        "prodstack:frontend.contentSecurityPolicy: must be printable ASCII",
    ),
    (
        "duplicate-api-path",
        "dev",
        {"frontend": {"apiPaths": ["/api/", "/v2/", "/api/"]}},
        {},
        "prodstack:frontend.apiPaths: lists '/api/' twice; each item once",
    ),
    (
        "duplicate-auth-path",
        "dev",
        {"edge": {"rateLimits": {"authPaths": ["/api/auth/", "/api/auth/"]}}},
        {},
        "prodstack:edge.rateLimits.authPaths: lists '/api/auth/' twice",
    ),
    (
        "environment-string-over-linux-limit",
        "dev",
        {"api": {"env": {"BIG": "x" * 131070}}},
        {},
        "prodstack:api.env: 'BIG' is 131075 bytes as NAME=value, over the 131072 Linux takes",
    ),
    (
        "s3-endpoint-is-a-url",
        "dev",
        s3_backups(endpoint="https://s3.example.com"),
        {},
        "prodstack:postgres.backup.repository.s3.endpoint: must be a lowercase host name",
    ),
    (
        "s3-bucket-not-a-bucket-name",
        "dev",
        s3_backups(bucket="My_Backups"),
        {},
        "prodstack:postgres.backup.repository.s3.bucket: must be a bucket name",
    ),
    (
        "s3-region-not-a-region-code",
        "dev",
        s3_backups(region="EU West"),
        {},
        "prodstack:postgres.backup.repository.s3.region: must be a region code like eu-west-1",
    ),
    (
        "s3-web-id-without-a-role",
        "dev",
        s3_backups(keyType="web-id"),
        {},
        "prodstack:postgres.backup.repository.s3: keyType web-id needs roleArn",
    ),
    (
        "s3-web-id-on-docker",
        "dev",
        s3_backups(keyType="web-id", roleArn="arn:aws:iam::123456789012:role/backups"),
        {},
        "prodstack:postgres.backup.repository.s3.keyType: web-id takes on a role with a "
        "Kubernetes ServiceAccount's token; on docker use auto",
    ),
    (
        "s3-node-identity-on-kubernetes",
        "prod",
        {**PROD, "postgres": {**PROD["postgres"], **s3_backups()["postgres"]}},
        {},
        "prodstack:postgres.backup.repository.s3.keyType: auto reads the node's cloud identity",
    ),
    (
        "s3-role-not-an-arn",
        "dev",
        s3_backups(keyType="web-id", roleArn="prodstack-backups"),
        {},
        "prodstack:postgres.backup.repository.s3.roleArn: must be an IAM role ARN",
    ),
    (
        "proxy-protocol-from-anyone",
        "prod",
        {**PROD, "edge": {**PROD["edge"], "loadBalancer": {"clientAddress": "proxy-protocol"}}},
        {},
        "prodstack:edge.loadBalancer: clientAddress proxy-protocol needs proxySources",
    ),
    (
        "proxy-protocol-on-docker",
        "dev",
        {
            "edge": {
                "loadBalancer": {"clientAddress": "proxy-protocol", "proxySources": ["10.0.0.0/16"]}
            }
        },
        {},
        "prodstack:edge.loadBalancer.clientAddress: on docker the stack's own prober",
    ),
    (
        "load-balancer-annotations-on-docker",
        "dev",
        {"edge": {"loadBalancer": {"annotations": {"service.beta.kubernetes.io/x": "y"}}}},
        {},
        "prodstack:edge.loadBalancer.annotations: annotations are for the LoadBalancer Service",
    ),
    (
        "two-sources-of-client-addresses",
        "prod",
        {
            **PROD,
            "edge": {
                **PROD["edge"],
                "trustedProxies": ["10.0.0.0/16"],
                "loadBalancer": {
                    "clientAddress": "proxy-protocol",
                    "proxySources": ["10.0.0.0/16"],
                },
            },
        },
        {},
        "prodstack:edge: trustedProxies (X-Forwarded-For) and loadBalancer.clientAddress",
    ),
    (
        "kubelet-ca-not-a-certificate",
        "prod",
        {
            **PROD,
            "monitoring": {
                **PROD["monitoring"],
                # base64 of a PEM block whose body is not base64
                "kubeletCaData": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCm5vdCBiYXNlNjQhCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K",
            },
        },
        {},
        "prodstack:monitoring.kubeletCaData: must be base64 of PEM certificates",
    ),
    (
        "kubelet-ca-without-verification",
        "prod",
        {
            **PROD,
            "monitoring": {
                **PROD["monitoring"],
                "kubeletMetrics": "skip-verify",
                "kubeletCaData": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1BQT0KLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=",
            },
        },
        {},
        "prodstack:monitoring: kubeletCaData is for kubeletMetrics verify, got skip-verify",
    ),
    (
        "slo-of-100-percent",
        "dev",
        {"api": {"slo": {"availabilityPercent": 100}}},
        {},
        "prodstack:api.slo.availabilityPercent: must be at most 99.999, got 100",
    ),
    (
        "s3-dotted-bucket-host-style",
        "dev",
        s3_backups(bucket="db.backups", uriStyle="host"),
        {},
        "prodstack:postgres.backup.repository.s3: a bucket name with dots cannot be reached",
    ),
    # No sane bounds (issue 22).
    (
        "cpu-limit-beyond-any-node",
        "dev",
        {"api": {"resources": {"limits": {"cpu": "100000000000000000000"}}}},
        {},
        "prodstack:api.resources.limits.cpu: must be at most 1024 (more than a node has)",
    ),
    (
        "memory-limit-beyond-any-node",
        "dev",
        {"redis": {"resources": {"limits": {"memory": "100000000000000000000Mi"}}}},
        {},
        "prodstack:redis.resources.limits.memory: must be at most",
    ),
    # Paths that escape (issue 22).
    (
        "frontend-root-escapes",
        "dev",
        {"frontend": {"root": "/usr/share/nginx/html/../../../etc"}},
        {},
        "prodstack:frontend.root: must be a normalised path (no //, /./ or /../)",
    ),
    (
        "frontend-root-is-a-system-directory",
        "dev",
        {"frontend": {"root": "/etc/nginx"}},
        {},
        "prodstack:frontend.root: must be a directory of its own (like /srv/app), not /etc",
    ),
    (
        "api-path-with-dot-dot",
        "dev",
        {"api": {"readinessPath": "/health/../metrics"}},
        {},
        "prodstack:api.readinessPath: must be a normalised path",
    ),
    # Secrets in plain settings (issue 22).
    (
        "webhook-url-with-a-token-in-its-query",
        "dev",
        {
            "monitoring": {
                "receivers": {
                    "paging": {
                        "kind": "webhook",
                        "url": "https://hooks.example.com/alert?token=abc123",
                    }
                }
            }
        },
        {},
        "prodstack:monitoring.receivers.paging: url has a credential in its query (token=...)",
    ),
    (
        "webhook-url-is-a-slack-webhook",
        "dev",
        {
            "monitoring": {
                "receivers": {
                    "chat": {
                        "kind": "webhook",
                        "url": "https://hooks.slack.com/services/T0/B0/XXXX",
                    }
                }
            }
        },
        {},
        "prodstack:monitoring.receivers.chat: url is a Slack incoming-webhook URL",
    ),
    (
        "webhook-url-with-a-password",
        "dev",
        {
            "monitoring": {
                "receivers": {
                    "paging": {"kind": "webhook", "url": "https://ops:hunter2@hooks.example.com/"}
                }
            }
        },
        {},
        "prodstack:monitoring.receivers.paging: url holds a user or password before its host",
    ),
    (
        "receiver-setting-its-kind-does-not-use",
        "dev",
        {
            "monitoring": {
                "receivers": {
                    "chat": {
                        "kind": "slack",
                        "channel": "#ops",
                        "secretConfig": "slackUrl",
                        "url": "https://hooks.example.com/",
                    }
                }
            }
        },
        {"slackUrl": "https://hooks.slack.com/services/T/B/X"},
        "prodstack:monitoring.receivers.chat: kind slack does not use url; remove it",
    ),
    (
        "runbook-url-with-a-token",
        "dev",
        {"monitoring": {"runbookBaseUrl": "https://wiki.example.com/runbooks?access_token=x"}},
        {},
        "prodstack:monitoring.runbookBaseUrl: has a credential in its query (access_token=...)",
    ),
    # Found by generating settings and running the servers (issue 22).
    (
        "immutable-prefix-covers-the-page",
        "dev",
        {"frontend": {"enabled": True, "cache": {"immutablePaths": ["/"]}}},
        {},
        "prodstack:frontend.cache.immutablePaths[0]: / covers index.html",
    ),
    (
        "broadcast-address-nginx-refuses",
        "dev",
        {"edge": {"allow": ["255.255.255.255"]}},
        {},
        "prodstack:edge.allow[0]: must not be the broadcast address 255.255.255.255",
    ),
    # Silent weakening in prod (issue 22).
    (
        "prod-postgres-plaintext-without-a-reason",
        "prod",
        {**PROD, "postgres": {**PROD["postgres"], "tls": False}},
        {},
        "prodstack:postgres.tls: false sends passwords and data in plaintext on the network; in "
        "prod keep it true, or say why in prodstack:postgres.tlsOffReason",
    ),
    (
        "prod-redis-plaintext-without-a-reason",
        "prod",
        {**PROD, "redis": {**PROD["redis"], "tls": False}},
        {},
        "prodstack:redis.tls: false sends passwords and data in plaintext",
    ),
    (
        "plaintext-reason-with-tls-on",
        "dev",
        {"redis": {"tls": True, "tlsOffReason": "the network is a private link we trust"}},
        {},
        "prodstack:redis.tlsOffReason: only with redis.tls false; remove it",
    ),
    (
        "prod-redis-tag-without-a-patch-release",
        "prod",
        {**PROD, "redis": {**PROD["redis"], "image": "redis:8.0@sha256:" + "c" * 64}},
        {},
        "prodstack:redis.image: in prod name the full Redis release in the tag",
    ),
    # The loader itself (issue 22).
    (
        "nested-too-deep",
        "dev",
        {"api": {"env": {"A": [[[[[[[[[[[[[["x"]]]]]]]]]]]]]]}}},
        {},
        "prodstack:api.env.A[0][0][0][0][0][0][0][0][0][0]: nested more than 12 levels deep",
    ),
    (
        "a-value-of-megabytes",
        "dev",
        {"edge": {"contentSecurityPolicy": "a" * 3_000_000}},
        {},
        "prodstack:edge.contentSecurityPolicy: 3000000 bytes, more than any setting takes (131072)",
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


def test_a_plaintext_data_store_in_prod_with_its_reason_is_accepted() -> None:
    reason = "a private link between two hosts we own; see ADR-12"
    stack = {**PROD, "redis": {**PROD["redis"], "tls": False, "tlsOffReason": reason}}
    settings, _ = parse_settings(config_of("prod", stack).values, set(), "prod")
    assert settings.redis.tls is False and settings.redis.tls_off_reason == reason


@pytest.mark.parametrize(
    "namespace", ["prodst\u0430ck", "\uff50\uff52\uff4f\uff44stack", "prodstak", "Prodstack"]
)
def test_a_namespace_that_looks_like_ours_is_refused_not_dropped(namespace: str) -> None:
    config = {f"{namespace}:api": '{"replicas": 3}', "prodstack:environment": "dev"}
    with pytest.raises(SettingsError) as raised:
        parse_settings(config, set(), "dev")
    assert raised.value.problems[0].startswith(f"{namespace}:api: is in namespace")
    assert "did you mean prodstack:api?" in raised.value.problems[0]


def test_json_nested_past_the_parser_is_one_clean_line() -> None:
    """The CLI hands structured config to the program as JSON text: a value nested past
    Python's recursion limit is refused by key, not with a RecursionError."""
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(SettingsError) as raised:
        parse_settings({"prodstack:api": deep}, set(), "dev")
    assert raised.value.problems == [
        "prodstack:api: nested more than 12 levels deep; no setting is"
    ]


def test_a_list_of_a_million_entries_is_refused_in_one_line() -> None:
    networks = [f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}" for i in range(1_000_000)]
    with pytest.raises(SettingsError) as raised:
        parse_settings({"prodstack:edge": json.dumps({"allow": networks})}, set(), "dev")
    assert raised.value.problems == [
        "prodstack:edge.allow: 1000000 entries, more than any setting takes (1000)"
    ]


def test_findings_quote_a_short_prefix_of_a_huge_value() -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings({"prodstack:domain": "x" * 2_000_000}, set(), "dev")
    assert len(str(raised.value)) < 1000
