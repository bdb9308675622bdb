"""Which config keys are the stack's: `prodstack:` ones. A key in a namespace that only looks
like it (a typo, or look-alike letters from another script) is refused, not passed on as a
provider's: its settings would otherwise be dropped without a word."""

from __future__ import annotations

NAMESPACE = "prodstack"


def _edits(a: str, b: str) -> int:
    """Levenshtein distance, for the namespace a key was probably meant to have."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def namespace_problem(namespace: str, rest: str) -> str | None:
    """Why a key's namespace must not be taken for a provider's, or None."""
    if namespace == NAMESPACE:
        return None
    meant = f"did you mean {NAMESPACE}:{rest}?"
    # Look-alike letters of another script (Cyrillic a, Greek o) pass any comparison with the
    # Latin name; no provider's namespace has a letter outside ASCII, so none is taken for one.
    if not namespace.isascii():
        return (
            f"is in namespace {namespace!r}, which has letters outside ASCII (no provider's "
            f"has); {meant}"
        )
    if _edits(namespace.lower()[:32], NAMESPACE) <= 2:
        return f"is in namespace {namespace!r}; {meant}"
    return None
