"""CPU and memory quantities in the Kubernetes notation, used by settings and both placements.

Settings are written the way Kubernetes users write them ("250m", "512Mi"); the workload
model keeps plain numbers (millicores, MiB) so each placement formats them for its platform.
"""

from __future__ import annotations

import re

from components.config_values import shown

_CPU = re.compile(r"^(?P<number>\d+(\.\d{1,3})?)(?P<milli>m?)$")
_MEMORY = re.compile(r"^(?P<number>\d+)(?P<unit>Ki|Mi|Gi|Ti)$")
_MEMORY_UNITS_MIB = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}


# What one node could have: the largest machines offered today have 896 vCPUs and 32 TiB of
# memory. A larger quantity is a typo, and 10^20 would read as "no limit" in a manifest.
MAX_CPU_MILLICORES = 1024 * 1000
MAX_MEMORY_MIB = 32 * 1024 * 1024


def parse_cpu(text: str) -> int:
    """Millicores of a CPU quantity like "250m", "1" or "0.5"; ValueError otherwise."""
    match = _CPU.match(text.strip())
    if match is None:
        raise ValueError(f"must be a CPU quantity like 250m, 1 or 1.5, got {shown(text)}")
    number = float(match["number"])
    millicores = round(number if match["milli"] else number * 1000)
    if millicores < 1:
        raise ValueError(f"must be at least 1m, got {shown(text)}")
    if millicores > MAX_CPU_MILLICORES:
        raise ValueError(
            f"must be at most {format_cpu(MAX_CPU_MILLICORES)} (more than a node has), "
            f"got {shown(text)}"
        )
    return millicores


def parse_memory(text: str) -> int:
    """MiB of a memory quantity like "512Mi" or "1Gi"; ValueError otherwise."""
    match = _MEMORY.match(text.strip())
    if match is None:
        raise ValueError(f"must be a memory quantity like 256Mi or 1Gi, got {shown(text)}")
    mib = int(match["number"]) * _MEMORY_UNITS_MIB[match["unit"]]
    if mib < 4:
        raise ValueError(f"must be at least 4Mi, got {shown(text)}")
    if mib > MAX_MEMORY_MIB:
        raise ValueError(
            f"must be at most {format_memory(MAX_MEMORY_MIB)} (more than a node has), "
            f"got {shown(text)}"
        )
    return int(mib)


def format_cpu(millicores: int) -> str:
    return f"{millicores // 1000}" if millicores % 1000 == 0 else f"{millicores}m"


def format_memory(mib: int) -> str:
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"
