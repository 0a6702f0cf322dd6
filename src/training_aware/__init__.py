"""training-aware: the Keras `training` flag, impossible to lose silently.

The public names are exported lazily (PEP 562), so `import training_aware` does not import Keras
or TensorFlow: the static checker (`training_aware.lint`) runs without them, and importing the
package changes nothing for code that does not use it.

One thing happens eagerly, as soon as Keras is (or gets) imported: the modules that define the
library's serializable classes are imported, which registers those classes with Keras, so that
`import training_aware` then `keras.models.load_model(path)` reloads a saved `TrainingSequential`
or `PinnedMode` in a fresh process (Keras' loader auto-imports only Keras' own packages).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import time
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

# When this package was first imported: the start of a `training-aware` command, whose clock
# the demo reports (not the process's own start, which `exec` from a shell would push earlier).
_IMPORTED_AT = time.monotonic()

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS: dict[str, str] = {
    "AuditError": "training_aware.errors",
    "DroppedTrainingFlagError": "training_aware.errors",
    "DroppedTrainingFlagWarning": "training_aware.check",
    "InvalidChildError": "training_aware.errors",
    "KerasVersionWarning": "training_aware._hook",
    "MissingTrainingArgumentError": "training_aware.errors",
    "ModeMismatchError": "training_aware.errors",
    "ModeReport": "training_aware.report",
    "NoDropoutLayerError": "training_aware.errors",
    "PinnedMode": "training_aware.pinned",
    "TracedInBlockWarning": "training_aware._traced",
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
    "mc_predict": "training_aware.mc",
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
    "TracedInBlockWarning",
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
    from training_aware._hook import KerasVersionWarning
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
    from training_aware.mc import mc_predict
    from training_aware.model import (
        TrainingAwareLayer,
        TrainingAwareModel,
        set_training_check,
    )
    from training_aware.modes import (
        freeze_batchnorm,
        override_modes,
    )
    from training_aware.pinned import PinnedMode
    from training_aware.report import ModeReport
    from training_aware.sequential import TrainingSequential
    from training_aware.signature import (
        accepts_training,
        call_with_training,
    )


# Modules defining `@keras.saving.register_keras_serializable` classes: imported once Keras is.
_SERIALIZABLE_MODULES: tuple[str, ...] = (
    "training_aware.sequential",
    "training_aware.pinned",
    "training_aware.model",
)


def _register_serializables() -> None:
    for module in _SERIALIZABLE_MODULES:
        importlib.import_module(module)


class _RegisterAfterKeras(importlib.abc.MetaPathFinder):
    """Import hook: lets `keras` load as usual, then registers the library's classes.

    It only wraps the loader Python finds for the top-level `keras` package (a mere
    `importlib.util.find_spec("keras")` probe, as TensorFlow makes, loads nothing and registers
    nothing); every other import is untouched, and it removes itself once Keras is loaded.
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "keras":
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: importlib.machinery.ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _KerasLoader(spec.loader, self)
        return spec


class _KerasLoader(importlib.abc.Loader):
    """Keras' own loader, followed by the registration (see `_RegisterAfterKeras`)."""

    def __init__(self, loader: Any, finder: _RegisterAfterKeras) -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader  # Keras keeps its own loader from here on
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        _register_serializables()


if "keras" in sys.modules:
    _register_serializables()
elif not any(isinstance(f, _RegisterAfterKeras) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterKeras())


# What the runtime (everything but `training_aware.lint`) imports that a bare install lacks.
_RUNTIME_DEPENDENCIES = frozenset({"keras", "numpy"})


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'training_aware' has no attribute {name!r}")
    try:
        imported = importlib.import_module(module)
    except ModuleNotFoundError as error:
        # NumPy comes with Keras: a bare install lacks both, and whichever import runs first
        # fails. Either way the missing piece is Keras with a backend.
        if (error.name or "").partition(".")[0] not in _RUNTIME_DEPENDENCIES:
            raise
        from training_aware._install import INSTALL_WITH_KERAS

        raise ModuleNotFoundError(
            f"training_aware.{name} needs Keras, which is not installed: training-aware "
            f"without an extra is the static checker alone. To {INSTALL_WITH_KERAS}.",
            name="keras",
        ) from error
    value = getattr(imported, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
