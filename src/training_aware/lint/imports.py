"""What the names in one module refer to: import aliases resolved to dotted, normalised paths.

The checker never imports the code it reads, so "is this `Dropout` Keras' `Dropout`?" is answered
from the module's own `import` statements. Every common spelling resolves to one canonical path:
`tf.keras.layers.Dropout`, `keras.layers.Dropout`, `layers.Dropout` (after `from keras import
layers`), `Dropout` (after `from keras.layers import Dropout`) and `D` (after `... import Dropout as
D`) all become `keras.layers.Dropout`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

# Prefixes that are the same Keras under another name, rewritten to `keras`.
_KERAS_ALIASES: tuple[tuple[str, str], ...] = (
    ("tensorflow.compat.v1.keras", "keras"),
    ("tensorflow.compat.v2.keras", "keras"),
    ("tensorflow.python.keras", "keras"),
    ("tensorflow.keras", "keras"),
    ("tf_keras", "keras"),
)

# Backend modules that once held the removed learning-phase API (FACTS F11).
BACKEND_MODULES: frozenset[str] = frozenset(
    {"keras.backend", "keras.src.backend", "keras.src.legacy.backend", "keras.legacy.backend"}
)


def normalise(path: str) -> str:
    """Rewrite TensorFlow's and tf-keras' spellings of Keras to `keras.*`.

    Args:
        path: a dotted path such as `tensorflow.keras.layers.Dropout`.

    Returns:
        The same path with a Keras alias prefix replaced, e.g. `keras.layers.Dropout`.
    """
    for prefix, canonical in _KERAS_ALIASES:
        if path == prefix or path.startswith(prefix + "."):
            return canonical + path[len(prefix) :]
    return path


class ImportMap:
    """Local name -> dotted path, for the imports of one module (all nesting levels)."""

    __slots__ = ("names",)

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    @classmethod
    def from_statements(cls, statements: Iterable[ast.stmt]) -> ImportMap:
        """Collect `import` / `from ... import` statements.

        Args:
            statements: the import statements of a module, in source order.

        Returns:
            The map; a later import of the same local name wins, as at run time.
        """
        imports = cls()
        for node in statements:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname is not None:
                        imports.names[alias.asname] = normalise(alias.name)
                    else:
                        top = alias.name.split(".", 1)[0]
                        imports.names[top] = normalise(top)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                base = node.module
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    local = alias.asname or alias.name
                    imports.names[local] = normalise(f"{base}.{alias.name}")
        return imports

    def resolve(self, node: ast.expr) -> str | None:
        """The dotted path an expression such as `tf.keras.layers.Dropout` refers to.

        Args:
            node: a `Name` or a chain of `Attribute`s ending in a `Name`.

        Returns:
            The normalised dotted path, or None when the root name was not imported (a local
            variable, a parameter, a builtin: unknown, so no guess is made).
        """
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        root = self.names.get(node.id)
        if root is None:
            return None
        if not parts:
            return root
        parts.reverse()
        return normalise(root + "." + ".".join(parts))


def collect_imports(tree: ast.Module) -> ImportMap:
    """Every import statement of a module, also inside functions, classes and `try` blocks.

    Only statement bodies are visited (never expressions), which keeps this cheap.

    Args:
        tree: the parsed module.

    Returns:
        The module's `ImportMap`.
    """
    found: list[ast.stmt] = []
    stack: list[list[ast.stmt]] = [tree.body]
    while stack:
        body = stack.pop()
        for node in body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.append(node)
            else:
                for field in ("body", "orelse", "finalbody"):
                    sub = getattr(node, field, None)
                    if sub:
                        stack.append(sub)
                for handler in getattr(node, "handlers", ()):
                    stack.append(handler.body)
    found.sort(key=lambda n: n.lineno)
    return ImportMap.from_statements(found)


# This library's classes, by the Keras class they stand in for.
_OURS: dict[str, str] = {
    "TrainingAwareModel": "Model",
    "TrainingAwareLayer": "Layer",
    "TrainingSequential": "Sequential",
    "PinnedMode": "PinnedMode",
}
AWARE_BASES = frozenset({"TrainingAwareModel", "TrainingAwareLayer"})


def keras_layer_name(path: str | None) -> str | None:
    """The class name if `path` is a Keras layer or model class, else None.

    `keras.layers.Dropout`, `keras.src.layers.regularization.dropout.Dropout`, `keras.Model`,
    `keras.models.Sequential` and `keras_hub.layers.TransformerEncoder` qualify; this library's
    `TrainingAwareModel`, `TrainingAwareLayer` and `TrainingSequential` give the Keras class they
    stand in for (`Model`, `Layer`, `Sequential`).

    Args:
        path: a normalised dotted path, or None.

    Returns:
        The last component (the class name), or None.
    """
    if path is None:
        return None
    root, _, rest = path.partition(".")
    if root == "training_aware":
        return _OURS.get(path.rsplit(".", 1)[-1])
    if root not in ("keras", "keras_hub", "keras_nlp", "keras_cv") or not rest:
        return None
    parts = rest.split(".")
    name = parts[-1]
    if not name[:1].isupper():
        return None
    if name in ("Layer", "Model", "Sequential", "Functional"):
        return name
    if "layers" in parts or "models" in parts or "applications" in parts:
        return name
    return None
