"""A YAML reader for configuration files: no aliases, no duplicate keys, every key's line kept.

PyYAML's ``safe_load`` keeps the last of two equal keys without a word and expands aliases,
so a duplicated alias silently changes the model and an alias bomb exhausts memory.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from labnb.errors import ConfigError


class LinedMap(dict):
    """A YAML mapping that remembers the line (1-based) of itself and of each of its keys."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class _Refused(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(event.start_mark.line + 1, "YAML aliases (*name) are not allowed; write the value out")
        return super().compose_node(parent, index)


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Any:
    data = LinedMap()
    data.line = node.start_mark.line + 1
    yield data
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise _Refused(line, "a mapping key must be a plain value") from None
        if key in data:
            raise _Refused(line, f"duplicate key '{key}' (first at line {data.lines[key]})")
        data[key] = loader.construct_object(value_node, deep=True)
        data.lines[key] = line


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
# YAML 1.2 reads 1e12 as a number; PyYAML (YAML 1.1) would read it as the string "1e12".
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def load_yaml(text: str, path: Any) -> Any:
    """``text`` parsed; malformed YAML, aliases and duplicate keys are one-line ConfigErrors naming ``path``."""
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except _Refused as exc:
        raise ConfigError(f"{path}: line {exc.line}: {exc.message}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}:{where} malformed YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: YAML nested too deeply") from None
