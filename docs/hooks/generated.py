"""MkDocs hook: pages built from the code at build time, so they cannot drift from it.

``<!-- generated: cli -->`` becomes every option of every command, read from the argparse parsers
themselves (``build_parser()``); ``<!-- generated: records -->`` the typed fields of the run records;
``<!-- generated: benchmarks -->`` the measured results, ``benchmarks/*.md`` as their scripts last
wrote them.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS_FIRST = ("results.md",)  # the CLI against a bare SDK loop leads; the rest in name order


def _importable() -> None:
    """The project's sources on sys.path (checked at each use: a plugin may reset sys.path after loading us)."""
    if str(ROOT / "src") not in sys.path:
        sys.path.insert(0, str(ROOT / "src"))


def _parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    _importable()
    import analyze_runs
    from assign_cat.cli import build_parser as assign_cat
    from classify_text.cli import build_parser as classify_text
    from labnb.experiments.cli import build_parser as experiment

    return [("python src/run_assign_cat.py", assign_cat()), ("python src/run_classify_text.py", classify_text()),
            ("python src/run_experiment.py", experiment()), ("python src/analyze_runs.py", analyze_runs.build_parser())]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _flags(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    value = "" if action.nargs == 0 else f" {action.metavar or action.dest.upper()}"
    return ", ".join(f"`{flag}{value}`" for flag in action.option_strings)


def _groups(parser: argparse.ArgumentParser) -> list[str]:
    out = []
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if not isinstance(a, (argparse._HelpAction,
                                                                             argparse._SubParsersAction))]
        if not actions:
            continue
        out += [f"**{group.title}**", "", "| option | meaning |", "|---|---|"]
        out += [f"| {_flags(a)} | {_cell(a.help or '')} |" for a in actions]
        out.append("")
    return out


def _usage(parser: argparse.ArgumentParser) -> str:
    return " ".join(parser.format_usage().split())


def cli_reference() -> str:
    lines: list[str] = []
    for command, parser in _parsers():
        lines += [f"## `{command}`", "", parser.description or "", "", "```text", _usage(parser), "```", ""]
        lines += _groups(parser)
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for sub in subparsers:
            for name, child in sub.choices.items():
                lines += [f"### `{command} {name}`", "", "```text", _usage(child), "```", ""]
                lines += _groups(child)
        if parser.epilog:
            lines += ["", _cell(parser.epilog), ""]
    return "\n".join(lines)


def benchmarks() -> str:
    files = sorted((ROOT / "benchmarks").glob("*.md"), key=lambda p: (p.name not in BENCHMARKS_FIRST, p.name))
    parts = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        # each file's own title becomes a section; its sections move one level down
        text = re.sub(r"^(#{1,5}) ", lambda m: "#" + m.group(1) + " ", text, flags=re.M)
        parts.append(f"{text.rstrip()}\n\n*From `benchmarks/{path.name}`.*\n")
    return "\n".join(parts)


def records() -> str:
    """The typed run records (``labnb.store.records``): each file, its version and its typed fields."""
    from dataclasses import fields

    _importable()
    from labnb.store import records as module

    lines = [f"Current `format_version`: **{module.FORMAT_VERSION}** (a folder from before versioning reads as 1; "
             "keys a reader does not know are kept, missing ones take their defaults).", ""]
    for record in (module.RunSummary, module.TokenUsage, module.Timing):
        lines += [f"### {(record.__doc__ or '').split(':')[0].strip()}", "", _cell(record.__doc__ or ""), "",
                  "| field | type | default |", "|---|---|---|"]
        for f in fields(record):
            if f.name == "extra":
                continue
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
            lines.append(f"| `{f.name}` | `{_cell(str(kind))}` | `{f.default!r}` |")
        lines.append("")
    return "\n".join(lines)


GENERATORS = {"cli": cli_reference, "benchmarks": benchmarks, "records": records}


def on_page_markdown(markdown: str, page, config, files) -> str:  # MkDocs passes all four
    return re.sub(r"<!-- generated: (\w+) -->", lambda m: GENERATORS[m.group(1)](), markdown)
