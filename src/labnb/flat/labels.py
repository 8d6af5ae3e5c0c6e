"""The flat label set: a YAML file validated into typed records, errors naming file and line.

The YAML is read as a node tree (``yaml.compose``) so every message can name the line of the
offending value; anchors and aliases are refused before composing, so no alias bomb can expand.
Scalars are taken as written (``version: 1.10`` stays ``"1.10"``, an id ``no`` stays ``"no"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from labnb.errors import InputError
from labnb.inputs.files import decode_utf8, read_input
from labnb.inputs.lookalike import name_key
from labnb.task import Label
from labnb.terminal.console import escape

MAX_LABELS_BYTES = 1024 * 1024
MAX_YAML_EVENTS = 10_000  # 500 labels of three keys need about 4,000
MAX_LABELS = 500
MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 2000
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ID_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
MAX_SLUG_CHARS = 64
TOP_KEYS = {"name": True, "version": True, "description": False, "labels": True}  # key -> required
LABEL_KEYS = {"id": True, "name": True, "description": False}
PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")}


@dataclass(frozen=True)
class LabelSet:
    """``name`` is a slug (the run-id prefix); labels keep their file order."""

    name: str
    version: str
    description: str
    labels: tuple[Label, ...]

    @cached_property
    def codes(self) -> dict[int, Label]:
        """Label number → label, from 1 in file order: what the model answers with."""
        return dict(enumerate(self.labels, start=1))

    @property
    def ids(self) -> list[str]:
        return [label.id for label in self.labels]

    def resolve(self, value: str) -> str | None:
        """The label id that ``value`` names: an id, else a name (exact, then any case); ``None`` if neither."""
        value = value.strip()
        for label in self.labels:
            if value == label.id:
                return label.id
        for label in self.labels:
            if value == label.name:
                return label.id
        key = name_key(value)
        return next((label.id for label in self.labels if name_key(label.name) == key), None)


def load_labels(path: str | Path) -> LabelSet:
    """Parse and validate ``path``; every problem is a one-line InputError naming file and line."""
    path = Path(path)
    text = decode_utf8(path, read_input(path, "labels file", max_bytes=MAX_LABELS_BYTES))
    if not text.strip():
        raise InputError(f"{path}: labels file is empty")
    root = _compose(path, text)
    top = _mapping(path, root, "the labels file", TOP_KEYS)
    name = _string(path, top["name"], "name", MAX_SLUG_CHARS)
    if not SLUG_RE.match(name):
        raise InputError(f"{path}: line {_line(top['name'])}: name must be a slug (lower-case letters, digits "
                         f"and single hyphens, e.g. 'sentiment'), got {name!r}")
    version = _string(path, top["version"], "version", MAX_NAME_CHARS)
    description = _string(path, top["description"], "description", MAX_DESCRIPTION_CHARS, empty=True) \
        if "description" in top else ""
    return LabelSet(name, version, description, _labels(path, top["labels"]))


def _compose(path: Path, text: str) -> yaml.Node:
    try:
        for count, event in enumerate(yaml.parse(text, Loader=yaml.SafeLoader)):
            line = event.start_mark.line + 1 if event.start_mark else 0
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise InputError(f"{path}: line {line}: YAML anchors and aliases are not allowed")
            tag = getattr(event, "tag", None)
            if tag and tag not in PLAIN_TAGS:
                raise InputError(f"{path}: line {line}: YAML tag {tag!r} is not allowed")
            if count > MAX_YAML_EVENTS:
                raise InputError(f"{path}: line {line}: more than {MAX_YAML_EVENTS} YAML "
                                 f"nodes; a label set is far smaller")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}:" if mark is not None else ""
        raise InputError(f"{path}:{where} malformed YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: malformed YAML: {' '.join(str(exc).split())}") from None
    if root is None:  # comments only
        raise InputError(f"{path}: labels file is empty")
    return root


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _mapping(path: Path, node: yaml.Node | None, what: str, keys: dict[str, bool]) -> dict[str, yaml.Node]:
    """The values of a mapping node by key; unknown, duplicate and missing keys are errors."""
    if not isinstance(node, yaml.MappingNode):
        line = f" line {_line(node)}:" if node is not None else ""
        raise InputError(f"{path}:{line} {what} must be a mapping with keys {', '.join(keys)}")
    out: dict[str, yaml.Node] = {}
    for key_node, value in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key not in keys:
            raise InputError(f"{path}: line {_line(key_node)}: {what}: unknown key {key!r} "
                             f"(allowed: {', '.join(keys)})")
        if key in out:
            raise InputError(f"{path}: line {_line(key_node)}: {what}: duplicate key '{key}'")
        out[key] = value
    missing = next((k for k, required in keys.items() if required and k not in out), None)
    if missing:
        raise InputError(f"{path}: line {_line(node)}: {what}: missing required key '{missing}'")
    return out


def _string(path: Path, node: yaml.Node, what: str, limit: int, *, empty: bool = False) -> str:
    """A scalar as written, whitespace collapsed; lists, mappings and (unless ``empty``) blanks are errors."""
    if not isinstance(node, yaml.ScalarNode):
        raise InputError(f"{path}: line {_line(node)}: {what} must be a single value, not a list or mapping")
    null = node.tag == "tag:yaml.org,2002:null" and node.style is None
    value = "" if null else " ".join(node.value.split())
    if not value and not empty:
        raise InputError(f"{path}: line {_line(node)}: {what} is empty")
    if len(value) > limit:
        raise InputError(f"{path}: line {_line(node)}: {what} longer than {limit} characters ({len(value)})")
    return value


def _labels(path: Path, node: yaml.Node) -> tuple[Label, ...]:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        raise InputError(f"{path}: line {_line(node)}: labels must be a non-empty list of {{id, name, description}}")
    if len(node.value) > MAX_LABELS:
        raise InputError(f"{path}: line {_line(node)}: more than {MAX_LABELS} labels ({len(node.value)})")
    labels: list[Label] = []
    ids: dict[str, int] = {}
    names: dict[str, tuple[int, str]] = {}
    for number, item in enumerate(node.value, start=1):
        fields = _mapping(path, item, f"label {number}", LABEL_KEYS)
        label_id = _string(path, fields["id"], f"label {number}: id", MAX_SLUG_CHARS)
        if not ID_RE.match(label_id):
            raise InputError(f"{path}: line {_line(fields['id'])}: label id must be lower-case letters and digits "
                             f"joined by single '-' or '_', got {label_id!r}")
        if label_id in ids:
            raise InputError(f"{path}: line {_line(fields['id'])}: duplicate label id '{label_id}' "
                             f"(first at line {ids[label_id]})")
        ids[label_id] = _line(fields["id"])
        name = _string(path, fields["name"], f"label '{label_id}': name", MAX_NAME_CHARS)
        key = name_key(name)  # gold labels may be written as names: each must name one label, to the eye too
        if key in names:
            line, first = names[key]
            alike = "" if first.casefold() == name.casefold() else \
                f" as {escape(repr(first))}; it differs only by invisible or width characters"
            raise InputError(f"{path}: line {_line(fields['name'])}: duplicate label name {escape(repr(name))} "
                             f"(first at line {line}{alike})")
        names[key] = (_line(fields["name"]), name)
        description = _string(path, fields["description"], f"label '{label_id}': description",
                              MAX_DESCRIPTION_CHARS, empty=True) if "description" in fields else ""
        labels.append(Label(label_id, name, description))
    return tuple(labels)
