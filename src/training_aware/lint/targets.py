"""Which Keras a module targets and which backends it can run on: the configuration every
finding is judged in.

Decided per module, and per package and project, in this order (the first that says wins):

1. `[tool.training-aware]` in pyproject.toml: `keras = "2"` or `"3"`, `backends = [...]`;
2. an import-time gate on the Keras or TensorFlow version in the module or an enclosing
   package's `__init__` (`if keras.__version__ >= "3": raise ImportError(...)`: Keras 2);
3. the project's declared requirements (`pyproject.toml`, `setup.cfg`, `setup.py`,
   `requirements*.txt`): `tf-keras`, `keras<3` or `tensorflow<2.16` mean Keras 2;
4. the module's own imports (`tf_keras`: Keras 2; `keras`: Keras 3), else those of the project
   modules it imports; Keras 3 when nothing says.

Backends: Keras 2 runs on TensorFlow only; a module that calls TensorFlow, JAX or PyTorch
functions (other than input pipelines and settings), or imports a project module that does,
runs on that backend only; else all three.
"""

from __future__ import annotations

import ast
import configparser
import glob
import os
import re
from dataclasses import dataclass

from training_aware.lint.imports import KERAS2, KERAS3, TF_KERAS
from training_aware.lint.project import Module, ProjectIndex
from training_aware.lint.rules import ALL, BACKENDS
from training_aware.lint.syntax import match_lines, nodes_at


@dataclass(frozen=True, slots=True)
class Target:
    """The configuration a module runs in: the Keras generation (`"2"` or `"3"`) and the
    backends it can run on."""

    keras: str
    backends: frozenset[str]


# Uses of a backend's namespace that do not tie the model code to that backend: input
# pipelines, file I/O, settings and logging.
_NEUTRAL: dict[str, frozenset[str]] = {
    "tensorflow": frozenset(
        {
            "data",
            "io",
            "image",
            "strings",
            "config",
            "random",
            "print",
            "saved_model",
            "summary",
            "test",
            "get_logger",
            "compat",
            "lite",
            "version",
            "__version__",
            "audio",
            "sysconfig",
            "errors",
            "TensorSpec",
            "dtypes",
            "float32",
            "float16",
            "int32",
            "int64",
            "string",
            "bool",
            "uint8",
            "bfloat16",
            "keras",
        }
    ),
    "jax": frozenset({"config", "devices", "device_count", "local_devices", "__version__"}),
    "torch": frozenset(
        {
            "utils",
            "manual_seed",
            "cuda",
            "device",
            "__version__",
            "float32",
            "float16",
            "int64",
            "backends",
            "set_num_threads",
        }
    ),
}
_BACKEND_OF = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
_VERSION_TEXT = re.compile(r"__version__|version")
_REQ_NAMES = re.compile(
    r"""["']?\s*(keras|tensorflow(?:-cpu|-gpu|-macos)?|tf[-_]keras)\s*((?:[<>=!~]=?\s*[\w.*]+\s*,?\s*)*)""",
    re.IGNORECASE,
)


