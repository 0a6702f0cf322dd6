"""The rule catalogue (codes, summaries, the FACTS rows they guard) and the `Finding` record.

Each rule's message names the class, the attribute and the fix; the message text is built here so
the CLI, the JSON output, the flake8 plugin and docs/lint.md all say the same thing.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Protocol

BACKENDS: tuple[str, ...] = ("tensorflow", "jax", "torch")
BEHAVIOUR = "behaviour"  # the finding changes what a layer does where the code runs
LATENT = "latent"  # a flag really dropped, harmless in the code's own Keras and backends


@dataclass(frozen=True, slots=True)
class Breaks:
    """Where a finding changes what a layer does: the backends on which it does under Keras 3,
    and whether it does under Keras 2 (TensorFlow only). Elsewhere it is latent."""

    keras3: frozenset[str]
    keras2: bool

    def changes(self, keras: str, backends: frozenset[str]) -> frozenset[str]:
        """The backends among `backends` where the finding changes behaviour under `keras`."""
        if keras == "2":
            return backends & {"tensorflow"} if self.keras2 else frozenset()
        return self.keras3 & backends


ALL = frozenset(BACKENDS)
ALWAYS = Breaks(ALL, True)  # every backend, both Keras generations (raw ops, `.call`, TA006)
KERAS3 = Breaks(ALL, False)  # every backend of Keras 3 (F1: `fit` calls `call` bare)
JAX_FIT = Breaks(frozenset({"jax"}), False)  # F2: `fit` on JAX leaves the call context empty
PINNED = Breaks(ALL, False)  # F3, F13: an explicit value sticks in the shared call context
FUNCTIONAL_PIN = Breaks(frozenset({"tensorflow", "jax"}), False)  # F4: `predict` drops it
TF_JAX = Breaks(frozenset({"tensorflow", "jax"}), False)  # F9: a `training=True` default
NEVER = Breaks(frozenset(), False)  # latent wherever it runs (the call context delivers)


class Report(Protocol):
    """How a rule reports: the node, the code, the message, and where it changes behaviour."""

    def __call__(self, node: ast.AST, code: str, message: str, breaks: Breaks = ALWAYS) -> None:
        """Record one finding."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One check: its code, a one-line summary, and the FACTS.md rows it guards."""

    code: str
    summary: str
    facts: tuple[str, ...]
    default: bool = True  # False: opt-in, reported only when `--select` names the full code


RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule("TA000", "the file could not be checked (syntax error, unreadable, undecodable)", ()),
        Rule(
            "TA001",
            "`call` has no `training` parameter but needs it (a sublayer or op that uses it)",
            ("F1", "F8"),
        ),
        Rule(
            "TA002",
            "`call` has `training` but calls a sublayer that uses it without passing it",
            ("F2", "F3", "F13"),
        ),
        Rule("TA003", "direct `.call(` on a layer, or `super().call(` without `training`", ("F7",)),
        Rule("TA004", "hard-coded `training=True`/`False` on a sublayer call", ("F3", "F4", "F13")),
        Rule("TA005", "`call` defaults `training=True`", ("F9",)),
        Rule("TA006", "model called under a gradient computation without `training=True`", ()),
        Rule("TA007", "removed `learning_phase` API", ("F11",)),
        Rule("TA008", "Layer subclass overrides `__call__` and drops `training`", ()),
        Rule(
            "TA009",
            "learning-phase API in Keras 2 / `tf.keras` code (opt-in Keras 3 migration hint)",
            ("F11",),
            default=False,
        ),
    )
}

CODES: tuple[str, ...] = tuple(RULES)
OPT_IN: frozenset[str] = frozenset(code for code, rule in RULES.items() if not rule.default)


@dataclass(frozen=True, slots=True)
class Finding:
    """One reported problem. `line` and `col` are 1-based, as editors and flake8 show them."""

    path: str
    line: int
    col: int
    code: str
    message: str
    category: str = BEHAVIOUR
    keras: str = "3"
    backends: tuple[str, ...] = BACKENDS

    def format(self) -> str:
        """`path:line:col: TAxxx message`."""
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"

    def to_dict(self) -> dict[str, str | int | list[str]]:
        """A JSON-ready mapping, with the category (`behaviour` or `latent`) and the
        configuration the finding was judged in (the Keras version and the backends)."""
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "message": self.message,
            "category": self.category,
            "keras": self.keras,
            "backends": list(self.backends),
        }


