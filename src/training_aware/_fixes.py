"""One-line fixes for `audit` problems, keyed by the FACTS row the symptom points to."""

from __future__ import annotations

from typing import Any

from training_aware._walk import Entry
from training_aware.mc import DROPOUT_LIKE

__all__ = ["fix_for"]


def _is_dropout_like(layer: Any) -> bool:
    return any(cls.__name__ in DROPOUT_LIKE for cls in type(layer).__mro__)


def _is_bn(layer: Any) -> bool:
    return any(cls.__name__ == "BatchNormalization" for cls in type(layer).__mro__)


def fix_for(
    model: Any,
    entry: Entry,
    entry_point: str,
    expected: bool | None,
    received: list[bool],
    pinned_by: str | None,
) -> str:
    """The one-line fix for a layer that ran in `received` where `expected` was meant."""
    model_cls = type(model).__name__
    layer = entry.layer
    if pinned_by is not None and pinned_by.startswith("hard-coded"):
        if expected is False:
            first = entry.path.split("/")[0]
            if _is_bn(layer):
                return (
                    "fit and model(x, training=True) override a hard-coded training=False "
                    "(FACTS F10 in docs/facts.md); only trainable=False holds: "
                    f"freeze_batchnorm(model.get_layer({first!r})) before compile()"
                )
            return (
                "fit and model(x, training=True) override a hard-coded training=False "
                "(FACTS F10 in docs/facts.md): wrap the layer in PinnedMode(layer, training=False)"
            )
        if expected is True:
            return (
                "Functional models override a hard-coded training=True in predict/evaluate "
                "(FACTS F4 in docs/facts.md): wrap the layer in PinnedMode(layer, training=True), "
                "or use "
                "mc_predict for Monte Carlo dropout"
            )
    if expected is True and entry_point == "fit":
        if not getattr(model, "_call_has_training_arg", True):
            return (
                f"{model_cls}.call has no `training` parameter, so fit never asks for training "
                f"mode (FACTS F1 in docs/facts.md): subclass training_aware.TrainingAwareModel, "
                f"or add "
                f"`training=None` to {model_cls}.call and pass it to every sublayer"
            )
        return (
            "training does not reach this layer during fit (FACTS F2 on JAX; F13 after an "
            "explicit training=False on an earlier layer; docs/facts.md): pass "
            "training=training to it in its "
            "parent's call, or subclass training_aware.TrainingAwareModel"
        )
    if expected is False and True in received:
        signature = getattr(layer, "_call_signature", None)
        param = None if signature is None else signature.parameters.get("training")
        if param is not None and param.default is True:
            return (
                f"{type(layer).__name__}.call defaults to training=True and no mode reached it "
                "(FACTS F9 in docs/facts.md): pass training=training to it, or subclass "
                "TrainingAwareModel"
            )
        if _is_dropout_like(layer):
            return (
                "dropout is on at inference: for Monte Carlo dropout use mc_predict(model, x) or "
                "PinnedMode(layer, training=True); otherwise stop passing training=True to it"
            )
        return (
            "an explicit training=True on an earlier layer, or a layer whose call defaults to "
            "training=True (e.g. Resizing), leaks through Keras' shared call context (FACTS "
            "F3/F9 in docs/facts.md): pin that layer with PinnedMode instead, or subclass "
            "TrainingAwareModel"
        )
    if expected is True:
        return (
            f"pass training=training to this layer in its parent's call, or subclass "
            f"training_aware.TrainingAwareModel ({model_cls} does not forward it)"
        )
    return "pass training explicitly, or pin the mode with PinnedMode / override_modes"
