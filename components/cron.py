"""The cron runner (images/scripts/cron_runner.py): the program delivered into containers
that run scheduled jobs, and the schedule grammar the settings model checks schedules with.
Loaded from where it lives, with the images, so that there is one implementation of both."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

RUNNER = Path(__file__).parents[1] / "images" / "scripts" / "cron_runner.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("prodstack_cron_runner", RUNNER)
    assert spec is not None and spec.loader is not None, RUNNER
    module = importlib.util.module_from_spec(spec)
    # Registered before running it: its dataclasses look their module up by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


runner = _load()
