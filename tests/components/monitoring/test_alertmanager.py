"""alertmanager.yml: amtool accepts it, and each severity reaches its receiver."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from components.config_values import ConfigValueError
from components.monitoring.alertmanager import AlertmanagerConfig, Receiver
from tests.live import require


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    require("amtool")
    for name in ("routing-key", "slack-url", "token"):
        (tmp_path / name).write_text("secret\n")
    config = AlertmanagerConfig(
        paging=Receiver("paging", "pagerduty", secret_file=str(tmp_path / "routing-key")),
        chat=Receiver("chat", "slack", secret_file=str(tmp_path / "slack-url"), channel="#ops"),
        heartbeat=Receiver(
            "heartbeat",
            "webhook",
            url="https://hb.example.com/ping",
            secret_file=str(tmp_path / "token"),
        ),
    )
    path = tmp_path / "alertmanager.yml"
    path.write_text(config.render())
    return path


def test_amtool_accepts_the_configuration(config_file: Path) -> None:
    result = subprocess.run(
        ["amtool", "check-config", str(config_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 receivers" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "service=api"], "paging"),
        (["severity=warning", "service=redis"], "chat"),
        (["alertname=Watchdog", "severity=none"], "heartbeat"),
        (["alertname=Unknown"], "chat"),
    ],
)
def test_each_severity_reaches_its_receiver(
    config_file: Path, labels: list[str], receiver: str
) -> None:
    result = subprocess.run(
        ["amtool", "config", "routes", "test", f"--config.file={config_file}", *labels],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip() == receiver, result.stdout + result.stderr


def test_a_page_waits_5_seconds_for_its_group_and_a_warning_30(config_file: Path) -> None:
    """Part of paging within a minute of an outage (tests/components/monitoring/
    test_rules.py has the rules' part): the old route held a page 30 s, and a page in a
    group that had paged before up to 5 minutes (the game day's api-down drill after
    another drill had stopped the API: tests/e2e/test_gameday.py)."""
    route = yaml.safe_load(config_file.read_text())["route"]
    critical = next(r for r in route["routes"] if r["matchers"] == ['severity="critical"'])
    assert (critical["group_wait"], critical["group_interval"]) == ("5s", "10s")
    warning = next(r for r in route["routes"] if r["matchers"] == ['severity="warning"'])
    assert "group_wait" not in warning and route["group_wait"] == "30s"


def test_credentials_are_files_never_inline(config_file: Path) -> None:
    text = config_file.read_text()
    assert "secret" not in text.replace("credentials_file", "").replace("_file", "")
    document = yaml.safe_load(text)
    inhibit = document["inhibit_rules"][0]
    assert inhibit["equal"] == ["service"]
    assert document["route"]["group_by"] == ["alertname", "service"]


def test_the_writer_refuses_a_control_character_in_any_value() -> None:
    none = Receiver("chat", "none")
    config = AlertmanagerConfig(
        paging=Receiver("paging", "webhook", url="https://pager.example.com/\r\nX: 1"),
        chat=none,
        heartbeat=Receiver("heartbeat", "none"),
    )
    with pytest.raises(ConfigValueError, match=r"alertmanager\.yml: must not contain control"):
        config.render()
