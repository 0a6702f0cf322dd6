"""The `--fix`, `--diff`, `--unsafe-fixes` and `--fix-style` options of `training-aware lint`.

`--fix` writes the repaired files, then prints what is left exactly as the report does; it exits
1 while findings remain. `--diff` writes nothing: it prints a unified diff of the repairs that
`git apply` accepts (exit 1 when there is one, for CI). Both apply only the safe repairs unless
`--unsafe-fixes` is given. The data (findings, the diff) goes to standard output; the summary
line and the notes on held-back or unsafe repairs go to standard error, so `--diff > fix.patch`
gives a clean patch.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

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
        "fixing",
        f"repair {', '.join(FIXABLE)}: only the safe repairs (that change nothing correct code "
        f"computes) unless --unsafe-fixes; {', '.join(HUMAN)} are never rewritten. Findings and "
        "diffs go to standard output, the summary to standard error",
    )
    mode = group.add_mutually_exclusive_group()
    mode.add_argument("--fix", action="store_true", help="rewrite the files in place")
    mode.add_argument(
        "--diff",
        action="store_true",
        help="print the repairs as a unified diff and write nothing (exit 1 when there is one)",
    )
    group.add_argument(
        "--unsafe-fixes",
        action="store_true",
        help="also apply the repairs that can change what correct code does (each says why)",
    )
    group.add_argument(
        "--fix-style",
        choices=FIX_STYLES,
        default=None,
        help="TA001 on a model: forward `training` (default), or switch the base class to "
        "TrainingAwareModel (config: fix-style)",
    )


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject the fixing options that make no sense together (exit 2, as argparse does)."""
    fixing = args.fix or args.diff
    if args.unsafe_fixes and not fixing:
        parser.error("argument --unsafe-fixes: needs --fix or --diff")
    if args.fix_style is not None and not fixing:
        parser.error("argument --fix-style: needs --fix or --diff")
    if args.diff and args.format != "text":
        parser.error(f"argument --format: --diff prints a diff, not {args.format}")


