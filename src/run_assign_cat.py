"""Assign catalog products to taxonomy categories; see ``--help`` and the README."""

import sys

from assign_cat.cli import main

if __name__ == "__main__":
    sys.exit(main())
