"""The response cache's SQLite database: one row per kept answer, safe with several processes at once.

WAL mode lets readers go on while one process writes; writers wait for each other (``busy_timeout``), and
a row is written once (``INSERT OR IGNORE``: when two runs paid for the same request, the first answer
stays). The cache must never fail a run: a file that is not a database is moved aside with a one-line
warning and a new, empty cache starts; any later database error turns the cache off for the rest of the run.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labnb.clients.base import ChatResponse
from labnb.cost.usage import Usage
from labnb.terminal import console

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    run_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    usage TEXT NOT NULL,
    cost_usd REAL NOT NULL,
    response TEXT NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    last_hit_at REAL
)
"""
BUSY_MS = 30_000


@dataclass(frozen=True)
class Hit:
    """A kept answer: the response as it came, the run that paid for it, and what it cost then."""

    response: ChatResponse
    run_id: str
    cost_usd: float


def _encode(response: ChatResponse) -> str:
    # Keys keep the model's order (not sorted): a replayed answer is written to the rows exactly as it came.
    return json.dumps({"text": response.text, "data": response.data, "finish": response.finish,
                       "request_id": response.request_id, "body": response.raw.get("body", ""),
                       "token_logprobs": [list(t) for t in response.token_logprobs]})


def _decode(text: str, usage: str, run_id: str) -> ChatResponse:
    data = json.loads(text)
    return ChatResponse(
        text=data["text"], data=data["data"], usage=Usage.from_dict(json.loads(usage)), finish=data["finish"],
        request_id=data.get("request_id"), raw={"body": data.get("body", "")}, cached_from=run_id,
        token_logprobs=tuple((str(t), float(p)) for t, p in data.get("token_logprobs") or ()),
    )


class ResponseCache:
    """The database at ``path``; ``readonly`` (dry runs) never creates or changes it."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._db: sqlite3.Connection | None = None
        self._open()

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def _connect(self) -> sqlite3.Connection:
        if self.readonly:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_MS / 1000)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None)
            # Two processes opening a new file at once: switching to WAL can answer "locked" at once, without
            # the busy handler, while the other one creates it; wait for it like any other lock.
            deadline = time.monotonic() + BUSY_MS / 1000
            while True:
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if not _locked(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(SCHEMA)
        db.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        db.execute("SELECT count(*) FROM responses WHERE 0").fetchone()  # a file that is not our database fails here
        return db

    def _open(self) -> None:
        if self.readonly and not self.path.is_file():
            return
        try:
            self._db = self._connect()
        except (sqlite3.DatabaseError, OSError) as exc:
            if self.readonly or not self.path.is_file() or _locked(exc):  # a lock is no sign of a broken file
                self._off(exc)
                return
            aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                self.path.replace(aside)
                for suffix in ("-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
                self._db = self._connect()
            except (sqlite3.DatabaseError, OSError) as again:
                self._off(again)
                return
            console.warn(f"response cache {self.path} was unreadable ({exc}); moved to {aside.name}, "
                         "starting an empty cache")

    def _off(self, exc: Exception) -> None:
        if self._db is not None:
            self._db.close()
        self._db = None
        console.warn(f"response cache {self.path} unusable ({exc}); this run goes on without it")

    def _guarded(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        """Run ``sql``; on a database error warn once and go on without the cache (an empty result)."""
        if self._db is None:
            return []
        try:
            return self._db.execute(sql, tuple(params)).fetchall()
        except sqlite3.DatabaseError as exc:
            self._off(exc)
            return []

    def get(self, key: str) -> Hit | None:
        rows = self._guarded("SELECT response, usage, run_id, cost_usd FROM responses WHERE key = ?", (key,))
        if not rows:
            return None
        text, usage, run_id, cost = rows[0]
        if not self.readonly:
            self._guarded("UPDATE responses SET hits = hits + 1, last_hit_at = ? WHERE key = ?", (time.time(), key))
        return Hit(_decode(text, usage, run_id), run_id, cost)

    def contains(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` the cache would answer (dry runs)."""
        wanted = list(keys)
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self._guarded(f"SELECT key FROM responses WHERE key IN ({marks})", chunk))
        return found

    def put(self, key: str, *, provider: str, model: str, run_id: str, response: ChatResponse, cost_usd: float) -> None:
        self._guarded(
            "INSERT OR IGNORE INTO responses (key, provider, model, run_id, created_at, usage, cost_usd, response) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (key, provider, model, run_id, time.time(), json.dumps(response.usage.to_dict(), sort_keys=True),
             cost_usd, _encode(response)))

    def stats(self) -> dict[str, Any]:
        """Entries, their original cost, hits served and what those saved, per model and in all."""
        rows = self._guarded(
            "SELECT provider || '/' || model, count(*), sum(cost_usd), sum(hits), sum(hits * cost_usd), "
            "min(created_at), max(created_at) FROM responses GROUP BY 1 ORDER BY 1")
        models = [{"model": m, "entries": n, "cost_usd": round(c, 10), "hits": h, "saved_usd": round(s, 10),
                   "oldest": lo, "newest": hi} for m, n, c, h, s, lo, hi in rows]
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file()) \
            if self.path.parent.is_dir() else 0
        return {"path": str(self.path), "bytes": size, "entries": sum(m["entries"] for m in models),
                "cost_usd": round(sum(m["cost_usd"] for m in models), 10), "hits": sum(m["hits"] for m in models),
                "saved_usd": round(sum(m["saved_usd"] for m in models), 10), "models": models}

    def prune(self, older_than_seconds: float) -> int:
        """Delete the entries written more than ``older_than_seconds`` ago; returns how many."""
        cutoff = time.time() - older_than_seconds
        count = self._guarded("SELECT count(*) FROM responses WHERE created_at < ?", (cutoff,))
        self._guarded("DELETE FROM responses WHERE created_at < ?", (cutoff,))
        return count[0][0] if count else 0

    def clear(self) -> int:
        count = self._guarded("SELECT count(*) FROM responses")
        self._guarded("DELETE FROM responses")
        self._guarded("VACUUM")
        return count[0][0] if count else 0

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _locked(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "busy": another process holds the file, which is not broken."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)
