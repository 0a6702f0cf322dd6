"""audit / ModeReport / assert_training_modes on real Keras models.

Every FACTS row the audit must catch is a pair: the audit flags the plain-Keras model (the bug is
still there), and reports the library's version of the same model as clean.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import keras
import numpy as np
import pytest

from tests import seed_models
from tests._mode_models import (
    FEATURES,
    FrozenBackbone,
    LeakyMC,
    NoForward,
    functional_mc,
    resizing_then_bn,
    transfer,
)
from tests.conftest import BACKEND
from training_aware import (
    ModeMismatchError,
    PinnedMode,
    TrainingAwareModel,
    audit,
    freeze_batchnorm,
    override_modes,
)
from training_aware.errors import AuditError
from training_aware.testing import assert_training_modes

X = np.random.default_rng(2).standard_normal((8, FEATURES)).astype("float32")


def flagged(report: Any) -> set[tuple[str, str]]:
    return {(p.path, p.entry_point) for p in report.problems if p.kind == "wrong-mode"}


def all_variables(model: keras.Model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v.value).copy() for v in model.variables]


@pytest.mark.backend
def test_f1_bad_model_is_flagged_and_the_training_aware_version_is_clean() -> None:
    report = audit(seed_models.bad_model(units=3), X)
    assert {(p.layer_class, p.entry_point) for p in report.problems} == {
        ("BatchNormalization", "fit"),
        ("Dropout", "fit"),
    }
    fix = report.problems[0].fix
    assert "has no `training` parameter" in fix and "FACTS F1" in fix
    assert audit(seed_models.bad_model(TrainingAwareModel, units=3), X).ok


@pytest.mark.backend
def test_seed_good_and_complex_models_are_clean() -> None:
    assert audit(seed_models.good_model(units=3), X).ok
    assert audit(seed_models.complex_model(units=3), X).ok


@pytest.mark.backend
def test_f2_non_forwarding_call_is_flagged_on_jax_only() -> None:
    report = audit(NoForward(), X)
    if BACKEND == "jax":
        assert [(p.layer_class, p.entry_point) for p in report.problems] == [
            ("BatchNormalization", "fit")
        ]
        assert "FACTS F2" in report.problems[0].fix
    else:
        assert report.ok  # TensorFlow's call context carries it: F2 is JAX-only

    class Fixed(TrainingAwareModel):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(3)
            self.batch_norm = keras.layers.BatchNormalization()

        def call(self, inputs: Any, training: Any = False) -> Any:
            return self.batch_norm(self.dense(inputs))

    assert audit(Fixed(), X).ok


@pytest.mark.backend
def test_f3_leaking_explicit_override_is_flagged_and_pinned_mode_is_clean() -> None:
    report = audit(LeakyMC(), X)
    bn = next(p.path for p in report.problems if p.layer_class == "BatchNormalization")
    assert (bn, "call(training=False)") in flagged(report)
    if BACKEND == "tensorflow":
        assert (bn, "predict") in flagged(report)

    class Pinned(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(3)
            self.drop = PinnedMode(keras.layers.Dropout(0.5), training=True)
            self.bn = keras.layers.BatchNormalization()

        def call(self, inputs: Any, training: Any = None) -> Any:
            return self.bn(self.drop(self.dense(inputs)), training=training)

    assert audit(Pinned(), X).ok


@pytest.mark.backend
def test_f4_hard_coded_functional_dropout_is_flagged_and_pinned_mode_is_clean() -> None:
    report = audit(functional_mc(), X)
    assert {("mc_dropout", "predict"), ("mc_dropout", "evaluate")} <= flagged(report)
    problem = next(p for p in report.problems if p.entry_point == "predict")
    assert (problem.expected, problem.received) == ("training", "inference")
    assert "PinnedMode(layer, training=True)" in problem.fix and "FACTS F4" in problem.fix

    inputs = keras.Input((FEATURES,))
    h = keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(3)(inputs))
    h = PinnedMode(keras.layers.Dropout(0.5), training=True, name="mc")(h)
    assert audit(keras.Model(inputs, keras.layers.Dense(2)(h)), X).ok


@pytest.mark.backend
def test_f9_training_true_default_upstream_is_flagged_with_changed_statistics() -> None:
    report = audit(resizing_then_bn(), X)
    assert ("bn", "call()") in flagged(report)
    bn = next(p for p in report.problems if p.path == "bn" and p.entry_point == "call()")
    assert "changed its moving statistics" in bn.message
    resize = next(p for p in report.problems if p.path.endswith("/resize"))
    assert "defaults to training=True" in resize.fix and "FACTS F9" in resize.fix
    if BACKEND == "tensorflow":  # predict calls the model without training: the default leaks
        disagree = [p for p in report.problems if p.kind == "inconsistent" and p.path == "bn"]
        assert disagree and disagree[0].received == "training vs inference"

    class Fixed(TrainingAwareModel):
        def __init__(self) -> None:
            super().__init__()
            self.pre = resizing_then_bn().pre
            self.bn = keras.layers.BatchNormalization(name="bn")

        def call(self, inputs: Any) -> Any:
            return self.bn(self.pre(inputs))

    assert audit(Fixed(), X).ok


@pytest.mark.backend
def test_f10_fit_overriding_training_false_is_flagged_and_freeze_batchnorm_is_clean() -> None:
    report = audit(transfer(trainable_base=True), X)
    assert ("base/bn", "fit") in flagged(report)
    fix = next(p.fix for p in report.problems if p.entry_point == "fit")
    assert "freeze_batchnorm(model.get_layer('base'))" in fix and "FACTS F10" in fix
    fixed = transfer(trainable_base=True)
    freeze_batchnorm(fixed)
    assert audit(fixed, X).ok


@pytest.mark.backend
def test_f13_sticky_false_starves_the_head_and_the_training_aware_version_is_clean() -> None:
    report = audit(FrozenBackbone(), X)
    assert ("head_bn", "fit") in flagged(report)

    class Fixed(TrainingAwareModel):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = keras.Sequential(
                [keras.layers.Dense(3), keras.layers.BatchNormalization()], name="backbone"
            )
            self.backbone.trainable = False
            self.head_bn = keras.layers.BatchNormalization(name="head_bn")

        def call(self, inputs: Any, training: Any = None) -> Any:
            return self.head_bn(self.backbone(inputs, training=False))

    assert audit(Fixed(), X).ok


@pytest.mark.backend
def test_everything_is_restored_bit_identically_on_a_compiled_trained_model() -> None:
    model = seed_models.good_model(units=3)
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse", metrics=["mae"])
    model.fit(X, np.ones((8, 3), "float32"), batch_size=4, verbose=0)
    variables = all_variables(model)
    optimizer = model.optimizer
    slots = [keras.ops.convert_to_numpy(v.value).copy() for v in optimizer.variables]
    metrics = [keras.ops.convert_to_numpy(v.value).copy() for v in model.metrics_variables]
    attributes = dict(vars(model))
    report = audit(model, X, np.ones((8, 3), "float32"))
    assert report.ok and report.notes == []
    assert all(map(np.array_equal, all_variables(model), variables))
    assert model.optimizer is optimizer
    assert all(
        np.array_equal(keras.ops.convert_to_numpy(v.value), s)
        for v, s in zip(optimizer.variables, slots, strict=True)
    )
    assert all(
        np.array_equal(keras.ops.convert_to_numpy(v.value), s)
        for v, s in zip(model.metrics_variables, metrics, strict=True)
    )
    assert vars(model).keys() == attributes.keys()
    assert all(vars(model)[k] is v for k, v in attributes.items())
    assert all("call" not in vars(layer) for layer in model._flatten_layers())


def test_an_uncompiled_model_stays_uncompiled_and_the_report_says_so() -> None:
    model = seed_models.good_model(units=3)
    report = audit(model, X)
    assert not model.compiled and getattr(model, "optimizer", None) is None
    assert any("not compiled" in note and "throwaway" in note for note in report.notes)
    assert any("y was not given" in note for note in report.notes)


def test_a_failed_audit_leaves_the_model_as_it_was() -> None:
    model = seed_models.good_model(units=3)
    model.compile(optimizer="sgd", loss="mse")
    model(X)
    variables = all_variables(model)
    with pytest.raises(AuditError, match=r"fit of GoodModel .* failed"):
        audit(model, X, np.zeros((8, 7), "float32"))  # wrong target shape
    assert all(map(np.array_equal, all_variables(model), variables))
    assert model.optimizer.iterations.numpy() == 0


@pytest.mark.backend
def test_a_failing_predict_leaves_every_variable_in_place() -> None:
    # On JAX, Keras' own predict loop takes the variables' values out and, when it fails, does
    # not put them back; the audit restores them.
    model = transfer()
    variables = all_variables(model)
    wrong = np.zeros((8, FEATURES + 1), "float32")
    with pytest.raises(AuditError, match=r"predict of Functional 'transfer' failed"):
        audit(model, wrong)
    assert all(map(np.array_equal, all_variables(model), variables))
    assert model.predict(X, verbose=0).shape == (8, 2)


def test_statistics_changed_by_a_layer_without_training_are_flagged() -> None:
    class Counter(keras.layers.Layer):
        def build(self, input_shape: Any) -> None:
            self.count = self.add_weight(shape=(), initializer="zeros", trainable=False)

        def call(self, inputs: Any) -> Any:
            self.count.assign(self.count + 1.0)
            return inputs

    model = keras.Sequential(
        [keras.Input((FEATURES,)), Counter(name="counter"), keras.layers.Dense(2)]
    )
    report = audit(model, X)
    kinds = {(p.path, p.entry_point, p.kind) for p in report.problems}
    assert ("counter", "predict", "statistics-changed") in kinds
    assert ("counter", "call(training=False)", "statistics-changed") in kinds
    assert float(keras.ops.convert_to_numpy(model.layers[0].count)) == 0.0


def test_audit_inside_override_modes_expects_the_forced_modes() -> None:
    model = functional_mc()
    assert not audit(model, X).ok
    with override_modes(model, {"mc_dropout": True}):
        assert audit(model, X).ok


def test_report_table_dict_and_errors() -> None:
    report = audit(seed_models.bad_model(units=3), X)
    text = report.to_text()
    assert "layer" in text and "fit" in text and "train/infer" in text and "infer!" in text
    assert str(report) == text  # not a terminal: plain text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["entry_points"][0] == "fit"
    assert data["problems"][0]["expected"] == "training"
    assert data["rows"][0]["modes"]["fit"]["received"] == ["inference"]
    with pytest.raises(ModeMismatchError, match=r"2 problem\(s\):\n  - batch_normalization\w*"):
        report.raise_for_problems()
    audit(seed_models.good_model(units=3), X).raise_for_problems()  # clean: no error


def test_report_uses_rich_colours_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("rich")
    from training_aware import report as report_module

    report = audit(seed_models.bad_model(units=3), X)
    monkeypatch.setattr(report_module, "_colour_terminal", lambda: True)
    coloured = str(report)
    assert "\x1b[" in coloured and "batch_normalization" in coloured
    monkeypatch.undo()
    monkeypatch.setenv("NO_COLOR", "1")
    assert not report_module._colour_terminal()
    assert "\x1b[" not in str(report)


def test_assert_training_modes_for_users_suites() -> None:
    with pytest.raises(ModeMismatchError, match=r"FACTS F1"):
        assert_training_modes(seed_models.bad_model(units=3), X)
    assert assert_training_modes(seed_models.good_model(units=3), X).ok


def test_audit_needs_a_model() -> None:
    with pytest.raises(TypeError, match=r"audit expected a keras\.Model"):
        audit(keras.layers.Dense(2), X)


def test_the_public_names_are_the_function_and_the_class_in_any_import_order() -> None:
    code = (
        "import training_aware as ta, training_aware.testing\n"
        "ta.ModeReport\n"
        "from training_aware.testing import assert_training_modes\n"
        "import training_aware.auditing\n"
        "assert callable(ta.audit) and ta.audit.__name__ == 'audit', ta.audit\n"
        "assert isinstance(ta.ModeReport, type)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
def test_audit_without_y_fits_a_real_classifier_with_a_sparse_loss() -> None:
    """keras.applications' MobileNetV3Small (random weights): targets are labels in range."""
    model = keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), weights=None, classes=5, include_preprocessing=False
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    before = [np.array(keras.ops.convert_to_numpy(v)) for v in model.variables]
    x = np.random.default_rng(0).standard_normal((2, 32, 32, 3)).astype("float32")
    report = audit(model, x)
    assert report.ok, report
    assert any("class labels" in note for note in report.notes)
    after = [np.array(keras.ops.convert_to_numpy(v)) for v in model.variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_audit_labels_each_output_by_its_own_loss() -> None:
    inputs = keras.Input((FEATURES,))
    h = keras.layers.Dropout(0.2)(keras.layers.Dense(4)(inputs))
    model = keras.Model(
        inputs,
        {
            "cls": keras.layers.Dense(3, activation="softmax", name="cls")(h),
            "reg": keras.layers.Dense(2, name="reg")(h),
        },
    )
    model.compile("sgd", {"cls": "sparse_categorical_crossentropy", "reg": "mse"})
    report = audit(model, X)
    assert report.ok, report
    assert report.notes[-1] == (
        "y was not given: fit and evaluate used class labels 0, 1, 2, ... for the outputs with a "
        "sparse loss and zeros for the rest as targets"
    )


@pytest.mark.backend_independent
def test_every_form_of_a_sparse_loss_is_recognised() -> None:
    from training_aware.auditing import _takes_labels

    for loss in (
        "sparse_categorical_crossentropy",
        keras.losses.SparseCategoricalCrossentropy(),
        keras.losses.sparse_categorical_crossentropy,
    ):
        assert _takes_labels(loss), loss
    for loss in ("mse", "categorical_crossentropy", keras.losses.BinaryCrossentropy()):
        assert not _takes_labels(loss), loss
