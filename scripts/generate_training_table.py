"""Generate `src/training_aware/_training_table.py` from the installed Keras' source.

A Keras layer "uses" `training` when the `call` it runs (its own or the nearest inherited one)
declares a parameter named `training` and its body reads that name. `Dense` and `EinsumDense`
declare it and never read it. Run after upgrading Keras:

    python scripts/generate_training_table.py

`tests/test_training_table.py` fails when the committed table and the installed Keras disagree.
The output imports nothing, so the static checker can use it without Keras.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "src" / "training_aware" / "_training_table.py"


def _call_owner(cls: type) -> type | None:
    for klass in cls.__mro__:
        if "call" in vars(klass):
            return klass
    return None


def classify(cls: type) -> str | None:
    """'uses', 'ignores' (declares but never reads `training`) or None (does not declare it)."""
    owner = _call_owner(cls)
    if owner is None:
        return None
    try:
        source = textwrap.dedent(inspect.getsource(vars(owner)["call"]))
    except (OSError, TypeError):
        return None
    func = ast.parse(source).body[0]
    assert isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
    params = [a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)]
    if "training" not in params:
        return None
    for stmt in func.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and node.id == "training":
                return "uses"
    return "ignores"


def build_table() -> tuple[list[str], list[str], str]:
    import keras

    uses: list[str] = []
    ignores: list[str] = []
    for name in sorted(dir(keras.layers)):
        obj = getattr(keras.layers, name)
        if not (isinstance(obj, type) and issubclass(obj, keras.layers.Layer)):
            continue
        kind = classify(obj)
        if kind == "uses":
            uses.append(name)
        elif kind == "ignores":
            ignores.append(name)
    return uses, ignores, keras.__version__


def render(uses: list[str], ignores: list[str], version: str) -> str:
    def block(names: list[str]) -> str:
        return "".join(f'        "{n}",\n' for n in names)

    return (
        '"""Keras layers by what their `call` does with `training`. GENERATED, do not edit.\n\n'
        f"Made by scripts/generate_training_table.py from keras {version}.\n"
        '"""\n\n'
        f'KERAS_VERSION = "{version}"\n\n'
        "# Public names in `keras.layers` whose `call` declares `training` and reads it.\n"
        f"USES_TRAINING: frozenset[str] = frozenset(\n    {{\n{block(uses)}    }}\n)\n\n"
        "# Public names whose `call` declares `training` but never reads it (Dense, EinsumDense).\n"
        f"IGNORES_TRAINING: frozenset[str] = frozenset(\n    {{\n{block(ignores)}    }}\n)\n"
    )


def main() -> int:
    text = render(*build_table())
    if "--check" in sys.argv:
        return 0 if TARGET.read_text() == text else 1
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
