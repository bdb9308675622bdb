"""`pulumi up` runs infra/ as a directory program; its imports must resolve from the
installed project, wherever the language host starts it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

# What the Python language host does with `main: infra/`, under mocks instead of an engine.
RUNNER = """
import json, runpy, sys
import pulumi
from infra.render.mock_runtime import MockRun
from infra.render.stack_config import load_stack_config
run = MockRun(load_stack_config(__import__("pathlib").Path(sys.argv[1]), "dev"))
run.run(lambda: runpy.run_path(sys.argv[2], run_name="__main__") and {})
print(json.dumps(sorted({r.type for r in run.recording.resources})))
"""


def test_directory_program_runs_from_anywhere(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(ROOT), str(ROOT / "infra")],
        cwd=tmp_path,  # not the project: imports must come from the installed package
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    types = result.stdout.strip().splitlines()[-1]
    assert "docker:index/container:Container" in types
    assert "prodstack:index:Api" in types
