"""Read `Pulumi.<stack>.yaml` the way the Pulumi CLI hands it to the program, and refuse, with
one line naming the file and where, anything the CLI would refuse or a reviewer would misread.

Encrypted values cannot be decrypted without the stack's secrets provider, so each becomes a
placeholder that is still marked secret; the offline render then proves no placeholder leaks.

The file is a pull request's input, so it is read defensively: a size limit, strict UTF-8,
no anchors or aliases (a 400-byte alias bomb would otherwise expand to gigabytes), no
duplicate keys (the last would silently win, as the reviewer reads the first), a mapping at
the top and under `config:`, and keys with a namespace. Keys of other namespaces (providers
such as `kubernetes:` or `aws:`) pass through untouched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.settings.document import MAX_DEPTH
from infra.settings.namespace import NAMESPACE, namespace_problem

PLACEHOLDER_PREFIX = "offline-placeholder-secret-"
# A thousand times the shipped prod file (4 KB), and read in under three seconds at worst (a
# file of nothing but list entries; a multi-megabyte single value takes under one).
MAX_BYTES = 4 * 1024 * 1024

# The file's own levels (the file's mapping, `config:`) above the settings' deepest.
MAX_FILE_DEPTH = MAX_DEPTH + 2

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 20x faster


class StackConfigError(Exception):
    """The stack's config file is missing, or is not a config file Pulumi would read."""


@dataclass
class StackConfig:
    project: str
    stack: str
    values: dict[str, str] = field(default_factory=dict)
    secret_keys: set[str] = field(default_factory=set)
    # The stand-ins for encrypted values; they must never appear in a rendered file.
    placeholders: set[str] = field(default_factory=set)


def _where(name: str, node: yaml.Node) -> str:
    mark = node.start_mark
    return f"{name}:{mark.line + 1}:{mark.column + 1}"


def _check_nodes(name: str, root: yaml.Node) -> None:
    """Refuse aliases and duplicate keys, walking every node once (an alias is a node met
    twice, so an alias bomb is refused after reading it, before expanding anything)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            raise StackConfigError(
                f"{_where(name, node)}: YAML anchors and aliases are not allowed in a stack file"
            )
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: dict[str, yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in keys:
                        first = keys[key.value].start_mark.line + 1
                        raise StackConfigError(
                            f"{_where(name, key)}: duplicate key {key.value!r} (first on line "
                            f"{first}); Pulumi refuses it, and a reviewer would read the first"
                        )
                    keys[key.value] = key
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def _check_depth(name: str, text: str) -> None:
    """Refuse nesting past MAX_FILE_DEPTH from the parser's events, before composing: libyaml
    composes nodes recursively, and crashes the process on a file nested 50,000 levels deep."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_FILE_DEPTH:
                mark = event.start_mark
                where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
                raise StackConfigError(
                    f"{where}: nested more than {MAX_FILE_DEPTH} levels deep; no stack file is"
                )
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


def parse_document(name: str, data: bytes) -> Any:
    """The YAML document of a stack file, or StackConfigError naming the file and where."""
    if len(data) > MAX_BYTES:
        raise StackConfigError(
            f"{name}: {len(data)} bytes, over the limit of {MAX_BYTES} for a stack file"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise StackConfigError(
            f"{name}: not UTF-8 (byte {error.start}: {data[error.start : error.start + 1]!r})"
        ) from None
    loader = _Loader(text)
    try:
        _check_depth(name, text)
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(name, node)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise StackConfigError(f"{where}: not valid YAML: {error.problem or error}") from None
    except yaml.YAMLError as error:
        raise StackConfigError(f"{name}: not valid YAML: {error}") from None
    finally:
        loader.dispose()


def check_key(name: str, key: Any) -> str:
    if not isinstance(key, str):
        raise StackConfigError(f"{name}: config key {key!r} is not text")
    namespace, colon, rest = key.partition(":")
    if not colon or not namespace or not rest:
        raise StackConfigError(
            f"{name}: config key {key!r} has no namespace; settings are "
            f"{NAMESPACE}:{key.strip(':')}, provider settings are like kubernetes:context"
        )
    problem = namespace_problem(namespace, rest)
    if problem:
        raise StackConfigError(f"{name}: config key {key!r} {problem}")
    return key


def _replace_secure(value: Any, key: str, found: list[str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            placeholder = f"{PLACEHOLDER_PREFIX}{key}-{len(found)}"
            found.append(placeholder)
            return placeholder
        return {k: _replace_secure(v, f"{key}.{k}", found) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secure(v, f"{key}[{i}]", found) for i, v in enumerate(value)]
    return value


def as_config_text(value: Any) -> str:
    """Pulumi hands scalars to programs as text and structured values as JSON text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def project_name(root: Path) -> str:
    project_file = root / "Pulumi.yaml"
    try:
        document = parse_document(project_file.name, project_file.read_bytes())
    except OSError as error:
        raise StackConfigError(f"{project_file}: {error}") from None
    if not isinstance(document, dict) or "name" not in document:
        raise StackConfigError(f"{project_file.name}: needs a mapping with the project's name")
    return str(document["name"])


def read_stack_config(name: str, data: bytes, project: str, stack: str) -> StackConfig:
    """A stack file's config, from its bytes (`name` is what errors call the file)."""
    document = parse_document(name, data)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise StackConfigError(
            f"{name}: the file must be a mapping with a `config:` mapping, "
            f"not a {type(document).__name__}"
        )
    entries = document.get("config") or {}
    if not isinstance(entries, dict):
        raise StackConfigError(
            f"{name}: `config:` must be a mapping of keys like prodstack:api, "
            f"not a {type(entries).__name__}"
        )
    config = StackConfig(project=project, stack=stack)
    for raw_key, value in entries.items():
        key = check_key(name, raw_key)
        found: list[str] = []
        replaced = _replace_secure(value, key, found)
        config.values[key] = as_config_text(replaced)
        if found:
            config.secret_keys.add(key)
            config.placeholders.update(found)
    return config


def load_stack_config(root: Path, stack: str) -> StackConfig:
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise MissingStackFileError(f"no stack file {path.name} in {root}")
    return read_stack_config(path.name, path.read_bytes(), project_name(root), stack)


class MissingStackFileError(StackConfigError):
    """Nothing to check: the command could not run (exit 2), unlike an invalid file (1)."""
