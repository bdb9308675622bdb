"""Render a stack offline: its config, the real program under mocks, and the files written."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from infra.program import main as program_main
from infra.render import writer
from infra.render.mock_runtime import Recording, run_program
from infra.render.stack_config import StackConfig, load_stack_config


@dataclass
class RenderResult:
    config: StackConfig
    recording: Recording
    files: writer.RenderedFiles


def render(root: Path, stack: str, out: Path | None = None, preview: bool = False) -> RenderResult:
    """Raises StackConfigError or SettingsError before anything is written. `preview`: as
    the first `pulumi preview` of a new stack sees it (computed values unknown)."""
    config = load_stack_config(root, stack)
    recording = run_program(config, program_main, preview=preview)
    target = out if out is not None else Path(tempfile.mkdtemp(prefix=f"prodstack-{stack}-"))
    return RenderResult(config, recording, writer.write(recording, target))
