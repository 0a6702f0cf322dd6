"""Time `training-aware lint` over the installed Keras source, against `ast.parse` and flake8.

Three measurements per repeat, interleaved (the order rotates each repeat), medians reported:

- `ast.parse`: read every `*.py` file under the tree and parse it; the floor any AST checker pays.
- `training-aware lint` in process: `lint_paths` over the tree (walk, read, decode, parse, rules,
  noqa), the same files.
- end to end, each in its own process: `training-aware lint TREE` against `flake8 TREE` with
  flake8's defaults (every installed plugin, the training-aware plugin included, and
  `--jobs=auto`).

Run:

    python benchmarks/lint.py                # the installed keras package, 3 repeats
    python benchmarks/lint.py --repeats 5 --tree PATH

`--backend` is accepted like every benchmark's and changes nothing: the checker imports no backend.

Targets (issue 5): the checker <= 2x `ast.parse`, and faster than flake8. Quote the ratios, not
the absolute times, which depend on the machine.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from training_aware.lint.config import Config
from training_aware.lint.files import discover
from training_aware.lint.runner import lint_paths


def keras_tree() -> str:
    """The installed `keras` package directory, found without importing it."""
    spec = importlib.util.find_spec("keras")
    if spec is None or spec.origin is None:
        raise SystemExit("keras is not installed; pass --tree PATH")
    return str(Path(spec.origin).parent)


def parse_all(files: list[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            with open(path, "rb") as handle:
                ast.parse(handle.read(), filename=path)


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=None, help="source tree (default: installed keras)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-flake8", action="store_true", help="skip the flake8 comparison")
    parser.add_argument(
        "--backend",
        choices=("tensorflow", "jax", "torch"),
        help="accepted like every benchmark's; the checker reads source and imports no backend",
    )
    args = parser.parse_args()
    tree = args.tree or keras_tree()
    files = list(discover([tree], (), None))
    size = sum(os.path.getsize(f) for f in files)
    bin_dir = Path(sys.executable).parent
    ta = shutil.which("training-aware", path=str(bin_dir))
    flake8 = shutil.which("flake8", path=str(bin_dir))
    if ta is None or (flake8 is None and not args.no_flake8):
        raise SystemExit("install the package with its test extra (training-aware, flake8)")

    def run_cli(command: list[str]) -> Callable[[], object]:
        return lambda: subprocess.run(command, capture_output=True, check=False)

    runs: dict[str, Callable[[], object]] = {
        "ast.parse": lambda: parse_all(files),
        "lint (in process)": lambda: lint_paths([tree], Config()),
        "training-aware lint (process)": run_cli([ta, "lint", tree]),
    }
    if not args.no_flake8 and flake8 is not None:
        runs["flake8 defaults (process)"] = run_cli([flake8, tree])
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    print(f"tree: {tree}: {len(files)} files, {size / 1e6:.1f} MB; {args.repeats} repeats")
    for repeat in range(args.repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in order:
            times[name].append(timed(runs[name]))
        print(f"  repeat {repeat + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in names))
    median = {name: statistics.median(values) for name, values in times.items()}
    print("\nmedians:")
    for name in names:
        print(f"  {name:<32} {median[name]:8.2f} s")
    print("\nratios:")
    ratio = median["lint (in process)"] / median["ast.parse"]
    print(f"  lint / ast.parse (in process):              {ratio:5.2f}x   (target <= 2x)")
    if "flake8 defaults (process)" in median:
        speed = median["flake8 defaults (process)"] / median["training-aware lint (process)"]
        print(f"  flake8 / training-aware lint (end to end):  {speed:5.2f}x   (target > 1x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
