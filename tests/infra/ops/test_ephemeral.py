"""`prodstack ephemeral up|down` through the real Automation API, against a stand-in `pulumi`
on PATH (tests/infra/ops/stand_in_pulumi.py) that records every call: the exact command
sequence is asserted, including after a failed `up`."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.cli import main
from infra.ops.ephemeral_config import public_ports
from tests.infra.ops.conftest import NAME, STACK, Pulumi


def prodstack(pulumi: Pulumi, *args: str) -> int:
    return main(["--root", str(pulumi.project), *args])


def test_up_creates_configures_tags_and_updates_the_stack(pulumi: Pulumi) -> None:
    assert prodstack(pulumi, "ephemeral", "up", NAME, "--ttl", "4h", "--no-smoke") == 0
    calls = pulumi.calls()
    assert pulumi.commands() == [
        "version",
        "stack select",  # not found: created next
        "stack init",
        "config set-all",
        "stack tag set",
        "up",
        "stack output",
        "stack output",
        "stack history",
    ]
    assert calls[2] == [
        "--non-interactive",
        "stack",
        "init",
        STACK,
        "--secrets-provider",
        "passphrase",
    ]
    config = calls[3]
    assert config[:5] == ["--non-interactive", "config", "set-all", "--stack", STACK]
    pairs = dict(arg.split("=", 1) for arg in config[5:] if "=" in arg)
    assert pairs["prodstack:environment"] == "ephemeral"
    assert pairs["prodstack:protectData"] == "false"
    assert all(flag == "--plaintext" for flag in config[5::2])
    tag = calls[4]
    assert tag[1:5] == ["stack", "tag", "set", "prodstack:expires-at"]
    assert tag[5].endswith("Z") and tag[-2:] == ["--stack", STACK]
    assert calls[5][1:4] == ["up", "--yes", "--skip-preview"] and calls[5][-2:] == [
        "--stack",
        STACK,
    ]
    # Every stack call on the local file backend under $HOME, with passphrase secrets
    # (`pulumi version` is the SDK's own check, before the workspace exists).
    backend = f"file://{pulumi.home}/.pulumi-local"
    stack_calls = pulumi.state()["calls"][1:]
    assert {c["backend"] for c in stack_calls} == {backend}
    assert {c["passphrase"] for c in stack_calls} == {""}
    assert (pulumi.home / ".pulumi-local").is_dir()
    assert {c["cwd"] for c in stack_calls} == {str(pulumi.project)}


def test_up_again_selects_the_existing_stack(pulumi: Pulumi) -> None:
    assert prodstack(pulumi, "ephemeral", "up", NAME, "--no-smoke") == 0
    pulumi.forget_calls()
    assert prodstack(pulumi, "ephemeral", "up", NAME, "--no-smoke") == 0
    assert pulumi.commands()[:4] == ["version", "stack select", "config set-all", "stack tag set"]


def test_up_runs_the_smoke_test_and_fails_when_it_fails(
    pulumi: Pulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert prodstack(pulumi, "ephemeral", "up", NAME) == 1
    out = capsys.readouterr().out
    https = public_ports(NAME)["https"]
    assert f"smoke test of https://localhost:{https}" in out
    assert "FAIL  https" in out and "0 of 6 checks passed" in out


def test_down_destroys_then_removes_the_stack(pulumi: Pulumi) -> None:
    assert prodstack(pulumi, "ephemeral", "up", NAME, "--no-smoke") == 0
    pulumi.forget_calls()
    assert prodstack(pulumi, "ephemeral", "down", NAME) == 0
    calls = pulumi.calls()
    assert pulumi.commands() == ["version", "stack select", "destroy", "stack history", "stack rm"]
    destroy = calls[2]
    assert destroy[1:4] == ["destroy", "--skip-preview", "--yes"] and "--refresh" in destroy
    assert calls[4] == ["--non-interactive", "stack", "rm", "--yes", STACK]
    assert pulumi.state()["stacks"] == {}


def test_a_failed_up_leaves_nothing_after_down(
    pulumi: Pulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    pulumi.set(fail_up=True, created_by_up=12)
    assert prodstack(pulumi, "ephemeral", "up", NAME) == 1
    out = capsys.readouterr().out
    assert f"`prodstack ephemeral down {NAME}` removes whatever it created" in out
    assert pulumi.commands()[-1] == "up"  # no smoke test, no outputs after a failure
    assert pulumi.state()["stacks"][STACK]["resources"] == 12
    assert prodstack(pulumi, "ephemeral", "down", NAME) == 0
    assert pulumi.state()["stacks"] == {}


def test_a_failed_destroy_keeps_the_stack(
    pulumi: Pulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert prodstack(pulumi, "ephemeral", "up", NAME, "--no-smoke") == 0
    pulumi.set(fail_destroy=True)
    assert prodstack(pulumi, "ephemeral", "down", NAME) == 1
    assert "the stack is kept" in capsys.readouterr().out
    assert "stack rm" not in pulumi.commands()
    assert STACK in pulumi.state()["stacks"]


def test_down_of_a_missing_stack_is_a_no_op(
    pulumi: Pulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert prodstack(pulumi, "ephemeral", "down", NAME) == 0
    assert f"no stack {STACK}" in capsys.readouterr().out
    assert pulumi.commands() == ["version", "stack select"]


def test_logged_in_backend_is_left_to_pulumi(pulumi: Pulumi) -> None:
    assert prodstack(pulumi, "ephemeral", "up", NAME, "--no-smoke", "--logged-in") == 0
    calls = pulumi.state()["calls"]
    assert {c["backend"] for c in calls} == {None}
    assert calls[2]["args"] == ["--non-interactive", "stack", "init", STACK]


def test_a_chosen_backend_and_passphrase_are_kept(
    pulumi: Pulumi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}/state")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "correct horse")
    assert prodstack(pulumi, "ephemeral", "up", NAME, "--no-smoke") == 0
    calls = pulumi.state()["calls"]
    assert {c["backend"] for c in calls} == {f"file://{tmp_path}/state"}
    assert {c["passphrase"] for c in calls} == {"correct horse"}
    assert (tmp_path / "state").is_dir()


def test_bad_input_stops_before_any_pulumi_command(
    pulumi: Pulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert prodstack(pulumi, "ephemeral", "up", "Prod!") == 2
    assert "lowercase letters" in capsys.readouterr().err
    assert prodstack(pulumi, "ephemeral", "up", NAME, "--ttl", "1y") == 2
    assert "--ttl '1y'" in capsys.readouterr().err
    assert pulumi.calls() == []


def test_without_the_pulumi_cli_says_how_to_get_it(
    pulumi: Pulumi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert prodstack(pulumi, "ephemeral", "up", NAME) == 2  # could not run
    assert "install the Pulumi CLI" in capsys.readouterr().err
