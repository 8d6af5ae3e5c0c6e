"""The product inputs both assign-cat tasks share: options, command-line arguments, products with their gold
labels, the columns offered to the model and the columns carried into the outputs.

The two tasks (a two-level XML taxonomy: ``assign_cat.task``; Google's or Shopify's taxonomy of any
depth: ``assign_cat.deep_task``) add only their label space, prompt, answer columns and scores.
"""

from __future__ import annotations

import argparse
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from assign_cat.candidates import DEFAULT_CANDIDATES
from assign_cat.fromcolumns import label_columns
from assign_cat.products import GOLD_FIELDS, KNOWN_FIELDS, Product, load_products, products_of_rows, single_product
from labnb.errors import UsageError
from labnb.inputs.labelcols import column_split, parse_fields
from labnb.run.options import PROJECT_ROOT, RunOptions
from labnb.store.jsonio import read_json
from labnb.store.runfolder import RunFolder
from labnb.task import JsonValue, TableColumns, Task

if TYPE_CHECKING:
    import pandas as pd

GOLD_COLUMNS = ("expected_category", "expected_subcategory")
PROMPTS = Path(__file__).with_name("prompts")  # the built-in prompts: their only copy, shipped with the code


@dataclass(frozen=True)
class AssignCatOptions(RunOptions):
    """The framework's options plus what to classify (``--single-product``) and the taxonomy."""

    single_product: str | None = None
    taxonomy: str = str(PROJECT_ROOT / "config" / "taxonomy.xml")
    title_column: str | None = None
    sheet: str | None = None
    leaves_only: bool = False
    taxonomy_root: str | None = None
    candidates: int = DEFAULT_CANDIDATES
    taxonomy_from_columns: str | None = None  # "category,subcategory": the label space read from the data

    @classmethod
    def single_option(cls) -> str:
        return "single_product"

    def check(self) -> None:
        super().check()
        if self.candidates < 1:
            raise UsageError(f"--candidates must be at least 1, got {self.candidates}")
        if self.taxonomy_from_columns is not None:
            label_columns(self.taxonomy_from_columns)
            if self.taxonomy != AssignCatOptions.taxonomy:
                raise UsageError("give --taxonomy FILE or --taxonomy-from-columns CAT,SUB, not both")
            if self.input is None:
                raise UsageError("--taxonomy-from-columns reads the labels from --input FILE; give one")


