"""The repair of each fixable rule, planned on a libcst tree from the linter's findings.

A finding gives a position (line, column) and a code; the planner finds the node the linter
pointed at (a call, a parameter default, the name `training`) and records one edit:

- TA002: `training=training` on the sublayer call;
- TA005: the `training=True` default of `call` becomes `training=None`;
- TA001: `training=None` added to `call` and `training=training` to every flagged sublayer
  call in it; or, in the base-class style, `keras.Model` replaced by `TrainingAwareModel`
  (imported from `training_aware`), which hands the mode to every descendant itself;
- TA006: `training=True` on the model call made while gradients are computed.

Every finding the planner cannot tie to exactly one node, or whose repair needs a decision
(a raw dropout op that must be gated on `training`, a `# noqa` kept inside the `call` to fix, a
name `training` that already means something else) is left alone, with the reason.

Each repair is then judged **safe** or **unsafe** (`training_aware.lint.safety`): a safe repair
provably keeps what every call the code makes computes, except for the lost flag it restores;
an unsafe one is planned only when the caller allows it (`--unsafe-fixes`), else held back with
the reason.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst
from libcst.helpers import get_full_name_for_node

from training_aware.lint.cst_edit import add_keyword, add_parameter, annotated
from training_aware.lint.locate import Locator, Region, Scope, binds, split_lines
from training_aware.lint.rules import Finding
from training_aware.lint.safety import Safety

FixStyle = Literal["forward", "base-class"]
FIXABLE: frozenset[str] = frozenset({"TA001", "TA002", "TA005", "TA006"})
AWARE_MODEL = "TrainingAwareModel"


@dataclass
class Plan:
    """The edits for one module, keyed by the `id` of the original node they change."""

    keywords: dict[int, tuple[str, str]] = field(default_factory=dict)
    parameters: dict[int, tuple[str, str, str | None]] = field(default_factory=dict)
    defaults: dict[int, str] = field(default_factory=dict)  # `training: bool = True` too
    bases: dict[int, str] = field(default_factory=dict)
    import_aware: bool = False
    applied: list[Finding] = field(default_factory=list)
    skipped: list[tuple[Finding, str]] = field(default_factory=list)
    unsafe: list[tuple[Finding, str]] = field(default_factory=list)  # held back: why
    applied_unsafe: list[tuple[Finding, str]] = field(default_factory=list)  # --unsafe-fixes


def _passes_training(call: cst.Call) -> bool:
    return any(
        a.star == "**" or (a.keyword is not None and a.keyword.value == "training")
        for a in call.args
    )


def _callee(message: str) -> str | None:
    """The callee the message names: the text between "calls `" and the next backtick."""
    start = message.find("calls `")
    if start < 0:
        return None
    start += len("calls `")
    end = message.find("`", start)
    return message[start:end] if end > start else None


def _layer(message: str) -> str:
    """The layer class the message names after the callee: "calls `x` (Dropout)" -> Dropout."""
    start = message.find("` (", message.find("calls `"))
    end = message.find(")", start)
    return message[start + 3 : end] if 0 <= start < end else ""


def _same_expr(a: str, b: str) -> bool:
    try:
        return ast.dump(ast.parse(a.strip(), mode="eval")) == ast.dump(
            ast.parse(b.strip(), mode="eval")
        )
    except (SyntaxError, ValueError, RecursionError):
        return False


class Planner:
    """Turns the findings of one module into a `Plan`, and applies it."""

    def __init__(
        self, tree: ast.Module, text: str, style: FixStyle, *, unsafe: bool = False
    ) -> None:
        self.tree = tree
        self.text = text
        self.style = style
        self.unsafe = unsafe
        self.locator = Locator(tree, text)
        self.safety = Safety(tree)
        self.plan = Plan()
        self.edited: dict[int, Region] = {}

    def allowed(self, findings: list[Finding], risk: str | None) -> bool:
        """Record the verdict on a repair; False when it is unsafe and held back."""
        if risk is None:
            return True
        if not self.unsafe:
            self.plan.unsafe.extend((f, risk) for f in findings)
            return False
        self.plan.applied_unsafe.extend((f, risk) for f in findings)
        return True

    def nodes(self, finding: Finding) -> tuple[list[cst.CSTNode], Region]:
        nodes, region = self.locator.nodes(finding.line, finding.col)
        assert region is not None or not nodes
        return nodes, region  # type: ignore[return-value]

    def enclosing_call(
        self, node: cst.CSTNode, region: Region
    ) -> tuple[cst.FunctionDef, cst.ClassDef] | None:
        """The method `call` around `node` and its class (through nested functions)."""
        current: cst.CSTNode | None = node
        while current is not None:
            parent = region.parents.get(current)
            if isinstance(current, cst.FunctionDef) and current.name.value == "call":
                owner = region.parents.get(parent) if parent is not None else None
                if isinstance(owner, cst.ClassDef):
                    return current, owner
            current = parent
        return None

    def mark(self, region: Region) -> None:
        self.edited[id(region)] = region

    def apply(self) -> str:
        """The module's text with the plan applied."""
        visitor = Apply(self.plan)
        modules = {key: region.module.visit(visitor) for key, region in self.edited.items()}
        text = self.locator.splice(modules)
        return add_import(text) if self.plan.import_aware else text

    def code(self, node: cst.CSTNode, region: Region) -> str:
        return region.module.code_for_node(node)

    def run(self, findings: Iterable[Finding], suppressed_ta001: set[int]) -> Plan:
        findings = list(findings)
        self.locator.prepare(f.line for f in findings)
        groups: dict[int, list[Finding]] = {}
        owners: dict[int, tuple[cst.FunctionDef, cst.ClassDef, Region]] = {}
        for finding in findings:
            if finding.code == "TA005":
                self.ta005(finding)
            elif finding.code in ("TA002", "TA006"):
                self.add_to_call(finding, "True" if finding.code == "TA006" else "training")
            elif finding.code == "TA001":
                nodes, region = self.nodes(finding)
                found = self.enclosing_call(nodes[0], region) if nodes else None
                if found is None:
                    self.plan.skipped.append((finding, "no `call` method found at the finding"))
                    continue
                groups.setdefault(id(found[0]), []).append(finding)
                owners[id(found[0])] = (*found, region)
        for key, group in groups.items():
            self.ta001(*owners[key], group, suppressed_ta001)
        return self.plan

    def ta005(self, finding: Finding) -> None:
        nodes, region = self.nodes(finding)
        for node in nodes:
            param = region.parents.get(node)
            if (
                isinstance(param, cst.Param)
                and param.default is node
                and param.name.value == "training"
                and isinstance(node, cst.Name)
                and node.value == "True"
            ):
                if not self.allowed([finding], self.safety.default_risk()):
                    return
                self.plan.defaults[id(param)] = "None"
                self.mark(region)
                self.plan.applied.append(finding)
                return
        self.plan.skipped.append((finding, "no `training=True` default at the finding"))

    def call_at(self, finding: Finding) -> tuple[cst.Call | None, Region]:
        """The one call the finding points at that does not pass `training` yet."""
        nodes, region = self.nodes(finding)
        calls = [n for n in nodes if isinstance(n, cst.Call) and not _passes_training(n)]
        if len(calls) > 1:
            callee = _callee(finding.message)
            if callee is not None:
                calls = [c for c in calls if _same_expr(self.code(c.func, region), callee)]
        return (calls[0] if len(calls) == 1 else None), region

    def add_to_call(self, finding: Finding, value: str) -> None:
        call, region = self.call_at(finding)
        if call is None or id(call) in self.plan.keywords:
            self.plan.skipped.append((finding, "no single call without `training` there"))
            return
        if value == "training":
            found = self.enclosing_call(call, region)
            if found is None or "training" not in _param_names(found[0]):
                self.plan.skipped.append((finding, "the enclosing `call` has no `training`"))
                return
            risk = self.forward_risk(call, found[0], region)
        else:
            risk = self.safety.pinned_risk(self.in_layer_call(call, region))
        if not self.allowed([finding], risk):
            return
        self.plan.keywords[id(call)] = ("training", value)
        self.mark(region)
        self.plan.applied.append(finding)

    def ta001(
        self,
        func: cst.FunctionDef,
        cls: cst.ClassDef,
        region: Region,
        group: list[Finding],
        suppressed: set[int],
    ) -> None:
        """Add `training` to one `call` (and forward it), or switch its class's base."""
        sublayer_calls: list[cst.Call] = []
        reason = None
        if "training" in _param_names(func, star=True):
            reason = "`call` already has a `*training`/`**training` parameter"
        first, last = region.spans.get(id(func), (0, -1))
        if any(first <= line <= last for line in suppressed):
            reason = "a `# noqa: TA001` in this `call` keeps a call without `training`"
        for finding in group:
            nodes, _ = self.nodes(finding)
            call, _ = self.call_at(finding)
            if call is not None and " but calls `" in finding.message:
                sublayer_calls.append(call)
            elif not any(isinstance(n, cst.Name) and n.value == "training" for n in nodes):
                reason = "a mode-dependent op must be gated on `training` by hand"
        if reason is None and self.training_is_bound(region, first, last):
            reason = "the name `training` already means something in this `call`"
        if reason is not None:
            self.plan.skipped.extend((f, reason) for f in group)
            return
        risks = [self.forward_risk(c, func, region, new=True) for c in sublayer_calls]
        risks.append(self.safety.predict_risk([_layer(f.message) for f in group]))
        if not self.allowed(group, next((r for r in risks if r is not None), None)):
            return
        base = _model_base(cls) if self.style == "base-class" else None
        if base is not None and len(sublayer_calls) == len(group):
            self.plan.bases[id(base)] = AWARE_MODEL
            self.plan.import_aware = True
            self.mark(region)
        else:
            typed = "bool | None" if annotated(func) else None  # strict typing stays clean
            self.plan.parameters[id(func)] = ("training", "None", typed)
            self.mark(region)
            for call in sublayer_calls:
                self.plan.keywords[id(call)] = ("training", "training")
                self.mark(region)
        self.plan.applied.extend(group)

    def forward_risk(
        self, call: cst.Call, func: cst.FunctionDef, region: Region, *, new: bool = False
    ) -> str | None:
        """Why passing `training=training` at `call` (in `func`, a `call` method) could change
        what the callee receives on a path where it already got its caller's mode (None: it
        cannot). `new`: `training` is the parameter the repair adds (so `None` by default)."""
        current: cst.CSTNode | None = region.parents.get(call)
        while current is not None and current is not func:
            if isinstance(current, cst.FunctionDef | cst.Lambda):
                name = current.name.value if isinstance(current, cst.FunctionDef) else "lambda"
                return self.safety.nested_risk(name)
            current = region.parents.get(current)
        line = region.starts.get(id(call), 0)
        first, last = region.spans.get(id(func), (0, -1))
        return self.safety.forward_risk(first, last, line, new=new)

    def in_layer_call(self, node: cst.CSTNode, region: Region) -> bool:
        """Is `node` inside a method `call` (directly or in a function nested in it)?"""
        return self.enclosing_call(node, region) is not None

    def training_is_bound(self, region: Region, first: int, last: int) -> bool:
        """Is the name `training` assigned in `call` (lines `first`-`last`) or in a function or
        module around it? A new parameter would then change what it means."""
        scopes: list[Scope] = [s for s in region.chain if not isinstance(s, ast.ClassDef)]
        for node in ast.walk(region.node):
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name == "call"
                and first <= node.lineno <= last
            ):
                scopes.append(node)
        return any(binds(scope, "training") for scope in scopes)


