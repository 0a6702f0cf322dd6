"""Time `training-aware lint --fix` against the report-only run, over a copy of the Keras source.

Each repeat copies the tree twice (untimed: `--fix` rewrites its copy), then times, interleaved
(the order rotates each repeat), each in its own process:

- `training-aware lint COPY` (report only);
- `training-aware lint --fix COPY` (report, then parse, repair, re-check and write the files
  with a fixable finding).

Run:

    python benchmarks/lint_fix.py                 # the installed keras package, 3 repeats
    python benchmarks/lint_fix.py --repeats 5 --tree PATH

Target (issue 14): `--fix` within 3x the report-only run. Quote the ratio, not the times.
"""

from __future__ import annotations

import argparse
import importlib.util
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


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr}")
    return elapsed, proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=None, help="source tree (default: installed keras)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tree = Path(args.tree or keras_tree())
    ta = shutil.which("training-aware", path=str(Path(sys.executable).parent))
    if ta is None:
        raise SystemExit("install the package (the `training-aware` command)")
    files = sum(1 for _ in tree.rglob("*.py"))
    print(f"tree: {tree}: {files} files; {args.repeats} repeats")
    runs = {"report": [ta, "lint"], "fix": [ta, "lint", "--fix"]}
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
