"""Keras' own test files, run against `TrainingSequential` (see README.md in this folder).

The files are Keras v3.15.1's, changed only by the class swap. They run under Keras' own warning
filters (its pyproject.toml) and its `requires_trainable_backend` marker; the tests set aside on
purpose are listed below, each with its reason, and reported as skipped with that reason.
"""

from __future__ import annotations

import importlib.util
import inspect

import keras
import pytest

# Keras' own `[tool.pytest.ini_options] filterwarnings`, which these files were written against.
KERAS_WARNING_FILTERS = (
    "ignore::DeprecationWarning",
    "ignore::ImportWarning",
    "ignore::RuntimeWarning",
    "ignore::PendingDeprecationWarning",
    "ignore::FutureWarning",
    "ignore::UserWarning",
    "ignore:Custom mask layers require a config",
)

_CLONE = (
    "keras.models.clone_model only accepts clone_function=/input_tensors= for keras.Sequential "
    "and Functional instances (an isinstance check, before anything of the model is called); "
    "TrainingSequential is a keras.Model (a Sequential subclass would come back from "
    "clone_model as a plain keras.Sequential). Keras raises its ValueError; the supported route, "
    "TrainingSequential([clone_function(c) for c in model]), is tested in tests/test_sequential.py"
)

# test id (relative to this folder) -> why it is set aside
EXCLUDED: dict[str, str] = {
    "cloning_test.py::CloneModelTest::test_custom_clone_function_sequential": _CLONE,
    "cloning_test.py::CloneModelTest::test_input_tensors_cnn_sequential": _CLONE,
    "cloning_test.py::CloneModelTest::test_input_tensors_cnn_sequential_noinputlayer": _CLONE,
    "cloning_test.py::CloneModelTest::test_recursive": _CLONE
    + " (its Functional half passes in the original Keras suite)",
    "cloning_test.py::CloneModelTest::test_recursive_multi_level": _CLONE
    + " (its Functional half passes in the original Keras suite)",
    "sequential_test.py::SequentialTest::test_bad_layer": (
        "its second half expects build() to fail for a layer whose `call(inputs, training)` "
        "requires `training`: keras.Sequential cannot call it, TrainingSequential passes the "
        "mode to every child that declares `training` (its purpose), so the layer builds and "
        "runs. Its first half (`add({})` raises ValueError 'Only instances of') is tested in "
        "tests/test_sequential.py"
    ),
}

# The files are v3.15.1's: on an older Keras (the project's floor, .ci/floor), these tests of
# Keras' own deserialization checks, added since, fail on plain keras.Sequential too (checked on
# keras 3.12.0 with the unswapped file: the same 7 fail, the other 24 pass).
_NEWER_KERAS_CHECKS = {
    f"serialization_lib_test.py::SerializationLibTest::test_{name}"
    for name in (
        "deserialize_invalid_function_config",
        "deserialize_invalid_type_config",
        "deserialize_invalid_typespec_config",
        "malformed_layer_for_sequential_model",
        "missing_name_for_sequential_model",
        "registered_name_for_keras_builtin_function_raises",
        "registered_name_for_keras_builtin_raises",
    )
}
_THIS_KERAS = tuple(int(part) for part in keras.__version__.split(".")[:3] if part.isdigit())

# Files whose cases train, save or load real models (seconds each): the slow marker. Only their
# cases that build a swapped class run; the others test Keras' own classes (`Model(inputs,
# outputs)`, trainer_test.py's `ExampleModel(Trainer, layers.Dense)`) and are deselected.
_SLOW_FILES = {
    "model_test.py",
    "trainer_test.py",
    "legacy_h5_format_test.py",
    "saving_api_test.py",
    "saved_model_test.py",
}

# Cases that need a package the test environment lacks: plain Keras fails them the same way.
_NEEDS_PACKAGE = {"grain": "grain"}

# saving_lib_test.py is brought in for its Sequential cases only: the rest tests Keras' saving of
# other classes (and takes minutes: EfficientNet sharding), so it is deselected.
_SEQUENTIAL_ONLY = "saving_lib_test.py"