def _param_names(func: cst.FunctionDef, star: bool = False) -> set[str]:
    params = func.params
    names = {p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)}
    if star:
        for extra in (params.star_arg, params.star_kwarg):
            if isinstance(extra, cst.Param):
                names.add(extra.name.value)
    return names


def _model_base(cls: cst.ClassDef) -> cst.Arg | None:
    """The base `keras.Model` / `tf.keras.Model` / `Model` of a class, if it has one."""
    for arg in cls.bases:
        name = get_full_name_for_node(arg.value) if arg.keyword is None else None
        if name is not None and name.rsplit(".", 1)[-1] == "Model":
            return arg
    return None


class Apply(cst.CSTTransformer):
    """Apply a `Plan` to the tree it was made on."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        edit = self.plan.keywords.get(id(original_node))
        return updated_node if edit is None else add_keyword(updated_node, *edit)

    def leave_Param(self, original_node: cst.Param, updated_node: cst.Param) -> cst.Param:
        value = self.plan.defaults.get(id(original_node))
        if value is None:
            return updated_node
        updated_node = updated_node.with_changes(default=cst.Name(value))
        hint = updated_node.annotation
        if (
            hint is not None
            and isinstance(hint.annotation, cst.Name)
            and hint.annotation.value == "bool"
        ):
            # `training: bool = True` -> `training: bool | None = None`, still a valid hint.
            optional = cst.parse_expression("bool | None")  # once per repaired default
            updated_node = updated_node.with_changes(
                annotation=hint.with_changes(annotation=optional)
            )
        return updated_node

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        edit = self.plan.parameters.get(id(original_node))
        return updated_node if edit is None else add_parameter(updated_node, *edit)

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        name = self.plan.bases.get(id(original_node))
        return updated_node if name is None else updated_node.with_changes(value=cst.Name(name))


def add_import(text: str) -> str:
    """`from training_aware import TrainingAwareModel` on its own line after the module's
    leading imports (after its docstring, else after its opening comments), unless the module
    imports it already. The position comes from `ast`; the line goes between two statements."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(text)
    after = 0  # the 1-based line the new one follows (0: the first line)
    for index, stmt in enumerate(tree.body):
        if (
            isinstance(stmt, ast.ImportFrom)
            and stmt.module == "training_aware"
            and any(a.name == AWARE_MODEL and a.asname is None for a in stmt.names)
        ):
            return text
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            after = stmt.end_lineno or stmt.lineno
        elif index == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            after = stmt.end_lineno or stmt.lineno  # the docstring
        else:
            break
    lines = split_lines(text)
    if after == 0:  # no docstring, no import: after a shebang, a coding line, comments
        while after < len(lines) and lines[after].lstrip().startswith("#"):
            after += 1
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    if after and not lines[after - 1].endswith("\n"):
        lines[after - 1] += newline
    lines.insert(after, f"from training_aware import {AWARE_MODEL}{newline}")
    return "".join(lines)
