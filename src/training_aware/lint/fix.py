"""`training-aware lint --fix` / `--diff`: repair the findings whose fix is unambiguous.

The fixer acts on the linter's own findings (after `# noqa` and the configured selection), so it
changes exactly what the report shows and nothing else. Each file is parsed with libcst, edited
as a tree (`training_aware.lint.fixers`), written back with every comment and quote as it was,
then checked: the new text must compile, and linting it must report none of the repaired
findings. A file that fails that check, or that cannot be read, decoded or parsed, is left
exactly as it was, with one line saying why. TA003, TA004, TA007 and TA008 are never rewritten:
their fix needs a decision only the author can make.

Only **safe** repairs are applied unless `unsafe=True` (`--unsafe-fixes`): a safe repair keeps
what every call the code makes computes, except for the lost flag it restores
(`training_aware.lint.safety` has the rule). An unsafe repair held back is listed in
`FileFix.unsafe` with the reason.

Example:

```python
from training_aware.lint.fix import fix_source

source = '''import keras
class M(keras.Model):
    def __init__(self):
        super().__init__()
        self.drop = keras.layers.Dropout(0.5)
    def call(self, x):  # forward pass
        return self.drop(x)
'''
result = fix_source(source)
assert result.fixed.splitlines()[-2:] == [
    "    def call(self, x, training=None):  # forward pass",
    "        return self.drop(x, training=training)",
]
```
"""

from __future__ import annotations

import ast
import os
import tempfile
import tokenize
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO

import libcst as cst

from training_aware.lint.checker import Project, check_tree, decode, lint_source
from training_aware.lint.fixers import FIXABLE, FixStyle, Planner
from training_aware.lint.noqa import suppressed
from training_aware.lint.rules import Finding

Wants = Callable[[str], bool]
_ROUNDS = 8  # repairs that make a layer mode-dependent reach its callers, one level a round


@dataclass(frozen=True)
class FileFix:
    """What fixing one file did.

    Attributes:
        path: the file.
        original: its text (None when it could not be read or decoded).
        fixed: the repaired text (equal to `original` when nothing was fixed).
        applied: the findings repaired.
        remaining: the findings the repaired text still reports.
        skipped: fixable findings left alone, each with the reason.
        unsafe: findings whose repair is unsafe and was held back, each with the reason.
        applied_unsafe: the unsafe repairs applied (with `unsafe=True`), each with the reason.
        error: why the file was left untouched, in one line (None when it was not).
    """

    path: str
    original: str | None
    fixed: str | None
    applied: tuple[Finding, ...] = ()
    remaining: tuple[Finding, ...] = ()
    skipped: tuple[tuple[Finding, str], ...] = field(default=())
    unsafe: tuple[tuple[Finding, str], ...] = field(default=())
    applied_unsafe: tuple[tuple[Finding, str], ...] = field(default=())
    error: str | None = None

    @property
    def changed(self) -> bool:
        """Does the repaired text differ from the original?"""
        return self.original is not None and self.fixed != self.original


def _all(code: str) -> bool:
    return True


