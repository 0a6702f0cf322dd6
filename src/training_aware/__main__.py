"""`python -m training_aware` is the `training-aware` command."""

from training_aware.cli import main

raise SystemExit(main())
