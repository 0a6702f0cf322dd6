"""Independent scan for lost-`training` candidates in the precision corpus (docs/lint-precision.md).

It does not use the checker: plain AST patterns, one class at a time, to estimate the checker's
recall. Every candidate it prints is then read by hand and judged in the Keras its module targets.

    python scripts/recall_scan.py ~/.cache/training-aware-corpus > candidates.txt

Patterns: a `call` (with or without `training`) calling an attribute built as a Dropout /
BatchNormalization / GaussianNoise without passing `training`; a `call` without `training`
calling a `.dropout(...)`; every literal `training=True`/`False`; every call of a model-like name
(`self`, `model`, `generator`, ...) without `training` under a `GradientTape`.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

_MODE_ATTR = re.compile(
    r"self\.(\w+)\s*=\s*[\w.]*?"
    r"(?:Dropout|BatchNormalization|BatchNorm\w*|SpatialDropout\w*|GaussianNoise|GaussianDropout)\("
)
_MODEL_NAME = re.compile(r"(^self$|model|generator|discriminator|encoder|decoder|net\b|critic)")


def flavour(source: str) -> str:
    """k2 (tf_keras), k3 (keras / keras-hub / keras-rs) or amb, from the import lines."""
    if re.search(r"^\s*(import|from)\s+tf_keras", source, re.M):
        return "k2"
    if re.search(r"^\s*(import|from)\s+(keras|keras_hub|keras_rs)\b", source, re.M):
        return "k3"
    return "amb"


def _passes_training(call: ast.Call) -> bool:
    return any(k.arg in ("training", None) for k in call.keywords)


def _class_candidates(node: ast.ClassDef) -> Iterator[tuple[int, str]]:
    others = "".join(
        ast.unparse(m) for m in node.body if isinstance(m, ast.FunctionDef) and m.name != "call"
    )
    moded = set(_MODE_ATTR.findall(others))
    for method in node.body:
        if not (isinstance(method, ast.FunctionDef) and method.name == "call"):
            continue
        has = any(a.arg == "training" for a in method.args.args + method.args.kwonlyargs)
        state = "has" if has else "lacks"
        for call in ast.walk(method):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
                continue
            owner = call.func.value
            is_self = isinstance(owner, ast.Name) and owner.id == "self"
            if is_self and call.func.attr in moded and not _passes_training(call):
                yield call.lineno, f"{node.name}.call {state} training, calls self.{call.func.attr}"
            if call.func.attr == "dropout" and not has:
                yield call.lineno, f"{node.name}.call lacks training, {ast.unparse(call.func)}"


def _tape_candidates(node: ast.With) -> Iterator[tuple[int, str]]:
    for call in ast.walk(node):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name | ast.Attribute)):
            continue
        text = ast.unparse(call.func)
        if (
            _MODEL_NAME.search(text)
            and not _passes_training(call)
            and not text.endswith(("trainable_variables", "gradient", "watch"))
            and "loss" not in text
            and "compiled" not in text
        ):
            yield call.lineno, f"tape: {text}(...) without training"


def scan(root: Path) -> Iterator[tuple[str, int, str, str]]:
    """(path, line, flavour, what) for every candidate under `root`."""
    for path in sorted(root.rglob("*.py")):
        rel = str(path.relative_to(root))
        if "/transformers/" in rel and "modeling_tf" not in rel:
            continue
        try:
            source = path.read_text()
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        kind = flavour(source)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.keyword)
                and node.arg == "training"
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, bool)
            ):
                yield rel, node.value.lineno, kind, f"hard-coded training={node.value.value}"
            elif isinstance(node, ast.ClassDef):
                for line, what in _class_candidates(node):
                    yield rel, line, kind, what
            elif isinstance(node, ast.With) and any(
                "GradientTape" in ast.unparse(i.context_expr) for i in node.items
            ):
                for line, what in _tape_candidates(node):
                    yield rel, line, kind, what


if __name__ == "__main__":
    for row in scan(Path(sys.argv[1])):
        print(*row, sep=" | ")
