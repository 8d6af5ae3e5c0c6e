"""Shopify's Standard Product Taxonomy, ``categories.txt``: ``gid://shopify/TaxonomyCategory/hb-1-9 : A > B > C``."""

from __future__ import annotations

import re

from assign_cat.taxonomy.lines import LineFormat
from assign_cat.taxonomy.tree import SHOPIFY_GID

SHOPIFY = LineFormat(
    name="shopify",
    title="Shopify's categories.txt",
    example=f"{SHOPIFY_GID}<id> : A > B > C",
    pattern=re.compile(rf"(?P<id>{re.escape(SHOPIFY_GID)}[A-Za-z0-9][A-Za-z0-9-]*)\s*:\s*(?P<path>\S.*)"),
    taxonomy_name="shopify-product-taxonomy",
)
