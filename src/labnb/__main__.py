"""``python -m labnb``: the ``labnb`` command."""

import sys

from labnb.cli import main

sys.exit(main())
