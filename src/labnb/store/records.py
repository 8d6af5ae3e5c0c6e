"""The run records, typed and versioned: ``run_summary.json``, ``token_usage.json`` and ``timing.json``.

Each is written from a dataclass that carries ``format_version`` and read back through it, so
a run folder written today stays readable later: unknown keys are kept as they are, missing
ones take their defaults, and a folder from before versioning reads as version 1.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from labnb.errors import InputError

FORMAT_VERSION = 3  # 1: folders written before the records carried a version; 3: unsettled calls counted apart


@dataclass
class _Record:
    """Known fields typed; ``extra`` keeps every other key, so nothing a newer version wrote is lost."""

    extra: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    _types: ClassVar[dict[str, type | tuple[type, ...]]] = {}

    @classmethod
    def from_dict(cls, data: Any, source: str = "") -> Any:
        where = f"{source}: " if source else ""
        if not isinstance(data, dict):
            raise InputError(f"{where}expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)} - {"extra"}
        values: dict[str, Any] = {"format_version": 1}
        for key, value in data.items():
            if key in known:
                wanted = cls._types.get(key)
                if wanted is not None and value is not None and not isinstance(value, wanted):
                    raise InputError(f"{where}field '{key}' has the wrong type ({type(value).__name__})")
                values[key] = value
        values["extra"] = {k: v for k, v in data.items() if k not in known}
        return cls(**values)

    @classmethod
    def build(cls, data: dict[str, Any]) -> Any:
        """A record of today's format from the fields a run just produced."""
        return cls.from_dict({**data, "format_version": FORMAT_VERSION})

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**self.extra, **out}

    @classmethod
    def read(cls, path: Path) -> dict[str, Any]:
        """The record at ``path`` as a dict (empty when the file is absent); malformed is a one-line InputError."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise InputError(f"{path}: unreadable JSON: {' '.join(str(exc).split())[:200]}") from None
        return cls.from_dict(data, str(path)).to_dict()


_NUMBER = (int, float)


@dataclass
class RunSummary(_Record):
    """``metadata/run_summary.json``: who ran what, its status (kept current by a heartbeat) and its totals."""

    run_id: str = ""
    use_case: str = ""
    status: str = "unknown"
    started_at: str | None = None
    ended_at: str | None = None
    updated_at: str | None = None
    model_alias: str = ""
    model_id: str = ""
    model_used: str = ""
    _types: ClassVar[dict[str, type | tuple[type, ...]]] = {
        "run_id": str, "use_case": str, "status": str, "started_at": str, "ended_at": str, "updated_at": str,
        "model_alias": str, "model_id": str, "model_used": str, "format_version": int,
    }


@dataclass
class TokenUsage(_Record):
    """``outputs/token_usage.json``: tokens and cost, recomputed from ``calls.jsonl`` at every finalize."""

    total_prompt_tokens: int = 0
    total_completion_tokens: int = 0
    total_tokens: int = 0
    calls_made: int = 0
    cost_usd: float = 0.0  # exact: the calls whose usage came back, priced
    model_used: str = ""
    calls_unsettled: int = 0  # version 3: sent, never answered on record (0 in older folders: never counted)
    cost_usd_unsettled_max: float = 0.0  # version 3: the most the calls without usage can have cost
    _types: ClassVar[dict[str, type | tuple[type, ...]]] = {
        "total_prompt_tokens": int, "total_completion_tokens": int, "total_tokens": int, "calls_made": int,
        "cost_usd": _NUMBER, "model_used": str, "format_version": int, "calls_unsettled": int,
        "cost_usd_unsettled_max": _NUMBER,
    }


@dataclass
class Timing(_Record):
    """``outputs/timing.json``: durations (setup apart) and call latencies; ``<noun>s_processed`` is in extra."""

    total_duration_seconds: float = 0.0
    setup_seconds: float = 0.0
    processing_seconds: float = 0.0
    _types: ClassVar[dict[str, type | tuple[type, ...]]] = {
        "total_duration_seconds": _NUMBER, "setup_seconds": _NUMBER, "processing_seconds": _NUMBER,
        "format_version": int,
    }

    def processed(self) -> int | None:
        """How many items were processed, whatever the task's noun."""
        for key, value in self.extra.items():
            if re.fullmatch(r"[a-z_]+s_processed", key) and isinstance(value, int):
                return value
        return None
