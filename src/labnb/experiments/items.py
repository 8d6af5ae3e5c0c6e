"""Per-item views of a run folder's ``classifications.csv``, for any use case: answers, gold, correctness."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from labnb.errors import InputError
from labnb.experiments.usecases import UseCase


def read_table(run_dir: str | Path) -> pd.DataFrame:
    """``outputs/classifications.csv`` as text (ids like "007" stay as written); empty when absent."""
    path = Path(run_dir) / "outputs" / "classifications.csv"
    if not path.is_file():
        return pd.DataFrame()
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: unreadable CSV: {' '.join(str(exc).split())}") from None


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name].astype(str) if name in df.columns else pd.Series("", index=df.index, dtype=str)


def _joined(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    parts = [_col(df, c) for c in columns]
    out = parts[0]
    for part in parts[1:]:
        out = out + "/" + part
    return out


def ids(df: pd.DataFrame, use: UseCase) -> pd.Series:
    return _col(df, use.id_column)


def answers(df: pd.DataFrame, use: UseCase) -> pd.Series:
    """Each item's answer as a reader sees it: ``a/b``, ``invalid: a/b``, ``error: TYPE``, ``not run``."""
    status, err, pair = _col(df, "status"), _col(df, "error_type"), _joined(df, use.answer_columns)
    shown = pair.where(status == "ok", "")
    shown = shown.where(status != "invalid", "invalid: " + pair)
    shown = shown.where(status != "error", "error: " + err.where(err != "", "?"))
    shown = shown.where(status != "not_run", "not run")
    return pd.Series(shown.values, index=ids(df, use).values, dtype=str)


def gold(df: pd.DataFrame, use: UseCase) -> pd.Series:
    """Each item's gold label (``a/b``), empty where it has none."""
    if not len(df):
        return pd.Series(dtype=str)
    has = pd.concat([_col(df, c) != "" for c in use.gold_columns], axis=1).any(axis=1)
    text = _joined(df, use.gold_columns).where(has, "")
    return pd.Series(text.values, index=ids(df, use).values, dtype=str)


def texts(df: pd.DataFrame, use: UseCase) -> pd.Series:
    return pd.Series(_col(df, use.text_column).values, index=ids(df, use).values, dtype=str)


def scored(df: pd.DataFrame, use: UseCase) -> dict[str, bool]:
    """item id -> correct, over the items scored: with gold and a ``correct`` value, and run (not ``not_run``)."""
    if "correct" not in df.columns or df.empty:
        return {}
    keep = (gold(df, use).values != "") & (_col(df, "status").values != "not_run")
    flags = _col(df, "correct").str.strip().str.lower().isin(("true", "1", "yes"))
    return dict(zip(ids(df, use).values[keep], flags.values[keep].tolist()))
