"""The stand-in `pulumi` on PATH, with its state file, for the ephemeral-stack tests."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.ops.ephemeral_config import public_ports
from tests.support import ROOT

NAME = "pr-7"
STACK = "ephemeral-pr-7"
STAND_IN = Path(__file__).with_name("stand_in_pulumi.py")
NAME = "pr-7"
STACK = "ephemeral-pr-7"


@dataclass
class Pulumi:
    state_file: Path
    project: Path
    home: Path

    def state(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text())

    def set(self, **values: Any) -> None:
        self.state_file.write_text(json.dumps({**self.state(), **values}))

    def calls(self) -> list[list[str]]:
        return [call["args"] for call in self.state()["calls"]]

    def commands(self) -> list[str]:
        """Each call's subcommand words, without options or values."""
        words = []
        for args in self.calls():
            args = [a for a in args if a != "--non-interactive"]
            verb = (
                args[:3]
                if args[:2] == ["stack", "tag"]
                else args[:2]
                if args[0] in ("stack", "config")
                else args[:1]
            )
            words.append(" ".join(verb))
        return words

    def forget_calls(self) -> None:
        self.set(calls=[])


@pytest.fixture
def pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pulumi]:
    bin_dir, project, home = tmp_path / "bin", tmp_path / "project", tmp_path / "home"
    for directory in (bin_dir, project, home):
        directory.mkdir()
    executable = bin_dir / "pulumi"
    executable.write_text(f"#!{sys.executable}\n" + STAND_IN.read_text())
    executable.chmod(0o755)
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(ROOT / name, project / name)
    state = tmp_path / "state.json"
    https = public_ports(NAME)["https"]
    state.write_text(
        json.dumps(
            {
                "calls": [],
                "stacks": {},
                # Nothing listens there: the smoke test after `up` fails, as it must.
                "outputs": {"url": f"https://localhost:{https}", "caCertPem": "not a PEM"},
            }
        )
    )
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    monkeypatch.setenv("STAND_IN_PULUMI_STATE", str(state))
    monkeypatch.setenv("HOME", str(home))
    for variable in (
        "PULUMI_BACKEND_URL",
        "PULUMI_CONFIG_PASSPHRASE",
        "PULUMI_CONFIG_PASSPHRASE_FILE",
    ):
        monkeypatch.delenv(variable, raising=False)
    yield Pulumi(state, project, home)
