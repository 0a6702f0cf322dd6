"""Helpers for users' own test suites.

```python
import keras
import numpy as np
from training_aware.testing import assert_training_modes

def build_model():
    inputs = keras.Input((4,))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(8)(inputs))
    return keras.Model(inputs, keras.layers.Dropout(0.5)(h))

def test_my_model_runs_in_the_right_modes():
    assert_training_modes(build_model(), np.ones((8, 4), "float32"))

test_my_model_runs_in_the_right_modes()
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from training_aware.report import ModeReport

if TYPE_CHECKING:
    import keras

    from training_aware._types import Batch

__all__ = ["assert_training_modes"]


def assert_training_modes(
    model: keras.Model, x: Batch, y: Batch | None = None, *, batch_size: int | None = None
) -> ModeReport:
    """Audit `model` and raise `ModeMismatchError` if any layer ran in the wrong mode.

    Runs `training_aware.audit(model, x, y)` (real `fit` for one batch, `evaluate`, `predict` and
    direct calls; the model is left exactly as it was) and calls `raise_for_problems()` on the
    report. The error message lists every problem with its layer path, entry point, expected and
    received mode, and a one-line fix.

    Args:
        model: the `keras.Model` to check.
        x: a small batch of inputs.
        y: matching targets (`None`: targets that fit the compiled loss, as in `audit`).
        batch_size: how many samples of `x` to use (default: all, at most 32).

    Returns:
        The (clean) `ModeReport`, for further assertions.

    Raises:
        ModeMismatchError: the audit found a problem.

    Example:

    ```python
    import keras
    import numpy as np
    from training_aware.testing import assert_training_modes

    inputs = keras.Input((4,))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(8)(inputs))
    model = keras.Model(inputs, keras.layers.Dropout(0.5)(h))
    report = assert_training_modes(model, np.ones((8, 4), "float32"))
    assert report.ok
    ```
    """
    from training_aware.auditing import audit

    report = audit(model, x, y, batch_size=batch_size)
    report.raise_for_problems()
    return report