class Targets:
    """The `Target` of every module of a project, computed once per module.

    Args:
        index: the project's modules.
        keras: the Keras the user declared (`"2"`/`"3"`), or None to decide from the code.
        backends: the backends the user declared, or None.
    """

    def __init__(
        self,
        index: ProjectIndex,
        keras: str | None = None,
        backends: frozenset[str] | None = None,
    ) -> None:
        self.index = index
        self.keras = keras
        self.backends = backends
        self._targets: dict[int, Target] = {}
        self._uses: dict[int, frozenset[str]] = {}
        self._requirements: dict[str, str | None] = {}
        self._gates: dict[str, str | None] = {}

    def release(self, module: Module) -> None:
        """Forget what was decided for a released module."""
        self._targets.pop(id(module), None)
        self._uses.pop(id(module), None)

    def of(self, module: Module) -> Target:
        """The configuration `module` runs in."""
        found = self._targets.get(id(module))
        if found is None:
            keras = self.keras or self._keras(module)
            backends = self.backends
            if backends is None:
                backends = frozenset({"tensorflow"}) if keras == "2" else self._backends(module)
            found = self._targets[id(module)] = Target(keras, backends)
        return found

    def _keras(self, module: Module) -> str:
        gate = self._gate(module)
        if gate is not None:
            return gate
        flavour = module.imports.flavour
        if flavour == KERAS2:  # `tf_keras` is Keras 2 whatever else is installed
            return "2"
        declared = self._declared(module.root) if os.path.isfile(module.path) else None
        if declared is not None:
            return declared
        if flavour in (KERAS3, TF_KERAS):
            return "3"
        for other in self._imported(module):
            if other.imports.flavour == KERAS2:
                return "2"
        return "3"

    def _imported(self, module: Module) -> list[Module]:
        return self.index.imports_of(module)

    def _backends(self, module: Module) -> frozenset[str]:
        uses = self._uses_of(module, set())
        allowed = ALL
        for backend in uses:
            allowed = allowed & {backend}
        return allowed or ALL  # two backends' own functions: no single one; do not guess

    def _uses_of(self, module: Module, seen: set[int]) -> frozenset[str]:
        if id(module) in self._uses:
            return self._uses[id(module)]
        if id(module) in seen:
            return frozenset()
        seen.add(id(module))
        uses = set(backend_calls(module))
        for other in self._imported(module):
            uses |= self._uses_of(other, seen)
        self._uses[id(module)] = frozenset(uses)
        return self._uses[id(module)]

    def _gate(self, module: Module) -> str | None:
        """A version gate in the module or in the `__init__` of a package enclosing it."""
        found = version_gate(module)
        if found is not None:
            return found
        parts = module.package.split(".") if module.package else []
        for i in range(len(parts), 0, -1):
            name = ".".join(parts[:i])
            if name == module.name:
                continue
            if name not in self._gates:
                package = self.index.find_module(name)
                self._gates[name] = version_gate(package) if package is not None else None
            if self._gates[name] is not None:
                return self._gates[name]
        return None

    def _declared(self, root: str) -> str | None:
        if root not in self._requirements:
            self._requirements[root] = declared_keras(root)
        return self._requirements[root]


def backend_calls(module: Module) -> set[str]:
    """The backends whose own functions the module uses (`tf.nn.relu`, `jax.grad`,
    `torch.cat`), input pipelines and settings aside."""
    aliases = {
        local: path.split(".", 1)[0]
        for local, path in module.imports.names.items()
        if path.split(".", 1)[0] in _BACKEND_OF
    }
    if not aliases:
        return set()
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, aliases)) + r")\b")
    found: set[str] = set()
    for node in nodes_at(module.tree.body, match_lines(module.source, pattern)):
        if isinstance(node, ast.Attribute | ast.Name):
            path = module.imports.resolve(node)
            if path is None:
                continue
            root, _, rest = path.partition(".")
            second = rest.split(".", 1)[0]
            if root in _BACKEND_OF and second and second not in _NEUTRAL[root]:
                found.add(_BACKEND_OF[root])
    return found


def version_gate(module: Module) -> str | None:
    """`"2"` when a top-level `if`/`assert` of the module refuses Keras 3 at import (raises for
    Keras >= 3, or TensorFlow >= 2.16), `"3"` when it refuses Keras 2; else None."""
    if "version" not in module.source:
        return None
    for stmt in module.tree.body:
        if isinstance(stmt, ast.If) and _VERSION_TEXT.search(ast.unparse(stmt.test)):
            new = _refuses_new(stmt.test, module)
            if new is None:
                continue
            if _raises(stmt.body):
                return "2" if new else "3"
            if _raises(stmt.orelse):
                return "3" if new else "2"
        elif isinstance(stmt, ast.Assert) and _VERSION_TEXT.search(ast.unparse(stmt.test)):
            new = _refuses_new(stmt.test, module)
            if new is not None:  # the assertion must hold: it fails for the other side
                return "3" if new else "2"
    return None


def _raises(body: list[ast.stmt]) -> bool:
    return any(isinstance(s, ast.Raise) for s in body)


def _refuses_new(test: ast.expr, module: Module) -> bool | None:
    """Is `test` true for Keras 3 (True) or for Keras 2 (False)? None when it is not a test
    of the Keras or TensorFlow version this can read."""
    negate = False
    while isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        negate, test = not negate, test.operand
    text = ast.unparse(test)
    library = _library(test, module)
    if library is None:
        return None
    threshold = (3, 0) if library == "keras" else (2, 16)
    result: bool | None = None
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        op, left, right = test.ops[0], test.left, test.comparators[0]
        version = _constant_version(right)
        if version is None and (version := _constant_version(left)) is not None:
            op = _FLIPPED.get(type(op), op)  # `"3" <= keras.__version__`
        if version is not None:
            result = _compare(op, version, threshold)
    elif ".startswith(" in text and isinstance(test, ast.Call) and test.args:
        version = _constant_version(test.args[0])
        if version is not None and (version >= threshold or library == "keras"):
            result = version >= threshold
    if result is None:
        return None
    return not result if negate else result


