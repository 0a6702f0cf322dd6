"""`training-aware lint PATH...`: check files and directories, print findings, set the exit code.

Exit status: 0 no findings, 1 findings (including TA000: a file that could not be checked),
2 usage error (a bad option, a missing path, a bad `[tool.training-aware]` table).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence

from training_aware.lint import fix_command, formats, notebooks
from training_aware.lint.checker import lint_source
from training_aware.lint.config import Config, ConfigError, check_codes, load_config
from training_aware.lint.files import discover, read_source
from training_aware.lint.rules import OPT_IN, RULES, Finding


def _parser() -> argparse.ArgumentParser:
    rules = "\n".join(
        f"  {code}  {rule.summary}"
        + ("" if rule.default else f" [off by default: --select {code}]")
        for code, rule in RULES.items()
    )
    parser = argparse.ArgumentParser(
        prog="training-aware lint",
        description="Statically check Keras code for a lost `training` flag. Imports nothing "
        "it checks (no Keras, no TensorFlow).",
        epilog=f"rules:\n{rules}\n\nconfiguration: [tool.training-aware] in pyproject.toml "
        "(select, ignore, exclude)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    parser.add_argument(
        "--format",
        choices=formats.FORMATS,
        default="text",
        help="text (default), json, sarif (SARIF 2.1.0, for code scanning) or github "
        "(GitHub Actions annotations)",
    )
    parser.add_argument(
        "--statistics",
        action="store_true",
        help="print how many findings each rule produced instead of the findings",
    )
    parser.add_argument("--select", metavar="CODES", help="comma-separated code prefixes")
    parser.add_argument("--ignore", metavar="CODES", help="comma-separated code prefixes")
    parser.add_argument(
        "--exclude", metavar="GLOBS", default="", help="comma-separated globs to skip"
    )
    fix_command.add_arguments(parser)
    return parser


def lint_paths(paths: Sequence[str], config: Config) -> list[Finding]:
    """Check every Python file and notebook under `paths` with `config`; never raises for file
    contents.

    Args:
        paths: files and directories.
        config: the selection and exclusions.

    Returns:
        The reported findings, file by file, in order.
    """
    findings: list[Finding] = []
    for path in discover(paths, config.exclude, config.root):
        source = read_source(path)
        if source.data is None:
            found = [Finding(path, 1, 1, "TA000", source.error or "cannot read")]
        elif notebooks.is_notebook(path):
            found = notebooks.lint_notebook(source.data, path, opt_in=OPT_IN)
        else:
            found = lint_source(source.data, path, opt_in=OPT_IN)
        findings.extend(f for f in found if config.wants(f.code))
    return findings


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v for v in value.split(",") if v.strip()]


def main(argv: list[str]) -> int:
    """Run `training-aware lint`; returns the exit status (0 clean, 1 findings, 2 usage)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        fix_command.check_arguments(parser, args)
    except SystemExit as exc:  # argparse has printed the usage error or the help
        return exc.code if isinstance(exc.code, int) else 2
    missing = [p for p in args.paths if not os.path.lexists(p)]
    if missing:
        for path in missing:
            print(f"training-aware lint: {path}: no such file or directory", file=sys.stderr)
        return 2
    try:
        start = os.path.commonpath([os.path.abspath(p) for p in args.paths])
        config = load_config(start)
        select, ignore = _split(args.select), _split(args.ignore)
        config = dataclasses.replace(
            config,
            select=config.select if select is None else check_codes(select, "--select"),
            ignore=config.ignore if ignore is None else check_codes(ignore, "--ignore"),
            exclude=config.exclude + tuple(_split(args.exclude) or ()),
        )
    except ConfigError as exc:
        print(f"training-aware lint: {exc}", file=sys.stderr)
        return 2
    conflict = formats.check_options(args.format, args.statistics)
    if conflict is None and args.statistics and (args.fix or args.diff):
        conflict = "--statistics counts the report's findings; run it without --fix or --diff"
    if conflict is not None:
        print(f"training-aware lint: {conflict}", file=sys.stderr)
        return 2
    if args.fix or args.diff:
        return fix_command.run(args, config)
    findings = lint_paths(args.paths, config)
    try:
        formats.write(findings, args.format, sys.stdout, statistics=args.statistics)
        sys.stdout.flush()
    except BrokenPipeError:  # `training-aware lint ... | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1 if findings else 0
