"""Everything a run needs, resolved and validated before anything is written.

A plan comes from the command line (a new run) or from a run folder's own snapshot
(``--resume``, ``--retry-failed``, ``--replay``), which ignores today's config files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from assign_cat.products import Product, load_products, single_product
from assign_cat.taxonomy import Taxonomy, load_taxonomy
from labnb.concurrency import parse_concurrency
from labnb.config import ModelEntry, load_models_config
from labnb.errors import InputError, UsageError
from labnb.jsonio import read_json
from labnb.runfolder import RunFolder

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RunOptions:
    """Every option of a run, as recorded in ``config/run_config.json``."""

    model: str | None = None
    single_product: str | None = None
    input: str | None = None
    batch_size: int = 1
    taxonomy: str = str(PROJECT_ROOT / "config" / "taxonomy.xml")
    models_config: str = str(PROJECT_ROOT / "config" / "models.yaml")
    runs_dir: str = str(PROJECT_ROOT / "runs")
    limit: int | None = None
    concurrency: int | str = "auto"  # a number, or "auto" (labnb.concurrency)
    timeout: float | None = None
    explain: bool = False
    max_cost: float | None = None
    batch_api: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def check(self) -> None:
        """Usage errors that argparse cannot express."""
        if (self.single_product is None) == (self.input is None):
            raise UsageError("give exactly one of --single-product TITLE or --input FILE")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, got {self.batch_size}")
        parse_concurrency(self.concurrency)
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"--limit must be at least 1, got {self.limit}")
        if self.timeout is not None and self.timeout <= 0:
            raise UsageError(f"--timeout must be positive, got {self.timeout}")
        if self.max_cost is not None and self.max_cost <= 0:
            raise UsageError(f"--max-cost must be positive, got {self.max_cost}")


@dataclass
class Plan:
    options: RunOptions
    entry: ModelEntry
    models_config_path: Path
    taxonomy_path: Path
    taxonomy: Taxonomy
    products: list[Product]
    input_path: Path | None = None
    replay_of: str | None = None

    @property
    def with_gold(self) -> bool:
        return any(p.has_gold for p in self.products)

    def gold_outside_taxonomy(self) -> list[Product]:
        """Products whose gold labels are not a pair of the taxonomy (they can never be scored right)."""
        return [p for p in self.products
                if p.has_gold and not self.taxonomy.is_valid(p.expected_category, p.expected_subcategory)]


def _entry(models_config: Path, alias: str | None, timeout: float | None, *, require_key: bool = True) -> ModelEntry:
    entry = load_models_config(models_config).get(alias)
    if timeout is not None:
        entry = replace(entry, timeout=timeout)
    if require_key:
        entry.api_key()  # a missing key is reported now, before any run folder exists
    return entry


def prepare(options: RunOptions, *, require_key: bool = True) -> Plan:
    """Validate options and load config, taxonomy and products for a new run."""
    options.check()
    models_path = Path(options.models_config)
    entry = _entry(models_path, options.model, options.timeout, require_key=require_key)
    taxonomy_path = Path(options.taxonomy)
    taxonomy = load_taxonomy(taxonomy_path)
    if options.input is not None:
        input_path = Path(options.input)
        products = load_products(input_path, options.limit)
    else:
        input_path = None
        products = single_product(options.single_product or "")
    return Plan(options, entry, models_path, taxonomy_path, taxonomy, products, input_path)


def from_run(folder: RunFolder, **overrides: Any) -> Plan:
    """The plan recorded in ``folder`` (its own snapshot), with ``overrides`` applied to its options."""
    config = folder.file("config/run_config.json")
    try:
        recorded = read_json(config)
        products = [Product.from_dict(p) for p in read_json(folder.file("inputs/products.json"))]
    except FileNotFoundError as exc:
        raise InputError(f"{folder.path}: incomplete run folder, missing {Path(exc.filename).name}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{folder.path}: unreadable run snapshot: {exc}") from None
    options = replace(RunOptions.from_dict(recorded["options"]), **overrides)
    models_path = folder.file("config/models.yaml")
    taxonomy_path = folder.file("inputs/taxonomy.xml")
    return Plan(
        options=options, entry=_entry(models_path, options.model, options.timeout),
        models_config_path=models_path, taxonomy_path=taxonomy_path, taxonomy=load_taxonomy(taxonomy_path),
        products=products, input_path=Path(recorded["input_path"]) if recorded.get("input_path") else None,
        replay_of=recorded.get("replay_of"),
    )
