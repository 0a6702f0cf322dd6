"""The project index: every module the linter is given, and the package each belongs to.

`training-aware lint PATH...` checks many modules that import each other: a block class defined
in `layers.py`, a model built in `models.py`, trained in `train.py`. The index maps dotted module
names to parsed modules, resolves imports between them (absolute and relative, re-exports through
a package's `__init__`), and answers "what does `pkg.models.Net` refer to?" with the class,
function or module-level value that defines it. Modules are parsed once, when first needed: the
files given, and the other modules of their packages (found on disk next to them) only when an
import reaches them. A name the index cannot find stays unknown.

Layers of the checker (data flows one way): files -> project index (this module) -> types
(`layertypes`) -> rules (`callbody`, `module_rules`, `checker`) -> report and fixes.
"""

from __future__ import annotations

import ast
import os
import warnings
from dataclasses import dataclass, field
from typing import Literal

from training_aware.lint.files import Reader, decode, read_source
from training_aware.lint.imports import ImportMap, collect_imports
from training_aware.lint.syntax import Func, iter_classes

SymbolKind = Literal["class", "function", "value", "module"]
_MAX_HOPS = 8  # re-exports followed from one name (`__init__` -> submodule -> ...)
# Top-level packages that are never part of a checked project's own modules' imports.
_NOT_PROJECT = frozenset({"keras", "tensorflow", "jax", "torch", "numpy", "tf_keras", "os", "sys"})


def module_name(path: str) -> tuple[str, str, str]:
    """The dotted name Python imports `path` as, its package, and the directory on `sys.path`.

    `pkg/sub/models.py` (with `pkg/__init__.py` and `pkg/sub/__init__.py`) is `pkg.sub.models`
    in package `pkg.sub`, rooted at the directory holding `pkg`; a file outside any package is a
    script (`train.py` is `train`, package `""`), rooted at its own directory, where Python finds
    its sibling modules.
    """
    path = os.path.abspath(path)
    directory, filename = os.path.split(path)
    stem = filename[:-3] if filename.endswith(".py") else filename
    parts = [] if stem == "__init__" else [stem]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
        if not package:  # pragma: no cover - the file system root
            break
    name = ".".join(parts)
    package = name if stem == "__init__" else name.rpartition(".")[0]
    return name, package, directory


@dataclass(eq=False)
class Module:
    """One parsed module: its names, its text and tree, and what it defines at top level."""

    name: str
    path: str
    package: str
    root: str
    source: str
    tree: ast.Module
    display: str = ""  # the path as given, for messages
    imported: bool = False  # another module has reached it through an import
    _imports: ImportMap | None = field(default=None, repr=False)
    _class_nodes: list[ast.ClassDef] | None = field(default=None, repr=False)
    _classes: dict[str, ast.ClassDef] | None = field(default=None, repr=False)
    _functions: dict[str, Func] | None = field(default=None, repr=False)
    _values: dict[str, ast.expr] | None = field(default=None, repr=False)

    @property
    def imports(self) -> ImportMap:
        """The module's imports, relative ones resolved against its package."""
        if self._imports is None:
            self._imports = collect_imports(self.tree, self.package if self.name else None)
        return self._imports

    @property
    def class_nodes(self) -> list[ast.ClassDef]:
        """Every class statement of the module (nested ones too), in no particular order."""
        if self._class_nodes is None:
            found = iter_classes(self.tree.body) if "class " in self.source else iter(())
            self._class_nodes = list(found)
        return self._class_nodes

    @property
    def classes(self) -> dict[str, ast.ClassDef]:
        """Every class the module defines (nested ones too), by name; the last one wins."""
        if self._classes is None:
            self._classes = {cls.name: cls for cls in self.class_nodes}
        return self._classes

    @property
    def functions(self) -> dict[str, Func]:
        """The module's top-level functions, by name."""
        if self._functions is None:
            self._functions = {
                node.name: node
                for node in self.tree.body
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            }
        return self._functions

    @property
    def values(self) -> dict[str, ast.expr]:
        """Top-level names bound by a simple assignment (`model = build_model()`), by name."""
        if self._values is None:
            self._values = {}
            for node in self.tree.body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target = node.targets[0]
                    if isinstance(target, ast.Name):
                        self._values[target.id] = node.value
        return self._values


@dataclass(frozen=True, eq=False)
class Symbol:
    """What a dotted name refers to in the project: a class, a function, a module-level value
    or a module, defined in `module` under `name`."""

    module: Module
    kind: SymbolKind
    name: str


def parse(source: str, path: str) -> ast.Module:
    """Parse module text, keeping the checked code's own warnings quiet.

    Raises:
        SyntaxError, ValueError, RecursionError, MemoryError: text that cannot be parsed.
    """
    with warnings.catch_warnings():
        # The checked code's own warnings (an invalid escape sequence) are not ours to print.
        warnings.simplefilter("ignore")
        return ast.parse(source, filename=path)


