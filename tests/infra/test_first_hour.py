"""A newcomer's first commands on a machine that lacks what they need: each says what is
missing and how to get it, and writes nothing to the home directory first."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policies.catalog import RULES
from tests.support import ROOT


def without(tmp_path: Path, *tools: str) -> dict[str, str]:
    """An environment whose PATH has the usual tools but not `tools`, and a fresh home."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("bash", "sh", "env", "make", "uv", "docker", "python3", "cat", "dirname"):
        found = shutil.which(name)
        if found and name not in tools:
            (bin_dir / name).symlink_to(found)
    home = tmp_path / "home"
    home.mkdir()
    return {"PATH": str(bin_dir), "HOME": str(home)}


@pytest.mark.parametrize("target", ["down", "preview"])
def test_make_targets_that_need_pulumi_say_so(tmp_path: Path, target: str) -> None:
    env = without(tmp_path, "pulumi")
    result = subprocess.run(
        ["make", "-s", target], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "needs the Pulumi CLI: install it from https://www.pulumi.com/docs/install/" in (
        result.stderr
    )
    assert "No such file or directory" not in result.stderr
    assert list(Path(env["HOME"]).iterdir()) == []


def test_needs_says_when_the_docker_engine_is_not_running(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text("#!/bin/sh\nexit 1\n")  # installed, but no engine answers
    (fake / "docker").chmod(0o755)
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "needs"), "docker-engine"],
        env={"PATH": f"{fake}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "needs a running Docker engine" in result.stderr


def test_ephemeral_up_without_pulumi_writes_nothing_home(tmp_path: Path) -> None:
    env = without(tmp_path, "pulumi")
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", "ephemeral", "up", "pr-1"],
        cwd=ROOT,
        env={
            **env,
            "PYTHONPATH": str(ROOT),
            **({"TMPDIR": os.environ["TMPDIR"]} if "TMPDIR" in os.environ else {}),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "need the Pulumi CLI: install the Pulumi CLI from" in result.stderr
    assert list(Path(env["HOME"]).iterdir()) == []


def test_the_readme_counts_the_rules_the_pack_has() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"a CrossGuard pack of {len(RULES)} rules" in readme
