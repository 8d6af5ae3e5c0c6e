"""assign-cat on the project's two-level XML taxonomy: products in, a (category, subcategory) out.

Registered as ``assign-cat``; a Google or Shopify taxonomy file (told apart by content) runs
``assign_cat.deep_task.DeepAssignCat`` instead, chosen by ``for_inputs`` before anything is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from assign_cat.fromcolumns import gold_from_columns, label_columns, taxonomy_from, taxonomy_xml
from assign_cat.gold import resolve_gold
from assign_cat.inputs import AssignCatOptions, ProductInputs
from assign_cat.products import Product, load_products
from assign_cat.taxonomy import XML, Taxonomy, detect_format, load_taxonomy
from labnb.errors import UsageError
from labnb.inputs.labelcols import parse_fields
from labnb.inputs.labelspace import built_note
from labnb.parts.prompt_file import PromptFromFile
from labnb.store.results import ItemResult
from labnb.store.runfolder import RunFolder
from labnb.task import Choice, Group, JsonValue, Task

if TYPE_CHECKING:  # pandas is imported when a run is scored
    import pandas as pd

__all__ = ["AssignCat", "AssignCatOptions"]


class AssignCat(PromptFromFile[Product, AssignCatOptions], ProductInputs):
    """Catalog products into a taxonomy: (category, subcategory) of a two-level XML one, or any node of
    Google's or Shopify's."""

    snapshot_name = "inputs/taxonomy.xml"

    def __init__(self, taxonomy: str | Path | Taxonomy | None = None) -> None:
        super().__init__()
        self.taxonomy: Taxonomy | None = None
        self.label_columns: tuple[str, str] | None = None  # --taxonomy-from-columns
        self.taxonomy_source: bytes | None = None  # the XML built from them (snapshotted as inputs/taxonomy.xml)
        # Given a taxonomy, the task is ready to render and parse, as tests and notebooks use it.
        if isinstance(taxonomy, Taxonomy):
            self.taxonomy = taxonomy
        elif taxonomy is not None:
            self.use_taxonomy(Path(taxonomy), AssignCatOptions())

    def for_inputs(self, options: AssignCatOptions, folder: RunFolder | None = None) -> Task[Product,
                                                                                               AssignCatOptions]:
        from assign_cat.deep_task import DeepAssignCat

        if folder:
            deep = folder.file(DeepAssignCat.snapshot_name).is_file()
        else:  # a taxonomy built from the data's own columns has two levels
            deep = not options.taxonomy_from_columns and detect_format(Path(options.taxonomy)) != XML
        return DeepAssignCat() if deep else self

    def use_taxonomy(self, path: Path, options: AssignCatOptions) -> None:
        if options.taxonomy_root or options.leaves_only:
            raise UsageError("--taxonomy-root and --leaves-only apply to Google's and Shopify's taxonomies; "
                             "a two-level XML taxonomy always assigns subcategories")
        self.__dict__.pop("_choices", None)
        self.taxonomy_path, self.taxonomy = path, load_taxonomy(path)

    # --- --taxonomy-from-columns: the taxonomy built from the input's label columns ----------------------------
    def load(self, options: AssignCatOptions) -> list[Product]:
        if not options.taxonomy_from_columns:
            return super().load(options)
        assert options.input is not None  # checked by AssignCatOptions.check
        self.label_columns = columns = label_columns(options.taxonomy_from_columns)
        products = self.labelled(load_products(Path(options.input), title_column=options.title_column,
                                               sheet=options.sheet, fields=parse_fields(options.fields)),
                                 options.input)
        examples = self.labelled(load_products(Path(options.examples)), options.examples) if options.examples else []
        self.taxonomy = taxonomy_from([*products, *examples], Path(options.input).stem)
        self.taxonomy_source = taxonomy_xml(self.taxonomy, built_note("--taxonomy-from-columns", ",".join(columns),
                                                                      options.input, options.examples))
        self.taxonomy_path = None
        self.__dict__.pop("_choices", None)
        limit = options.limit
        return self.ready(self._carry(self.with_gold(products[:limit] if limit is not None else products)))

    def labelled(self, products: list[Product], source: str | Path) -> list[Product]:
        """With --taxonomy-from-columns, its two columns are the gold (and no longer input columns)."""
        return gold_from_columns(products, self.label_columns, source) if self.label_columns else products

    def load_snapshot(self, folder: RunFolder, options: AssignCatOptions) -> list[Product]:
        if options.taxonomy_from_columns:  # the snapshot holds the taxonomy built then; examples read the same way
            self.label_columns = label_columns(options.taxonomy_from_columns)
        return super().load_snapshot(folder, options)

    def load_labels(self, options: AssignCatOptions, folder: RunFolder | None = None) -> None:
        if options.taxonomy_from_columns and folder is None:
            raise UsageError("--taxonomy-from-columns reads every row to build the taxonomy; it does not stream "
                             "with --engine (give the taxonomy file it built: inputs/taxonomy.xml of a run)")
        super().load_labels(options, folder)

    def snapshot(self, folder: RunFolder) -> None:
        if self.taxonomy_source is not None:
            folder.file(self.snapshot_name).write_bytes(self.taxonomy_source)
            return
        super().snapshot(folder)

    def config_paths(self) -> dict[str, JsonValue]:
        if self.taxonomy_source is None or self.label_columns is None:
            return super().config_paths()
        return {"taxonomy_path": self.snapshot_name, "taxonomy_from_columns": list(self.label_columns)}

    # --- the taxonomy ------------------------------------------------------------------------------------------
    def with_gold(self, products: list[Product]) -> list[Product]:
        """Gold given as ids, names or ``Category > Subcategory`` paths, as ids."""
        return resolve_gold(products, self._tax).products

    @property
    def _tax(self) -> Taxonomy:
        if self.taxonomy is None:
            raise RuntimeError("the taxonomy is loaded by load() or load_snapshot() first")
        return self.taxonomy

    def gold_choice(self, item: Product) -> str | None:
        valid = self._tax.is_valid(item.expected_category, item.expected_subcategory)
        return f"{item.expected_category}/{item.expected_subcategory}" if valid else None

    def gold_warning(self, items: Sequence[Product]) -> str | None:
        tax = self._tax
        outside = [p for p in items if p.has_gold and not tax.is_valid(p.expected_category, p.expected_subcategory)]
        if not outside:
            return None
        first = outside[0]
        return (f"{len(outside)} products have gold labels that match no taxonomy id, name or 'Category > "
                f"Subcategory' path, e.g. {first.product_id}: ({first.expected_category}, "
                f"{first.expected_subcategory}); they will be scored wrong")

    def describe(self) -> str:
        return f"taxonomy '{self._tax.name}' ({len(self._tax.pairs)} pairs)"

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
        return self._choices

    def answer_text(self, row: dict[str, str]) -> str:
        cat = self._tax.category(row["category"])
        sub = next(s for s in cat.subcategories if s.id == row["subcategory"])
        return f"{cat.name} > {sub.name}"

    def write_metrics(self, run_dir: Path) -> dict[str, JsonValue]:
        from assign_cat.metrics import write_metrics  # pandas is imported when a run is scored

        return write_metrics(run_dir)

    def score(self, rows: pd.DataFrame) -> tuple[dict[str, JsonValue], pd.DataFrame]:
        from assign_cat.metrics import compute_metrics, confusion_matrix

        return compute_metrics(rows, self._tax), confusion_matrix(rows, self._tax)

    # --- the prompt: assign_cat/prompts/assign-cat.yaml (labnb.parts.prompt_file) ---
    def prompt_variables(self, *, explain: bool = False) -> dict[str, JsonValue]:
        """``labels``: each category as ``Name - description``, its subcategories indented below as
        ``k: Name - description``; ``taxonomy``: its name and version."""
        lines, k = [], 0
        for cat in self._tax.categories:
            lines.append(cat.name + (f" - {cat.description}" if cat.description else ""))
            for sub in cat.subcategories:
                k += 1
                lines.append(f"  {k}: {sub.name}" + (f" - {sub.description}" if sub.description else ""))
        return {**super().prompt_variables(explain=explain), "labels": "\n".join(lines),
                "taxonomy": {"name": self._tax.name, "version": self._tax.version}}

    def code_record(self, choice: Choice) -> JsonValue:
        return [choice.answer["category"], choice.answer["subcategory"]]

    def row(self, item: Product, result: ItemResult, with_gold: bool) -> dict[str, str]:
        row = {"product_id": item.product_id, "title": item.title, "category": result.answer.get("category", ""),
               "subcategory": result.answer.get("subcategory", "")}
        if with_gold:
            row.update(expected_category=item.expected_category, expected_subcategory=item.expected_subcategory)
        return row


TASK = AssignCat
