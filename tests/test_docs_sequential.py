"""Run every ```python block of docs/sequential.md, in order, in one namespace."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "sequential.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_every_python_block_in_docs_sequential_runs() -> None:
    text = DOC.read_text(encoding="utf-8")
    blocks = BLOCK.findall(text)
    assert len(blocks) >= 10, "docs/sequential.md lost its examples"
    namespace: dict[str, object] = {"__name__": "docs_sequential"}
    for number, code in enumerate(blocks, start=1):
        line = text[: text.index(code)].count("\n") + 1
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                exec(compile(code, f"{DOC.name}:block{number}(line {line})", "exec"), namespace)
            except Exception as error:
                raise AssertionError(
                    f"docs/sequential.md block {number} (line {line}) failed: {error!r}"
                ) from error
