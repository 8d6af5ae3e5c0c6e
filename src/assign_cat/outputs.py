"""The per-product outputs of an assign-cat run: classifications.csv, calls.jsonl, errors.log."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assign_cat.products import Product
from assign_cat.records import BatchOutcome, ProductResult
from labnb.logs import CsvLog, JsonlLog, TextLog, read_csv_rows, write_csv
from labnb.scrub import scrub

FIRST_COLUMNS = ["product_id", "title", "category", "subcategory", "raw_response", "model_used"]
COLUMNS = [*FIRST_COLUMNS, "status", "error_type", "error", "latency_ms", "confidence", "call_id"]
GOLD_COLUMNS = ["expected_category", "expected_subcategory", "correct"]
DONE_STATUSES = ("ok", "invalid", "error")


def columns(with_gold: bool) -> list[str]:
    return COLUMNS + GOLD_COLUMNS if with_gold else list(COLUMNS)


def _one_line(text: str) -> str:
    # Rows never span lines, so a torn last line after a crash is easy to drop.
    return text.replace("\r", "\\r").replace("\n", "\\n")


def row_of(product: Product, result: ProductResult, model_used: str, with_gold: bool) -> dict[str, Any]:
    """The CSV row of one product's result."""
    row: dict[str, Any] = {
        "product_id": product.product_id, "title": product.title,
        "category": result.category, "subcategory": result.subcategory,
        "raw_response": _one_line(scrub(result.raw_response)), "model_used": model_used,
        "status": result.status, "error_type": result.error_type, "error": " ".join(scrub(result.error).split()),
        "latency_ms": f"{result.latency_ms:.1f}" if result.status != "not_run" else "",
        "confidence": "" if result.confidence is None else f"{result.confidence:.6f}",
        "call_id": result.call_id,
    }
    if with_gold:
        row["expected_category"] = product.expected_category
        row["expected_subcategory"] = product.expected_subcategory
        row["correct"] = (
            result.status == "ok" and (result.category, result.subcategory)
            == (product.expected_category, product.expected_subcategory)
        )
    return row


class OutputWriter:
    """Appends every finished product and call the moment it is known."""

    def __init__(self, outputs: Path, products: Sequence[Product], model_used: str) -> None:
        self.outputs = outputs
        self.by_id = {p.product_id: p for p in products}
        self.with_gold = any(p.has_gold for p in products)
        self.model_used = model_used
        self.table = CsvLog(outputs / "classifications.csv", columns(self.with_gold))
        self.calls = JsonlLog(outputs / "calls.jsonl")
        self.errors = TextLog(outputs / "errors.log")

    def write(self, outcome: BatchOutcome) -> None:
        for call in outcome.calls:
            record = call.to_dict()
            record["error"] = scrub(record["error"])
            record["response"] = scrub(record["response"])
            self.calls.write(record)
            if call.status != "ok":
                self.errors.write(f"call {call.call_id} [{call.error_type}] products={','.join(call.item_ids)}: "
                                  f"{scrub(call.error)}")
        for result in outcome.results:
            self.table.write(row_of(self.by_id[result.product_id], result, self.model_used, self.with_gold))
            if result.status in ("invalid", "error") and result.error_type not in ("", "not_run"):
                self.errors.write(f"product {result.product_id} {result.status} [{result.error_type}]: "
                                  f"{scrub(result.error)}")

    def note(self, line: str) -> None:
        self.errors.write(line)

    def close(self) -> None:
        for log in (self.table, self.calls, self.errors):
            log.close()


def latest_rows(outputs: Path) -> dict[str, dict[str, str]]:
    """The last row written for each product id (a retried product's newer row wins)."""
    return {row["product_id"]: row for row in read_csv_rows(outputs / "classifications.csv")}


def finalize_table(outputs: Path, products: Sequence[Product], model_used: str) -> list[dict[str, Any]]:
    """Rewrite classifications.csv with exactly one row per input product, in input order."""
    with_gold = any(p.has_gold for p in products)
    latest = latest_rows(outputs)
    rows = []
    for product in products:
        row = latest.get(product.product_id)
        if row is None:
            row = row_of(product, ProductResult(product.product_id, status="not_run", error_type="not_run",
                                                error="not attempted: the run stopped first"), model_used, with_gold)
        rows.append(row)
    write_csv(outputs / "classifications.csv", columns(with_gold), rows)
    return rows
