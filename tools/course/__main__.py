"""``python -m tools.course``: see tools/course/__init__.py."""

import sys

from .cli import main

sys.exit(main())
