"""Tokens, usage, prices and totals; the dry run's duration estimate."""
