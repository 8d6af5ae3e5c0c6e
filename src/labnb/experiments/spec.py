"""The experiment spec: YAML validated into a typed record; every mistake is one line naming the file and key."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labnb.errors import InputError
from labnb.experiments.grid import CellPlan, cell_names, expand
from labnb.experiments.usecases import UseCase, use_case

TOP_KEYS = ("name", "use_case", "options", "grid", "gate")
GATE_KEYS = ("cell", "metric", "min")
# Options the experiment itself drives: a cell never takes them from the spec.
RESERVED = {"resume": "run_experiment.py --resume EXP_DIR", "retry_failed": None, "replay": None,
            "dry_run": "run_experiment.py --dry-run", "compare_models": None,
            "runs_dir": "run_experiment.py --runs-dir",
            "max_cost": "run_experiment.py --max-cost", "help": None,
            "cache_db": "run_experiment.py --runs-dir (the cache is RUNS_DIR/.cache/responses.sqlite)"}
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Gate:
    cell: str  # "best" or a cell name
    metric: str
    min: float


@dataclass(frozen=True)
class Option:
    """A run option as the use case's argparse parser declares it."""

    name: str  # long name with underscores
    flag: str  # --long-name
    kind: type  # bool (a store_true flag), int, float or str
    is_path: bool


@dataclass(frozen=True)
class Spec:
    path: Path
    name: str
    use_case: UseCase
    options: dict[str, Any]  # resolved: paths absolute
    grid: dict[str, list[Any]]  # as written
    gate: Gate | None
    base: Path  # where relative paths start: the spec's own folder
    declared: dict[str, Option] = field(repr=False, default_factory=dict)

    def cells(self) -> list[CellPlan]:
        return expand(self.options, self.grid, lambda k, v: self._resolve(k, v))

    def _resolve(self, key: str, value: Any) -> Any:
        option = self.declared[key]
        return str((self.base / str(value)).resolve()) if option.is_path else value

    def argv(self, options: dict[str, Any]) -> list[str]:
        """Run options as command-line arguments of the use case's entry."""
        out: list[str] = []
        for key, value in options.items():
            option = self.declared[key]
            if option.kind is bool:
                out += [option.flag] if value else []
            elif value is not None:
                out += [option.flag, str(value)]
        return out


class SpecError(InputError):
    pass


def declared_options(parser: argparse.ArgumentParser) -> dict[str, Option]:
    """Every ``--long`` option of ``parser`` by its name with underscores."""
    out = {}
    for action in parser._actions:  # argparse has no public listing of its actions
        flags = [s for s in action.option_strings if s.startswith("--")]
        if not flags:
            continue
        kind = bool if action.nargs == 0 else (action.type if action.type in (int, float) else str)
        metavar = str(action.metavar or "")
        out[flags[0][2:].replace("-", "_")] = Option(flags[0][2:].replace("-", "_"), flags[0], kind,
                                                     metavar.endswith(("FILE", "DIR")) and metavar != "RUN_DIR")
    return out


def load_spec(path: str | Path, base: Path | None = None) -> Spec:
    """Read and validate the spec at ``path`` (relative paths from ``base``, default its folder); raises
    SpecError (exit 2) naming the file and the key."""
    path = Path(path)
    base = (base or path.parent).resolve()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: unreadable: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise SpecError(f"{path}: {where}not valid YAML: {getattr(exc, 'problem', None) or exc}") from None

    def fail(key: str, message: str) -> SpecError:
        return SpecError(f"{path}: {key}: {message}")

    if not isinstance(data, dict):
        raise SpecError(f"{path}: expected a mapping with keys {', '.join(TOP_KEYS)}")
    for key in data:
        if key not in TOP_KEYS:
            raise fail(str(key), f"unknown key (expected one of {', '.join(TOP_KEYS)})")
    name = data.get("name")
    if not isinstance(name, str) or not SLUG.match(name):
        raise fail("name", "required: a slug of lowercase letters, digits, '-' and '_'")
    try:
        use = use_case(str(data.get("use_case")))
        declared = declared_options(use.build_parser())
    except (InputError, ImportError) as exc:
        raise fail("use_case", f"{data.get('use_case')!r}: {exc}") from None
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise fail("options", "expected a mapping of run options")
    grid = data.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise fail("grid", "empty: give at least one run option with a list of values")
    resolved = {str(k): _value(fail, f"options.{k}", _option(fail, f"options.{k}", declared, str(k)), v, base)
                for k, v in options.items()}
    for key, values in grid.items():
        if key in options:
            raise fail(f"grid.{key}", "also set under options: give it in one place")
        option = _option(fail, f"grid.{key}", declared, str(key))
        if not isinstance(values, list) or not values:
            raise fail(f"grid.{key}", "expected a non-empty list of values")
        for i, value in enumerate(values):
            _value(fail, f"grid.{key}[{i}]", option, value, base)
        if len({str(v) for v in values}) != len(values):
            raise fail(f"grid.{key}", "a value is listed twice")
    grid = {str(k): list(v) for k, v in grid.items()}
    gate = None if data.get("gate") is None else _gate(fail, data["gate"], cell_names(grid), use.gate_metrics)
    return Spec(path.resolve(), name, use, resolved, grid, gate, base, declared)


def _option(fail: Any, key: str, declared: dict[str, Option], name: str) -> Option:
    if name in RESERVED:
        instead = RESERVED[name]
        raise fail(key, "not a spec option" + (f": use {instead}" if instead else ""))
    option = declared.get(name)
    if option is None:
        raise fail(key, "unknown run option (see the use case's --help; long names with underscores)")
    return option


def _value(fail: Any, key: str, option: Option, value: Any, base: Path) -> Any:
    if option.kind is bool:
        if not isinstance(value, bool):
            raise fail(key, f"expected true or false, got {value!r}")
        return value
    if option.kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (option.kind is int and
                                                                              not isinstance(value, int)):
            raise fail(key, f"expected {'an integer' if option.kind is int else 'a number'}, got {value!r}")
        return value
    if isinstance(value, (dict, list)) or value is None:
        raise fail(key, f"expected a single value, got {value!r}")
    if option.is_path:
        target = (base / str(value)).resolve()
        if not target.exists():
            raise fail(key, f"no such file: {value} (paths are relative to the spec file)")
        return str(target)
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # a number where "auto" is also allowed (--concurrency) stays a number
    return str(value)


def _gate(fail: Any, gate: Any, names: list[str], metrics: tuple[str, ...]) -> Gate:
    if not isinstance(gate, dict):
        raise fail("gate", "expected a mapping {cell, metric, min}")
    for key in gate:
        if key not in GATE_KEYS:
            raise fail(f"gate.{key}", f"unknown key (expected {', '.join(GATE_KEYS)})")
    cell = str(gate.get("cell", "best"))
    if cell != "best" and cell not in names:
        raise fail("gate.cell", f"'best' or a cell name such as {names[0]!r}, got {cell!r}")
    metric = gate.get("metric", "accuracy")
    if metric not in metrics:
        raise fail("gate.metric", f"expected one of {', '.join(metrics)}, got {metric!r}")
    minimum = gate.get("min")
    if isinstance(minimum, bool) or not isinstance(minimum, (int, float)):
        raise fail("gate.min", f"required: a number, got {minimum!r}")
    return Gate(cell, str(metric), float(minimum))
