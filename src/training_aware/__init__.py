"""training-aware: the Keras `training` flag, impossible to lose silently.

The public names are exported lazily (PEP 562), so `import training_aware` does not import Keras
or TensorFlow: the static checker (`training_aware.lint`) runs without them, and importing the
package changes nothing for code that does not use it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

# name -> module that defines it
_EXPORTS: dict[str, str] = {
    "AuditError": "training_aware.errors",
    "DroppedTrainingFlagError": "training_aware.errors",
    "DroppedTrainingFlagWarning": "training_aware.check",
    "InvalidChildError": "training_aware.errors",
    "KerasVersionWarning": "training_aware.scope",
    "MissingTrainingArgumentError": "training_aware.errors",
    "ModeMismatchError": "training_aware.errors",
    "ModeReport": "training_aware.report",
    "NoDropoutLayerError": "training_aware.errors",
    "PinnedMode": "training_aware.pinned",
    "TrainingAwareLayer": "training_aware.model",
    "TrainingAwareModel": "training_aware.model",
    "TrainingConfigError": "training_aware.errors",
    "TrainingFlagError": "training_aware.errors",
    "TrainingSequential": "training_aware.sequential",
    "TrainingTypeError": "training_aware.errors",
    "TrainingValueError": "training_aware.errors",
    "UnmatchedRuleError": "training_aware.errors",
    "UnserializableChildError": "training_aware.errors",
    "accepts_training": "training_aware.signature",
    "audit": "training_aware.auditing",
    "call_with_training": "training_aware.signature",
    "forwards_training": "training_aware.check",
    "freeze_batchnorm": "training_aware.modes",
    "mc_predict": "training_aware.modes",
    "override_modes": "training_aware.modes",
    "set_training_check": "training_aware.model",
}

__all__ = [
    "AuditError",
    "DroppedTrainingFlagError",
    "DroppedTrainingFlagWarning",
    "InvalidChildError",
    "KerasVersionWarning",
    "MissingTrainingArgumentError",
    "ModeMismatchError",
    "ModeReport",
    "NoDropoutLayerError",
    "PinnedMode",
    "TrainingAwareLayer",
    "TrainingAwareModel",
    "TrainingConfigError",
    "TrainingFlagError",
    "TrainingSequential",
    "TrainingTypeError",
    "TrainingValueError",
    "UnmatchedRuleError",
    "UnserializableChildError",
    "__version__",
    "accepts_training",
    "audit",
    "call_with_training",
    "forwards_training",
    "freeze_batchnorm",
    "mc_predict",
    "override_modes",
    "set_training_check",
]

if TYPE_CHECKING:
    from training_aware.auditing import audit
    from training_aware.check import (
        DroppedTrainingFlagWarning,
        forwards_training,
    )
    from training_aware.errors import (
        AuditError,
        DroppedTrainingFlagError,
        InvalidChildError,
        MissingTrainingArgumentError,
        ModeMismatchError,
        NoDropoutLayerError,
        TrainingConfigError,
        TrainingFlagError,
        TrainingTypeError,
        TrainingValueError,
        UnmatchedRuleError,
        UnserializableChildError,
    )
    from training_aware.model import (
        TrainingAwareLayer,
        TrainingAwareModel,
        set_training_check,
    )
    from training_aware.modes import (
        freeze_batchnorm,
        mc_predict,
        override_modes,
    )
    from training_aware.pinned import PinnedMode
    from training_aware.report import ModeReport
    from training_aware.scope import KerasVersionWarning
    from training_aware.sequential import TrainingSequential
    from training_aware.signature import (
        accepts_training,
        call_with_training,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'training_aware' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
