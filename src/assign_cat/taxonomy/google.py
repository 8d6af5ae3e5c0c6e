"""Google's product taxonomy, ``taxonomy-with-ids`` text: ``5702 - Health & Beauty > … > Nutrition Drinks & Shakes``."""

from __future__ import annotations

import re

from assign_cat.taxonomy.lines import LineFormat

GOOGLE = LineFormat(
    name="google",
    title="Google's taxonomy-with-ids",
    example="id - A > B > C",
    pattern=re.compile(r"(?P<id>\d+)\s+-\s+(?P<path>\S.*)"),
    taxonomy_name="google-product-taxonomy",
)