class ProjectIndex:
    """The modules of one run, by dotted name and by path, parsed on first use.

    Args:
        read: how a file's bytes are read (`files.read_source`); a notebook or an editor's
            unsaved buffer can be served by another reader.
    """

    def __init__(self, read: Reader = read_source) -> None:
        self.read = read
        self._by_path: dict[str, Module | None] = {}
        self._names: dict[str, str] = {}  # dotted name -> path as given, for registered files
        self._roots: list[str] = []
        # where a module may be looked for on disk: (root, top-level package) of each
        # registered file in a package (`""` for a script's directory: any sibling)
        self._places: set[tuple[str, str]] = set()
        self._by_name: dict[str, Module | None] = {}

    def add(self, path: str) -> None:
        """Register a file to check: its module is found by name from now on, and the other
        modules of its package are looked up beside it when imported."""
        name, package, root = module_name(path)
        if name:
            self._names.setdefault(name, path)
        self._place(root, name, package)

    def _place(self, root: str, name: str, package: str) -> None:
        if root not in self._roots:
            self._roots.append(root)
        # a package's own modules only (its root may be site-packages, which holds everything
        # else installed); a script's directory: every module next to it
        self._places.add((root, name.split(".", 1)[0] if package else ""))

    def add_parsed(self, path: str, source: str, tree: ast.Module) -> Module:
        """Register a module already parsed (flake8's tree, a repaired text): it replaces any
        earlier version of the same file."""
        key = os.path.abspath(path)
        name, package, root = module_name(path)
        module = Module(name, key, package, root, source, tree, display=path)
        self._by_path[key] = module
        if not os.path.isfile(key):
            return module  # text without a file (a snippet): no package around it
        if name:
            self._names[name] = path
            self._by_name[name] = module
        self._place(root, name, package)
        return module

    def parsed(self, path: str) -> Module | None:
        """The module of `path` if it has been parsed already (an import reached it), else None."""
        return self._by_path.get(os.path.abspath(path))

    def module_at(self, path: str) -> Module | None:
        """The parsed module of a file (None when it cannot be read, decoded or parsed)."""
        key = os.path.abspath(path)
        if key in self._by_path:
            return self._by_path[key]
        self._by_path[key] = None  # re-entry guard, and the answer when reading fails
        source = self.read(path)
        if source.data is None:
            return None
        try:
            text = decode(source.data)
            tree = parse(text, path)
        except (SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError):
            return None
        return self.add_parsed(path, text, tree)

    def find_module(self, name: str) -> Module | None:
        """The module imported as `name`: a registered file, else `name`'s file beside the
        registered ones (in the directories Python would search for them)."""
        if name in self._by_name:
            return self._by_name[name]
        self._by_name[name] = None
        path = self._names.get(name)
        if path is None:
            relative = name.replace(".", os.sep)
            top = name.split(".", 1)[0]
            for root in self._roots:
                if (root, top) not in self._places and (root, "") not in self._places:
                    continue
                for candidate in (relative + ".py", os.path.join(relative, "__init__.py")):
                    full = os.path.join(root, candidate)
                    if os.path.isfile(full):
                        path = full
                        break
                if path is not None:
                    break
        if path is None:
            return None
        module = self.module_at(path)
        if module is not None and module.name != name:
            return None  # found under another name (not inside the package it claims)
        self._by_name[name] = module
        if module is not None:
            module.imported = True
        return module

    def release(self, module: Module) -> bool:
        """Forget a checked module that no other module has imported so far, so a large tree
        is not held in memory; it is parsed again if an import reaches it later. Returns
        whether it was released."""
        if module.imported:
            return False
        self._by_path.pop(module.path, None)
        if self._by_name.get(module.name) is module:
            del self._by_name[module.name]
        return True

    def imports_of(self, module: Module) -> list[Module]:
        """The project modules `module` imports names from (directly), in a stable order."""
        out: list[Module] = []
        for path in sorted(set(module.imports.names.values())):
            if path.split(".", 1)[0] in _NOT_PROJECT:
                continue
            symbol = self.lookup(path)
            if symbol is not None and symbol.module is not module and symbol.module not in out:
                out.append(symbol.module)
        return out

    def in_import_order(self, paths: list[str]) -> list[str]:
        """`paths` reordered so that a module comes after the project modules it imports (in
        given order otherwise; an import cycle keeps its given order)."""
        by_path = {os.path.abspath(p): p for p in paths}
        done: set[str] = set()
        order: list[str] = []

        def visit(path: str, stack: set[str]) -> None:
            key = os.path.abspath(path)
            if key in done or key in stack:
                return
            stack.add(key)
            module = self.module_at(path)
            if module is not None:
                for other in self.imports_of(module):
                    if other.path in by_path:
                        visit(by_path[other.path], stack)
            stack.discard(key)
            done.add(key)
            order.append(path)

        for path in paths:
            visit(path, set())
        return order

    def lookup(self, dotted: str, hops: int = 0) -> Symbol | None:
        """What `dotted` (`pkg.models.Net`, `pkg.Net` re-exported by `pkg/__init__.py`) refers
        to, or None when no module of the project defines it."""
        if hops > _MAX_HOPS or not self._roots:
            return None
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            module = self.find_module(".".join(parts[:i]))
            if module is not None:
                if i == len(parts):
                    return Symbol(module, "module", module.name)
                return self._member(module, parts[i:], hops)
        return None

    def _member(self, module: Module, rest: list[str], hops: int) -> Symbol | None:
        name = rest[0]
        if len(rest) == 1:
            if name in module.functions:
                return Symbol(module, "function", name)
            top_class = next(
                (n for n in module.tree.body if isinstance(n, ast.ClassDef) and n.name == name),
                None,
            )
            if top_class is not None:
                return Symbol(module, "class", name)
            if name in module.values:
                return Symbol(module, "value", name)
        target = module.imports.names.get(name)
        if target is not None:  # a re-export: `from .layers import Block` in `__init__`
            return self.lookup(".".join([target, *rest[1:]]), hops + 1)
        return None