def _is_sequential_case(item: pytest.Item) -> bool:
    if "sequential" in item.name.lower():
        return True
    try:
        source = inspect.getsource(item.obj)  # type: ignore[attr-defined]
    except (AttributeError, OSError, TypeError):
        return False
    return "TrainingSequential" in source or "_sequential" in source


def _swapped_names(module: object) -> set[str]:
    """The module-level classes of a vendored file that derive from a training-aware class."""
    import training_aware as ta

    bases = (ta.TrainingAwareModel, ta.TrainingAwareLayer, ta.TrainingSequential)
    return {
        name
        for name, value in vars(module).items()
        if inspect.isclass(value) and issubclass(value, bases)
    } | {"TrainingSequential", "TrainingAwareModel", "TrainingAwareLayer"}


def _uses_a_swapped_class(item: pytest.Item) -> bool:
    """Does this case build one of the training-aware classes (directly or through a helper)?"""
    module = getattr(item, "module", None)
    try:
        source = inspect.getsource(item.obj)  # type: ignore[attr-defined]
    except (AttributeError, OSError, TypeError):
        return True
    names = _swapped_names(module)
    if any(name in source for name in names):
        return True
    # a helper that builds one: module-level (`_get_model()`) or a method (`self.get_model()`)
    helpers = dict(vars(module))
    cls = getattr(item, "cls", None)
    if cls is not None:
        helpers.update({n: v for n, v in vars(cls).items() if n not in vars(module)})
    for name, value in helpers.items():
        if inspect.isfunction(value) and f"{name}(" in source:
            try:
                helper = inspect.getsource(value)
            except (OSError, TypeError):
                continue
            if any(swapped in helper for swapped in names):
                return True
    return False


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires_trainable_backend: Keras' marker: skipped on the numpy backend"
    )
    config.addinivalue_line("markers", "slow: takes more than ~5 s")


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> object:
    """trainer_test.py's helper `TestPyDataset` is a PyDataset, not a test class: not collected.

    Keras' own run ignores the warning pytest gives when it tries (an `__init__` constructor);
    here warnings are errors, and a filter added this late does not reach collection.
    """
    if name == "TestPyDataset" and inspect.isclass(obj):
        return []
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    dropped = [
        item
        for item in items
        if "keras_conformance" in str(item.path)
        and (
            (item.path.name == _SEQUENTIAL_ONLY and not _is_sequential_case(item))
            or (item.path.name in _SLOW_FILES and not _uses_a_swapped_class(item))
        )
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
    for item in items:
        if "keras_conformance" not in str(item.path):
            continue
        if item.path.name == _SEQUENTIAL_ONLY or item.path.name in _SLOW_FILES:
            item.add_marker(pytest.mark.slow)  # about 1 s a case: real fit/save/load
        for word, package in _NEEDS_PACKAGE.items():
            if word in item.name and importlib.util.find_spec(package) is None:
                item.add_marker(
                    pytest.mark.skip(
                        reason=f"needs {package}, not installed here (Keras' own test needs it too)"
                    )
                )
        for spec in KERAS_WARNING_FILTERS:
            item.add_marker(pytest.mark.filterwarnings(spec))
        key = f"{item.path.name}::{item.nodeid.split('::', 1)[1]}"
        if key in _NEWER_KERAS_CHECKS and _THIS_KERAS < (3, 15, 1):
            item.add_marker(
                pytest.mark.skip(
                    reason=f"a Keras v3.15.1 deserialization check that keras "
                    f"{keras.__version__} lacks (plain keras.Sequential fails it there too)"
                )
            )
        if key in EXCLUDED:
            item.add_marker(pytest.mark.skip(reason=f"excluded on purpose: {EXCLUDED[key]}"))
        if item.get_closest_marker("requires_trainable_backend") and (
            keras.backend.backend() == "numpy"
        ):
            item.add_marker(pytest.mark.skip(reason="requires a trainable backend (Keras' rule)"))
