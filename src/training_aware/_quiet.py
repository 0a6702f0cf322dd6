"""Keep TensorFlow's start-up log lines out of the command line's output.

Importing TensorFlow on a machine without a GPU writes lines such as

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:... port.cc:153] oneDNN custom operations are on. ...
    I0000 00:00:... cudart_stub.cc:31] Could not find cuda drivers on your machine, ...
    I0000 00:00:... cpu_feature_guard.cc:227] This TensorFlow binary is optimized ...
    E0000 00:00:... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error ...

straight to file descriptor 2, from C++, some of them before absl's logging is initialised (so
`TF_CPP_MIN_LOG_LEVEL` cannot filter them). The `training-aware` commands therefore import Keras
(and with it the backend) through `import_keras`, which sets `TF_CPP_MIN_LOG_LEVEL=3` unless the
user set it, captures file descriptor 2 while the import runs, and writes back every captured line
except those start-up lines. Nothing else is hidden: a Python warning or an error message printed
during the import still reaches stderr.

The switch to see everything: `--tf-logs` on `demo` and `audit`, or `TRAINING_AWARE_TF_LOGS=1` in
the environment (then nothing is set and nothing is captured).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

__all__ = ["ENV_SWITCH", "import_keras", "is_noise", "show_logs_requested"]

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


@contextmanager
def _filtered_stderr() -> Iterator[None]:
    """Capture file descriptor 2; afterwards write back every line that is not start-up noise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            with suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not is_noise(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def import_keras(show_logs: bool = False) -> Any:
    """Import Keras (and its backend) without TensorFlow's start-up log lines; returns `keras`.

    Call it before anything else imports Keras or TensorFlow: once TensorFlow is loaded, its
    start-up lines are already written. `show_logs=True` (or `TRAINING_AWARE_TF_LOGS=1`) imports
    Keras untouched.
    """
    if show_logs_requested(show_logs) or "keras" in sys.modules:
        import keras

        return keras
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _filtered_stderr():
        import keras
    return keras
