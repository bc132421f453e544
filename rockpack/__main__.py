"""Allow ``python -m rockpack``."""

import sys

from rockpack.cli import main

sys.exit(main())
