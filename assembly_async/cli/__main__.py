"""``python -m assembly_async.cli``."""

from . import main

raise SystemExit(main())
