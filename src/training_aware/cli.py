"""The `training-aware` command: `demo`, `lint`, `audit` and `run`.

Each subcommand parses its own arguments and is imported only when used, so `training-aware lint`
never imports Keras or TensorFlow. `demo` and `audit` import Keras through
`training_aware._quiet.import_keras`, which keeps TensorFlow's start-up log lines out of the output
(`--tf-logs` or `TRAINING_AWARE_TF_LOGS=1` shows them).
"""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
import time
from collections.abc import Sequence

from training_aware._install import INSTALL_WITH_KERAS
from training_aware._quiet import quiet_stderr


def elapsed() -> float:
    """Seconds since the command started (the package's import), imports included.

    Counted from this package's first import rather than the process's start: a process that a
    shell `exec`s keeps the shell's start time, which would count the shell's own work.
    """
    import training_aware

    return time.monotonic() - training_aware._IMPORTED_AT


_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "training_aware.demo",
        "the classic BadModel / GoodModel / ComplexModel examples and the FACTS rows: what plain "
        "Keras does with `training`, next to training-aware (--quick: F1 only)",
    ),
    "lint": ("training_aware.lint.runner", "statically check Python files (no Keras import)"),
    "audit": ("training_aware.audit_cli", "build a model from MODULE:FACTORY and audit its modes"),
    "run": (
        "training_aware.run_cli",
        "run a script unchanged (`run [options] script.py [args...]`) and report each layer "
        "that ran in the wrong mode, with its call site",
    ),
}

USAGE = "usage: training-aware {demo,lint,audit,run} [options]   (training-aware COMMAND --help)"


def _help() -> str:
    lines = [USAGE, "", "commands:"]
    for name, (_, summary) in _COMMANDS.items():
        lines += textwrap.wrap(
            summary, width=96, initial_indent=f"  {name:<7}", subsequent_indent=" " * 9
        )
    lines += [
        "",
        "TensorFlow's start-up log lines are hidden; `--tf-logs` (demo, audit) or",
        "TRAINING_AWARE_TF_LOGS=1 shows them.",
    ]
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
    # `lint` imports no Keras; the others may import TensorFlow at any point of their run.
    # `run` shows the script's own output untouched.
    show_logs = args[0] in ("lint", "run") or "--tf-logs" in args[1:]
    try:
        with quiet_stderr(show_logs):
            code: int = module.main(args[1:])
    except ModuleNotFoundError as error:
        if error.name not in ("keras", "numpy", "tensorflow", "jax", "torch"):
            raise
        print(
            f"training-aware {args[0]}: error: {error.name} is not installed. `{args[0]}` runs "
            f"Keras on a backend: {INSTALL_WITH_KERAS}.",
            file=sys.stderr,
        )
        return 2
    if args[0] == "demo" and argv is None:
        # The command itself (not a call from Python): TensorFlow's teardown at interpreter exit
        # takes seconds on a busy machine, after the demo has reported its time. The demo holds
        # no file, subprocess or state that needs the normal exit, so it ends here.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
