"""The lint tests never touch Keras: replace the root conftest's per-test Keras seed and session
reset (about half a second per test) with a no-op of the same name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _seed() -> Iterator[None]:
    yield
