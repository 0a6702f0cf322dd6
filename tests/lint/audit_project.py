"""Run `training_aware.audit` on the models of the fixture projects given as arguments.

Run in a subprocess with `KERAS_BACKEND` set (one backend per process, Keras imported once); each
argument is a copy of tests/lint_projects/textclf/. Prints one JSON list with, per project, an
object: model name -> whether the audit found nothing.
"""

from __future__ import annotations

import importlib
import json
import sys

import numpy as np

from training_aware import audit

x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
results = []
for root in sys.argv[1:]:
    for name in [n for n in sys.modules if n == "textclf" or n.startswith("textclf.")]:
        del sys.modules[name]  # the next project's package of the same name
    sys.path.insert(0, root)
    textclf = importlib.import_module("textclf")
    sys.path.remove(root)
    models = {"Classifier": textclf.build_classifier(), "Regressor": textclf.build_regressor()}
    results.append({name: audit(model, x).ok for name, model in models.items()})
print(json.dumps(results))