def fix_source(
    source: str,
    path: str = "<string>",
    *,
    style: FixStyle = "forward",
    wants: Wants = _all,
    unsafe: bool = False,
    latent: bool = False,
    project: Project | None = None,
) -> FileFix:
    """Repair one module's text; never raises for any input.

    Args:
        source: the module's text.
        path: the name to use in findings and messages.
        style: `"forward"` (add `training` to `call` and pass it on) or `"base-class"` (switch a
            model's base to `TrainingAwareModel`) for TA001 on a model.
        wants: which codes are selected (`Config.wants`); others are neither fixed nor reported.
        unsafe: apply the unsafe repairs too (`--unsafe-fixes`); by default they are held back.
        latent: repair latent findings too (those are reported only with `--latent`).
        project: the run's project, whose other modules type this one's imports; None for a
            project of this module alone.

    Returns:
        A `FileFix`; `fixed` is `source` itself when nothing could be repaired.
    """

    def lint(text: str) -> list[Finding]:
        found = lint_source(text, path, latent=latent, project=project)
        return [f for f in found if wants(f.code)]

    findings = lint(source)
    unchanged = FileFix(path, source, source, remaining=tuple(findings))
    text, applied = source, []
    skipped: tuple[tuple[Finding, str], ...] = ()
    held: tuple[tuple[Finding, str], ...] = ()
    risky: list[tuple[Finding, str]] = []
    for _ in range(_ROUNDS):
        todo = [f for f in findings if f.code in FIXABLE]
        if not todo:
            skipped = held = ()
            break
        tree = _parse(text)
        planner = Planner(tree, text, style, unsafe=unsafe)
        try:
            plan = planner.run(
                todo, _suppressed_ta001(tree, text) if _has(todo, "TA001") else set()
            )
        except (cst.ParserSyntaxError, RecursionError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return _untouched(unchanged, f"libcst cannot parse it ({reason})")
        skipped, held = tuple(plan.skipped), tuple(plan.unsafe)
        if not plan.applied:
            break
        text = planner.apply()
        applied.extend(plan.applied)
        risky.extend(plan.applied_unsafe)
        # A repaired layer now uses `training`, so its own callers may newly need it (TA002):
        # repeat until nothing fixable is left.
        findings = lint(text)
        if any(f.code == "TA000" for f in findings):
            return _untouched(unchanged, "the repaired text would not parse; please report this")
    else:
        _restore(project, path, source)
        return _untouched(unchanged, f"the repairs did not settle after {_ROUNDS} rounds")
    if not applied:
        return FileFix(
            path, source, source, remaining=tuple(findings), skipped=skipped, unsafe=held
        )
    error = _compiles(text, path)
    if error is not None:
        _restore(project, path, source)
        return _untouched(unchanged, error)
    left = sum(1 for f in findings if f.code in FIXABLE)
    if left != len(skipped) + len(held):
        _restore(project, path, source)
        return _untouched(unchanged, "the repaired text would still report a fixed rule")
    return FileFix(path, source, text, tuple(applied), tuple(findings), skipped, held, tuple(risky))


def _restore(project: Project | None, path: str, source: str) -> None:
    """Put the original text back in the project's index (a repair that is not kept)."""
    if project is not None:
        project.replace(path, source, _parse(source))


def _parse(text: str) -> ast.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(text)


def _has(findings: list[Finding], code: str) -> bool:
    return any(f.code == code for f in findings)


def _untouched(result: FileFix, reason: str) -> FileFix:
    return FileFix(
        result.path,
        result.original,
        result.original,
        remaining=result.remaining,
        skipped=result.skipped,
        unsafe=result.unsafe,
        error=reason,
    )


def _suppressed_ta001(tree: ast.Module, source: str) -> set[int]:
    """Lines whose TA001 the report does not show because of a `# noqa`."""
    lines = source.splitlines()
    return {
        line
        for line, _, code, _ in check_tree(tree, source, latent=True)
        if code == "TA001" and 0 < line <= len(lines) and suppressed(lines[line - 1], code)
    }


def _compiles(text: str, path: str) -> str | None:
    """None when the repaired text compiles, else why (a fixer bug: the file is kept)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return f"the repaired text would not compile ({exc}); please report this"
    return None


def _encoding(data: bytes) -> tuple[str, bool]:
    """The encoding Python reads `data` with, and whether it starts with a UTF-8 BOM."""
    encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
    bom = encoding == "utf-8-sig"
    return ("utf-8" if bom else encoding), bom


def fix_file(
    path: str,
    data: bytes,
    *,
    style: FixStyle = "forward",
    wants: Wants = _all,
    unsafe: bool = False,
    write: bool = True,
    latent: bool = False,
    project: Project | None = None,
) -> FileFix:
    """Repair the file at `path` whose bytes are `data`, writing it back when `write`.

    Undecodable bytes and a file that cannot be written are reported in `error`, never raised.
    """
    try:
        source = decode(data)
        encoding, bom = _encoding(data)
    except (UnicodeDecodeError, SyntaxError):
        found = lint_source(data, path, latent=latent, project=project)
        return FileFix(path, None, None, remaining=tuple(f for f in found if wants(f.code)))
    result = fix_source(
        source, path, style=style, wants=wants, unsafe=unsafe, latent=latent, project=project
    )
    if not (write and result.changed and result.fixed is not None):
        return result
    try:
        encoded = (b"\xef\xbb\xbf" if bom else b"") + result.fixed.encode(encoding)
        _replace(path, encoded)
    except (OSError, UnicodeEncodeError, LookupError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return _untouched(result, f"cannot write: {reason}")
    return result


def _replace(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically, keeping the file's permission bits."""
    target = os.path.realpath(path)
    mode = os.stat(target).st_mode & 0o7777
    handle, temp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".ta-fix-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
