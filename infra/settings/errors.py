"""One readable line per invalid setting, naming its full key path and what is allowed."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import pulumi
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from components.config_values import shown
from components.settings import PATTERN_HINTS
from infra.settings.namespace import NAMESPACE


class SettingsError(pulumi.RunError):
    """Invalid stack settings. A RunError, so `pulumi up` prints the message without a traceback."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        count = len(self.problems)
        noun = "setting is" if count == 1 else "settings are"
        super().__init__(
            f"{count} {noun} invalid; nothing was created:\n{lines}\n"
            "See docs/settings.md for every key, its default per environment and what it allows."
        )


def key_path(loc: Sequence[int | str]) -> str:
    """`("api", "autoscaling", "minReplicas")` -> `prodstack:api.autoscaling.minReplicas`."""
    if not loc:
        return f"{NAMESPACE}:<root>"
    head, *rest = loc
    path = f"{NAMESPACE}:{head}"
    for part in rest:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The settings model that owns the last key of `loc`, to list its allowed keys."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if current is None or isinstance(part, int):
            return None
        field = next(
            (f for name, f in current.model_fields.items() if (f.alias or name) == part), None
        )
        annotation = field.annotation if field else None
        current = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    return current


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def describe(error: ErrorDetails, root: type[BaseModel]) -> str:
    """Turn one pydantic error into `prodstack:key.path: what is wrong, got X`."""
    loc = error["loc"]
    kind = error["type"]
    ctx = dict(error.get("ctx", {}))
    got = error.get("input")
    if loc and loc[-1] == "[key]":
        # A mapping key that is not allowed: report it as the key it is.
        loc = (*loc[:-2], loc[-2])
    if kind == "string_pattern_mismatch":
        ctx["pattern"] = PATTERN_HINTS.get(str(ctx.get("pattern")), ctx.get("pattern"))
    if kind == "extra_forbidden":
        owner = _model_at(root, loc)
        allowed = _allowed_keys(owner) if owner else []
        hint = ""
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        if close:
            hint = f" (did you mean {close[0]}?)"
        listing = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
        return f"{key_path(loc)}: unknown key{hint}{listing}"
    if kind == "missing":
        return f"{key_path(loc)}: required, but not set"
    messages: dict[str, str] = {
        "greater_than_equal": "must be at least {ge}",
        "greater_than": "must be greater than {gt}",
        "less_than_equal": "must be at most {le}",
        "less_than": "must be less than {lt}",
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "string_type": "must be a string",
        "dict_type": "must be a mapping of keys to values",
        "model_type": "must be a mapping of keys to values",
        "model_attributes_type": "must be a mapping of keys to values",
        "list_type": "must be a list",
        "string_pattern_mismatch": "must be {pattern}",
        "string_too_short": "must be at least {min_length} characters",
        "string_too_long": "must be at most {max_length} characters",
        "too_short": "must have at least {min_length} items",
        "literal_error": "must be one of {expected}",
        "enum": "must be one of {expected}",
    }
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error", error["msg"]))
        return f"{key_path(loc)}: {text}"
    template = messages.get(kind)
    text = template.format(**ctx) if template else error["msg"].lower()
    return f"{key_path(loc)}: {text}, got {shown(got)}"


def problems_of(error: ValidationError, root: type[BaseModel]) -> list[str]:
    return [describe(detail, root) for detail in error.errors(include_url=False)]
