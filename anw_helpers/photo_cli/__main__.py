"""``python -m anw_helpers.photo_cli``: the ``anw`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
