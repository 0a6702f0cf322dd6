"""`training-aware audit MODULE:FACTORY`: build a model from a factory, audit it, print the report.

Exit codes: 0 clean, 1 problems found, 2 usage error (a one-line message, no traceback; a factory
that fails or returns something else than a model adds the one traceback line that locates it).
The arguments (MODULE:FACTORY's syntax, that the module or file exists, --input-shape,
--batch-size) are checked before Keras is imported, so a usage error answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import json
import re
import sys
import traceback
from pathlib import Path
from typing import Any

from training_aware._quiet import ENV_SWITCH, import_keras

__all__ = ["main"]


class UsageError(Exception):
    """A bad command line: reported on one line, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="training-aware audit",
        description=(
            "Build a model with MODULE:FACTORY (a function or class taking no arguments), run "
            "fit/evaluate/predict and direct calls on random inputs, and report the mode every "
            "mode-dependent layer received. Exit 1 if any layer ran in the wrong mode."
        ),
    )
    parser.add_argument("target", metavar="MODULE:FACTORY", help="e.g. mypkg.models:build")
    parser.add_argument(
        "--input-shape",
        action="append",
        metavar="D1,D2,...",
        help="shape of one sample, without the batch dimension (repeat for each input); "
        "default: the model's declared input shapes",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="samples to audit (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the inputs")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--tf-logs",
        action="store_true",
        help=f"show TensorFlow's start-up log lines (hidden by default; or {ENV_SWITCH}=1)",
    )
    return parser


_IDENTIFIERS = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_SHAPE = re.compile(r"^\s*\d+(\s*[,x]\s*\d+)*\s*$")


def _is_path(module_name: str) -> bool:
    return module_name.endswith(".py") or "/" in module_name or "\\" in module_name


def _check_target(target: str) -> tuple[str, str]:
    """MODULE:FACTORY, checked without importing anything: (module or file, attribute path)."""
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"expected MODULE:FACTORY (e.g. mypkg.models:build), got {target!r}")
    if not _IDENTIFIERS.match(attr):
        raise UsageError(
            f"FACTORY must be a Python name like build or Models.small, got {attr!r} in {target!r}"
        )
    if _is_path(module_name):
        if not Path(module_name).is_file():
            raise UsageError(f"no such file: {module_name}")
    elif not _IDENTIFIERS.match(module_name):
        raise UsageError(
            f"MODULE must be a dotted module name (mypkg.models) or a .py file, "
            f"got {module_name!r} in {target!r}"
        )
    else:
        top = module_name.split(".")[0]
        sys.path.insert(0, ".")
        try:
            found = importlib.util.find_spec(top)  # the top package only: imports nothing
        finally:
            sys.path.remove(".")
        if found is None:
            raise UsageError(
                f"cannot import module {module_name!r}: no module named {top!r} "
                "(run from the directory that contains it, or pass a path: path/to/file.py:NAME)"
            )
    return module_name, attr


def _where(error: BaseException, skip: int = 1) -> str:
    """The traceback line where `error` was raised (and the user's own line, if different)."""
    frames = traceback.extract_tb(error.__traceback__)[skip:]
    if not frames:
        return ""
    lines = [frames[-1]]
    own = [f for f in frames if "site-packages" not in f.filename and "<frozen" not in f.filename]
    if own and own[-1] is not frames[-1]:
        lines.insert(0, own[-1])
    return "".join(f'\n  File "{f.filename}", line {f.lineno}, in {f.name}' for f in lines)


# A `sys.exit` in the user's code: whatever its status, there is no model, so the command fails.
_EXITED = (
    "nothing was audited (exit status 2). Fix: return the model, and keep the module's "
    'command-line code under `if __name__ == "__main__":`'
)


def _definition(obj: Any) -> str:
    """A traceback-style line for where `obj` is defined, or ''."""
    try:
        path = inspect.getsourcefile(obj)
        _, line = inspect.getsourcelines(obj)
    except (OSError, TypeError):
        return ""
    return f'\n  File "{path}", line {line}, in {getattr(obj, "__name__", obj)}'


