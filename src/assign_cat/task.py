"""assign-cat as a framework task: products in, a (category, subcategory) of a taxonomy out."""

from __future__ import annotations

import argparse
import copy
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from assign_cat import prompts
from assign_cat.candidates import DEFAULT_CANDIDATES
from assign_cat.deep_labels import DEEP_COLUMNS, DeepLabels
from assign_cat.gold import GoldResolution, resolve_gold
from assign_cat.labelcols import parse_fields
from assign_cat.products import Product, column_split, load_products, single_product
from assign_cat.taxonomy import XML, Taxonomy, detect_format, load_deep, load_taxonomy
from labnb.errors import UsageError
from labnb.run.options import PROJECT_ROOT, RunOptions
from labnb.store.jsonio import read_json
from labnb.store.results import ItemResult
from labnb.store.runfolder import RunFolder
from labnb.task import Choice, Group, Ranker, TableColumns, Task

GOLD_COLUMNS = ("expected_category", "expected_subcategory")


@dataclass(frozen=True)
class AssignCatOptions(RunOptions):
    """The framework's options plus what to classify (``--single-product``) and the taxonomy."""

    single_product: str | None = None
    taxonomy: str = str(PROJECT_ROOT / "config" / "taxonomy.xml")
    fields: str | None = None  # --fields a,b: exactly the extra columns offered to the model
    title_column: str | None = None
    sheet: str | None = None
    leaves_only: bool = False
    taxonomy_root: str | None = None
    candidates: int = DEFAULT_CANDIDATES

    @classmethod
    def single_option(cls) -> str:
        return "single_product"

    def check(self) -> None:
        super().check()
        if self.candidates < 1:
            raise UsageError(f"--candidates must be at least 1, got {self.candidates}")


