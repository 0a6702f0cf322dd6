"""`training-aware demo`, the README's first command: streams, times the whole run, tells the truth.

The demo runs in a fresh process, as a user starts it: `--quick` under a pseudo-terminal (so Keras'
progress bar shows), the full run (slow) through a pipe.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from tests.conftest import BACKEND

# TensorFlow/XLA start-up lines (absl format, absl's pre-init notice, CUDA and CPU-feature notes).
NOISE = re.compile(
    r"absl::InitializeLog|^[IWEF]\d{4} \d\d:\d\d|cuInit|cpu_feature_guard|oneDNN custom operations"
    r"|cuda drivers|rebuild TensorFlow",
    re.MULTILINE,
)


def user_env() -> dict[str, str]:
    """The environment of a user who exported nothing: no TF_CPP_MIN_LOG_LEVEL, no switches."""
    drop = ("TF_CPP_MIN_LOG_LEVEL", "TRAINING_AWARE_TF_LOGS", "CUDA_VISIBLE_DEVICES")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["KERAS_BACKEND"] = BACKEND
    return env


SHELL_PAUSE = 3  # seconds


@dataclass
class Run:
    out: str
    err: str
    code: int
    wall: float  # seconds from starting the process to reading "Done in"
    after: float  # seconds from reading "Done in" to the end of the process
    rows_while_running: bool  # the F1 rows were read while the process still ran


@pytest.fixture(scope="module")
def quick_in_a_terminal() -> Run:
    """`training-aware demo --quick` with stdout on a pseudo-terminal, read as it is written."""
    pty = pytest.importorskip("pty", reason="pseudo-terminals are POSIX-only")
    master, slave = pty.openpty()
    start = time.perf_counter()
    # Started the way a shell script `exec`s a command: the shell's own work before the `exec`
    # (here a pause of SHELL_PAUSE seconds) is not part of the demo's run.
    command = (
        f"sleep {SHELL_PAUSE}; exec {shlex.quote(sys.executable)} -m training_aware demo --quick"
    )
    proc = subprocess.Popen(
        ["sh", "-c", command],
        stdout=slave,
        stderr=subprocess.PIPE,
        env=user_env(),
    )
    os.close(slave)
    chunks: list[bytes] = []
    rows_while_running = False
    wall = 0.0
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
        text = b"".join(chunks)
        if b"BUG infer" in text and not rows_while_running:
            rows_while_running = proc.poll() is None
        if b"Done in" in chunk:
            wall = time.perf_counter() - start
    after = time.perf_counter() - start - wall
    os.close(master)
    _, err_bytes = proc.communicate(timeout=300)
    err, code = err_bytes.decode(), proc.returncode
    out = b"".join(chunks).decode("utf-8", errors="replace").replace("\r\n", "\n")
    out = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out)  # the bar's colours
    return Run(out, err, code, wall, after, rows_while_running)


@pytest.mark.backend
def test_quick_shows_f1_on_plain_keras_and_the_fix(quick_in_a_terminal: Run) -> None:
    run = quick_in_a_terminal
    assert run.code == 0, run.out[-3000:] + run.err[-3000:]
    lines = [line.split("\r")[-1] for line in run.out.splitlines()]  # drop redrawn bars
    fit_rows = [line for line in lines if re.search(r"\bfit\s+(BatchNorm|Dropout)\s+train\b", line)]
    assert len(fit_rows) == 2, run.out
    assert all("BUG infer" in row and row.rstrip().endswith("ok  train") for row in fit_rows)
    assert "2 wrong modes on plain Keras, 0 with training-aware" in run.out
    assert re.search(
        r"F1 BadModel: call\(self, x\)\s+plain Keras: 2 problem\(s\)\s+"
        r"training-aware: clean",
        run.out,
    )
    assert "GoodModel" not in run.out, "--quick runs the F1 case only"


@pytest.mark.backend
def test_quick_streams_with_a_progress_bar_and_times_the_whole_run(
    quick_in_a_terminal: Run,
) -> None:
    run = quick_in_a_terminal
    assert run.rows_while_running, "the F1 rows must print before the audit section runs"
    assert re.search(r"2/2 \S*━", run.out), "Keras' progress bar, as fit shows it"
    done = re.search(r"Done in (\d+) s \(the whole run, imports included\)", run.out)
    assert done, run.out
    # The figure counts from the command's start, imports included: the wall time this test
    # measured up to reading it, less the shell's pause before `exec`, rounding and the start-up
    # of the interpreter itself.
    run_time = run.wall - SHELL_PAUSE
    assert run_time - 2.5 <= int(done.group(1)) <= run_time + 1, (done.group(1), run.wall)
    assert run.after < 2.0, f"the process ran {run.after:.1f} s after reporting its time"
    imported = re.search(r"\(imported after (\d+) s\)", run.out)
    assert imported and int(imported.group(1)) <= int(done.group(1))


@pytest.mark.backend
def test_quick_prints_no_tensorflow_log_lines(quick_in_a_terminal: Run) -> None:
    noise = NOISE.findall(quick_in_a_terminal.err + quick_in_a_terminal.out)
    assert not noise, quick_in_a_terminal.err


# Wrong modes on plain Keras, per backend: F1 2 (fit), F3 2 (BatchNorm in predict and model(x)),
# F13 2 (fit), F9 4 (predict and model(x)), F4 2, F10 1, F5 1; JAX adds F2's 2 (fit trains nothing).
PLAIN_BUGS = {"tensorflow": 14, "jax": 16, "torch": 14}


@pytest.mark.slow
@pytest.mark.backend
def test_full_demo_shows_plain_keras_bugs_and_none_with_the_library() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "training_aware", "demo"],
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert not NOISE.findall(result.stderr), result.stderr
    assert "━" not in out, "no progress bar when stdout is not a terminal"
    cases = (
        "GoodModel (forwards training)",
        "ComplexModel (hand-written loop)",
        "F1 BadModel: call(self, x)",
        "F2 call(x, training=False), not forwarded",
        "F3 drop(x, training=True) then bn(x)",
        "F13 backbone(x, training=False) then head",
        "F9 layer defaulting to training=True first",
        "F4 Dropout()(x, training=True), then BN",
        "F10 base(x, training=False), fine-tuned",
    )
    for case in cases:
        assert out.count(case) == 2, f"{case}: a row group in the table and an audit line"
    assert out.count("F5 Monte Carlo samples (mc_predict)") == 1, "F5: a row group in the table"
    assert "seed" not in out.lower()
    summary = [line for line in out.splitlines() if "wrong modes on plain Keras" in line]
    assert summary, out
    plain_bugs = int(summary[0].split()[0])
    assert plain_bugs == PLAIN_BUGS[BACKEND], summary[0]
    assert ", 0 with training-aware" in summary[0]
    assert re.search(r"Done in \d+ s \(the whole run, imports included\)", out)
