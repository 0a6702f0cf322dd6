"""The flake8 plugin: `flake8 --select TA` runs the same rules as `training-aware lint`.

Registered in pyproject.toml under `[project.entry-points."flake8.extension"]` as `TA`. flake8
parses the file, handles `# noqa`, `--select`/`--ignore` and the output format itself; this class
turns the checker's findings into flake8's tuples. It imports neither Keras nor TensorFlow.

flake8 hands a plugin one file at a time, but the checker still sees the project: the file's
package siblings are read from disk when it imports them (one index per flake8 process, so each
is parsed once), and `[tool.training-aware]` in the nearest pyproject.toml declares the Keras
version, the backends and `latent`, as for `training-aware lint`. What it cannot see: a module
outside the file's package that is not next to it on disk (an installed package, another source
root), and a sibling's unsaved edits.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from functools import lru_cache

from training_aware import __version__
from training_aware.lint.checker import Project, check_tree
from training_aware.lint.config import Config, ConfigError, load_config
from training_aware.lint.rules import OPT_IN


@lru_cache(maxsize=64)
def _config(directory: str) -> Config:
    try:
        return load_config(directory)
    except ConfigError:  # `training-aware lint` reports a bad table; flake8 keeps going
        return Config()


@lru_cache(maxsize=64)
def _project(config: Config) -> Project:
    """One project per configuration, shared by the files of this flake8 process."""
    return Project(keras=config.keras, backends=config.backends)


class TrainingAwareChecker:
    """flake8 AST plugin running rules TA001-TA008.

    Args:
        tree: the module's AST, parsed by flake8.
        lines: the module's physical lines, as flake8 read them.
        filename: the file's path, which places it in its package.
    """

    name = "training-aware"
    version = __version__

    def __init__(self, tree: ast.Module, lines: list[str], filename: str = "<string>") -> None:
        self.tree = tree
        self.source = "".join(lines)
        self.filename = filename

    def run(self) -> Iterator[tuple[int, int, str, type[TrainingAwareChecker]]]:
        """Yield `(line, col, "TAxxx message", type)`, col 0-based as flake8 expects."""
        on_disk = self.filename not in ("<string>", "stdin", "-") and os.path.isfile(self.filename)
        config = _config(os.path.dirname(os.path.abspath(self.filename))) if on_disk else Config()
        path = self.filename if on_disk else "<string>"
        try:
            found = check_tree(
                self.tree, self.source, path=path, project=_project(config), latent=config.latent
            )
        except RecursionError:  # flake8 parsed it, but it is nested too deeply to walk
            yield 1, 0, "TA000 too deeply nested to check; not checked", type(self)
            return
        for line, col, code, message in found:
            if code in OPT_IN:  # opt-in rules are for `training-aware lint --select` only
                continue
            yield line, col - 1, f"{code} {message}", type(self)
