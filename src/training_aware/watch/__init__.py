"""The watch: run unchanged code and report every mode-dependent layer that ran in the wrong mode.

`training-aware run script.py` and `pytest --training-aware` use it; so can code:

```python
from training_aware.watch import Watch

with Watch() as watch:
    ...                                   # any Keras code: fit, predict, custom loops
print(watch.report().to_text())
```

What it watches (`_probe`): the `training` each layer's `call` receives, under which entry point
(`fit`, `evaluate`, `predict`, the `*_on_batch` methods, a direct `model(x, training=...)` call, or
a custom training step: a model called without `training` whose variables an optimizer then
updates). A finding is a layer whose behaviour depends on `training` (Dropout, BatchNormalization,
noise and augmentation layers, RNN and attention dropout, user layers that read `training`) and
that ran in the other mode, unless an explicit `training=` in the code chose that mode for it.
The watch only reads: a watched run computes exactly what the same run computes without it.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from types import TracebackType
from typing import Any

from training_aware.watch import _after_keras, _probe
from training_aware.watch._analysis import Finding, analyse, effective
from training_aware.watch.report import WatchReport

__all__ = ["Finding", "Watch", "WatchReport"]

_ACTIVE: list[Watch] = []


class Watch:
    """Record the mode every mode-dependent layer receives, from `start()` to `stop()`.

    One watch records at a time in a process. Keras is not imported by the watch: it installs its
    probes when the watched code imports Keras (or at once, if Keras is already imported).
    """

    def __init__(self) -> None:
        self.findings: dict[tuple[str, ...], Finding] = {}
        self.counts: Counter[tuple[str, ...]] = Counter()
        self.bucket: set[tuple[str, ...]] = set()
        self.layers_watched: set[int] = set()
        self.entry_points: set[str] = set()
        self.keras_imported = False
        self._lock = threading.Lock()
        self._verdicts: weakref.WeakKeyDictionary[Any, dict[Any, Finding | None]] = (
            weakref.WeakKeyDictionary()
        )
        self._symbolic: Any = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Watch:
        if _ACTIVE:
            raise RuntimeError("a training-aware watch is already recording in this process")
        _ACTIVE.append(self)
        _after_keras.after_keras(self._install)
        return self

    def stop(self) -> None:
        if self in _ACTIVE:
            _ACTIVE.remove(self)
            _after_keras.cancel()
            _probe.uninstall()

    def __enter__(self) -> Watch:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _install(self) -> None:
        from keras.src.backend.common.symbolic_scope import in_symbolic_scope

        self._symbolic = in_symbolic_scope
        self.keras_imported = True
        _probe.install(self._observe, self._on_step)

    # -- results ----------------------------------------------------------------------------

    def new_bucket(self) -> set[tuple[str, ...]]:
        """Start collecting the keys of findings seen from now on (one test's findings)."""
        self.bucket = set()
        return self.bucket

    def report(self, *, keys: set[tuple[str, ...]] | None = None) -> WatchReport:
        """The findings so far (or only those whose keys are given), as a `WatchReport`."""
        chosen = [f for k, f in self.findings.items() if keys is None or k in keys]
        backend = ""
        if self.keras_imported:
            import keras

            backend = keras.backend.backend()
        return WatchReport(
            findings=chosen,
            counts={f.key(): self.counts[f.key()] for f in chosen},
            backend=backend,
            entry_points=sorted(self.entry_points),
            layers_watched=len(self.layers_watched),
            keras_imported=self.keras_imported,
        )

    # -- the probes' callbacks --------------------------------------------------------------

    def _add(self, finding: Finding) -> None:
        key = finding.key()
        with self._lock:
            self.findings.setdefault(key, finding)
            self.counts[key] += 1
            self.bucket.add(key)

    def _observe(self, layer: Any, local: Any) -> None:
        """A mode-dependent layer's `call` is about to run (the last of `local.calls`)."""
        if self._symbolic():
            return
        calls = local.calls
        value = calls[-1][1]
        if not (value is _probe.ABSENT or value is None or isinstance(value, bool)):
            return  # a symbolic `training`: its value is decided at run time
        self.layers_watched.add(id(layer))
        entry = local.entries[-1] if local.entries else _probe.fallback_entry()
        pending = False
        if entry is not None:
            base, model, name = entry.mode, entry.model, entry.name
        else:
            root, root_value = calls[0]
            if root is layer:
                return  # a layer called on its own runs in the mode it is given
            model = root
            if isinstance(root_value, bool):
                base, name = root_value, f"call(training={root_value})"
            else:
                base, name, pending = True, "training step", True
        self.entry_points.add("call()" if pending else name)
        if effective(layer, value) == base or (base and not layer.trainable):
            return
        finding = self._verdict(layer, list(calls), model, base, name)
        if finding is None:
            return
        if pending:
            cands = local.pending.setdefault(id(model), (model, []))[1]
            if finding not in cands:
                cands.append(finding)
        else:
            self._add(finding)

    def _verdict(
        self, layer: Any, chain: list[Any], model: Any, base: bool, name: str
    ) -> Finding | None:
        key = (name, base, id(model))
        try:
            cache = self._verdicts.setdefault(layer, {})
        except TypeError:
            cache = {}
        if key not in cache:
            cache[key] = analyse(chain, model, base, name)
        return cache[key]

    def _on_step(self, local: Any, variable_ids: set[int]) -> None:
        """An optimizer is about to update `variable_ids`: calls of their model were training."""
        for root_id, (root, candidates) in list(local.pending.items()):
            if _probe.variable_ids(root) & variable_ids:
                for finding in candidates:
                    self._add(finding)
                    self.entry_points.add(finding.entry_point)
                del local.pending[root_id]