_FLIPPED: dict[type[ast.cmpop], ast.cmpop] = {
    ast.Gt: ast.Lt(),
    ast.GtE: ast.LtE(),
    ast.Lt: ast.Gt(),
    ast.LtE: ast.GtE(),
}


def _compare(op: ast.cmpop, version: tuple[int, int], threshold: tuple[int, int]) -> bool | None:
    """Is `installed OP version` true for the new generation only (True), the old only (False),
    or either (None)?"""
    if isinstance(op, ast.GtE | ast.Gt):
        return True if version >= threshold else None
    if isinstance(op, ast.Lt):
        return False if version <= threshold else None
    if isinstance(op, ast.LtE):
        return False if version < threshold else None
    if isinstance(op, ast.Eq):
        return version >= threshold
    if isinstance(op, ast.NotEq):
        return not version >= threshold
    return None


def _library(test: ast.expr, module: Module) -> str | None:
    for node in ast.walk(test):
        if isinstance(node, ast.Attribute | ast.Name):
            path = module.imports.raw.get(node.id) if isinstance(node, ast.Name) else None
            resolved = module.imports.resolve(node) if path is None else path
            if resolved is None:
                continue
            root = resolved.split(".", 1)[0]
            if root in ("keras", "tf_keras"):
                return "keras"
            if root == "tensorflow":
                return "tensorflow"
    return None


def _constant_version(node: ast.expr) -> tuple[int, int] | None:
    if isinstance(node, ast.Call) and len(node.args) == 1:  # `version.parse("2.16")`
        node = node.args[0]
    value: object = node.value if isinstance(node, ast.Constant) else None
    if isinstance(node, ast.Tuple) and node.elts and isinstance(node.elts[0], ast.Constant):
        numbers = [e.value for e in node.elts if isinstance(e, ast.Constant)]
        value = ".".join(str(n) for n in numbers)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    match = re.match(r"(\d+)(?:\.(\d+))?", value)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def declared_keras(root: str) -> str | None:
    """`"2"` or `"3"` when the project's declared requirements pin a Keras generation: found in
    the nearest directory at or above `root` that holds `pyproject.toml`, `setup.cfg`,
    `setup.py` or `requirements*.txt`."""
    current = os.path.abspath(root)
    for _ in range(4):
        texts = _requirement_texts(current)
        if texts is not None:
            return _keras_of(texts)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return None


def _requirement_texts(directory: str) -> list[str] | None:
    names = ["pyproject.toml", "setup.cfg", "setup.py"]
    files = [
        os.path.join(directory, n) for n in names if os.path.isfile(os.path.join(directory, n))
    ]
    files += sorted(glob.glob(os.path.join(glob.escape(directory), "requirements*.txt")))
    if not files:
        return None
    texts: list[str] = []
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            continue
        if path.endswith("setup.cfg"):
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read_string(text)
                text = parser.get("options", "install_requires", fallback="")
            except configparser.Error:
                text = ""
        texts.append(text)
    return texts


def _keras_of(texts: list[str]) -> str | None:
    verdict: str | None = None
    for text in texts:
        for match in _REQ_NAMES.finditer(text):
            name = match.group(1).lower().replace("_", "-")
            specs = re.findall(r"([<>=!~]=?)\s*([\d.*]+)", match.group(2) or "")
            if name == "tf-keras":
                return "2"
            generation = _generation(name, specs)
            if generation == "2":
                return "2"
            verdict = verdict or generation
    return verdict


def _generation(name: str, specs: list[tuple[str, str]]) -> str | None:
    threshold = (3, 0) if name == "keras" else (2, 16)
    for op, raw in specs:
        version = _constant_version(ast.Constant(raw.replace("*", "0")))
        if version is None:
            continue
        if op in ("<", "<=") and version <= threshold and not (op == "<=" and version == threshold):
            return "2"
        if op in ("==", "~=") and version < threshold:
            return "2"
        if op in (">=", "==", "~=", ">") and version >= threshold:
            return "3" if name == "keras" else None
    return None


__all__ = ["BACKENDS", "Target", "Targets", "backend_calls", "declared_keras", "version_gate"]
