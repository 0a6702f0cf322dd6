"""Is a repair safe? The rule `--fix` applies, and the reasons `--unsafe-fixes` overrides.

A repair is **safe** when it provably keeps what every call the code makes computes, except for
the lost flag it restores. The rule follows Keras' own resolution of `training`
(`Layer.__call__`: the explicit argument, else the shared call context, else the signature's
default; the result is written back to the context and handed to `call`):

- `training=training` on a sublayer call inside `call` (TA002, and TA001's forwarding) is safe
  when the name `training` there holds what Keras handed to `call`, and the call context holds
  that same value. Then, on every path where the sublayer already got its caller's mode through
  the context (TensorFlow, PyTorch), it gets exactly that value explicitly; only the paths that
  lost it (JAX under `fit`, FACTS F2) change. That fails, and the repair is unsafe, when:
  the call sits in a nested function or lambda (its own `training`, or a later run outside
  `call`); `training` is assigned in `call`; another call in `call` passes another explicit
  `training` (Keras leaks it to the later calls, FACTS F3); or `call` defaults `training` to
  something other than None and the module also runs some `call` directly (`super().call(x)`,
  `Block.call(self, x)`), where the parameter keeps its default while the context holds the mode.
- Adding `training=None` to a `call` that has none (TA001) is safe under the same conditions
  for the calls it forwards to: the new parameter is None exactly when the context is unset.
  One more path changes: `predict` and `evaluate` now pass `training=False` to the model, where
  they passed nothing (a `call` without the parameter). Dropout, BatchNorm and every layer that
  reads None as inference do the same either way; a sublayer whose `call` defaults
  `training=True` (Keras' augmentation and preprocessing layers) would stop running in training
  mode there, so the repair is unsafe when it forwards to one.
- Changing a `training=True` default to None (TA005) is never safe: a bare `layer(x)` outside
  `fit`/`evaluate`/`predict` (augmentation in a `tf.data` pipeline, Keras' own preprocessing
  layers) stops running in training mode. It is the fix for a model, and a behaviour change.
- `training=True` on a model call under a gradient tape (TA006) is safe in a training loop; it
  is unsafe inside a layer's `call`, where the explicit value is written into the shared call
  context and reaches the calls after it (FACTS F3).
"""

from __future__ import annotations

import ast
from functools import cached_property

_F3 = "FACTS F3, docs/facts.md"

# Keras layers (3.15.1) whose `call` defaults `training=True`: augmentation and preprocessing.
TRUE_DEFAULT: frozenset[str] = frozenset(
    {
        "AugMix", "AutoContrast", "CenterCrop", "ContrastLimitedAdaptiveHistogramEqualization",
        "CutMix", "Equalization", "MaxNumBoundingBoxes", "MixUp", "Pipeline", "RandAugment",
        "RandomBrightness", "RandomColorDegeneration", "RandomColorJitter", "RandomContrast",
        "RandomCrop", "RandomElasticTransform", "RandomErasing", "RandomFlip",
        "RandomGaussianBlur", "RandomGrayscale", "RandomHue", "RandomInvert",
        "RandomPerspective", "RandomPosterization", "RandomRotation", "RandomSaturation",
        "RandomSharpness", "RandomShear", "RandomTranslation", "RandomZoom", "Resizing",
        "Solarization",
    }
)  # fmt: skip


