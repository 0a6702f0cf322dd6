"""Keep TensorFlow's start-up log lines out of the command line's output.

Importing TensorFlow on a machine without a GPU writes lines such as

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:... port.cc:153] oneDNN custom operations are on. ...
    I0000 00:00:... cudart_stub.cc:31] Could not find cuda drivers on your machine, ...
    I0000 00:00:... cpu_feature_guard.cc:227] This TensorFlow binary is optimized ...
    E0000 00:00:... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error ...

straight to file descriptor 2, from C++, some of them before absl's logging is initialised (so
`TF_CPP_MIN_LOG_LEVEL` cannot filter them), and Keras may import TensorFlow at any point (on JAX,
`keras.utils.set_random_seed` and the data adapters do). So while a `training-aware` command runs
(`quiet_stderr`), `TF_CPP_MIN_LOG_LEVEL` is 3 unless the user set it, file descriptor 2 is a pipe,
and a thread forwards every line written to it, as it comes, except those start-up lines (absl's
format, its pre-initialisation notice, `cpu_feature_guard`'s second line). Nothing else is
hidden: a Python warning, a traceback or the command's own messages reach stderr unchanged.

The switch to see everything: `--tf-logs` on `demo` and `audit`, or `TRAINING_AWARE_TF_LOGS=1` in
the environment (then nothing is set and nothing is filtered).
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

__all__ = ["ENV_SWITCH", "import_keras", "is_noise", "quiet_stderr", "show_logs_requested"]

ENV_SWITCH = "TRAINING_AWARE_TF_LOGS"

# absl/glog's line prefix: severity, MMDD, time, thread id, file:line]
_ABSL_LINE = re.compile(r"^[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./\-]+:\d+\] ")
_NOISE_PREFIXES = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    # cpu_feature_guard's second line
    "To enable the following instructions:",
)


def show_logs_requested(flag: bool = False) -> bool:
    """`--tf-logs` was given, or `TRAINING_AWARE_TF_LOGS` is set to a true value."""
    value = os.environ.get(ENV_SWITCH, "").strip().lower()
    return flag or value not in ("", "0", "false", "no", "off")


def is_noise(line: str) -> bool:
    """A TensorFlow/XLA start-up log line (absl format, or absl's pre-initialisation notice)."""
    return bool(_ABSL_LINE.match(line)) or line.startswith(_NOISE_PREFIXES)


_active = False


def _forward(source: int, target: int) -> None:
    """Copy lines from the pipe `source` to the descriptor `target`, dropping start-up noise."""
    pending = b""
    try:
        while chunk := os.read(source, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            kept = [line for line in lines if not is_noise(line.decode("utf-8", "replace"))]
            if kept:
                os.write(target, b"".join(line + b"\n" for line in kept))
        if pending and not is_noise(pending.decode("utf-8", "replace")):
            os.write(target, pending)
    except OSError:  # the target went away: nothing left to show
        pass
    finally:
        os.close(source)


@contextmanager
def quiet_stderr(show_logs: bool = False) -> Iterator[None]:
    """While active, TensorFlow's start-up lines written to stderr are dropped (see the module).

    A no-op with `show_logs=True` or `TRAINING_AWARE_TF_LOGS=1`, inside another `quiet_stderr`,
    or without a usable file descriptor 2.
    """
    global _active
    if _active or show_logs_requested(show_logs):
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        read_end, write_end = os.pipe()
    except (OSError, ValueError):
        yield
        return
    os.dup2(write_end, 2)
    os.close(write_end)  # descriptor 2 is now the pipe's only write end
    forwarder = threading.Thread(
        target=_forward, args=(read_end, saved), name="training-aware-stderr", daemon=True
    )
    forwarder.start()
    _active = True
    try:
        yield
    finally:
        _active = False
        with suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's write end: the forwarder drains it and stops
        forwarder.join(timeout=10)
        if not forwarder.is_alive():
            os.close(saved)


def import_keras(show_logs: bool = False) -> Any:
    """Import Keras (and its backend) without TensorFlow's start-up log lines; returns `keras`.

    The `training-aware` commands run inside `quiet_stderr` already; called on its own, the
    filter covers the import only. `show_logs=True` (or `TRAINING_AWARE_TF_LOGS=1`) imports Keras
    untouched.
    """
    with quiet_stderr(show_logs):
        import keras
    return keras
