"""The `training-aware` command: `demo`, `lint` and `audit`.

Each subcommand parses its own arguments and is imported only when used, so `training-aware lint`
never imports Keras or TensorFlow.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("training_aware.demo", "show what plain Keras does with `training`, and the fix"),
    "lint": ("training_aware.lint.runner", "statically check Python files (no Keras import)"),
    "audit": ("training_aware.audit_cli", "build a model from MODULE:FACTORY and audit its modes"),
}

USAGE = "usage: training-aware {demo,lint,audit} [options]   (training-aware COMMAND --help)"


def _help() -> str:
    lines = [USAGE, "", "commands:"]
    lines += [f"  {name:<7}{summary}" for name, (_, summary) in _COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 findings/problems, 2 usage error)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_help())
        return 0 if args else 2
    if args[0] in ("-V", "--version"):
        from training_aware import __version__

        print(f"training-aware {__version__}")
        return 0
    entry = _COMMANDS.get(args[0])
    if entry is None:
        print(f"training-aware: unknown command {args[0]!r}\n{_help()}", file=sys.stderr)
        return 2
    module = importlib.import_module(entry[0])
    code: int = module.main(args[1:])
    return code


if __name__ == "__main__":
    raise SystemExit(main())
