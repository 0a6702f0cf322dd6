"""The checker never raises: random text, random bytes, and random valid Python from ASTs."""

from __future__ import annotations

import ast
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from training_aware.lint import RULES, lint_source

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HEADER = (
    "import keras\nimport tensorflow as tf\nimport jax\nfrom keras import layers\n"
    "from keras.layers import Dropout as D\nimport keras.backend as K\n"
)


def _expr(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


LEAVES = st.sampled_from(
    [
        "x",
        "layer",
        "training",
        "self",
        "self.drop",
        "self.items",
        "self.table",
        "None",
        "True",
        "False",
        "0.5",
        "'a'",
        "keras.layers.Dropout",
        "layers.BatchNormalization",
        "D",
        "keras.layers.Dense",
        "keras.Sequential",
        "keras.layers.LSTM",
        "tf.nn.dropout",
        "K.learning_phase",
        "super()",
        "isinstance",
        "enumerate",
    ]
).map(_expr)


def _call(parts: tuple[ast.expr, list[ast.expr], list[tuple[str | None, ast.expr]]]) -> ast.expr:
    func, args, kws = parts
    return ast.Call(func=func, args=args, keywords=[ast.keyword(arg=k, value=v) for k, v in kws])


EXPRS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.tuples(
            inner,
            st.lists(inner, max_size=3),
            st.lists(
                st.tuples(st.sampled_from(["training", "rate", "dropout", None]), inner),
                max_size=2,
                unique_by=lambda kw: kw[0],
            ),
        ).map(_call),
        st.tuples(inner, st.sampled_from(["call", "append", "items", "values", "__call__"])).map(
            lambda p: ast.Attribute(value=p[0], attr=p[1], ctx=ast.Load())
        ),
        st.lists(inner, max_size=3).map(lambda elts: ast.List(elts=elts, ctx=ast.Load())),
        st.tuples(inner, inner).map(
            lambda p: ast.Subscript(value=p[0], slice=p[1], ctx=ast.Load())
        ),
        st.tuples(inner, inner, inner).map(lambda p: ast.IfExp(test=p[0], body=p[1], orelse=p[2])),
        st.tuples(inner, inner).map(lambda p: ast.BoolOp(op=ast.Or(), values=[p[0], p[1]])),
        st.tuples(inner, inner).map(
            lambda p: ast.ListComp(
                elt=p[0],
                generators=[
                    ast.comprehension(
                        target=ast.Name("layer", ast.Store()), iter=p[1], ifs=[], is_async=0
                    )
                ],
            )
        ),
    ),
    max_leaves=8,
)

TARGETS = st.sampled_from(["x", "layer", "self.drop", "self.items", "self.table['k']"]).map(
    lambda t: ast.parse(f"{t} = 0").body[0].targets[0]  # type: ignore[attr-defined]
)


def _stmts(depth: int) -> st.SearchStrategy[list[ast.stmt]]:
    simple = st.one_of(
        st.tuples(TARGETS, EXPRS).map(lambda p: ast.Assign(targets=[p[0]], value=p[1])),
        EXPRS.map(lambda e: ast.Expr(value=e)),
        EXPRS.map(lambda e: ast.Return(value=e)),
    )
    if depth == 0:
        return st.lists(simple, min_size=1, max_size=4)
    body = _stmts(depth - 1)
    compound = st.one_of(
        st.tuples(EXPRS, body, body).map(lambda p: ast.If(test=p[0], body=p[1], orelse=p[2])),
        st.tuples(EXPRS, body).map(
            lambda p: ast.For(
                target=ast.Name("layer", ast.Store()), iter=p[0], body=p[1], orelse=[]
            )
        ),
        body.map(
            lambda b: ast.With(
                items=[ast.withitem(context_expr=_expr("tf.GradientTape()"), optional_vars=None)],
                body=b,
            )
        ),
        st.tuples(body, body).map(
            lambda p: ast.Try(
                body=p[0],
                handlers=[
                    ast.ExceptHandler(type=ast.Name("TypeError", ast.Load()), name=None, body=p[1])
                ],
                orelse=[],
                finalbody=[],
            )
        ),
    )
    return st.lists(st.one_of(simple, compound), min_size=1, max_size=4)


def _method(
    name: str, params: list[str], default: str | None, body: list[ast.stmt]
) -> ast.FunctionDef:
    args = [ast.arg("self"), *(ast.arg(p) for p in params)]
    defaults = [_expr(default)] if default is not None and params else []
    return ast.FunctionDef(
        name=name,
        args=ast.arguments(
            posonlyargs=[], args=args, kwonlyargs=[], kw_defaults=[], defaults=defaults
        ),
        body=body,
        decorator_list=[],
        returns=None,
        type_params=[],
    )


MODULES = st.builds(
    lambda base, params, default, init, call, dunder, tail: ast.Module(
        body=[
            ast.ClassDef(
                name="M",
                bases=[_expr(base)],
                keywords=[],
                body=[
                    _method("__init__", [], None, init),
                    _method("call", params, default, call),
                    *([_method("__call__", ["x"], None, call)] if dunder else []),
                ],
                decorator_list=[],
                type_params=[],
            ),
            ast.FunctionDef(
                name="train_step",
                args=ast.arguments(
                    posonlyargs=[],
                    args=[ast.arg("x")],
                    kwonlyargs=[],
                    kw_defaults=[],
                    defaults=[],
                ),
                body=tail,
                decorator_list=[],
                returns=None,
                type_params=[],
            ),
        ],
        type_ignores=[],
    ),
    st.sampled_from(["keras.Model", "layers.Layer", "D", "object", "tf.keras.Model"]),
    st.sampled_from([["x"], ["x", "training"], ["x", "mask"]]),
    st.sampled_from([None, "None", "True", "False"]),
    _stmts(1),
    _stmts(2),
    st.booleans(),
    _stmts(1),
)


def _check(findings: list) -> None:
    for finding in findings:
        assert finding.code in RULES
        assert finding.line >= 1
        assert finding.col >= 1
        assert finding.message


@FUZZ
@given(st.text(max_size=400))
def test_random_text_never_raises(text):
    _check(lint_source(text, "fuzz.py"))


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data):
    _check(lint_source(data, "fuzz.py"))


# Hypothesis warns when it builds the (large) repr of a generated module for its report; that
# says nothing about the checker.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@FUZZ
@given(MODULES)
def test_random_valid_python_never_raises(module):
    source = HEADER + ast.unparse(ast.fix_missing_locations(module))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # `0.5[x]` is valid, if odd
        compile(source, "fuzz.py", "exec")  # the generator builds valid Python
    findings = lint_source(source, "fuzz.py")
    _check(findings)
    assert all(f.code != "TA000" for f in findings)
