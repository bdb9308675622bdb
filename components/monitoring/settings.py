"""Monitoring settings: images, retention, scrape interval, runbooks and alert receivers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from components.settings import Settings, hinted


class ReceiverSettings(Settings):
    kind: Literal["none", "webhook", "slack", "pagerduty", "email"] = Field(
        description="none keeps alerts in Alertmanager only (no notification)."
    )
    url: str | None = Field(default=None, description="webhook: where alerts are posted.")
    channel: str | None = Field(default=None, description="slack: the channel.")
    to: str | None = Field(default=None, description="email: the recipient.")
    sender: str | None = Field(default=None, description="email: the From address.")
    smarthost: str | None = Field(default=None, description="email: SMTP host:port.")
    username: str | None = Field(default=None, description="email: SMTP user.")
    secret_config: str | None = Field(
        default=None,
        description=(
            "Secret config key with the credential: a bearer token (webhook), the webhook URL "
            "(slack), the routing key (pagerduty), the SMTP password (email)."
        ),
    )

    @model_validator(mode="after")
    def _complete(self) -> ReceiverSettings:
        needs: dict[str, tuple[str, ...]] = {
            "webhook": ("url",),
            "slack": ("channel", "secret_config"),
            "pagerduty": ("secret_config",),
            "email": ("to", "sender", "smarthost", "username", "secret_config"),
        }
        missing = [f for f in needs.get(self.kind, ()) if getattr(self, f) is None]
        if missing:
            fields = type(self).model_fields
            names = ", ".join(fields[f].alias or f for f in missing)
            raise ValueError(f"kind {self.kind} needs {names}")
        return self


class Receivers(Settings):
    paging: ReceiverSettings = Field(description="Critical alerts.")
    chat: ReceiverSettings = Field(description="Warnings.")
    heartbeat: ReceiverSettings = Field(description="The always-firing Watchdog.")


class MonitoringSettings(Settings):
    prometheus_image: str = Field(description="Prometheus image (by digest in prod).")
    alertmanager_image: str = Field(description="Alertmanager image (by digest in prod).")
    blackbox_image: str = Field(description="Blackbox exporter image (by digest in prod).")
    grafana_image: str = Field(description="Grafana image (by digest in prod).")
    kube_state_metrics_image: str = Field(
        description="kube-state-metrics image, Kubernetes only (by digest in prod)."
    )

    scrape_interval_seconds: int = Field(ge=5, le=120, description="Scrape and rule interval.")
    retention_days: int = Field(ge=1, le=3650, description="How long samples are kept.")
    retention_size_gib: int = Field(ge=1, le=10000, description="Most disk the samples use.")
    storage_gib: int = Field(ge=1, le=10000, description="Size of Prometheus' volume.")
    runbook_base_url: str = Field(
        pattern=hinted(r"^\S+$", "a URL or path without spaces"),
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
            "the cluster CA; skip-verify is for kubelets with self-signed serving certificates; "
            "off leaves the volume-filling alert without data."
        )
    )

    @model_validator(mode="after")
    def _grafana_to_publish(self) -> MonitoringSettings:
        if self.grafana_public and not self.grafana:
            raise ValueError("grafanaPublic needs grafana: true (there is no Grafana to publish)")
        return self
