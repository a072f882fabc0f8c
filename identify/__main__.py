"""``python -m identify``: the same as the ``identify`` command."""

import sys

from identify.cli import main

sys.exit(main())