def _inside(path: str, roots: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def fix_paths(
    paths: Sequence[str], config: Config, style: FixStyle, *, write: bool, unsafe: bool = False
) -> list[FileFix]:
    """Repair every Python file under `paths`; a file whose real path lies outside them (a
    symbolic link out of the tree) is left alone.

    The files form one project (as for the report): a module is repaired after the project
    modules it imports, so a block class that starts forwarding `training` in `layers.py` is
    seen as mode-dependent where `models.py` calls it, and that call is repaired too."""
    from training_aware.lint.checker import Project
    from training_aware.lint.fix import FileFix, fix_file

    roots = [os.path.realpath(p) for p in paths]
    results: list[FileFix] = []
    project = Project(keras=config.keras, backends=config.backends)
    files = list(discover(paths, config.exclude, config.root))
    for path in files:
        project.add(path)
    by_order = project.index.in_import_order(files)
    for path in by_order:
        source = read_source(path)
        if source.data is None:
            finding = Finding(path, 1, 1, "TA000", source.error or "cannot read")
            results.append(FileFix(path, None, None, remaining=(finding,)))
        elif not _inside(path, roots):
            target = os.path.realpath(path)
            error = f"a symbolic link to {target}, outside the given paths; not fixed"
            results.append(FileFix(path, None, None, error=error))
        else:
            results.append(
                fix_file(
                    path,
                    source.data,
                    style=style,
                    wants=config.wants,
                    unsafe=unsafe,
                    write=write,
                    latent=config.latent,
                    project=project,
                )
            )
    position = {path: i for i, path in enumerate(files)}
    results.sort(key=lambda r: position.get(r.path, len(position)))  # report in walk order
    return results


def diff_path(path: str) -> str:
    """The path as `git apply` expects it in a diff header: normalised (no `./`), relative to
    the current directory when inside it, with forward slashes."""
    normal = os.path.normpath(path)
    if os.path.isabs(normal):
        relative = os.path.relpath(normal)
        if not relative.startswith(os.pardir):
            normal = relative
    return normal.replace(os.sep, "/")


def _diff(result: FileFix) -> str:
    before = (result.original or "").splitlines(keepends=True)
    after = (result.fixed or "").splitlines(keepends=True)
    name = diff_path(result.path)
    lines = difflib.unified_diff(before, after, f"a/{name}", f"b/{name}")
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
    risky = sum(len(r.applied_unsafe) for r in results)
    if risky:
        codes += f"; {risky} of them unsafe"
    text = f"{verb} {applied.total()} finding(s) in {files} file(s)" + (
        f" ({codes})" if codes else ""
    )
    human = sum(1 for f in remaining if f.code in HUMAN)
    held = sum(len(r.unsafe) for r in results)
    unfixed = sum(1 for f in remaining if f.code in FIXABLE) - held
    other = len(remaining) - human - held - unfixed
    parts = []
    if held:
        parts.append(f"{held} have an unsafe fix (apply with --unsafe-fixes)")
    if human:
        parts.append(f"{human} need a human decision ({', '.join(HUMAN)} are never rewritten)")
    if unfixed:
        parts.append(f"{unfixed} could not be fixed")
    if other:
        parts.append(f"{other} file(s) could not be checked (TA000)")
    if parts:
        text += f"; {len(remaining)} remain: " + ", ".join(parts)
    return text + "."


def _key(finding: Finding) -> tuple[str, int, int, str]:
    return finding.path, finding.line, finding.col, finding.code


def held_back_note(reason: str) -> str:
    """The text added to a finding whose repair is unsafe and was not applied."""
    return f"[unsafe fix not applied: {reason}; apply it with --unsafe-fixes]"


def _notes(results: list[FileFix], *, diff: bool) -> list[str]:
    """The lines for standard error: files left unchanged, unsafe repairs applied, and (with
    `--diff`, which prints no findings) the unsafe repairs held back."""
    lines = []
    for result in results:
        if result.error is not None:
            lines.append(f"training-aware lint: {result.path}: left unchanged: {result.error}")
        for finding, reason in result.applied_unsafe:
            where = f"{finding.path}:{finding.line}:{finding.col}: {finding.code}"
            lines.append(f"{where} unsafe fix applied: {reason}")
        if diff:
            for finding, reason in result.unsafe:
                where = f"{finding.path}:{finding.line}:{finding.col}: {finding.code}"
                lines.append(f"{where} {held_back_note(reason)}")
    return lines


def run(args: argparse.Namespace, config: Config) -> int:
    """Run `--fix` or `--diff`; returns the exit status."""
    style = cast("FixStyle", args.fix_style or config.fix_style)
    write = not args.diff
    results = fix_paths(args.paths, config, style, write=write, unsafe=args.unsafe_fixes)
    out = sys.stdout
    if args.diff:
        text = "".join(_diff(r) for r in results if r.changed)
        out.write(text)
        out.flush()
        for line in [*_notes(results, diff=True), summary(results, written=False)]:
            print(line, file=sys.stderr)
        return 1 if text else 0
    remaining = [f for r in results for f in r.remaining]
    held = {_key(f): reason for r in results for f, reason in r.unsafe}
    if args.format == "json":
        rows: list[dict[str, object]] = []
        for finding in remaining:
            row: dict[str, object] = dict(finding.to_dict())
            reason = held.get(_key(finding))
            if reason is not None:
                row["fix"] = {"applicability": "unsafe", "reason": reason}
            rows.append(row)
        print(json.dumps(rows, indent=2), file=out)
    else:
        for finding in remaining:
            reason = held.get(_key(finding))
            note = "" if reason is None else " " + held_back_note(reason)
            print(finding.format() + note, file=out)
    out.flush()
    for line in [*_notes(results, diff=False), summary(results, written=True)]:
        print(line, file=sys.stderr)
    failed = any(r.error is not None for r in results)
    return 1 if remaining or failed else 0
