"""Flat label sets are data: a label file (YAML), a table of texts, one generic ``classify`` task."""
