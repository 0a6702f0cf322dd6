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


KERAS3 = "keras3"
KERAS2 = "keras2"
TF_KERAS = "tf.keras"
AMBIGUOUS = "ambiguous"

# Import roots that pin the Keras a module targets.
_KERAS3_ROOTS = frozenset({"keras", "keras_hub", "keras_nlp", "keras_rs"})
_KERAS2_ROOTS = ("tf_keras", "tensorflow.python.keras", "tensorflow.compat.v1.keras")
_TF_KERAS_ROOTS = ("tensorflow.keras", "tensorflow.compat.v2.keras")


class ImportMap:
    """Local name -> dotted path, for the imports of one module (all nesting levels).

    `flavour` is the Keras the module targets, decided from its import statements alone:

    - `"keras2"` when it imports `tf_keras` (or TensorFlow's bundled Keras 2,
      `tensorflow.python.keras`, `tensorflow.compat.v1.keras`), whatever else it imports;
    - `"keras3"` when it imports the `keras` package itself (or keras-hub / keras-nlp, which
      exist only for Keras 3) and no Keras 2;
    - `"tf.keras"` when it reaches Keras only through TensorFlow (`from tensorflow import
      keras`, `tf.keras.layers...`): Keras 3 from TensorFlow 2.16 on, Keras 2 before it or under
      `TF_USE_LEGACY_KERAS=1` (set by `set_flavour` from the source text);
    - `"ambiguous"` otherwise: a `keras` name imported from another module (a re-export such as
      `from .utils import keras`), or no Keras import at all.
    """

    __slots__ = ("flavour", "names", "raw")

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.raw: dict[str, str] = {}  # local name -> dotted path as imported (not normalised)
        self.flavour = AMBIGUOUS

    @classmethod
    def from_statements(
        cls, statements: Iterable[ast.stmt], package: str | None = None
    ) -> ImportMap:
        """Collect `import` / `from ... import` statements.

        Args:
            statements: the import statements of a module, in source order.
            package: the package the module belongs to (`pkg` for `pkg/models.py`), which
                relative imports are resolved against; None when unknown (a relative import
                then names something of unknown origin).

        Returns:
            The map; a later import of the same local name wins, as at run time.
        """
        imports = cls()
        raw: list[str] = []
        for node in statements:
            if isinstance(node, ast.Import):
                raw.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                raw.append(node.module)
                if node.module.startswith("tensorflow"):  # `from tensorflow import keras`
                    raw.extend(f"{node.module}.{alias.name}" for alias in node.names)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname is not None:
                        imports.names[alias.asname] = normalise(alias.name)
                        imports.raw[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".", 1)[0]
                        imports.names[top] = normalise(top)
                        imports.raw[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                base = node.module
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    local = alias.asname or alias.name
                    imports.names[local] = normalise(f"{base}.{alias.name}")
                    imports.raw[local] = f"{base}.{alias.name}"
            elif isinstance(node, ast.ImportFrom):
                origin = resolve_relative(node.level, node.module, package)
                for alias in node.names:
                    local = alias.asname or alias.name
                    if origin is None or alias.name == "*":  # a name of unknown origin
                        imports.names.pop(local, None)
                        imports.raw.pop(local, None)
                    else:
                        imports.names[local] = imports.raw[local] = f"{origin}.{alias.name}"
        imports.flavour = _flavour(raw)
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


def resolve_relative(level: int, module: str | None, package: str | None) -> str | None:
    """The absolute module `from ..module import x` names, seen from `package`, or None."""
    if not package or level < 1:
        return None  # not in a package (a script): Python raises ImportError
    parts = package.split(".")
    if level - 1 > len(parts):
        return None  # above the top-level package: Python raises ImportError
    base = parts[: len(parts) - (level - 1)] + ([module] if module else [])
    return ".".join(base) or None


def _flavour(paths: list[str]) -> str:
    def under(path: str, roots: Iterable[str]) -> bool:
        return any(path == r or path.startswith(r + ".") for r in roots)

    if any(under(p, _KERAS2_ROOTS) for p in paths):
        return KERAS2
    if any(p.split(".", 1)[0] in _KERAS3_ROOTS for p in paths):
        return KERAS3
    if any(under(p, _TF_KERAS_ROOTS) for p in paths):
        return TF_KERAS
    return AMBIGUOUS


def collect_imports(tree: ast.Module, package: str | None = None) -> ImportMap:
    """Every import statement of a module, also inside functions, classes and `try` blocks.

    Only statement bodies are visited (never expressions), which keeps this cheap.

    Args:
        tree: the parsed module.
        package: the package it belongs to, for relative imports (None: unknown).

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
    return ImportMap.from_statements(found, package)


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
