"""The committed table of mode-dependent Keras layers matches the installed Keras."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keras
import pytest

from training_aware import _training_table

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # imports every Keras layer and reads its source
def test_table_matches_installed_keras() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_training_table.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (
        f"the table was made from keras {_training_table.KERAS_VERSION}, this is keras "
        f"{keras.__version__}: run `python scripts/generate_training_table.py` and review the diff"
    )


def test_table_classifies_the_well_known_layers() -> None:
    assert {"Dropout", "BatchNormalization", "GaussianNoise"} <= _training_table.USES_TRAINING
    assert {"Dense", "EinsumDense"} == _training_table.IGNORES_TRAINING
    assert "Conv2D" not in _training_table.USES_TRAINING
