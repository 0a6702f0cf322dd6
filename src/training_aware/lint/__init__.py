"""The static checker: `training-aware lint`, the flake8 plugin (`TA`) and the pre-commit hook.

It reads source text only: it never imports or runs the code it checks, and it imports neither
Keras nor TensorFlow itself, so it runs in milliseconds in an editor or a pre-commit hook.
The rules are listed in `RULES` and documented in docs/lint.md.

Example:
    >>> from training_aware.lint import lint_source
    >>> [f.code for f in lint_source("import keras\\n"
    ...     "class M(keras.Model):\\n"
    ...     "    def __init__(self):\\n"
    ...     "        super().__init__()\\n"
    ...     "        self.drop = keras.layers.Dropout(0.5)\\n"
    ...     "    def call(self, x):\\n"
    ...     "        return self.drop(x)\\n")]
    ['TA001']
"""

from __future__ import annotations

from training_aware.lint.checker import check_tree, lint_source
from training_aware.lint.rules import RULES, Finding, Rule

__all__ = ["RULES", "Finding", "Rule", "check_tree", "lint_source"]
