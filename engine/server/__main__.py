"""`python -m engine.server`: the same as `vta-engine serve`."""

import sys

from .cli import main

sys.exit(main())
