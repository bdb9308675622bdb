"""Hypothesis strategies for settings documents, derived from the settings model itself.

Each field's strategy comes from its annotation and constraints (bounds, patterns, literals,
nested models), so a key added to the model is generated without a change here. A few keys
whose meaning no annotation carries (a CPU quantity, a cron schedule, a network) get values of
their own kind. Free text mixes printable ASCII with what tends to break configuration files:
quotes, backslashes, `$`, `;`, braces, letters outside ASCII, and now and then a control
character or a value of thousands of characters, which the model must refuse.

A document overrides a few keys of the environment's defaults at a time: a document setting
every key at once would almost always break some rule between two of them, and be refused
before any server saw it.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from infra.settings.model import StackSettings

Path = tuple[str, ...]
Strategy = st.SearchStrategy[Any]

# Keys left at their defaults: what the local servers must match (Debian's nginx and Postgres
# majors), what decides which placement runs (covered by the shipped stacks), and images,
# which reach no server's configuration.
FIXED: tuple[Path, ...] = (
    ("environment",),
    ("platform",),
    ("expiresAt",),
    ("edge", "nginxVersion"),
    ("postgres", "version"),
    ("docker",),
    ("kubernetes",),
    ("monitoring", "grafana"),
)

_AWKWARD = "'\"\\$;{}#%&=:,@!?()[]<>|`~^*+ \u00e9\u00fc\u4e2d\u0430"
_CONTROL = "\n\r\t\x00\x1b\x7f\u2028"

TEXT: Strategy = st.one_of(
    st.text(st.characters(codec="ascii", categories=("L", "N", "P", "S", "Zs")), max_size=40),
    st.text(st.sampled_from("abcxyz-_./" + _AWKWARD), min_size=1, max_size=40),
    st.text(st.sampled_from("ab " + _CONTROL), min_size=1, max_size=8),
    st.integers(3900, 4200).map(lambda n: "default-src 'self' " + "'sha256-x' " * (n // 11)),
)


def _cron() -> Strategy:
    field = st.one_of(st.just("*"), st.integers(0, 5).map(str), st.just("*/15"))
    return st.tuples(
        st.integers(0, 59), st.integers(0, 23), field, st.just("*"), st.sampled_from("*0123456")
    ).map(lambda parts: " ".join(map(str, parts)))


def _network() -> Strategy:
    v4 = st.tuples(st.ip_addresses(v=4), st.integers(0, 32)).map(lambda a: f"{a[0]}/{a[1]}")
    v6 = st.tuples(st.ip_addresses(v=6), st.integers(0, 128)).map(lambda a: f"{a[0]}/{a[1]}")
    return st.one_of(st.ip_addresses().map(str), v4, v6)


def _url() -> Strategy:
    host = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,6}){1,2}", fullmatch=True)
    path = st.from_regex(r"(/[A-Za-z0-9._~-]{0,8}){0,3}", fullmatch=True)
    query = st.sampled_from(["", "?a=1", "?token=abc", "?route=x&b=%20"])
    return st.tuples(st.sampled_from(["https", "http"]), host, path, query).map(
        lambda p: f"{p[0]}://{p[1]}{p[2]}{p[3]}"
    )


# Paths the stack itself routes or serves, where a user's path would collide with its own.
ROUTED_PATHS = (
    "/",
    "/api/",
    "/api",
    "/health/ready",
    "/health/live",
    "/metrics",
    "/index.html",
    "/assets/",
    "/.well-known/acme-challenge/",
    "/api/auth/",
    "/healthz",
)


def _path() -> Strategy:
    pattern = r"/[A-Za-z0-9._~-]{1,12}(/[A-Za-z0-9._~-]{1,12}){0,2}/?"
    return st.one_of(st.sampled_from(ROUTED_PATHS), st.from_regex(pattern, fullmatch=True))


def _paths() -> Strategy:
    return st.lists(_path(), min_size=1, max_size=4)


# Keys by their last name, whose kind no annotation says.
BY_NAME: dict[str, Callable[[], Strategy]] = {
    "cpu": lambda: st.one_of(
        st.integers(1, 64_000).map(lambda m: f"{m}m"),
        st.integers(1, 2048).map(str),
        st.integers(1, 8000).map(lambda m: f"{m / 1000:g}"),
    ),
    "memory": lambda: st.one_of(
        st.integers(4, 65_536).map(lambda m: f"{m}Mi"),
        st.integers(1, 64).map(lambda g: f"{g}Gi"),
        st.integers(1, 40).map(lambda t: f"{t}Ti"),
    ),
    "full": _cron,
    "diff": _cron,
    "drillSchedule": _cron,
    "allow": lambda: st.lists(_network(), max_size=3),
    "deny": lambda: st.lists(_network(), max_size=3),
    "trustedProxies": lambda: st.lists(_network(), max_size=3),
    "url": lambda: st.one_of(st.none(), _url()),
    "runbookBaseUrl": _url,
    "address": lambda: st.sampled_from(["127.0.0.1", "0.0.0.0", "::1", "::"]),
    "apiPaths": _paths,
    "immutablePaths": _paths,
    "authPaths": _paths,
    "livenessPath": _path,
    "readinessPath": _path,
    "metricsPath": _path,
}


def _bounds(metadata: Sequence[Any]) -> dict[str, Any]:
    """ge, le, min_length, max_length and pattern, from every constraint of a field."""
    found: dict[str, Any] = {}
    for item in metadata:
        inner = item.metadata if isinstance(item, FieldInfo) else ()
        found |= _bounds(inner)
        for name in ("ge", "le", "gt", "lt", "min_length", "max_length", "pattern"):
            value = getattr(item, name, None)
            if value is not None:
                found[name] = value
    return found


def _string(bounds: dict[str, Any]) -> Strategy:
    if "pattern" in bounds:
        generated = st.from_regex(bounds["pattern"], fullmatch=True)
        most = bounds.get("max_length")
        return generated.filter(lambda s: most is None or len(s) <= most)
    return TEXT


def strategy(annotation: Any, metadata: Sequence[Any] = ()) -> Strategy:
    """Values of `annotation`, within the constraints in `metadata`."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        return strategy(base, [*metadata, *extra])
    bounds = _bounds(metadata)
    if annotation is type(None):
        return st.none()
    if origin in (Union, types.UnionType):
        return st.one_of(*(strategy(arg, metadata) for arg in get_args(annotation)))
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        low = bounds.get("ge", bounds.get("gt", -11) + 1)
        high = bounds.get("le", bounds.get("lt", 10**9 + 1) - 1)
        return st.integers(low, high)
    if annotation is float:
        return st.floats(
            bounds.get("ge", bounds.get("gt", -1e9)),
            bounds.get("le", bounds.get("lt", 1e9)),
            allow_nan=False,
            allow_infinity=False,
        )
    if annotation is str:
        return _string(bounds)
    if origin is list:
        (item,) = get_args(annotation)
        return st.lists(strategy(item), min_size=bounds.get("min_length", 0), max_size=4)
    if origin is dict:
        key, value = get_args(annotation)
        return st.dictionaries(strategy(key), strategy(value), max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return st.fixed_dictionaries(
            {},
            optional={
                info.alias or name: field_strategy(info.alias or name, info)
                for name, info in annotation.model_fields.items()
            },
        )
    return st.nothing()  # a type no setting of ours has: a test below says which


IMAGES: Strategy = st.sampled_from(
    [
        "reference",
        "nginx:1.27.3",
        "ghcr.io/example/app:2.0.1@sha256:" + "a" * 64,
        "registry.example:5000/team/redis:8.0.4",
        "quay.io/x/y@sha256:" + "b" * 64,
    ]
)


def field_strategy(key: str, info: FieldInfo) -> Strategy:
    if key in ("image", "buildBase") or key.endswith("Image"):
        return st.one_of(IMAGES, TEXT) if info.is_required() else st.one_of(st.none(), IMAGES)
    named = BY_NAME.get(key)
    return named() if named else strategy(info.annotation, info.metadata)


def leaves(
    model: type[BaseModel] = StackSettings, prefix: Path = ()
) -> list[tuple[Path, Strategy]]:
    """Every key a document may set, with the strategy of its values (a group's own keys
    rather than the group, except for groups that are optional as a whole)."""
    found: list[tuple[Path, Strategy]] = []
    for name, info in model.model_fields.items():
        path = (*prefix, info.alias or name)
        if any(path[: len(fixed)] == fixed for fixed in FIXED):
            continue
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found += leaves(annotation, path)
        else:
            found.append((path, field_strategy(path[-1], info)))
    return found


LEAVES = leaves()


def _document(paths: Sequence[Path], values: Sequence[Any]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for path, value in zip(paths, values, strict=True):
        node = document
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return document


@st.composite
def settings_documents(draw: st.DrawFn, most_keys: int = 8) -> dict[str, Any]:
    """A settings document that overrides one to `most_keys` keys of the defaults."""
    chosen = draw(
        st.lists(st.sampled_from(range(len(LEAVES))), min_size=1, max_size=most_keys, unique=True)
    )
    paths = [LEAVES[i][0] for i in chosen]
    values = [draw(LEAVES[i][1]) for i in chosen]
    return _document(paths, values)
