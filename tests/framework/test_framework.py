"""The framework's own promises: labnb speaks of items only, no import circles, and the Python entry point."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd
import pytest

from assign_cat.task import AssignCat
from conftest import ROOT
from labnb.errors import InputError

SRC = ROOT / "src"
FORBIDDEN = re.compile(r"(?<!dot[_ ])product|taxonom|categor|assign[-_ ]?cat", re.IGNORECASE)  # a dot product is math


def test_labnb_never_names_a_use_case_concept():
    found = [f"{path.relative_to(SRC)}:{n}: {line.strip()}"
             for path in sorted((SRC / "labnb").rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), start=1) if FORBIDDEN.search(line)]
    assert found == []


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at module level or in functions (any import counts)."""
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_labnb_has_at_most_twelve_top_level_modules():
    """The house shows its rooms: everything else lives in sub-packages named for what they hold."""
    top = sorted(path.name for path in (SRC / "labnb").glob("*.py"))
    assert len(top) <= 12, top


def test_no_import_circles_between_modules():
    modules = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph = {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}
    # Lazy imports count too: a circle hidden in a function is still a circle. A package's __init__
    # importing its own submodules (re-exports) is not one.
    for name in graph:
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_python_entry_point_runs_a_dataframe_into_a_run_folder(tmp_path):
    from labnb.api import run

    data = pd.DataFrame({"title": ["Whey Protein Isolate 5 lb", "Melatonin 3 mg Tablets"],
                         "expected_category": ["sports-nutrition", "sleep-stress-mood"],
                         "expected_subcategory": ["whey-protein", "melatonin"]})
    df = run(AssignCat(), data, model="local", runs_dir=str(tmp_path))
    assert df["product_id"].tolist() == ["p0001", "p0002"]
    assert list(zip(df["category"], df["subcategory"])) == [("sports-nutrition", "whey-protein"),
                                                           ("sleep-stress-mood", "melatonin")]
    assert df.attrs["metrics"]["accuracy"] == 1.0 and df.attrs["summary"]["status"] == "completed"
    folder = Path(df.attrs["path"])
    assert folder.parent == tmp_path and (folder / "inputs" / "products.json").is_file()
    with pytest.raises(InputError, match="empty title"):
        run(AssignCat(), pd.DataFrame({"title": ["ok", " "]}), model="local", runs_dir=str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # bad input: no run folder
