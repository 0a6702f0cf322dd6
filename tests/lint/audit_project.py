"""Run `training_aware.audit` on the models of the fixture project in `sys.argv[1]`.

Run in a subprocess with `KERAS_BACKEND` set (one backend per process); prints one JSON object:
model name -> whether the audit found nothing.
"""

from __future__ import annotations

import json
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])

import textclf

from training_aware import audit

x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
models = {"Classifier": textclf.build_classifier(), "Regressor": textclf.build_regressor()}
print(json.dumps({name: audit(model, x).ok for name, model in models.items()}))
