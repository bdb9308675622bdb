"""Monitoring settings: images, retention, scrape interval, runbooks and alert receivers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from components.images import ImageReference
from components.settings import ConfigKey, PemCertificatesData, Settings, hinted
from components.urls import credential_in_url, http_url

Url = Annotated[str, Field(max_length=2048), AfterValidator(http_url)]
EmailAddress = Annotated[
    str,
    Field(
        pattern=hinted(
            r"^[A-Za-z0-9._%+-]{1,64}@[a-z0-9.-]{1,253}$", "an address like ops@example.com"
        ),
    ),
]
SmartHost = Annotated[
    str,
    Field(
        pattern=hinted(
            r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?:[0-9]{1,5}$",
            "host:port like smtp.example.com:587",
        )
    ),
]
SlackChannel = Annotated[
    str, Field(pattern=hinted(r"^[#@]?[a-z0-9._-]{1,80}$", "a channel like #alerts"))
]


def _no_credential(url: str) -> str:
    """Alerts carry the runbook's URL to every receiver: it must not carry a credential."""
    credential = credential_in_url(url) if "://" in url else None
    if credential:
        raise ValueError(f"{credential}: every alert would carry it; link a public runbook")
    return url


# What each kind of receiver must be given, and what it may be given besides: a webhook's
# token is optional; a receiver turned off may keep the name of its credential.
RECEIVER_NEEDS: dict[str, tuple[str, ...]] = {
    "webhook": ("url",),
    "slack": ("channel", "secret_config"),
    "pagerduty": ("secret_config",),
    "email": ("to", "sender", "smarthost", "username", "secret_config"),
}
RECEIVER_USES: dict[str, tuple[str, ...]] = {
    **RECEIVER_NEEDS,
    "webhook": ("url", "secret_config"),
    "none": ("secret_config",),
}
RECEIVER_FIELDS = ("url", "channel", "to", "sender", "smarthost", "username", "secret_config")


class ReceiverSettings(Settings):
    kind: Literal["none", "webhook", "slack", "pagerduty", "email"] = Field(
        description="none keeps alerts in Alertmanager only (no notification)."
    )
    url: Url | None = Field(
        default=None,
        description=(
            "webhook: where alerts are posted. Never a credential: a URL with a token in its "
            "query or a user and password, or a Slack, Discord, PagerDuty or Teams webhook "
            "URL is refused; the token goes in secretConfig (sent as a bearer token), a Slack "
            "webhook URL with kind slack."
        ),
    )
    channel: SlackChannel | None = Field(default=None, description="slack: the channel.")
    to: EmailAddress | None = Field(default=None, description="email: the recipient.")
    sender: EmailAddress | None = Field(default=None, description="email: the From address.")
    smarthost: SmartHost | None = Field(default=None, description="email: SMTP host:port.")
    username: Annotated[str, Field(min_length=1, max_length=256)] | None = Field(
        default=None, description="email: SMTP user."
    )
    secret_config: ConfigKey | None = Field(
        default=None,
        description=(
            "Secret config key with the credential: a bearer token (webhook), the webhook URL "
            "(slack), the routing key (pagerduty), the SMTP password (email)."
        ),
    )

    @model_validator(mode="after")
    def _complete(self) -> ReceiverSettings:
        fields = type(self).model_fields
        missing = [f for f in RECEIVER_NEEDS.get(self.kind, ()) if getattr(self, f) is None]
        if missing:
            names = ", ".join(fields[f].alias or f for f in missing)
            raise ValueError(f"kind {self.kind} needs {names}")
        used = RECEIVER_USES[self.kind]
        unused = [f for f in RECEIVER_FIELDS if getattr(self, f) is not None and f not in used]
        if unused:
            names = ", ".join(fields[f].alias or f for f in unused)
            raise ValueError(f"kind {self.kind} does not use {names}; remove it")
        credential = credential_in_url(self.url) if self.url else None
        if credential:
            raise ValueError(
                f"url {credential}: a credential, which a plain setting would put in "
                "plaintext in the rendered config; give the token with secretConfig (sent as "
                "a bearer token), or a Slack webhook URL with kind slack and secretConfig"
            )
        return self


class Receivers(Settings):
    paging: ReceiverSettings = Field(description="Critical alerts.")
    chat: ReceiverSettings = Field(description="Warnings.")
    heartbeat: ReceiverSettings = Field(description="The always-firing Watchdog.")


class MonitoringSettings(Settings):
    prometheus_image: ImageReference = Field(description="Prometheus image (by digest in prod).")
    alertmanager_image: ImageReference = Field(
        description="Alertmanager image (by digest in prod)."
    )
    blackbox_image: ImageReference = Field(
        description="Blackbox exporter image (by digest in prod)."
    )
    grafana_image: ImageReference = Field(description="Grafana image (by digest in prod).")
    kube_state_metrics_image: ImageReference = Field(
        description="kube-state-metrics image, Kubernetes only (by digest in prod)."
    )

    scrape_interval_seconds: int = Field(ge=5, le=120, description="Scrape and rule interval.")
    retention_days: int = Field(ge=1, le=3650, description="How long samples are kept.")
    retention_size_gib: int = Field(ge=1, le=10000, description="Most disk the samples use.")
    storage_gib: int = Field(ge=1, le=10000, description="Size of Prometheus' volume.")
    runbook_base_url: Annotated[
        str,
        Field(pattern=hinted(r"^[!-~]{1,512}$", "a URL or path without spaces")),
        AfterValidator(_no_credential),
    ] = Field(
        description="Where docs/runbooks is served; alerts link to <base>/<file>.md.",
    )
    receivers: Receivers
    grafana: bool = Field(
        description=(
            "Run Grafana. Off where its image cannot be had: it has no Debian build, so a "
            "host that builds its images from Debian's packages runs the stack without it."
        )
    )
    grafana_public: bool = Field(
        description="Publish Grafana through the edge under /grafana/ (TLS, rate limits)."
    )
    kubelet_metrics: Literal["verify", "skip-verify", "off"] = Field(
        description=(
            "Kubernetes: scrape the kubelets' volume statistics of the stack's claims, which the "
            "volume-filling alert needs. Adds a ClusterRole reading nodes and nodes/metrics and "
            "egress to the nodes' port 10250. verify checks the kubelets' certificates against "
            "the cluster CA (or kubeletCa); skip-verify is for kubelets with self-signed "
            "serving certificates (kubeadm's default); off leaves the volume-filling alert "
            "without data."
        )
    )
    kubelet_ca_data: PemCertificatesData | None = Field(
        default=None,
        description=(
            "With kubeletMetrics verify: the CA that signs the kubelets' serving certificates, "
            "base64 of its PEM (like kubeconfig's certificate-authority-data: base64 -w0), "
            "certificates where it is not the cluster's (k3s, OpenShift's kubelet-serving CA, "
            "a separate signer for kubeadm's serverTLSBootstrap). Unset: the cluster CA of "
            "Prometheus's service account."
        ),
    )

    @model_validator(mode="after")
    def _kubelet_ca_to_verify(self) -> MonitoringSettings:
        if self.kubelet_ca_data is not None and self.kubelet_metrics != "verify":
            raise ValueError(
                f"kubeletCaData is for kubeletMetrics verify, got {self.kubelet_metrics}; remove it "
                "or verify"
            )
        return self

    @model_validator(mode="after")
    def _grafana_to_publish(self) -> MonitoringSettings:
        if self.grafana_public and not self.grafana:
            raise ValueError("grafanaPublic needs grafana: true (there is no Grafana to publish)")
        return self
