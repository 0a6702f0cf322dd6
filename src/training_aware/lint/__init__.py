"""The static checker: `training-aware lint`, the flake8 plugin (`TA`) and the pre-commit hook.

It reads source text only: it never imports or runs the code it checks, and it imports neither
Keras nor TensorFlow itself, so it runs in milliseconds in an editor or a pre-commit hook.
The rules are listed in `RULES` and documented in docs/lint.md.

Example:

```python
from training_aware.lint import lint_source

source = '''
import keras

class M(keras.Model):
    def __init__(self):
        super().__init__()
        self.drop = keras.layers.Dropout(0.5)

    def call(self, x):                   # no `training` parameter
        return self.drop(x)
'''
assert [finding.code for finding in lint_source(source)] == ["TA001"]
```
"""

from __future__ import annotations

from training_aware.lint.checker import check_tree, lint_source
from training_aware.lint.rules import RULES, Finding, Rule

__all__ = ["RULES", "Finding", "Rule", "check_tree", "lint_source"]
