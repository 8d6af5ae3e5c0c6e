"""--dry-run: every request rendered and counted offline, nothing sent, nothing written."""

from __future__ import annotations

import datetime as dt
import json

from assign_cat.task import AssignCat, AssignCatOptions
from conftest import ROOT
from labnb.clients.requests import RequestBuilder, batches
from labnb.cost import tokens
from labnb.run.plan import prepare
from labnb.store.runfolder import RunFolder

SAMPLE = ROOT / "data" / "sample_products.csv"


def test_dry_run_counts_exactly_sends_nothing_and_writes_nothing(cli, fake_api, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")  # no key is needed to know the cost
    result = cli("--input", str(SAMPLE), "--batch-size", "10", "--dry-run")
    assert result.code == 0, result.err
    assert fake_api.requests == [] and result.run_dirs == []
    lines = result.out.splitlines()
    assert lines[0] == ("dry run: 86 products, batch size 10, taxonomy 'supplements' (65 pairs); nothing was sent; "
                        "columns offered to the model: brand; withheld (kept in the outputs): none")
    row = lines[2].split()
    # Recount the same requests independently: system + schema once per request, each user turn, chat framing.
    plan = prepare(AssignCat(), AssignCatOptions(input=str(SAMPLE), batch_size=10, models_config=str(cli.models)),
                   require_key=False)
    builder = RequestBuilder(plan.entry, plan.task)
    encoding = tokens.encoding("o200k_base")
    prefix = len(encoding.encode(builder.system)) + len(encoding.encode(json.dumps(builder.schema,
                                                                                   separators=(",", ":"))))
    expected = sum(prefix + len(encoding.encode(builder.build(group).user)) + 9 for group in batches(plan.items, 10))
    assert row[:5] == ["gpt4o_mini", "9", f"{expected:,}", row[3], f"{prefix:,}"]
    assert row[-1] == "exact"


def test_compare_models_has_a_row_per_model_and_batch_pricing_halves(cli, fake_api):
    result = cli("--input", str(SAMPLE), "--limit", "10", "--dry-run", "--compare-models")
    assert result.code == 0 and fake_api.requests == []
    rows = {line.split()[0]: line.split() for line in result.out.splitlines()[2:-1]}
    assert list(rows) == ["gpt4o_mini", "gpt4_turbo", "gpt4o", "haiku", "sonnet", "opus", "local"]
    for name, row in rows.items():
        cost, batch = float(row[5]), float(row[7])
        assert abs(batch - cost / 2) < 2e-6, name
    assert rows["haiku"][-1] == "estimate" and rows["local"][5] == "0.000000"


def test_run_folders_in_the_same_second_get_suffixes(tmp_path):
    now = dt.datetime(2026, 11, 28, 10, 15, 0)
    names = [RunFolder.create(tmp_path, "assign-cat", now).path.name for _ in range(3)]
    assert names == ["assign-cat-2026-11-28-101500", "assign-cat-2026-11-28-101500-2", "assign-cat-2026-11-28-101500-3"]
    assert all((tmp_path / names[0] / sub).is_dir() for sub in ("inputs", "config", "outputs", "metadata"))


def test_explain_asks_for_a_reason_and_keeps_it(cli, fake_api):
    result = cli("--single-product", "Ashwagandha KSM-66 Capsules", "--explain")
    assert result.code == 0, result.err
    body = fake_api.requests_to("/v1/chat/completions")[0]["json"]
    item = body["response_format"]["json_schema"]["schema"]["properties"]["r"]["items"]
    assert item["required"] == ["n", "k", "why"]
    raw = result.run_dir / "outputs" / "classifications.csv"
    assert "fake reason" in raw.read_text()
