"""``python -m oasisgen``: the command line, the same as the ``oasisgen`` script."""

import sys

from oasisgen.cli import main

if __name__ == "__main__":
    sys.exit(main())
