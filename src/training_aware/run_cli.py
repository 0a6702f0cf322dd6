"""`training-aware run [options] script.py [args...]`: run a script unchanged under the watch.

Like `coverage run`: the script runs as `__main__`, with `sys.argv` set to the script and its
arguments and `sys.path[0]` to the script's folder. Afterwards (also after an exception, `sys.exit`
or Ctrl-C in the script) the report lists each mode-dependent layer that ran in the wrong mode,
with its call site, the FACTS row and the fix. The report goes to stderr (or `--output`), so the
script's own stdout stays as it is.

Exit status: the script's own when it is not 0; else 1 when something was found (0 with
`--exit-zero`); 2 for a usage error or a script that does not exist.

To run a long script in seconds, `TRAINING_AWARE_RUN_MAX_EPOCHS=N` caps the epochs of every `fit`
and `TRAINING_AWARE_RUN_MAX_STEPS=N` the steps of each epoch, `evaluate` and `predict` (both off
unless set; they change how much the script trains, nothing else).
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import threading
import traceback
from collections.abc import Sequence
from types import TracebackType

from training_aware.watch import Watch, WatchReport, _probe

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="training-aware run",
        description=(
            "Run a Python script unchanged and report every layer whose behaviour depends on "
            "`training` (Dropout, BatchNormalization, noise, augmentation, RNN and attention "
            "dropout, your own layers that read it) that ran in a mode other than its entry "
            "point meant: inference inside fit, training inside predict."
        ),
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "-o", "--output", metavar="PATH", help="write the report there instead of stderr"
    )
    parser.add_argument("--html", metavar="PATH", help="also write the report as an HTML page")
    parser.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit with the script's own status even when something was found",
    )
    parser.add_argument("script", help="the Python file to run, as `python script.py` would")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    return parser


def _exit_code(error: SystemExit) -> int:
    code = error.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # as Python does for sys.exit("message")
    return 1


def _script_traceback(tb: TracebackType | None, script: str) -> TracebackType | None:
    """Drop the frames of this runner (and runpy) above the script's first frame."""
    start = tb
    while start is not None and start.tb_frame.f_code.co_filename != script:
        start = start.tb_next
    return start or tb


def _join_threads() -> None:
    """Wait for the script's non-daemon threads, as the interpreter would before exiting."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()


def run_script(script: str, args: Sequence[str]) -> int:
    """Run `script` as `__main__` with `args`; return its exit status (tracebacks printed)."""
    path = os.path.abspath(script)
    saved_argv, saved_path0 = sys.argv, sys.path[0] if sys.path else None
    sys.argv = [script, *args]
    if sys.path:
        sys.path[0] = os.path.dirname(path)
    else:
        sys.path.insert(0, os.path.dirname(path))
    try:
        runpy.run_path(path, run_name="__main__")
        _join_threads()
        return 0
    except SystemExit as error:
        return _exit_code(error)
    except KeyboardInterrupt:
        print("\ntraining-aware run: interrupted (KeyboardInterrupt)", file=sys.stderr)
        return 130
    except BaseException as error:  # the script's own failure: show it as Python would
        tb = _script_traceback(error.__traceback__, path)
        traceback.print_exception(type(error), error, tb, file=sys.stderr)
        return 1
    finally:
        sys.argv = saved_argv
        if saved_path0 is not None:
            sys.path[0] = saved_path0


def _check(script: str) -> str | None:
    """A message when the script cannot be run at all (missing, unreadable, not Python)."""
    if not os.path.exists(script):
        return f"training-aware run: error: no such file: {script!r}"
    if os.path.isdir(script):
        return f"training-aware run: error: {script!r} is a folder; give the script's path"
    try:
        with open(script, "rb") as handle:
            source = handle.read()
        compile(source, script, "exec")
    except SyntaxError as error:
        where = f"{error.filename}:{error.lineno}"
        return (
            f"training-aware run: error: {where}: the script does not compile "
            f"(SyntaxError: {error.msg}); nothing was run"
        )
    except (OSError, ValueError) as error:
        return f"training-aware run: error: cannot read {script!r}: {error}"
    return None


_LIMIT_VARIABLES = {
    "epochs": "TRAINING_AWARE_RUN_MAX_EPOCHS",
    "steps": "TRAINING_AWARE_RUN_MAX_STEPS",
}


def _limits() -> dict[str, int] | str:
    """Caps for a scaled-down run: at most N epochs per `fit`, N steps per epoch/evaluate/predict.

    Off unless set. They change what the script computes (fewer steps), nothing else."""
    limits: dict[str, int] = {}
    for key, variable in _LIMIT_VARIABLES.items():
        value = os.environ.get(variable)
        if value is None or value == "":
            continue
        if not value.isdigit() or int(value) < 1:
            return (
                f"training-aware run: error: {variable}={value!r}: expected a whole number "
                f"of at least 1, e.g. {variable}=2"
            )
        limits[key] = int(value)
    return limits


def _emit(report: WatchReport, fmt: str, output: str | None, html_path: str | None) -> None:
    text = json.dumps(report.to_dict(), indent=2) if fmt == "json" else report.to_text()
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        sys.stdout.flush()
        print(text, file=sys.stderr)
    if html_path:
        with open(html_path, "w", encoding="utf-8") as handle:
            handle.write(report.to_html())


def main(argv: Sequence[str]) -> int:
    """`training-aware run` (see the module docstring); returns the exit status."""
    args = list(argv)
    if args[:1] == ["--"]:
        args = args[1:]
    try:
        options = _parser().parse_args(args)
    except SystemExit as error:
        return 0 if error.code == 0 else 2
    problem = _check(options.script)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2 if "no such file" in problem or "folder" in problem else 1
    limits = _limits()
    if isinstance(limits, str):
        print(limits, file=sys.stderr)
        return 2
    _probe.LIMITS.clear()
    _probe.LIMITS.update(limits)
    watch = Watch().start()
    try:
        status = run_script(options.script, options.args)
    finally:
        watch.stop()
    report = watch.report()
    _emit(report, options.format, options.output, options.html)
    if status != 0:
        return status
    return 1 if report.findings and not options.exit_zero else 0
