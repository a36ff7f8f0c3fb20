"""``python -m oasisgen.cli``: the ``oasisgen`` command."""

import sys

from oasisgen.cli import main

if __name__ == "__main__":
    sys.exit(main())
