"""Run a grid of ordinary runs from one experiment spec; see ``--help`` and the README."""

import sys

from labnb.experiments.cli import main

if __name__ == "__main__":
    sys.exit(main())
