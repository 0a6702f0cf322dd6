"""Run the held-out corpus' lost-flag bugs and print what each layer really received.

The ground truth of docs/lint-precision.md ("Held-out set") was established by reading the
code and, for every bug listed there, by running it here, on the backends the module can run:

    python scripts/fetch_lint_corpus.py --set held-out
    KERAS_BACKEND=jax python scripts/heldout_probes.py          # or tensorflow, torch
    KERAS_BACKEND=tensorflow python scripts/heldout_probes.py gcvit

Each probe builds a model of the package from a small configuration, trains it (`fit`, or the
package's own `train_on_batch` loop) or runs its own inference entry point, and records the
`training` value Keras hands to the layers concerned (`training_aware.audit`, or an observer
wrapped around the layer class' `call` that records and calls through). Nothing of Keras is
replaced; modules a package imports for plotting or file I/O only (matplotlib, natsort,
tifffile, ...) are stubbed when they are not installed.
"""

from __future__ import annotations

import functools
import importlib
import sys
import types
from collections.abc import Callable
from typing import Any

import numpy as np
from fetch_lint_corpus import HELD_OUT, package_dir

_IO_ONLY = ("matplotlib", "natsort", "tifffile", "cv2", "tqdm", "PIL", "pandas", "requests")


class _Stub(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: args[0] if args else None


def _load(module: str) -> Any:
    """Import `module`, stubbing the plotting / file modules it imports when they are missing."""
    for _ in range(20):
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as error:
            name = error.name or ""
            if name.split(".")[0] not in _IO_ONLY:
                raise
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                sys.modules.setdefault(".".join(parts[:i]), _Stub(".".join(parts[:i])))
            for loaded in [m for m in sys.modules if m.split(".")[0] == module.split(".")[0]]:
                del sys.modules[loaded]
    raise ImportError(module)


def _use(name: str) -> None:
    (package,) = [p for p in HELD_OUT if p.name == name]
    sys.path.insert(0, str(package_dir(package)))


def _observe(cls: type, seen: list[Any]) -> Callable[[], None]:
    """Record the `training` each call of `cls.call` receives (`absent` if none); returns undo."""
    original = cls.call  # type: ignore[attr-defined]

    @functools.wraps(original)  # Keras reads the signature (`training` declared or not)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        value = kwargs.get("training", "absent")
        seen.append(value if value is None or isinstance(value, bool | str) else "tensor")
        return original(self, *args, **kwargs)

    cls.call = call  # type: ignore[attr-defined]
    return lambda: setattr(cls, "call", original)


def gcvit() -> str:
    """gcvit 1.1.6, gcvit/models/gcvit.py:199: `GCViT.call(self, inputs, **kwargs)`."""
    import keras

    from training_aware import audit

    _use("gcvit")
    model = _load("gcvit.models.gcvit").GCViT(
        window_size=[7, 7, 7, 7],
        dim=8,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 1, 1],
        drop_rate=0.2,
        path_drop=0.2,
        num_classes=3,
    )
    x = np.random.default_rng(0).random((2, 224, 224, 3), dtype=np.float32)
    model(x)
    report = audit(model, x)
    wrong = sorted({(p.entry_point, p.layer_class, p.received) for p in report.problems})
    return f"GCViT on Keras {keras.__version__}: layers in the wrong mode {wrong}"


def fastvit() -> str:
    """keras-vision 0.6.3, keras_vision/fastvit/base_layers.py:348: `DropPath.call(x, **kwargs)`
    reads `kwargs.get("training", False)`."""
    import keras

    _use("keras-vision")
    base_layers = _load("keras_vision.fastvit.base_layers")
    build = _load("keras_vision.fastvit.fastvit").build_fastvit
    seen: list[Any] = []
    undo = _observe(base_layers.DropPath, seen)
    try:
        model = build(
            layers=[1, 1],
            token_mixers=("repmixer", "attention"),
            embed_dims=[32, 64],
            mlp_ratios=[2, 2],
            downsamples=[True, True],
            drop_path_rate=0.5,
            input_shape=(32, 32, 3),
            num_classes=2,
        )
        x = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
        model.compile("sgd", "mse")
        seen.clear()
        model.fit(x, np.zeros((4, 2), "float32"), epochs=1, verbose=0)
        during_fit = sorted(set(map(str, seen)))
        once, twice = (keras.ops.convert_to_numpy(model(x, training=True)) for _ in range(2))
        same = np.allclose(once, twice)
    finally:
        undo()
    return (
        f"FastViT DropPath: training received during fit {during_fit}; "
        f"model(x, training=True) deterministic (no path ever dropped): {same}"
    )


def pix2pix() -> str:
    """tfgans 0.1.1, tfgans/pix2pix/models.py:159-234: the generator pins `training=True` on
    its BatchNormalization and Dropout calls; tfgans/pix2pix/model_utils.py:31 and :60 make the
    fake samples with `gen_model.predict`."""
    import keras

    _use("tfgans")
    generator = _load("tfgans.pix2pix.models").build_generator((256, 256, 3))
    x = np.random.default_rng(0).random((1, 256, 256, 3), dtype=np.float32)
    first, second = generator.predict(x, verbose=0), generator.predict(x, verbose=0)
    called = keras.ops.convert_to_numpy(generator(x))
    return (
        f"pix2pix generator: predict deterministic (pinned dropout off): "
        f"{np.allclose(first, second)}; generator(x) equals predict: "
        f"{np.allclose(called, first, atol=1e-4)}"
    )


def link_prediction() -> str:
    """k3-node 1.0.0, k3_node/tasks/link_prediction.py:38: `LinkPredictionModel.encode` calls
    `self.encoder(inputs)` without `training`; `call` (line 59) declares it."""
    import keras

    _use("k3-node")
    task = _load("k3_node.tasks.link_prediction")
    resolve = _load("k3_node.tasks.backbone_resolver").resolve_backbone
    seen: list[Any] = []
    undo = _observe(keras.layers.Dropout, seen)
    try:
        encoder = resolve("gcn", in_channels=4, out_channels=8, hidden_channels=8, dropout=0.5)
        model = task.LinkPredictionModel(encoder=encoder)
        x = np.random.default_rng(0).random((6, 4), dtype=np.float32)
        edges = np.array([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]], "int32")
        labelled = np.array([[0, 2, 4], [1, 3, 5]], "int32")
        model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
        model(((x, edges), labelled), training=False)
        steps = []
        for _ in range(2):
            seen.clear()
            model.train_on_batch(((x, edges), labelled), np.array([1, 0, 1], "float32"))
            steps.append(list(seen))
    finally:
        undo()
    return f"LinkPredictionModel.train_on_batch x2: the encoder's Dropout received {steps}"


PROBES: dict[str, Callable[[], str]] = {
    "gcvit": gcvit,
    "fastvit": fastvit,
    "pix2pix": pix2pix,
    "link_prediction": link_prediction,
}


def main(argv: list[str]) -> int:
    import keras

    for name in argv or list(PROBES):
        if name == "gcvit" and keras.backend.backend() != "tensorflow":
            print(f"[{keras.backend.backend()}] gcvit: skipped (it calls tf.* ops)")
            continue
        print(f"[{keras.backend.backend()}] {name}: {PROBES[name]()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