def consequence(breaks: Breaks, keras: str, backends: frozenset[str]) -> tuple[str, str]:
    """The category of a finding in the code's configuration, and the words that say so.

    Args:
        breaks: where the finding changes behaviour.
        keras: the Keras the module targets, `"2"` or `"3"`.
        backends: the backends it can run on.

    Returns:
        `(category, suffix)`: `BEHAVIOUR` or `LATENT`, and the bracketed clause appended to the
        message.
    """
    ordered = [b for b in BACKENDS if b in backends]
    here = f"Keras {keras} on {', '.join(ordered) or 'no backend'}"
    hit = breaks.changes(keras, backends)
    if hit:
        on = ", ".join(b for b in BACKENDS if b in hit)
        return BEHAVIOUR, f" [changes behaviour with Keras {keras} on {on}]"
    elsewhere = [b for b in BACKENDS if b in breaks.keras3 and b not in backends]
    if keras == "2" and breaks.keras3:
        after = "a bug after a port to Keras 3"
    elif elsewhere:
        after = f"a bug after a port to {', '.join(elsewhere)}"
    else:
        after = "Keras' call context hands the mode on while the caller passes `training`"
    return LATENT, f" [latent: no effect with {here}; {after}]"


def where(cls: str, func: str) -> str:
    """`Cls.func`, or `func` at module level."""
    return f"{cls}.{func}" if cls else func


def ta001_sublayer(cls: str, callee: str, layer: str) -> str:
    """TA001 at a call of a mode-dependent sublayer in a model's `call` without `training`."""
    return (
        f"`{cls}` has no `training` parameter but calls `{callee}` ({layer}), whose "
        f"behaviour depends on it; add `training=None` to `call` and pass `training=training`"
    )


def ta001_op(cls: str, op: str) -> str:
    """TA001 at a dropout op or a branch on `training` in a `call` without `training`."""
    return (
        f"`{cls}` has no `training` parameter but uses the mode-dependent `{op}`; add "
        f"`training=None` to `call` and apply it only when `training` is true"
    )


def ta001_kwargs(cls: str, kwarg: str) -> str:
    """TA001 at `kwargs.get("training")` in a `call` without a named `training` (Keras 3)."""
    return (
        f"`{cls}` reads `training` from `**{kwarg}`, but Keras 3 passes `training` only to a "
        f"`call` that names it, so this is always None; add `training=None` to `call`"
    )


def ta002(cls: str, callee: str, layer: str, *, model: bool = True) -> str:
    """TA002 at a call of a mode-dependent sublayer that does not pass `training`."""
    why = (
        "on JAX it runs in inference mode during `fit`"
        if model
        else "it gets the mode only from Keras' call context"
    )
    return (
        f"`{cls}` calls `{callee}` ({layer}) without `training`; pass `training=training` ({why})"
    )


def ta003_direct(cls: str, callee: str, layer: str) -> str:
    """TA003 at `layer.call(...)` on a mode-dependent layer."""
    return (
        f"`{cls}` calls `{callee}.call(...)` ({layer}) directly, bypassing `__call__`, so "
        f"`training` never arrives; call `{callee}(..., training=training)` instead"
    )


def ta003_super(cls: str, base: str) -> str:
    """TA003 at `super().call(...)` that does not forward `training`."""
    return (
        f"`{cls}` calls `super().call(...)` ({base}) without forwarding `training`; "
        f"pass `training=training`"
    )


def ta004(where: str, callee: str, value: bool) -> str:
    """TA004 at a literal `training=True`/`False` on a sublayer call."""
    return (
        f"{where} hard-codes `training={value}` on `{callee}`: the value leaks to later "
        f"siblings and `predict()` ignores it; use `PinnedMode({callee}, training={value})` "
        f"or `override_modes(...)`"
    )


def ta005(cls: str) -> str:
    """TA005 at a `training=True` default of `call`."""
    return (
        f"`{cls}.call` defaults `training=True`: a bare `model(x)` runs it and every layer "
        f"after it in training mode; default to `training=None`"
    )


def ta006(func: str, callee: str) -> str:
    """TA006 at a model call without `training=True` while gradients are computed."""
    return (
        f"`{func}` calls `{callee}` while computing gradients without `training=True`; "
        f"Dropout and BatchNorm run in inference mode; pass `training=True`"
    )


def ta007(name: str) -> str:
    """TA007 at a use of the removed learning-phase API."""
    return (
        f"`{name}` was removed in Keras 3, which has no global mode any more; pass `training` "
        f"explicitly, or scope a mode with `override_modes(...)` or `PinnedMode(...)`"
    )


def ta009(name: str) -> str:
    """TA009 at a use of the learning-phase API in Keras 2 (or `tf.keras`) code."""
    return (
        f"`{name}` works in Keras 2 but does not exist in Keras 3; when migrating, pass "
        f"`training` explicitly, or scope a mode with `override_modes(...)` or `PinnedMode(...)`"
    )


def ta008(cls: str) -> str:
    """TA008 at an overridden `__call__` that does not hand `training` to Keras."""
    return (
        f"`{cls}` overrides `__call__`, where Keras resolves `training`; move the logic "
        f"into `call` (or a wrapper layer)"
    )
