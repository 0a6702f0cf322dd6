"""Static types of values: the set of classes a value may hold, and what each does with
`training`.

A value's type is the set of classes it may hold, each with a `Kind`: does its `call` use
`training` (`USES`), declare and ignore it (`IGNORES`, like `Dense`), not declare it
(`NOTRAIN`), or is it a model whose contents are unknown (`MODEL`)? Containers (lists, tuples,
dicts) carry the type of their elements. Anything the checker cannot see through is
`UNKNOWN`, and rules never report on an unknown type: precision beats recall.
"""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass
from typing import Protocol

TENSOR = "<tensor>"  # a symbolic tensor of a Functional graph (its kind: what built it)


class Kind(enum.Enum):
    """What a class's `call` does with `training`."""

    USES = "uses"
    IGNORES = "ignores"
    NOTRAIN = "notrain"
    MODEL = "model"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Ty:
    """The classes a value may hold (name, kind), and for a container its elements' type."""

    items: frozenset[tuple[str, Kind]] = frozenset()
    elems: Ty | None = None

    def union(self, other: Ty) -> Ty:
        """Either this or `other`."""
        if self.elems is None:
            elems = other.elems
        elif other.elems is None:
            elems = self.elems
        else:
            elems = self.elems.union(other.elems)
        return Ty(self.items | other.items, elems)

    def user(self) -> str | None:
        """The name of a class in the set whose `call` uses `training`, or None."""
        for name, kind in sorted(self.items, key=lambda item: item[0]):
            if kind is Kind.USES and name != TENSOR:
                return name
        return None

    def is_model(self) -> bool:
        """True if some class in the set certainly takes `training` (a layer using it, a model)."""
        return any(kind in (Kind.USES, Kind.MODEL) and n != TENSOR for n, kind in self.items)

    def tensor_kind(self) -> Kind | None:
        """For a symbolic tensor of a Functional graph: USES when a layer upstream uses
        `training`, IGNORES when every layer upstream is known to ignore it, UNKNOWN when some
        input or layer is unknown; None when this is not (only) a tensor."""
        if not self.items or any(n != TENSOR for n, _ in self.items):
            return None
        kinds = {k for _, k in self.items}
        if Kind.USES in kinds:
            return Kind.USES
        return Kind.IGNORES if kinds == {Kind.IGNORES} else Kind.UNKNOWN

    def without(self, names: frozenset[str]) -> Ty:
        """The type in the `else` branch of `isinstance(value, names)`."""
        return Ty(frozenset(i for i in self.items if i[0] not in names), self.elems)


UNKNOWN = Ty(frozenset({("?", Kind.UNKNOWN)}))
NONE = Ty(frozenset({("None", Kind.NOTRAIN)}))


def one(name: str, kind: Kind) -> Ty:
    """The type of a value of exactly one class."""
    return Ty(frozenset({(name, kind)}))


MODEL_TY = Ty(frozenset({("Model", Kind.MODEL)}))


def container(elems: Ty) -> Ty:
    """A list, tuple or dict whose elements have type `elems`."""
    return Ty(frozenset({("<container>", Kind.NOTRAIN)}), elems)


def expr_key(node: ast.expr) -> str | None:
    """`name` for a Name, `self.attr` for an attribute of self, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    ):
        return "self." + node.attr
    return None


def tensor(kind: Kind) -> Ty:
    """A symbolic tensor whose upstream layers have `kind` (USES, IGNORES or UNKNOWN)."""
    return Ty(frozenset({(TENSOR, kind)}))


def merge_tensors(kinds: list[Kind]) -> Ty:
    """The tensor produced from inputs and layers of `kinds`."""
    if Kind.USES in kinds:
        return tensor(Kind.USES)
    if kinds and all(k in (Kind.IGNORES, Kind.NOTRAIN) for k in kinds):
        return tensor(Kind.IGNORES)
    return tensor(Kind.UNKNOWN)


class Typing(Protocol):
    """What the sublayer scan and the Keras-layer refinements need from a module's types (the
    `Typer` of `layertypes` provides it; this protocol keeps the layers of the checker acyclic)."""

    classes: dict[str, ast.ClassDef]
    attr_cache: dict[int, dict[str, Ty]]

    def type_of(self, node: ast.expr, env: dict[str, Ty]) -> Ty:
        """The static type of an expression."""
        ...

    def ctor_args(self, cls_name: str) -> dict[str, Ty]:
        """Types of a class's `__init__` parameters, from where the module builds it."""
        ...

    def base_class(self, cls: ast.ClassDef) -> tuple[Typing, ast.ClassDef] | None:
        """The first base class of `cls` defined in the project, with its module's types."""
        ...

    def collecting(self) -> set[int]:
        """Classes whose attributes are being collected (a guard against base-class cycles)."""
        ...