def _load_factory(module_name: str, attr: str) -> Any:
    target = f"{module_name}:{attr}"
    try:
        if _is_path(module_name):
            path = Path(module_name)
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise UsageError(f"cannot import {module_name}")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            sys.path.insert(0, ".")
            try:
                module = importlib.import_module(module_name)
            finally:
                sys.path.remove(".")
    except UsageError:
        raise
    except SystemExit as exit_:
        raise UsageError(
            f"importing {module_name!r} called sys.exit({exit_.code!r}) instead of defining "
            f"{attr}: {_EXITED}{_where(exit_)}"
        ) from None
    except ImportError as error:
        raise UsageError(f"cannot import module {module_name!r}: {error}{_where(error)}") from None
    except Exception as error:
        raise UsageError(
            f"importing {module_name!r} failed: {type(error).__name__}: {error}{_where(error)}"
        ) from None
    factory = module
    for part in attr.split("."):
        if not hasattr(factory, part):
            raise UsageError(f"module {module_name!r} has no attribute {attr!r}")
        factory = getattr(factory, part)
    if not callable(factory):
        raise UsageError(f"{target} is not callable (expected a function or class)")
    return factory


def _parse_shape(text: str) -> tuple[int, ...]:
    if not _SHAPE.match(text):
        raise UsageError(
            f"--input-shape expects integers separated by commas, like 32,32,3, got {text!r}"
        )
    shape = tuple(int(part) for part in re.split(r"[,x]", text))
    if any(d <= 0 for d in shape):
        raise UsageError(f"--input-shape expects positive integers like 32,32,3, got {text!r}")
    return shape


def _inputs(model: Any, shapes: list[str] | None, batch: int, seed: int) -> Any:
    import numpy as np

    if shapes:
        parsed = [_parse_shape(s) for s in shapes]
    else:
        declared = getattr(model, "inputs", None) if getattr(model, "built", False) else None
        if not declared:
            raise UsageError(
                f"{type(model).__name__} declares no input shape: pass --input-shape, e.g. "
                "--input-shape 16"
            )
        parsed = []
        for tensor in declared:
            if any(d is None for d in tensor.shape[1:]):
                raise UsageError(
                    f"input {tensor.name!r} has unknown dimensions {tuple(tensor.shape)}: "
                    "pass --input-shape"
                )
            parsed.append(tuple(int(d) for d in tensor.shape[1:]))
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((batch, *shape)).astype("float32") for shape in parsed]
    return arrays[0] if len(arrays) == 1 else arrays


def main(argv: list[str]) -> int:
    """Run the command; returns the exit code (0 clean, 1 problems, 2 usage error)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 0 if exit_.code in (0, None) else 2
    try:
        if args.batch_size < 1:
            raise UsageError(f"--batch-size must be >= 1, got {args.batch_size}")
        for shape in args.input_shape or ():
            _parse_shape(shape)
        module_name, attr = _check_target(args.target)
        keras = import_keras(args.tf_logs)  # only now: every check above answers at once
        factory = _load_factory(module_name, attr)
        try:
            model = factory()
        except SystemExit as exit_:
            raise UsageError(
                f"{args.target}() called sys.exit({exit_.code!r}) instead of returning a model: "
                f"{_EXITED}{_where(exit_)}"
            ) from None
        except Exception as error:
            raise UsageError(
                f"{args.target}() failed: {type(error).__name__}: {error}{_where(error)}"
            ) from None
        if not isinstance(model, keras.Model):
            raise UsageError(
                f"{args.target}() returned {type(model).__name__}, expected a keras.Model"
                f"{_definition(factory)}"
            )
        keras.utils.set_random_seed(args.seed)
        x = _inputs(model, args.input_shape, args.batch_size, args.seed)
    except UsageError as error:
        print(f"training-aware audit: error: {error}", file=sys.stderr)
        return 2

    from training_aware.auditing import audit
    from training_aware.errors import AuditError

    try:
        report = audit(model, x, batch_size=args.batch_size)
    except (AuditError, TypeError, ValueError) as error:
        print(f"training-aware audit: error: {error}".splitlines()[0], file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report)
    return 0 if report.ok else 1
