"""The `--fix`, `--diff` and `--fix-style` options of `training-aware lint`.

`--fix` writes the repaired files, then prints what is left exactly as the report does and a
summary line; it exits 1 while findings remain. `--diff` writes nothing: it prints a unified diff
of the repairs (exit 1 when there is one, for CI) and the summary on standard error.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from training_aware.lint import formats, notebooks
from training_aware.lint.config import FIX_STYLES, Config
from training_aware.lint.files import discover, read_source
from training_aware.lint.rules import Finding

if TYPE_CHECKING:  # libcst is imported only when fixing: the report stays fast to start
    from training_aware.lint.fix import FileFix
    from training_aware.lint.fixers import FixStyle

FIXABLE = ("TA001", "TA002", "TA005", "TA006")
HUMAN = ("TA003", "TA004", "TA007", "TA008", "TA009")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--fix`, `--diff` and `--fix-style` to the `lint` parser."""
    group = parser.add_argument_group(
        "fixing", f"repair {', '.join(FIXABLE)} in place; {', '.join(HUMAN)} are never rewritten"
    )
    group.add_argument("--fix", action="store_true", help="rewrite the files in place")
    group.add_argument(
        "--diff",
        action="store_true",
        help="print the repairs as a unified diff and write nothing (exit 1 when there is one)",
    )
    group.add_argument(
        "--fix-style",
        choices=FIX_STYLES,
        default=None,
        help="TA001 on a model: forward `training` (default), or switch the base class to "
        "TrainingAwareModel (config: fix-style)",
    )


def _inside(path: str, roots: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def fix_paths(
    paths: Sequence[str], config: Config, style: FixStyle, *, write: bool
) -> list[FileFix]:
    """Repair every Python file under `paths`; a file whose real path lies outside them (a
    symbolic link out of the tree) is left alone."""
    from training_aware.lint.fix import FileFix, fix_file

    roots = [os.path.realpath(p) for p in paths]
    results: list[FileFix] = []
    for path in discover(paths, config.exclude, config.root):
        source = read_source(path)
        if source.data is None:
            finding = Finding(path, 1, 1, "TA000", source.error or "cannot read")
            results.append(FileFix(path, None, None, remaining=(finding,)))
        elif not _inside(path, roots):
            target = os.path.realpath(path)
            error = f"a symbolic link to {target}, outside the given paths; not fixed"
            results.append(FileFix(path, None, None, error=error))
        elif notebooks.is_notebook(path):
            results.append(
                notebooks.fix_notebook(
                    path, source.data, style=style, wants=config.wants, write=write
                )
            )
        else:
            results.append(
                fix_file(path, source.data, style=style, wants=config.wants, write=write)
            )
    return results


def _diff(result: FileFix) -> str:
    before = (result.original or "").splitlines(keepends=True)
    after = (result.fixed or "").splitlines(keepends=True)
    lines = difflib.unified_diff(before, after, f"a/{result.path}", f"b/{result.path}")
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def summary(results: list[FileFix], *, written: bool) -> str:
    """One line: what was (or would be) fixed, and what remains and why."""
    applied = Counter(f.code for r in results for f in r.applied)
    files = sum(1 for r in results if r.changed)
    remaining = [f for r in results for f in r.remaining]
    verb = "fixed" if written else "would fix"
    codes = ", ".join(f"{code} {n}" for code, n in sorted(applied.items()))
    text = f"{verb} {applied.total()} finding(s) in {files} file(s)" + (
        f" ({codes})" if codes else ""
    )
    human = sum(1 for f in remaining if f.code in HUMAN)
    unsafe = sum(1 for f in remaining if f.code in FIXABLE)
    other = len(remaining) - human - unsafe
    parts = []
    if human:
        parts.append(f"{human} need a human decision ({', '.join(HUMAN)} are never rewritten)")
    if unsafe:
        parts.append(f"{unsafe} could not be fixed safely")
    if other:
        parts.append(f"{other} file(s) could not be checked (TA000)")
    if parts:
        text += f"; {len(remaining)} remain: " + ", ".join(parts)
    return text + "."


def run(args: argparse.Namespace, config: Config) -> int:
    """Run `--fix` or `--diff`; returns the exit status."""
    style = cast("FixStyle", args.fix_style or config.fix_style)
    write = not args.diff
    results = fix_paths(args.paths, config, style, write=write)
    out = sys.stdout
    for result in results:
        if result.error is not None:
            print(
                f"training-aware lint: {result.path}: left unchanged: {result.error}",
                file=sys.stderr,
            )
    if args.diff:
        text = "".join(_diff(r) for r in results if r.changed)
        out.write(text)
        print(summary(results, written=False), file=sys.stderr)
        return 1 if text else 0
    remaining = [f for r in results for f in r.remaining]
    formats.write(remaining, args.format, out)
    # A machine-read format keeps standard output parseable: the summary goes to standard error.
    print(summary(results, written=True), file=out if args.format == "text" else sys.stderr)
    failed = any(r.error is not None for r in results)
    return 1 if remaining or failed else 0