class Safety:
    """The safety verdicts for the repairs of one module (`ast`, indexed once, lazily)."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree

    @cached_property
    def _calls(self) -> dict[int, ast.FunctionDef | ast.AsyncFunctionDef]:
        """Every method `call` of the module, by the line of its `def`."""
        return {
            node.lineno: node
            for node in ast.walk(self.tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "call"
        }

    @cached_property
    def _direct_call(self) -> int | None:
        """The line of the first `.call(...)` run directly without `training`, if any."""
        for node in ast.walk(self.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "call"
                and not any(k.arg in ("training", None) for k in node.keywords)
            ):
                return node.lineno
        return None

    @staticmethod
    def default_risk() -> str:
        """Why TA005's repair is unsafe (always)."""
        return (
            "a bare call outside fit/evaluate/predict (a layer used on its own, e.g. "
            "augmentation in a tf.data pipeline) would stop running in training mode"
        )

    @staticmethod
    def pinned_risk(in_layer_call: bool) -> str | None:
        """Why TA006's `training=True` is unsafe at this call, or None."""
        if not in_layer_call:
            return None
        return (
            "inside a layer's `call`, an explicit `training=True` is written into Keras' shared "
            f"call context and reaches the calls after it ({_F3})"
        )

    @staticmethod
    def predict_risk(layers: list[str]) -> str | None:
        """Why adding `training` to a `call` forwarding to these layer classes is unsafe."""
        eager = sorted({name for name in layers if name in TRUE_DEFAULT})
        if not eager:
            return None
        return (
            "`predict` and `evaluate` would pass `training=False` to the model, where they pass "
            f"nothing today, so {', '.join(eager)} (which defaults to `training=True`) would "
            "stop running in training mode there"
        )

    @staticmethod
    def nested_risk(name: str) -> str:
        """Why forwarding `training` from inside a nested function is unsafe."""
        where = "a lambda" if name == "lambda" else f"the nested function `{name}`"
        return (
            f"the call is inside {where}, where `training` may not be what Keras passed to "
            "`call` (its own parameter, or a run after `call` returns)"
        )

    def forward_risk(self, first: int, last: int, line: int, *, new: bool) -> str | None:
        """Why `training=training` at file line `line`, in the `call` spanning `first`-`last`,
        could change what the callee receives where it already got its caller's mode."""
        func = self._calls.get(first)
        if func is None or not first <= line <= last:
            return "the `call` around the finding could not be analysed"
        if not new and _rebinds(func, "training"):
            return (
                "`training` is assigned inside `call`, so it may no longer hold the mode Keras "
                "passed in"
            )
        leak = _explicit(func)
        if leak is not None:
            return (
                f"another call in `call` passes `training={leak}`, which Keras leaks to the "
                f"calls after it ({_F3}); passing `training` here changes what this one receives"
            )
        default = _training_default(func)
        if not new and default != "None" and self._direct_call is not None:
            return (
                f"`call` defaults `training={default}` and this module runs a `call` directly "
                f"(`.call(...)` on line {self._direct_call}); there `training` keeps its default "
                "while Keras' call context holds the mode"
            )
        return None


def _rebinds(func: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    """Is `name` assigned in `func`'s own body (its parameters aside)?"""
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return True
            stack.extend(node.decorator_list)
            continue
        if isinstance(node, ast.Lambda):
            continue
        stored = isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del)
        if stored and isinstance(node, ast.Name) and node.id == name:
            return True
        if isinstance(node, ast.alias) and (node.asname or node.name).split(".")[0] == name:
            return True
        if isinstance(node, ast.Global | ast.Nonlocal) and name in node.names:
            return True
        if isinstance(node, ast.ExceptHandler) and node.name == name:
            return True
        stack.extend(ast.iter_child_nodes(node))
    return False


def _explicit(func: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The first `training=<value>` other than `training`/None on a call in `func` (its source
    text), if any: in a loop, even a later line runs before the next pass of an earlier one."""
    for node in ast.walk(func):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            value = keyword.value
            if keyword.arg != "training":
                continue
            if isinstance(value, ast.Name) and value.id == "training":
                continue
            if isinstance(value, ast.Constant) and value.value is None:
                continue
            return ast.unparse(value)
    return None


def _training_default(func: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The source of the default of `func`'s `training` parameter ("None" when it has none)."""
    args = func.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    pairs = [
        *zip(positional, [*defaults, *args.defaults], strict=True),
        *zip(args.kwonlyargs, args.kw_defaults, strict=True),
    ]
    for arg, default in pairs:
        if arg.arg == "training":
            return "None" if default is None else ast.unparse(default)
    return "None"
