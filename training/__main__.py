"""``python -m training ...``: the engine's command line (no Django involved)."""

from training.engine.cli import main

raise SystemExit(main())
