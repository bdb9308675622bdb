"""CPU and memory quantities in the Kubernetes notation, used by settings and both placements.

Settings are written the way Kubernetes users write them ("250m", "512Mi"); the workload
model keeps plain numbers (millicores, MiB) so each placement formats them for its platform.
"""

from __future__ import annotations

import re

_CPU = re.compile(r"^(?P<number>\d+(\.\d{1,3})?)(?P<milli>m?)$")
_MEMORY = re.compile(r"^(?P<number>\d+)(?P<unit>Ki|Mi|Gi|Ti)$")
_MEMORY_UNITS_MIB = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}


def parse_cpu(text: str) -> int:
    """Millicores of a CPU quantity like "250m", "1" or "0.5"; ValueError otherwise."""
    match = _CPU.match(text.strip())
    if match is None:
        raise ValueError(f"must be a CPU quantity like 250m, 1 or 1.5, got {text!r}")
    number = float(match["number"])
    millicores = round(number if match["milli"] else number * 1000)
    if millicores < 1:
        raise ValueError(f"must be at least 1m, got {text!r}")
    return millicores


def parse_memory(text: str) -> int:
    """MiB of a memory quantity like "512Mi" or "1Gi"; ValueError otherwise."""
    match = _MEMORY.match(text.strip())
    if match is None:
        raise ValueError(f"must be a memory quantity like 256Mi or 1Gi, got {text!r}")
    mib = int(match["number"]) * _MEMORY_UNITS_MIB[match["unit"]]
    if mib < 4:
        raise ValueError(f"must be at least 4Mi, got {text!r}")
    return int(mib)


def format_cpu(millicores: int) -> str:
    return f"{millicores // 1000}" if millicores % 1000 == 0 else f"{millicores}m"


def format_memory(mib: int) -> str:
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"
