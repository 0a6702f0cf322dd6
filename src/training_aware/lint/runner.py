"""`training-aware lint PATH...`: check files and directories, print findings, set the exit code.

Exit status: 0 no findings, 1 findings (including TA000: a file that could not be checked),
2 usage error (a bad option, a missing path, a bad `[tool.training-aware]` table).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from training_aware.lint import fix_command
from training_aware.lint.checker import Project, lint_module, lint_source
from training_aware.lint.config import (
    Config,
    ConfigError,
    check_backends,
    check_codes,
    check_keras,
    load_config,
)
from training_aware.lint.files import Reader, discover, read_source
from training_aware.lint.rules import BACKENDS, OPT_IN, RULES, Finding


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
        epilog=f"rules:\n{rules}\n\nEvery finding is judged in the Keras and on the backends the "
        "code runs on (read from its imports, its packages and its requirements, or declared): "
        "by default only findings that change what a layer does there are reported; --latent "
        "adds the dropped flags that are harmless there (a bug after a port).\n\n"
        "configuration: [tool.training-aware] in pyproject.toml "
        "(select, ignore, exclude, fix-style, keras, backends, latent)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--select", metavar="CODES", help="comma-separated code prefixes")
    parser.add_argument("--ignore", metavar="CODES", help="comma-separated code prefixes")
    parser.add_argument(
        "--exclude", metavar="GLOBS", default="", help="comma-separated globs to skip"
    )
    parser.add_argument(
        "--latent",
        action="store_true",
        default=None,
        help="also report latent findings: a flag really dropped, harmless in the code's own "
        "Keras and backends, a bug after a port (config: latent)",
    )
    parser.add_argument(
        "--keras",
        metavar="VERSION",
        help='the Keras the code targets, "2" or "3" (default: read from the code; config: keras)',
    )
    parser.add_argument(
        "--backends",
        metavar="NAMES",
        help=f"comma-separated backends the code runs on, of {', '.join(BACKENDS)} "
        "(default: read from the code; config: backends)",
    )
    fix_command.add_arguments(parser)
    return parser


def make_project(config: Config, read: Reader = read_source) -> Project:
    """The project of one run, with the configuration `config` declares."""
    return Project(read, keras=config.keras, backends=config.backends)


def lint_paths(
    paths: Sequence[str], config: Config, *, read: Reader = read_source
) -> list[Finding]:
    """Check every Python file under `paths` with `config`; never raises for file contents.

    Every file is registered in one project index before any is checked, so a class, a factory
    function or a model imported from another module (or from a sibling module of the same
    package, read from disk when imported) is typed as if it were defined where it is used.

    Args:
        paths: files and directories.
        config: the selection, exclusions and declared configuration.
        read: how a file's bytes are read (`files.read_source`).

    Returns:
        The reported findings, file by file, in order.
    """
    project = make_project(config, read)
    files = list(discover(paths, config.exclude, config.root))
    for path in files:
        project.add(path)
    findings: list[Finding] = []
    for path in files:
        module = project.index.parsed(path)  # parsed already: another module imported it
        if module is not None:
            found = lint_module(module, project, opt_in=OPT_IN, latent=config.latent)
        else:
            source = read(path)
            if source.data is None:
                found = [Finding(path, 1, 1, "TA000", source.error or "cannot read")]
            else:
                found = lint_source(
                    source.data, path, opt_in=OPT_IN, latent=config.latent, project=project
                )
            module = project.index.parsed(path)
        if module is not None:
            project.release(module)
        findings.extend(f for f in found if config.wants(f.code))
    return findings


def print_findings(findings: Sequence[Finding], fmt: str, out: TextIO) -> None:
    """Write the findings in the chosen format (`text`: one line each; `json`: a list)."""
    if fmt == "json":
        print(json.dumps([f.to_dict() for f in findings], indent=2), file=out)
    else:
        for finding in findings:
            print(finding.format(), file=out)


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
        backends = _split(args.backends)
        config = dataclasses.replace(
            config,
            select=config.select if select is None else check_codes(select, "--select"),
            ignore=config.ignore if ignore is None else check_codes(ignore, "--ignore"),
            exclude=config.exclude + tuple(_split(args.exclude) or ()),
            keras=config.keras if args.keras is None else check_keras(args.keras, "--keras"),
            backends=config.backends
            if backends is None
            else check_backends(backends, "--backends"),
            latent=config.latent if args.latent is None else args.latent,
        )
    except ConfigError as exc:
        print(f"training-aware lint: {exc}", file=sys.stderr)
        return 2
    if args.fix or args.diff:
        return fix_command.run(args, config)
    findings = lint_paths(args.paths, config)
    try:
        print_findings(findings, args.format, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # `training-aware lint ... | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1 if findings else 0
