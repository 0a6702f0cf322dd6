"""Every ```python block of the docs pages runs, in order, in one namespace per page."""

from __future__ import annotations

import linecache
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = ["forwarding.md", "index.md"]  # other pages have their own runners
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks(page: str) -> list[str]:
    return BLOCK.findall((DOCS / page).read_text())


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page: str) -> None:
    code = blocks(page)
    assert code, f"{page} has no python examples"
    namespace: dict[str, object] = {"__name__": f"docs_{page[:-3]}"}
    for i, block in enumerate(code):
        filename = f"{DOCS / page}[block {i}]"
        # Registered so error messages that quote the calling line can find it.
        linecache.cache[filename] = (len(block), None, block.splitlines(True), filename)
        exec(compile(block, filename, "exec"), namespace)
