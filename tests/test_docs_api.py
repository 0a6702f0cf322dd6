"""Every public name has a complete docstring, and the API reference page documents each one.

"Complete": a summary line; `Args:` naming every parameter (of the function, or of the class's own
`__init__`); `Call arguments:` for a layer; and an `Example:` with a ```python block (which
tests/test_docs.py runs).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import keras
import pytest

import training_aware
from training_aware.testing import assert_training_modes

ROOT = Path(__file__).resolve().parents[1]
API_PAGE = ROOT / "docs" / "api.md"

PUBLIC: dict[str, Any] = {
    name: getattr(training_aware, name) for name in training_aware.__all__ if name != "__version__"
}
PUBLIC["testing.assert_training_modes"] = assert_training_modes


def section(doc: str, title: str) -> str | None:
    """The text of a Google-style section (`Args:`), up to the next section or the end."""
    match = re.search(rf"^(\s*){re.escape(title)}:\s*$", doc, re.M)
    if match is None:
        return None
    indent = match.group(1)
    rest = doc[match.end() :]
    following = re.search(rf"^{indent}[A-Z][\w ]*:\s*$", rest, re.M)  # the next section
    return rest[: following.start()] if following else rest


def documented_parameters(obj: Any) -> list[str]:
    """The parameters an `Args:` section must name (none for exceptions and warnings)."""
    if isinstance(obj, type):
        if issubclass(obj, BaseException):
            return []
        init = vars(obj).get("__init__")
        if init is None:
            return []
        function = init
    else:
        function = getattr(obj, "__wrapped__", obj)  # contextmanager
    names = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name in ("self", "cls"):
            continue
        prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
        names.append(prefix.get(parameter.kind, "") + parameter.name)
    return names


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_name_has_a_complete_docstring(name: str) -> None:
    check_docstring(name, PUBLIC[name])


def test_the_check_catches_an_incomplete_docstring() -> None:
    def no_example(x: int) -> int:
        """Double `x`.

        Args:
            x: a number.
        """
        return 2 * x

    def undocumented_argument(x: int, y: int) -> int:
        """Add.

        Args:
            x: a number.

        Example:

        ```python
        assert 1 + 2 == 3
        ```
        """
        return x + y

    with pytest.raises(AssertionError, match="Example"):
        check_docstring("no_example", no_example)
    with pytest.raises(AssertionError, match="does not describe y"):
        check_docstring("undocumented_argument", undocumented_argument)


def check_docstring(name: str, obj: Any) -> None:
    doc = obj.__doc__ or ""
    assert doc.strip(), f"{name} has no docstring"
    assert doc.strip().splitlines()[0].strip(), f"{name}: the docstring starts with a summary line"
    example = section(doc, "Example") or section(doc, "Examples")
    assert example is not None and "```python" in example, (
        f"{name}: add an `Example:` section with a ```python block (docs/CONTRIBUTING-docs.md)"
    )
    parameters = documented_parameters(obj)
    if parameters:
        args = section(doc, "Args") or section(doc, "Attributes")  # a dataclass: its fields
        assert args is not None, f"{name}: add an `Args:` section ({', '.join(parameters)})"
        for parameter in parameters:
            assert re.search(rf"^\s*{re.escape(parameter)}\b", args, re.M), (
                f"{name}: `Args:` does not describe {parameter}"
            )
    if isinstance(obj, type) and issubclass(obj, keras.layers.Layer):
        assert section(doc, "Call arguments") is not None, f"{name}: add `Call arguments:`"


def test_the_api_page_documents_every_public_name() -> None:
    page = API_PAGE.read_text(encoding="utf-8")
    referenced = set(re.findall(r"^::: ([\w.]+)$", page, re.M))
    for name, obj in PUBLIC.items():
        target = f"{obj.__module__}.{obj.__qualname__}"
        assert target in referenced, f"docs/api.md: add `::: {target}` for {name}"
    for target in referenced:  # and nothing else: a stale reference after a move fails here
        assert any(f"{o.__module__}.{o.__qualname__}" == target for o in PUBLIC.values()), (
            f"docs/api.md: ::: {target} is not a public name"
        )
