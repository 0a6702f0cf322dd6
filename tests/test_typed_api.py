"""The public signatures use real types: no `Any` in a named parameter or a return, and mypy
--strict checks a user's code against them (a wrong call is an error, a right one is clean)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import training_aware
from training_aware.testing import assert_training_modes

ROOT = Path(__file__).resolve().parents[1]

TYPED: dict[str, Any] = {
    "audit": training_aware.audit,
    "mc_predict": training_aware.mc_predict,
    "override_modes": training_aware.override_modes,
    "freeze_batchnorm": training_aware.freeze_batchnorm,
    "PinnedMode": training_aware.PinnedMode.__init__,
    "call_with_training": training_aware.call_with_training,
    "accepts_training": training_aware.accepts_training,
    "assert_training_modes": assert_training_modes,
}


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", sorted(TYPED))
def test_named_parameters_and_returns_are_typed_without_any(name: str) -> None:
    function = getattr(TYPED[name], "__wrapped__", TYPED[name])  # a contextmanager's function
    signature = inspect.signature(function)
    annotations = {
        p.name: p.annotation
        for p in signature.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    annotations["return"] = signature.return_annotation
    for where, annotation in annotations.items():
        assert annotation is not inspect.Parameter.empty, (name, where)
        assert "Any" not in str(annotation), (name, where, annotation)


USER_CODE = """
import keras
import numpy as np
from training_aware import (
    PinnedMode, accepts_training, audit, call_with_training, freeze_batchnorm, mc_predict,
    override_modes,
)
from training_aware.testing import assert_training_modes

def use(model: keras.Model, x: np.ndarray) -> list[str]:
    with override_modes(model, {keras.layers.Dropout: True, "encoder/*": False}):
        mean, std = mc_predict(model, x, samples=4, verbose=0)
    report = audit(model, x)
    ok: bool = report.ok and assert_training_modes(model, {"a": x}).ok
    total: int = call_with_training(lambda v, training=None: v + 1, 1, training=True)
    flag: bool = accepts_training(model)
    PinnedMode(keras.layers.Dropout(0.5), training=True)
    return freeze_batchnorm(model)
"""

WRONG_CODE = """
import keras
from training_aware import audit, freeze_batchnorm, mc_predict, override_modes

def use(model: keras.Model) -> None:
    with override_modes(model, [("drop", True)]):
        pass
    mc_predict(model, [1.0], verbose="quiet")
    audit(model, [1.0], batch_size="all")
    paths: int = freeze_batchnorm(model)
"""


@pytest.mark.slow
@pytest.mark.backend_independent
def test_mypy_strict_checks_users_code_against_the_signatures(tmp_path: Path) -> None:
    (tmp_path / "right.py").write_text(USER_CODE)
    (tmp_path / "wrong.py").write_text(WRONG_CODE)
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\n[mypy-keras.*]\nignore_missing_imports = True\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "right.py", "wrong.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "", "MYPY_CACHE_DIR": str(tmp_path / ".c")},
        timeout=600,
        check=False,
    )
    assert "right.py" not in result.stdout, result.stdout
    wrong = result.stdout
    assert 'Argument 2 to "override_modes" has incompatible type "list[tuple[str, bool]]"' in wrong
    assert 'Argument "verbose" to "mc_predict" has incompatible type' in wrong
    assert 'Argument "batch_size" to "audit" has incompatible type "str"' in wrong
    assert 'Incompatible types in assignment (expression has type "list[str]"' in wrong
