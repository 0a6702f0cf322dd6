"""TA001-TA004 inside one `call` method: which sublayer calls drop, bypass or pin `training`.

The body is read in source order with an environment of static types (the class's attributes,
then local names and loop variables). `isinstance` tests narrow a loop variable, so the classic
`ComplexModel` (BatchNorm and Dropout get `training`, the `Dense` layers in the `else` branch do
not) is clean. Any other test that mentions a typed name makes it unknown in both branches.
"""

from __future__ import annotations

import ast

from training_aware.lint import rules
from training_aware.lint.layertypes import Typer
from training_aware.lint.narrowing import narrow
from training_aware.lint.rules import ALWAYS, JAX_FIT, KERAS3, NEVER, PINNED, Report
from training_aware.lint.sublayers import bind_loop_target
from training_aware.lint.syntax import describe, literal_training, passes_training
from training_aware.lint.values import UNKNOWN, Kind, Ty, expr_key

__all__ = ["CallBodyChecker", "describe", "literal_training", "passes_training"]

# Mode-dependent raw ops (FACTS F8): a dropout function applied without any `training` to gate it.
_DROPOUT_OPS = frozenset({"dropout", "alpha_dropout", "stateless_dropout", "spatial_dropout"})


class CallBodyChecker:
    """Checks the body of one `call` method of class `cls_name`."""

    def __init__(
        self,
        cls_name: str,
        func: ast.FunctionDef | ast.AsyncFunctionDef,
        attrs: dict[str, Ty],
        typer: Typer,
        super_kind: tuple[str, Kind],
        report: Report,
        *,
        methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] | None = None,
        fit_passes_mode: bool = False,
        caller: CallBodyChecker | None = None,
    ) -> None:
        self.cls = cls_name
        self.func = func
        self.attrs = attrs
        self.typer = typer
        self.super_name, self.super_kind = super_kind
        self.report = report
        params = {a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)}
        self.has_training = "training" in params
        self.is_model = typer.is_model_like(cls_name)
        # TrainingAwareModel/Layer forward the mode to every descendant themselves (and stop
        # an explicit value from leaking), so a dropped or pinned flag there is no finding.
        self.aware = typer.is_training_aware(cls_name)
        self.fallback = 0
        # What holds depends on the Keras the module targets. Keras 2 hands the mode to every
        # sublayer through its call context and `fit` always passes `training=True`, so there a
        # dropped flag is latent (a bug after a port to Keras 3) and only the
        # version-independent parts (raw ops, `.call` bypass) change behaviour. `tf.keras` is
        # Keras 3 from TensorFlow 2.16 on: a dropped flag (TA001, TA002) is judged as Keras 3,
        # as its fix is right in both; a hard-coded one (TA004) is a working recipe in Keras 2,
        # so there it is latent.
        self.mode_rules = typer.flavour in ("keras3", "tf.keras", "keras2")
        self.pin_rules = typer.flavour == "keras3"
        self.latent_pins = typer.flavour in ("tf.keras", "keras2")
        # a literal `training=` on an earlier call of this body: it sticks in Keras' shared call
        # context, so a later sibling called without `training` gets it (FACTS F3, F13)
        self.pinned: bool = caller.pinned if caller is not None else False
        # The model's own `train_step` calls `self(x, training=...)`: since Keras 3.10 that
        # value reaches the sublayers through the call context, so `fit` is right.
        self.fit_passes_mode = fit_passes_mode
        self.methods = methods or {}
        self.caller = caller
        self.visited: set[str] = caller.visited if caller is not None else {func.name}
        self.label = f"{cls_name}.{func.name}"
        self.kwarg = func.args.kwarg.arg if func.args.kwarg is not None else None

    def run(self) -> None:
        """Check the whole body."""
        self.block(self.func.body, dict(self.attrs))

    def block(self, body: list[ast.stmt], env: dict[str, Ty]) -> None:
        for stmt in body:
            self.stmt(stmt, env)

    def stmt(self, stmt: ast.stmt, env: dict[str, Ty]) -> None:
        if isinstance(stmt, ast.For | ast.AsyncFor):
            self.expr(stmt.iter, env)
            bind_loop_target(stmt.target, stmt.iter, env, self.typer)
            self.block(stmt.body, env)
            self.block(stmt.orelse, env)
        elif isinstance(stmt, ast.If):
            self.branch_test(stmt.test, env)
            self.expr(stmt.test, env)
            yes, no = narrow(stmt.test, env, self.typer)
            self.block(stmt.body, yes)
            self.block(stmt.orelse, no)
        elif isinstance(stmt, ast.While):
            self.branch_test(stmt.test, env)
            self.expr(stmt.test, env)
            self.block(stmt.body, env)
            self.block(stmt.orelse, env)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                self.expr(item.context_expr, env)
            self.block(stmt.body, env)
        elif isinstance(stmt, ast.Try):
            self.block(stmt.body, env)
            for handler in stmt.handlers:
                if _catches_type_error(handler):
                    # `try: layer(x, training=t) except TypeError: layer(x)`: the fallback
                    # runs only for a callee that rejects `training`.
                    self.fallback += 1
                    self.block(handler.body, env)
                    self.fallback -= 1
                else:
                    self.block(handler.body, env)
            self.block(stmt.orelse, env)
            self.block(stmt.finalbody, env)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            self.block(stmt.body, dict(env))
        elif isinstance(stmt, ast.ClassDef):
            return
        elif isinstance(stmt, ast.Match):
            self.expr(stmt.subject, env)
            for case in stmt.cases:
                self.block(case.body, dict(env))
        else:
            self.expr(stmt, env)
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.expr):
                ty = self.typer.type_of(stmt.value, env)
                for target in stmt.targets:
                    key = expr_key(target)
                    if key is not None:
                        env[key] = ty
                    else:
                        for sub in ast.walk(target):
                            if isinstance(sub, ast.Name):
                                env[sub.id] = UNKNOWN

    def expr(self, node: ast.AST, env: dict[str, Ty]) -> None:
        """Check every call in an expression (comprehension variables are typed too)."""
        stack: list[tuple[ast.AST, dict[str, Ty]]] = [(node, env)]
        while stack:
            current, scope = stack.pop()
            if isinstance(current, ast.ListComp | ast.GeneratorExp | ast.SetComp | ast.DictComp):
                inner = dict(scope)
                for gen in current.generators:
                    stack.append((gen.iter, inner))
                    bind_loop_target(gen.target, gen.iter, inner, self.typer)
                    stack.extend((cond, inner) for cond in gen.ifs)
                if isinstance(current, ast.DictComp):
                    stack.append((current.key, inner))
                    stack.append((current.value, inner))
                else:
                    stack.append((current.elt, inner))
                continue
            if isinstance(current, ast.IfExp):
                # `isinstance` narrows the two branches as in an `if` statement
                self.branch_test(current.test, scope)
                yes, no = narrow(current.test, scope, self.typer)
                stack.extend([(current.test, scope), (current.body, yes), (current.orelse, no)])
                continue
            if isinstance(current, ast.Call):
                self.check_call(current, scope)
            elif isinstance(current, ast.Subscript):
                self.check_kwargs_read(current, current.value, current.slice)
            elif (
                isinstance(current, ast.Compare)
                and len(current.ops) == 1
                and isinstance(current.ops[0], ast.In | ast.NotIn)
            ):
                # `"training" in kwargs`
                self.check_kwargs_read(current, current.comparators[0], current.left)
            stack.extend((child, scope) for child in ast.iter_child_nodes(current))

    def branch_test(self, test: ast.expr, env: dict[str, Ty]) -> None:
        """TA001: a branch on `training` in a `call` that has no `training` parameter."""
        if self.has_training:
            return
        for node in ast.walk(test):
            if isinstance(node, ast.Name) and node.id == "training":
                self.report(node, "TA001", rules.ta001_op(self.label, "if training"), ALWAYS)
                return

    def check_helper(self, call: ast.Call, name: str) -> None:
        """A helper method of the class called from `call` (`self._forward(x)`): its body runs
        in this call, so its sublayer calls are checked as if written here."""
        helper = self.methods[name]
        self.visited.add(name)
        sub = CallBodyChecker(
            self.cls,
            helper,
            self.attrs,
            self.typer,
            (self.super_name, self.super_kind),
            self.report,
            methods=self.methods,
            fit_passes_mode=self.fit_passes_mode,
            caller=self,
        )
        sub.mode_rules, sub.pin_rules = self.mode_rules, self.pin_rules
        if not sub.has_training:
            # no parameter of its own: it sees exactly what its caller has
            sub.has_training = self.has_training
            sub.is_model = self.is_model
        sub.run()

    def check_kwargs_read(self, node: ast.AST, owner: ast.expr, key: ast.expr | None) -> None:
        """TA001: `kwargs.get("training")`, `kwargs["training"]` or `"training" in kwargs` in a
        `call` without a named `training`, whatever the value is used for (passed on, the test
        of an `if` before random ops): Keras 3 passes `training` only to a `call` that names it
        (`_call_has_training_arg`, keras/src/layers/layer.py), so the read always sees its
        default and the mode-dependent code never runs; Keras 2 passes it in."""
        if (
            self.has_training
            or not self.mode_rules
            or self.kwarg is None
            or self.caller is not None
            or not (isinstance(owner, ast.Name) and owner.id == self.kwarg)
            or not (isinstance(key, ast.Constant) and key.value == "training")
        ):
            return
        self.report(node, "TA001", rules.ta001_kwargs(self.label, self.kwarg), KERAS3)

    def check_call(self, call: ast.Call, env: dict[str, Ty]) -> None:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in ("get", "pop") and call.args:
            self.check_kwargs_read(call, func.value, call.args[0])
        if isinstance(func, ast.Attribute) and func.attr == "call":
            self.check_direct_call(call, func.value, env)
            return
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "self"
            and func.attr in self.methods
            and func.attr not in self.visited
        ):
            self.check_helper(call, func.attr)
            return
        if not self.has_training:
            path = self.typer.imports.resolve(func) if isinstance(func, ast.Attribute) else None
            if (
                path is not None
                and path.rsplit(".", 1)[-1] in _DROPOUT_OPS
                and path.startswith(("tensorflow.", "keras."))
            ):
                self.report(call, "TA001", rules.ta001_op(self.label, describe(func)), ALWAYS)
                return
        ty = self.typer.type_of(func, env)
        user = ty.user()
        value = literal_training(call)
        if self.aware and (value is not None or user is not None):
            return
        if value is not None and not isinstance(func, ast.Call):
            if not (self.pin_rules or self.latent_pins):
                return
            key = expr_key(func) or ""
            unknown_attr = key.startswith("self.") and all(k is Kind.UNKNOWN for _, k in ty.items)
            if user is not None or unknown_attr:
                self.pinned = True
                message = rules.ta004(f"`{self.label}`", describe(func), value)
                self.report(call, "TA004", message, PINNED if self.pin_rules else NEVER)
            return
        if user is None or passes_training(call) or self.fallback or not self.mode_rules:
            return
        if self.has_training:
            # A model's `call` is the root `fit` runs through `stateless_call` on JAX, where
            # Keras' call context is empty: the sublayer runs in inference mode (FACTS F2). A
            # layer's `call` gets `training` from its caller, which puts it in the call context
            # for the sublayer on every backend: the dropped flag is latent there. After a
            # literal `training=` on a sibling, the sibling's value is what the context holds.
            breaks = PINNED if self.pinned else JAX_FIT if self.is_model else NEVER
            message = rules.ta002(self.label, describe(func), user, model=self.is_model)
            self.report(call, "TA002", message, breaks)
        elif self.is_model and not self.fit_passes_mode:
            # A plain layer without `training` still gets the mode through Keras' call context
            # when its caller passes it (its caller is then checked); a model is the outermost
            # call, where `fit` passes nothing (FACTS F1).
            message = rules.ta001_sublayer(self.label, describe(func), user)
            self.report(call, "TA001", message, KERAS3)

    def check_direct_call(self, call: ast.Call, owner: ast.expr, env: dict[str, Ty]) -> None:
        """TA003: `layer.call(...)` on a layer that uses `training`, or `super().call(...)`."""
        if passes_training(call):
            return
        if (
            isinstance(owner, ast.Call)
            and isinstance(owner.func, ast.Name)
            and owner.func.id == "super"
        ):
            if self.super_kind is Kind.USES:
                self.report(call, "TA003", rules.ta003_super(self.label, self.super_name), ALWAYS)
            return
        user = self.typer.type_of(owner, env).user()
        if user is not None:
            message = rules.ta003_direct(self.label, describe(owner), user)
            self.report(call, "TA003", message, ALWAYS)


def _catches_type_error(handler: ast.ExceptHandler) -> bool:
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(t, ast.Name) and t.id == "TypeError" for t in types)
