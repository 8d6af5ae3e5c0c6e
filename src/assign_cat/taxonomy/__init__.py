"""Taxonomies: the project's two-level XML, and Google's and Shopify's published files at any depth."""

from assign_cat.taxonomy.formats import XML, detect_format, from_two_level, load_deep
from assign_cat.taxonomy.tree import SEPARATOR, DeepTaxonomy, Node
from assign_cat.taxonomy.twolevel import MAX_TAXONOMY_BYTES, SCHEMA_PATH, Category, Subcategory, Taxonomy, load_taxonomy

__all__ = [
    "MAX_TAXONOMY_BYTES", "SCHEMA_PATH", "SEPARATOR", "XML", "Category", "DeepTaxonomy", "Node", "Subcategory",
    "Taxonomy", "detect_format", "from_two_level", "load_deep", "load_taxonomy",
]
