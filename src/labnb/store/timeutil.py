"""Timestamps: UTC ISO 8601 for records, local time for run ids."""

from __future__ import annotations

import datetime as dt


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def local_stamp(now: dt.datetime | None = None) -> str:
    """``YYYY-MM-DD-HHMMSS`` in local time, the tail of a run id."""
    return (now or dt.datetime.now()).strftime("%Y-%m-%d-%H%M%S")
