"""Prove that no secret value reached a rendered file in plaintext."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Shorter values (a secret "1", say) would match by accident; real secrets are longer.
MIN_SECRET_LENGTH = 8


@dataclass(frozen=True)
class Leak:
    path: Path
    line: int


def scan(files: Iterable[Path], secret_values: Iterable[str]) -> list[Leak]:
    needles = [s for s in set(secret_values) if len(s) >= MIN_SECRET_LENGTH]
    leaks: list[Leak] = []
    for path in files:
        text = path.read_text(errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if any(needle in line for needle in needles):
                leaks.append(Leak(path, number))
    return leaks
