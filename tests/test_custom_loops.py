"""docs/custom-loops.md: each backend's custom training loop shows the plain-Keras bug and the fix.

The page has one self-contained example per backend, guarded by `keras.backend.backend()`. Here
every block runs in a fresh namespace (self-contained: no block may rely on another), then the
current backend's loop is run again on a plain `keras.Model` and on a `TrainingAwareModel`, with
this backend's expectation stated. `tests/test_backends.py` reruns the `backend`-marked tests on
the other installed backends, so one `pytest` covers TensorFlow, JAX and PyTorch.
"""

from __future__ import annotations

import linecache
import re
from pathlib import Path
from typing import Any

import keras
import pytest

import training_aware as ta

PAGE = Path(__file__).resolve().parents[1] / "docs" / "custom-loops.md"
BLOCK = re.compile(
    r"(?:^<!-- backend: ([\w, ]+) -->\n)?^```python\n(.*?)^```", re.DOTALL | re.MULTILINE
)
BACKEND = keras.backend.backend()

# backend -> (the loop function, the model factory) the page defines for it
LOOPS = {
    "tensorflow": ("train_with_gradient_tape", "frozen_backbone_model"),
    "jax": ("train_with_stateless_call", "unforwarding_model"),
    "torch": ("train_with_torch", "frozen_backbone_model"),
}


def run_blocks() -> list[dict[str, Any]]:
    """Execute every python block of the page, each in a namespace of its own."""
    text = PAGE.read_text()
    namespaces = []
    for i, (backends, block) in enumerate(BLOCK.findall(text)):
        if backends and BACKEND not in {name.strip() for name in backends.split(",")}:
            continue  # written for another backend (docs/CONTRIBUTING-docs.md's directive)
        filename = f"{PAGE}[block {i}]"
        linecache.cache[filename] = (len(block), None, block.splitlines(True), filename)
        namespace: dict[str, Any] = {"__name__": f"docs_custom_loops_{i}"}
        exec(compile(block, filename, "exec"), namespace)
        namespaces.append(namespace)
    return namespaces


def test_page_has_one_loop_per_backend() -> None:
    names = [set(ns) for ns in run_blocks()]
    for backend, (loop, factory) in LOOPS.items():
        assert any({loop, factory} <= defined for defined in names), (
            f"docs/custom-loops.md has no {backend} example defining {loop} and {factory}"
        )


@pytest.mark.backend
def test_this_backends_loop_shows_the_bug_and_the_fix() -> None:
    if BACKEND not in LOOPS:
        pytest.skip(f"docs/custom-loops.md has no example for the {BACKEND} backend")
    loop_name, factory_name = LOOPS[BACKEND]
    namespace = next(ns for ns in run_blocks() if loop_name in ns)
    # The page's own guarded run happened on this backend and kept its results.
    assert "plain" in namespace and "fixed" in namespace, "the page's example did not run"
    loop, factory = namespace[loop_name], namespace[factory_name]

    plain = loop(factory(keras.Model))
    fixed = loop(factory(ta.TrainingAwareModel))
    if BACKEND == "jax":
        # F2: stateless_call bypasses __call__, so the unforwarded sublayers run in inference.
        assert plain == {"BatchNorm trained": False}
        assert fixed == {"BatchNorm trained": True}
    else:
        # F13 on TensorFlow and PyTorch: the backbone's explicit False leaks to the head.
        assert plain == {"head BatchNorm trained": False, "backbone BatchNorm trained": False}
        assert fixed == {"head BatchNorm trained": True, "backbone BatchNorm trained": False}
    assert namespace["plain"] == plain and namespace["fixed"] == fixed
