"""Time `training-aware lint --fix` against the report-only run, over a copy of the Keras source.

Each repeat copies the tree twice (untimed: `--fix` rewrites its copy), then times, interleaved
(the order rotates each repeat), each in its own process:

- `training-aware lint COPY` (report only);
- `training-aware lint --fix COPY` (report, then parse, repair, re-check and write the files
  with a fixable finding).

Run:

    python benchmarks/lint_fix.py                 # the installed keras package, 3 repeats
    python benchmarks/lint_fix.py --repeats 5 --tree PATH
    python benchmarks/lint_fix.py --scaling 2000,8000 --repeats 2

`--scaling N,M,...` times `lint --fix` on one generated module holding N fixable findings (N small
models whose `call` drops `training`, about 180 bytes each), for each N, interleaved with the
report-only run on the same file, and prints the CPU time (user + system, of the command's own
process: a loaded machine does not inflate it) per finding: `--fix` is linear when the time per
finding stays flat as N grows (the ratio of the largest N's to the smallest's near 1).

Target: `--fix` within 3x the report-only run over a tree. Quote the ratios, not the times.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def keras_tree() -> str:
    """The installed `keras` package directory, found without importing it."""
    spec = importlib.util.find_spec("keras")
    if spec is None or spec.origin is None:
        raise SystemExit("keras is not installed; pass --tree PATH")
    return str(Path(spec.origin).parent)


def timed(command: list[str], *, cpu: bool = False) -> tuple[float, str]:
    """Wall time of `command` in its own process (or, with `cpu`, its user + system CPU time,
    which a loaded machine does not inflate), and its summary line."""
    start, used = time.perf_counter(), _children_cpu()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = _children_cpu() - used if cpu else time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr}")
    # The summary line goes to standard error (to standard output before version 0.1).
    summary = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
    return elapsed, summary[-1] if summary else ""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# `python -m training_aware`: the package on PYTHONPATH (a checkout's `src`) is the one timed.
TA = [sys.executable, "-m", "training_aware"]

LAYER = """

class Block{i}(keras.Model):
    def __init__(self):
        super().__init__()
        self.drop = keras.layers.Dropout(0.1)

    def call(self, x, training=None):
        return self.drop(x)
"""


def generated(findings: int) -> str:
    """A module with `findings` models, each with one safe TA002 to repair (a model's: a
    layer's is latent, reported only with `--latent`)."""
    return "import keras\n" + "".join(LAYER.format(i=i) for i in range(findings))


def scaling(sizes: list[int], repeats: int) -> int:
    """Time per finding of `lint --fix` on one generated file, for each size."""
    per: dict[int, list[float]] = {n: [] for n in sizes}
    report: dict[int, list[float]] = {n: [] for n in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(repeats):
            for n in sizes if repeat % 2 == 0 else sizes[::-1]:
                path = Path(tmp, f"module_{n}.py")
                text = generated(n)
                for name in ("report", "fix") if repeat % 2 == 0 else ("fix", "report"):
                    path.write_text(text)
                    command = [*TA, "lint", "--fix", str(path)] if name == "fix" else []
                    elapsed, summary = timed(command or [*TA, "lint", str(path)], cpu=True)
                    if name == "fix":
                        if f"fixed {n} finding(s)" not in summary:
                            raise SystemExit(f"unexpected summary for {n}: {summary}")
                        per[n].append(elapsed / n)
                    else:
                        report[n].append(elapsed)
                size = len(text.encode()) / 1e6
                print(
                    f"  repeat {repeat + 1}: {n} findings ({size:.2f} MB): --fix "
                    f"{per[n][-1] * n:.1f} s CPU ({per[n][-1] * 1e3:.2f} ms/finding), report "
                    f"{report[n][-1]:.1f} s CPU"
                )
    medians = {n: statistics.median(per[n]) for n in sizes}
    for n in sizes:
        ratio = medians[n] * n / statistics.median(report[n])
        print(f"{n} findings: {medians[n] * 1e3:.2f} ms per finding; --fix / report {ratio:.1f}x")
    small, large = sizes[0], sizes[-1]
    print(
        f"time per finding, {large} / {small} findings: {medians[large] / medians[small]:.2f}x"
        "   (linear: about 1x)"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=None, help="source tree (default: installed keras)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scaling", default=None, help="finding counts, e.g. 2000,8000")
    args = parser.parse_args()
    if args.scaling:
        return scaling(sorted(int(n) for n in args.scaling.split(",")), args.repeats)
    tree = Path(args.tree or keras_tree())
    files = sum(1 for _ in tree.rglob("*.py"))
    print(f"tree: {tree}: {files} files; {args.repeats} repeats")
    runs = {"report": [*TA, "lint"], "fix": [*TA, "lint", "--fix"]}
    times: dict[str, list[float]] = {name: [] for name in runs}
    last = ""
    for repeat in range(args.repeats):
        order = list(runs) if repeat % 2 == 0 else list(runs)[::-1]
        with tempfile.TemporaryDirectory() as tmp:
            for name in order:
                copy = Path(tmp, name, tree.name)
                shutil.copytree(tree, copy)
                elapsed, summary = timed([*runs[name], str(copy)])
                times[name].append(elapsed)
                last = summary if name == "fix" else last
        print(f"  repeat {repeat + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in runs))
    median = {name: statistics.median(values) for name, values in times.items()}
    paired = statistics.median(f / r for f, r in zip(times["fix"], times["report"], strict=True))
    print(f"\n--fix said: {last}")
    print(f"medians: report {median['report']:.2f} s, --fix {median['fix']:.2f} s")
    print(
        f"--fix / report: {median['fix'] / median['report']:.2f}x of the medians, "
        f"{paired:.2f}x paired   (target <= 3x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
