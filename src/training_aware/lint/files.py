"""Which files to check, and reading them without ever raising.

Directories are walked (symbolic links to directories are not followed, so a link loop cannot
trap the walk) skipping version-control and cache directories, virtual environments (any
directory holding a `pyvenv.cfg`), `build` and `node_modules`. A file that cannot be read (a
broken link, a link loop, a socket, a FIFO, a device, an I/O error) becomes one clear message;
FIFOs are never opened, so a FIFO without a writer cannot hang the run.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
import tokenize
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import PurePosixPath

SKIPPED_DIRS: frozenset[str] = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        ".eggs",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "build",
        "node_modules",
    }
)


@dataclass(frozen=True, slots=True)
class Source:
    """A file's bytes, or why they could not be read (exactly one is set)."""

    path: str
    data: bytes | None
    error: str | None


# How the linter reads a file: `read_source` by default; another reader can serve notebooks or
# an editor's unsaved buffers. Every file the project index parses comes through it.
Reader = Callable[[str], Source]


def excluded(path: str, patterns: Iterable[str], root: str | None) -> bool:
    """Does a glob in `patterns` match the path's name, or its path relative to `root`?"""
    name = os.path.basename(path.rstrip(os.sep)) or path
    relative = path
    if root is not None:
        try:
            relative = os.path.relpath(os.path.abspath(path), root)
        except ValueError:  # pragma: no cover - another drive on Windows
            relative = path
    relative = PurePosixPath(*relative.split(os.sep)).as_posix()
    return any(
        fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(relative, p.rstrip("/"))
        for p in patterns
    )


def discover(paths: Iterable[str], exclude: Iterable[str], root: str | None) -> Iterator[str]:
    """The Python files under `paths`, in a stable order.

    Args:
        paths: files (checked whatever their extension, unless a pattern excludes them) and
            directories (walked for `*.py`).
        exclude: extra glob patterns, matched against names and root-relative paths.
        root: the directory the patterns are relative to (the configuration's).

    Yields:
        File paths, spelled from the given paths (relative stays relative).
    """
    patterns = tuple(exclude)
    seen: set[str] = set()
    for given in paths:
        found = _walk(given, patterns, root) if os.path.isdir(given) else iter((given,))
        for path in found:
            key = os.path.normpath(os.path.abspath(path))
            if key in seen or (path == given and excluded(path, patterns, root)):
                continue  # named twice, or excluded (pre-commit names files one by one)
            seen.add(key)
            yield path


def _walk(top: str, patterns: tuple[str, ...], root: str | None) -> Iterator[str]:
    try:
        entries = sorted(os.scandir(top), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = os.path.join(top, entry.name)
        if excluded(path, patterns, root):
            continue
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            if entry.name in SKIPPED_DIRS or os.path.exists(os.path.join(path, "pyvenv.cfg")):
                continue
            yield from _walk(path, patterns, root)
        elif entry.name.endswith(".py"):
            yield path


def read_source(path: str) -> Source:
    """Read a file's bytes; any failure becomes a one-line reason, never an exception."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return Source(path, None, _stat_error(path, exc))
    if stat.S_ISDIR(info.st_mode):
        return Source(path, None, "is a directory but was named as a file; not checked")
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(info.st_mode) else "a socket or device"
        return Source(path, None, f"not a regular file ({kind}); not checked")
    try:
        with open(path, "rb") as handle:
            return Source(path, handle.read(), None)
    except OSError as exc:
        return Source(path, None, f"cannot read: {exc.strerror or exc}; not checked")


def _stat_error(path: str, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop (the link points back at itself); not checked"
    if os.path.islink(path):
        try:
            target = os.readlink(path)
        except OSError:  # pragma: no cover - raced away
            target = "?"
        return f"broken symbolic link (points to {target!r}, which does not exist); not checked"
    return f"cannot read: {exc.strerror or exc}; not checked"


def decode(data: bytes) -> str:
    """Decode Python source as the interpreter would (PEP 263 cookie, BOM, else UTF-8).

    Raises:
        UnicodeDecodeError: bytes that are not valid in the declared encoding.
        SyntaxError: an unknown encoding in the cookie.
    """
    try:
        encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
    except SyntaxError:
        data.decode("utf-8")  # bad bytes in the first lines: say which byte, where
        raise  # valid UTF-8, so the cookie itself is the problem
    return data.decode("utf-8-sig" if encoding == "utf-8-sig" else encoding)
