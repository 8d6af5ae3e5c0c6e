"""Load the OpenAI SDK's ``types`` packages lazily: their ``__init__`` files import all 468 modules (some 650
pydantic models), which cost this machine about 0.6 s of CPU at every start while a run needs 55 of them.

A package whose ``__init__`` is nothing but relative ``from .x import Name`` lines gets a module-level
``__getattr__`` that imports ``.x`` when ``Name`` is first read; every other package (and every submodule)
loads as usual, so a change in the SDK's layout can only cost speed, never behaviour.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

PACKAGES = ("openai.types",)
_INSTALL_LOCK = threading.Lock()


def install() -> None:
    """Make the ``PACKAGES`` load lazily from now on (no effect on those already imported)."""
    with _INSTALL_LOCK:
        if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
            sys.meta_path.insert(0, _Finder())


def exports(source: str) -> dict[str, tuple[str, str]] | None:
    """``{name: (submodule, attribute)}`` when ``source`` only re-exports from submodules, else None."""
    names: dict[str, tuple[str, str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if not (isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
                and all(alias.name != "*" for alias in node.names)):
            return None
        for alias in node.names:
            names[alias.asname or alias.name] = (node.module, alias.name)
    return names


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if not any(fullname == p or fullname.startswith(p + ".") for p in PACKAGES):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not spec.submodule_search_locations or not spec.origin:
            return spec
        with open(spec.origin, encoding="utf-8") as handle:
            names = exports(handle.read())
        if names is not None:
            spec.loader = _LazyInit(names)
        return spec


class _LazyInit(importlib.abc.Loader):
    def __init__(self, names: dict[str, tuple[str, str]]) -> None:
        self.names = names

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        names = self.names

        def __getattr__(name: str) -> Any:  # PEP 562: a module-level hook
            if name not in names:
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
            submodule, attribute = names[name]
            value = getattr(importlib.import_module(f".{submodule}", module.__name__), attribute)
            setattr(module, name, value)
            return value

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        module.__all__ = list(names)  # type: ignore[attr-defined]


def openai_sdk() -> ModuleType:
    """The ``openai`` package, imported with its ``types`` packages lazy (see the module docstring)."""
    install()
    import openai

    return openai
