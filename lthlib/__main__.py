"""``python -m lthlib``: the command line, ``lthlib.apps.cli``."""
from __future__ import annotations

import sys

from lthlib.apps.cli import main

if __name__ == "__main__":
    sys.exit(main())