class ProductInputs(Task[Product, AssignCatOptions]):
    """Products in, a taxonomy node out: what both assign-cat tasks share."""

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
    gold_columns = GOLD_COLUMNS
    per_label_metric = "per_category"
    per_label_accuracy = "subcategory_accuracy"  # recall there is the category's alone
    label_noun = "category"
    labels_option = "taxonomy"
    summary_metrics = ("category_accuracy",)
    # the two-level taxonomy's prompt file (the deep task has its own)
    prompt_file = PROMPTS / "assign-cat.yaml"
    prompt_extra_variables: ClassVar[tuple[str, ...]] = ("taxonomy",)
    prompt_text_chars = 300  # a title is cut there in the prompt, like every offered field
    snapshot_name: ClassVar[str]  # the taxonomy's copy in the run folder
    details: ClassVar[tuple[str, ...]] = ()  # answer columns after the framework's

    def __init__(self) -> None:
        self.taxonomy_path: Path | None = None
        self.offered_columns: list[str] = []  # input columns shown to the model
        self.withheld_columns: list[str] = []  # label-like input columns kept from it (and carried to the outputs)

    @classmethod
    def add_arguments(cls, what: argparse._ArgumentGroup, files: argparse._ArgumentGroup) -> None:
        what.add_argument("--single-product", metavar="TITLE", help="classify one product title")
        what.add_argument("--title-column", metavar="NAME", help="take titles from this column (default: title)")
        what.add_argument("--sheet", metavar="NAME", help="the sheet of an .xlsx input (default: the first)")
        files.add_argument("--taxonomy", metavar="FILE", help=(
            f"the project's taxonomy XML (default {AssignCatOptions().taxonomy}), Google's taxonomy-with-ids "
            "text or Shopify's categories.txt, told apart by content"))
        files.add_argument("--taxonomy-from-columns", metavar="CAT,SUB", help=(
            "no taxonomy file: the label space is every (category, subcategory) these two columns of --input and "
            "--examples hold (ids slugged from the names); the columns are the gold labels"))
        files.add_argument("--taxonomy-root", metavar="PATH",
                           help='only the subtree under this node (a full path or an id), e.g. "Health & Beauty"')
        files.add_argument("--leaves-only", action="store_true", default=None,
                           help="assign products to leaf nodes only (deep taxonomies)")
        files.add_argument("--candidates", type=int, metavar="K", help=(
            f"with more assignable nodes than K (default {DEFAULT_CANDIDATES}), each request lists only its "
            "products' K nearest nodes (local embedding model)"))

    # --- what each taxonomy format adds ----------------------------------------------------------------------
    @abstractmethod
    def use_taxonomy(self, path: Path, options: AssignCatOptions) -> None:
        """Load the taxonomy at ``path``; problems are one-line InputErrors."""

    def with_gold(self, products: list[Product]) -> list[Product]:
        """Products whose gold labels name the taxonomy's nodes as the task scores them."""
        return products

    def ready(self, products: list[Product]) -> list[Product]:
        """Anything the task prepares once the products are known (e.g. their candidate shortlists)."""
        return products

    def labelled(self, products: list[Product], source: str | Path) -> list[Product]:
        """Products of ``source`` with their gold labels where the task reads them from other columns."""
        return products

    # --- the shared inputs --------------------------------------------------------------------------------------
    def load(self, options: AssignCatOptions) -> list[Product]:
        self.use_taxonomy(Path(options.taxonomy), options)
        if options.input is None:
            return self.ready(single_product(options.single_product or ""))
        products = load_products(Path(options.input), options.limit, fields=parse_fields(options.fields),
                                 title_column=options.title_column, sheet=options.sheet)
        return self.ready(self._carry(self.with_gold(products)))

    def load_snapshot(self, folder: RunFolder, options: AssignCatOptions) -> list[Product]:
        products = [Product.from_dict(p) for p in read_json(folder.file(f"inputs/{self.items_file}"))]
        self.use_taxonomy(folder.file(self.snapshot_name), options)
        return self.ready(self._carry(self.with_gold(products)))

    def _carry(self, products: list[Product]) -> list[Product]:
        self.offered_columns, self.withheld_columns = column_split(products)
        return products

    def snapshot(self, folder: RunFolder) -> None:
        assert self.taxonomy_path is not None
        folder.copy_in(self.taxonomy_path, self.snapshot_name)

    def read_items(self, path: Path) -> list[Product]:
        """An examples file: its gold as the task scores it, whether written as ids, names or paths (as for --input)."""
        return self.with_gold(self.labelled(load_products(path), path))

    # --- streamed runs (labnb.scale) ------------------------------------------------------------------------
    def load_labels(self, options: AssignCatOptions, folder: RunFolder | None = None) -> None:
        if options.single_product is not None:
            raise UsageError("--engine reads an --input file; --single-product runs in this process")
        self.use_taxonomy(folder.file(self.snapshot_name) if folder else Path(options.taxonomy), options)

    def stream_columns(self, columns: Sequence[str], options: AssignCatOptions) -> bool:
        known = {c.casefold() for c in (*KNOWN_FIELDS, options.title_column or "title")}
        self.offered_columns, self.withheld_columns = [c for c in columns if c and c.casefold() not in known], []
        return any(c.casefold() in GOLD_FIELDS for c in columns)

    def items_of_rows(self, path: Path, rows: list[tuple[int, dict[str, object]]], options: AssignCatOptions,
                      first_index: int) -> list[Product]:
        return self.with_gold(products_of_rows(path, rows, fields=parse_fields(options.fields),
                                               title_column=options.title_column, first_index=first_index))

    def bare_item(self, item_id: str, text: str) -> Product:
        return Product(product_id=item_id, title=text)

    def config_paths(self) -> dict[str, JsonValue]:
        return {"taxonomy_path": str(self.taxonomy_path)}  # the offered and withheld columns: the framework's

    @classmethod
    def compute_metrics(cls, rows: pd.DataFrame) -> dict[str, JsonValue]:
        from assign_cat.metrics import compute_metrics  # pandas is imported when a run is scored

        return compute_metrics(rows)

    @classmethod
    def confusion_matrix(cls, rows: pd.DataFrame) -> pd.DataFrame | None:
        from assign_cat.metrics import confusion_matrix

        return confusion_matrix(rows)

    def table(self) -> TableColumns:
        return TableColumns(inputs=("product_id", "title"), answers=self.answer_columns, details=self.details,
                            gold=GOLD_COLUMNS,
                            carried=tuple(dict.fromkeys([*self.offered_columns, *self.withheld_columns])))

    def carried(self, item: Product) -> dict[str, str]:
        return {column: item.extra.get(column, item.withheld.get(column, "")) for column in self.table().carried}
