"""Distributed training: tf.distribute's MirroredStrategy and JAX's DataParallel, 2 CPUs each.

Each engine runs in its own process (tests/_distributed.py), because its device set-up must come
before the backend initialises. The model is a `TrainingAwareModel` holding a `TrainingSequential`
and a `PinnedMode`; the same scenario also runs without any strategy in that process, and the
scoped tools must give the same answers in both.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAME_ANSWER = (
    "fit_bn_changed",
    "fit_pinned_bn_unchanged",
    "predict_deterministic",
    "override_dropout_on",
    "override_undone",
    "override_bn_train_changes_stats",
    "mc_reproducible",
    "mc_state_unchanged",
    "audit_ok",
    "audit_state_unchanged",
    "freeze_holds",
)


def run(engine: str) -> dict[str, Any]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("XLA_FLAGS", None)
    result = subprocess.run(
        [sys.executable, "-m", "tests._distributed", engine],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
    assert result.returncode == 0, f"the {engine} distributed run failed:\n{tail}"
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def modes(report: dict[str, Any], entry: str, probe: str) -> dict[str, set[Any]]:
    """thread -> the `training` values the probe saw there."""
    out: dict[str, set[Any]] = {}
    for thread, value in report[entry][probe]:
        out.setdefault(thread, set()).add(value)
    return out


def check(report: dict[str, Any]) -> None:
    assert report["replicas"] == 2
    for key in SAME_ANSWER:
        assert report[key] is True, f"{key} under the strategy: {report[key]!r}"
        assert report["no_strategy"][key] is True, f"{key} without a strategy"
    assert report["audit_problems"] == []
    assert report["freeze_paths"] == ["body/bn", "pinned/pinned_bn"]
    assert report["mc_std_mean"] > 0.01 and report["no_strategy"]["mc_std_mean"] > 0.01
    # Dropout rate 0: two devices train to the same weights as one (float32 rounding only).
    assert report["rate0_max_abs_diff"] <= report["tolerance"] == 1e-5


@pytest.mark.slow
@pytest.mark.backend_independent
@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs tensorflow")
def test_mirrored_strategy_two_replicas() -> None:
    report = run("tensorflow")
    check(report)
    # tf.distribute traces each replica in its own thread: both saw fit's True, predict's False.
    for probe in ("probe_body", "probe_top"):
        fit = modes(report, "fit_modes", probe)
        predict = modes(report, "predict_modes", probe)
        assert len(fit) == 2 and all(v == {True} for v in fit.values()), fit
        assert len(predict) == 2 and all(v == {False} for v in predict.values()), predict
        assert "MainThread" not in fit and "MainThread" not in predict


@pytest.mark.slow
@pytest.mark.backend_independent
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax")
def test_jax_data_parallel_two_host_devices() -> None:
    report = run("jax")
    check(report)
    # One SPMD program for both devices: traced once per entry point, in the mode meant.
    for probe in ("probe_body", "probe_top"):
        assert modes(report, "fit_modes", probe) == {"MainThread": {True}}
        assert modes(report, "predict_modes", probe) == {"MainThread": {False}}
