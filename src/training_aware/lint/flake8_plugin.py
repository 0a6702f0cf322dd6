"""The flake8 plugin: `flake8 --select TA` runs the same rules as `training-aware lint`.

Registered in pyproject.toml under `[project.entry-points."flake8.extension"]` as `TA`. flake8
parses the file, handles `# noqa`, `--select`/`--ignore` and the output format itself; this class
only turns the checker's findings into flake8's tuples. It imports neither Keras nor TensorFlow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from training_aware import __version__
from training_aware.lint.checker import check_tree
from training_aware.lint.rules import OPT_IN


class TrainingAwareChecker:
    """flake8 AST plugin running rules TA001-TA008.

    Args:
        tree: the module's AST, parsed by flake8.
        lines: the module's physical lines, as flake8 read them.
    """

    name = "training-aware"
    version = __version__

    def __init__(self, tree: ast.Module, lines: list[str]) -> None:
        self.tree = tree
        self.source = "".join(lines)

    def run(self) -> Iterator[tuple[int, int, str, type[TrainingAwareChecker]]]:
        """Yield `(line, col, "TAxxx message", type)`, col 0-based as flake8 expects."""
        try:
            found = check_tree(self.tree, self.source)
        except RecursionError:  # flake8 parsed it, but it is nested too deeply to walk
            yield 1, 0, "TA000 too deeply nested to check; not checked", type(self)
            return
        for line, col, code, message in found:
            if code in OPT_IN:  # opt-in rules are for `training-aware lint --select` only
                continue
            yield line, col - 1, f"{code} {message}", type(self)
