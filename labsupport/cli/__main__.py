"""`python -m labsupport.cli …`: the same as the `labsupport` entry point (the tests run it so)."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
