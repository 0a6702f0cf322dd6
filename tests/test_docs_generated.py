"""The audit report in the docs is what `audit` gives today (scripts/generate_audit_report.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import keras
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "generate_audit_report.py"


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("generate_audit_report", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # 3 s on TensorFlow, 10 s on JAX
def test_the_audit_report_in_the_docs_is_current() -> None:
    generator = _generator()
    committed = generator.TARGET.read_text(encoding="utf-8")
    fresh = generator.render(generator.run_audit())
    # The page shows the TensorFlow run; every backend must give the same report.
    backend = keras.backend.backend()
    expected = committed.replace("(backend: tensorflow)", f"(backend: {backend})")
    assert fresh == expected, (
        "docs/snippets/audit-report.md is out of date: run "
        "`KERAS_BACKEND=tensorflow python scripts/generate_audit_report.py` and review the diff"
    )


def test_the_page_shows_the_audited_model_and_includes_the_report() -> None:
    generator = _generator()
    page = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    model_class = generator.MODEL_SOURCE[generator.MODEL_SOURCE.index("class BadModel") :]
    assert model_class in page, "the model on the page differs from the audited one"
    assert '--8<-- "docs/snippets/audit-report.md"' in page
