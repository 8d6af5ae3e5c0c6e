"""Label short texts with one label of a label set (default: sentiment); see ``--help`` and the README."""

import sys

from classify_text.cli import main

if __name__ == "__main__":
    sys.exit(main())
