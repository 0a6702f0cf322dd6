"""The public surface: one sorted `__all__`, every name importable, every error exported."""

from __future__ import annotations

import inspect

import training_aware
from training_aware import errors


def test_all_is_sorted_and_matches_the_lazy_exports() -> None:
    assert training_aware.__all__ == sorted(training_aware.__all__)
    assert set(training_aware.__all__) == set(training_aware._EXPORTS) | {"__version__"}


def test_every_public_name_resolves() -> None:
    for name in training_aware.__all__:
        assert getattr(training_aware, name) is not None, name


def test_every_error_class_is_exported() -> None:
    classes = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, errors.TrainingFlagError)
    }
    assert classes <= set(training_aware.__all__), classes - set(training_aware.__all__)


def test_unknown_attribute_is_a_clear_error() -> None:
    try:
        training_aware.TrainingAwareSequential  # noqa: B018
    except AttributeError as error:
        assert "has no attribute 'TrainingAwareSequential'" in str(error)
    else:
        raise AssertionError("expected AttributeError")