class AssignCat(Task[Product, AssignCatOptions]):
    """Catalog products into a taxonomy: (category, subcategory) of a two-level XML one, or any node of
    Google's or Shopify's."""

    name = "assign-cat"
    item_noun = "product"
    id_column = "product_id"
    items_file = "products.json"
    script = "python src/run_assign_cat.py"
    choice_noun = "subcategory"
    choices_source = "the taxonomy"
    options_class = AssignCatOptions
    text_column = "title"
    answer_columns = ("category", "subcategory")
    gold_columns = ("expected_category", "expected_subcategory")
    per_label_metric = "per_category"
    label_noun = "category"
    labels_option = "taxonomy"
    metrics_module = "assign_cat.metrics"
    prompts_module = "assign_cat.prompts"
    summary_metrics = ("category_accuracy",)
    prompt_file = PROJECT_ROOT / "config" / "prompts" / "assign-cat.yaml"
    prompt_extra_variables = ("taxonomy",)
    prompt_text_chars = prompts.FIELD_CHARS

    def __init__(self, taxonomy: str | Path | Taxonomy | None = None) -> None:
        self.taxonomy: Taxonomy | None = None
        self.taxonomy_path: Path | None = None
        self.gold: GoldResolution | None = None
        self.extra_columns: list[str] = []  # input columns carried into classifications.csv
        self.deep: DeepLabels | None = None  # Google's or Shopify's taxonomy, any depth
        # Given a taxonomy, the task is ready to render and parse, as tests and notebooks use it.
        if isinstance(taxonomy, Taxonomy):
            self.taxonomy = taxonomy
        elif taxonomy is not None:
            self._use_taxonomy(Path(taxonomy), AssignCatOptions())

    @classmethod
    def add_arguments(cls, what: argparse._ArgumentGroup, files: argparse._ArgumentGroup) -> None:
        what.add_argument("--single-product", metavar="TITLE", help="classify one product title")
        what.add_argument("--fields", metavar="A,B", help="exactly the extra columns offered to the model (default: "
                          "all but label-like ones; \"\" offers none)")
        what.add_argument("--title-column", metavar="NAME", help="take titles from this column (default: title)")
        what.add_argument("--sheet", metavar="NAME", help="the sheet of an .xlsx input (default: the first)")
        files.add_argument("--taxonomy", metavar="FILE", help=(
            f"the project's taxonomy XML (default {AssignCatOptions().taxonomy}), Google's taxonomy-with-ids "
            "text or Shopify's categories.txt, told apart by content"))
        files.add_argument("--taxonomy-root", metavar="PATH",
                           help='only the subtree under this node (a full path or an id), e.g. "Health & Beauty"')
        files.add_argument("--leaves-only", action="store_true", default=None,
                           help="assign products to leaf nodes only (deep taxonomies)")
        files.add_argument("--candidates", type=int, metavar="K", help=(
            f"with more assignable nodes than K (default {DEFAULT_CANDIDATES}), each request lists only its "
            "products' K nearest nodes (local embedding model)"))

    def _use_taxonomy(self, path: Path, options: AssignCatOptions) -> None:
        self.__dict__.pop("_choices", None)
        self.taxonomy_path, self.deep = path, None
        if detect_format(path) == XML:
            if options.taxonomy_root or options.leaves_only:
                raise UsageError("--taxonomy-root and --leaves-only apply to Google's and Shopify's taxonomies; "
                                 "a two-level XML taxonomy always assigns subcategories")
            self.taxonomy = load_taxonomy(path)
            return
        tree = load_deep(path).restrict(options.taxonomy_root, leaves_only=options.leaves_only)
        self.taxonomy, self.deep = None, DeepLabels(tree, path, options.candidates)

    @property
    def snapshot_name(self) -> str:
        return "inputs/taxonomy.txt" if self.deep else "inputs/taxonomy.xml"

    def load(self, options: RunOptions) -> list[Product]:
        assert isinstance(options, AssignCatOptions)
        self._use_taxonomy(Path(options.taxonomy), options)
        if options.input is None:
            products = single_product(options.single_product or "")
        else:
            products = self._with_gold(load_products(
                Path(options.input), options.limit, fields=parse_fields(options.fields),
                title_column=options.title_column, sheet=options.sheet))
        if self.deep:
            self.deep.prepare(products)
        return products

    def _with_gold(self, products: list[Product]) -> list[Product]:
        """Two-level gold given as ids, names or ``Category > Subcategory`` paths, as ids (a deep taxonomy's
        gold is matched by ``DeepLabels``); and the input columns to carry along."""
        if not self.deep:
            self.gold = resolve_gold(products, self._tax)
            products = self.gold.products
        offered, withheld = column_split(products)
        self.extra_columns = list(dict.fromkeys([*offered, *withheld]))
        return products

    def load_snapshot(self, folder: RunFolder, options: RunOptions) -> list[Product]:
        assert isinstance(options, AssignCatOptions)
        products = [Product.from_dict(p) for p in read_json(folder.file(f"inputs/{self.items_file}"))]
        deep = folder.file("inputs/taxonomy.txt")
        self._use_taxonomy(deep if deep.is_file() else folder.file("inputs/taxonomy.xml"), options)
        products = self._with_gold(products)
        if self.deep:
            self.deep.prepare(products)
        return products

    def snapshot(self, folder: RunFolder) -> None:
        assert self.taxonomy_path is not None
        folder.copy_in(self.taxonomy_path, self.snapshot_name)

    def read_items(self, path: Path) -> list[Product]:
        return load_products(path)

    def gold_choice(self, item: Any) -> str | None:
        if self.deep:
            return self.deep.gold_choice(item)
        valid = self._tax.is_valid(item.expected_category, item.expected_subcategory)
        return f"{item.expected_category}/{item.expected_subcategory}" if valid else None

    def prompt_variables(self, *, explain: bool = False) -> dict[str, Any]:
        if self.deep:  # the prompt files list a two-level taxonomy; deep requests list their own candidates
            raise UsageError("--prompt and --examples with an LLM need the two-level XML taxonomy; on Google's or "
                             "Shopify's taxonomy only --model local takes --examples (it learns from them)")
        return {"labels": prompts.render_taxonomy(self._tax),
                "taxonomy": {"name": self._tax.name, "version": self._tax.version}}

    def config_paths(self) -> dict[str, Any]:
        offered, withheld = column_split(self.gold.products) if self.gold else ([], [])
        return {"taxonomy_path": str(self.taxonomy_path), "columns_offered": offered, "columns_withheld": withheld}

    def gold_warning(self, items: Sequence[Any]) -> str | None:
        if self.deep:
            return self.deep.gold_warning(items)
        tax = self._tax
        outside = [p for p in items if p.has_gold and not tax.is_valid(p.expected_category, p.expected_subcategory)]
        if not outside:
            return None
        first = outside[0]
        return (f"{len(outside)} products have gold labels that match no taxonomy id, name or 'Category > "
                f"Subcategory' path, e.g. {first.product_id}: ({first.expected_category}, "
                f"{first.expected_subcategory}); they will be scored wrong")

    def describe(self) -> str:
        if self.deep:
            deep = self.deep
            shortlist = f"{deep.k} candidates per {self.item_noun}" if deep.retrieves else "all offered"
            return f"taxonomy '{deep.taxonomy.name}' ({len(deep.nodes):,} assignable nodes; {shortlist})"
        return f"taxonomy '{self._tax.name}' ({len(self._tax.pairs)} pairs)"

    def dry_run_notes(self) -> list[str]:
        if not self.gold:
            return []
        offered, withheld = column_split(self.gold.products)
        return [f"columns offered to the model: {', '.join(offered) or 'none'}; withheld (kept in the outputs): "
                f"{', '.join(withheld) or 'none'}"]


    @property
    def _tax(self) -> Taxonomy:
        if self.taxonomy is None:
            raise RuntimeError("the taxonomy is loaded by load() or load_snapshot() first")
        return self.taxonomy

    @cached_property
    def _choices(self) -> dict[int, Choice]:
        out = {}
        for k, (cid, sid) in self._tax.codes.items():
            cat = self._tax.category(cid)
            sub = next(s for s in cat.subcategories if s.id == sid)
            out[k] = Choice(k, f"{cid}/{sid}", sub.name, sub.description, {"category": cid, "subcategory": sid},
                            Group(cat.id, cat.name, cat.description))
        return out

    def choices(self) -> dict[int, Choice]:
        return self.deep.choices if self.deep else self._choices

    def offered(self, items: Sequence[Any]) -> dict[int, Choice] | None:
        return self.deep.offered(items) if self.deep else None

    def request_record(self, items: Sequence[Any]) -> dict[str, Any]:
        return self.deep.request_record(items) if self.deep else {}

    def ranker(self) -> Ranker | None:
        return self.deep.ranker() if self.deep else None

    def whole(self) -> AssignCat | None:
        if not (self.deep and self.deep.retrieves):
            return None
        whole = copy.copy(self)
        whole.deep = self.deep.whole()
        return whole

    def answer_text(self, row: dict[str, str]) -> str:
        cat = self._tax.category(row["category"])
        sub = next(s for s in cat.subcategories if s.id == row["subcategory"])
        return f"{cat.name} > {sub.name}"

    def label_source(self) -> Taxonomy:
        return self._tax

    def render_system(self, *, explain: bool = False) -> str:
        return self.deep.render_system(explain=explain) if self.deep else super().render_system(explain=explain)

    def render_user(self, items: Sequence[Any]) -> str:
        return self.deep.render_user(items) if self.deep else super().render_user(items)

    def prompt_templates(self, *, explain: bool = False) -> dict[str, Any]:
        return self.deep.templates(explain=explain) if self.deep else super().prompt_templates(explain=explain)

    def table(self) -> TableColumns:
        return TableColumns(inputs=("product_id", "title"), answers=("category", "subcategory"),
                            details=DEEP_COLUMNS if self.deep else (), gold=GOLD_COLUMNS,
                            carried=tuple(self.extra_columns))

    def row(self, item: Any, result: ItemResult, with_gold: bool) -> dict[str, str]:
        if self.deep:
            return self.deep.row(item, result, with_gold)
        row = {"product_id": item.product_id, "title": item.title, "category": result.answer.get("category", ""),
               "subcategory": result.answer.get("subcategory", "")}
        if with_gold:
            row.update(expected_category=item.expected_category, expected_subcategory=item.expected_subcategory)
        return row

    def carried(self, item: Any) -> dict[str, str]:
        return {column: item.extra.get(column, item.withheld.get(column, "")) for column in self.extra_columns}

    def write_metrics(self, run_dir: Path) -> dict[str, Any]:
        return self.deep.write_metrics(run_dir) if self.deep else super().write_metrics(run_dir)


TASK = AssignCat
