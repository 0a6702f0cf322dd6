"""Monte Carlo dropout that leaves BatchNorm alone: `mc_predict` (fixes FACTS F5).

The usual recipe, `model(x, training=True)` repeated, also puts BatchNormalization in training mode
and changes its moving statistics on every sample (F5); hard-coding `Dropout(...)(x, training=True)`
is ignored by `predict()` (F4). `mc_predict` forces dropout-like layers into training mode and
everything else into inference mode with `override_modes`, draws the samples through the real
compiled `predict` (for array inputs, one call over each chunk of rows repeated `samples` times,
which saves Keras' per-call overhead), and restores the model's non-trainable state
bit-identically afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from training_aware import _compiled
from training_aware._state import assign, values
from training_aware._walk import walk
from training_aware.errors import (
    NoDropoutLayerError,
    TrainingConfigError,
    TrainingTypeError,
    TrainingValueError,
    describe,
)

if TYPE_CHECKING:
    import keras

    from training_aware._types import Inputs, Predictions

__all__ = ["DROPOUT_LIKE", "mc_predict"]

# Public keras.layers names treated as dropout-like (subclasses included).
DROPOUT_LIKE: tuple[str, ...] = (
    "AlphaDropout",
    "Dropout",
    "GaussianDropout",
    "GaussianNoise",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
)


def _dropout_classes(extra: Iterable[type]) -> tuple[type, ...]:
    import keras

    found = [getattr(keras.layers, name) for name in DROPOUT_LIKE if hasattr(keras.layers, name)]
    return (*found, *extra)


def _seed_states(layers: list[Any]) -> list[Any]:
    states: list[Any] = []
    for layer in layers:
        for generator in getattr(layer, "_seed_generators", []):
            states.append(generator.state)
    return states


def _progbar_verbose(verbose: int | str) -> int:
    if verbose == "auto":
        return 1
    if verbose in (0, 1, 2):
        return int(verbose)
    raise TrainingConfigError(
        f"mc_predict: verbose must be 'auto', 0, 1 or 2, got {describe(verbose)}."
    )


def mc_predict(
    model: keras.Model,
    x: Inputs,
    samples: int = 30,
    batch_size: int | None = None,
    seed: int | None = None,
    verbose: Literal["auto", 0, 1, 2] = "auto",
    *,
    dropout_layers: Iterable[type[keras.layers.Layer]] = (),
    batched: bool = True,
) -> tuple[Predictions, Predictions]:
    """Monte Carlo dropout predictions: mean and standard deviation over `samples` passes.

    Dropout-like layers (`Dropout`, `SpatialDropout1D/2D/3D`, `GaussianDropout`, `GaussianNoise`,
    `AlphaDropout`, their subclasses, and the classes in `dropout_layers`) run in training mode;
    everything else, BatchNormalization above all, runs in inference mode. Every non-trainable
    variable is bit-identical afterwards, except the dropout layers' seed-generator states, which
    advance as dropout draws; with `seed` given those are restored too, and the same `seed` gives
    the same result. Works on plain Keras models; uses the model's real compiled `predict`.

    Args:
        model: a built Keras model containing at least one dropout-like layer.
        x: inputs, as for `model.predict`.
        samples: number of stochastic forward passes (>= 2).
        batch_size: as for `model.predict`.
        seed: seed for the dropout draws (reproducible results); `None` continues each dropout
            layer's own random stream.
        verbose: Keras' convention: `"auto"` (= 1), 0 silent, 1 progress bar, 2 one line.
        dropout_layers: more layer classes to treat as dropout-like (e.g. your own noise layer
            whose `call` takes `training`).
        batched: with array inputs, draw all samples of a chunk of rows in one `predict` over
            the rows repeated `samples` times (every row gets its own dropout masks; much less
            per-call overhead). This assumes a row's output depends only on that row in
            inference mode, true of Keras' layers except stateful RNNs; pass `False` to run
            `predict` once per sample instead (always the case for datasets and generators).

    Returns:
        `(mean, std)` NumPy arrays shaped like one `predict` output (a structure of them for a
        multi-output model); `std` is the population standard deviation over the samples.

    Raises:
        NoDropoutLayerError: the model has no dropout-like layer (all samples would be equal).

    Example:

    ```python
    import keras
    import numpy as np
    from training_aware import mc_predict

    inputs = keras.Input((4,))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(8)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dropout(0.3)(h)))
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    mean, std = mc_predict(model, x, samples=20, seed=0, verbose=0)
    assert mean.shape == std.shape == (16, 1) and std.max() > 0
    ```
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TrainingTypeError(
            f"mc_predict expected a keras.Model, got {describe(model)}. Fix: pass the model "
            "(wrap a lone layer first, e.g. keras.Sequential([keras.Input(shape), layer]))."
        )
    _check_inputs(x)
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
        raise TrainingConfigError(
            f"mc_predict: samples must be an int >= 2, got {describe(samples)}."
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise TrainingValueError(
            f"mc_predict: seed must be a non-negative int or None, got {seed!r}."
        )
    progbar_verbose = _progbar_verbose(verbose)
    classes = _dropout_classes(dropout_layers)
    entries = walk(model)
    dropouts = [e.layer for e in entries if isinstance(e.layer, classes)]
    if not dropouts:
        paths = ", ".join(repr(e.path) for e in entries[:8]) or "(none)"
        raise NoDropoutLayerError(
            f"mc_predict: {type(model).__name__} {model.name!r} has no dropout-like layer "
            f"(looked for {', '.join(c.__name__ for c in classes)}; its layers: {paths}), so "
            "every sample would be equal. Fix: add a Dropout layer, or pass your noise layer's "
            "class as dropout_layers=(MyNoise,)."
        )
    modes: dict[int, bool] = {}
    for entry in entries:
        if entry.layer._call_has_training_arg:
            modes[id(entry.layer)] = False
    for layer in dropouts:
        modes[id(layer)] = True

    seed_states = _seed_states(dropouts)
    seed_ids = {id(v) for v in seed_states}
    kept = [v for v in model.non_trainable_variables if id(v) not in seed_ids]
    kept_values = values(kept)
    seed_values = values(seed_states)
    if seed is not None:
        for i, state in enumerate(seed_states):
            state.assign(np.array([seed + i, 0], dtype=seed_values[i].dtype))

    # JAX's trainer takes every variable's value out while `predict` runs and does not put it
    # back if `predict` fails; JAX arrays are immutable, so keeping references restores them.
    jax_values = [(v, v.value) for v in model.variables] if keras.backend.backend() == "jax" else []
    progbar = keras.utils.Progbar(samples, verbose=progbar_verbose, unit_name="sample")
    arrays = _row_arrays(x) if batched else None
    try:
        with _compiled.block(modes), _torch_generator(seed):
            if arrays is None:
                structure, sums, squares = _sample_per_call(model, x, samples, batch_size, progbar)
            else:
                structure, sums, squares = _sample_tiled(
                    model, x, arrays, samples, batch_size, progbar
                )
    except BaseException:
        for variable, value in jax_values:
            if getattr(variable, "_value", value) is None:
                variable.assign(value)
        raise
    finally:
        assign(kept, kept_values)
        if seed is not None:
            assign(seed_states, seed_values)

    means: list[np.ndarray] = []
    stds: list[np.ndarray] = []
    for total, total_sq, like in zip(sums, squares, keras.tree.flatten(structure), strict=True):
        dtype = _float_dtype(like)
        mean_ = total / samples
        means.append(mean_.astype(dtype))
        stds.append(np.sqrt(np.maximum(total_sq / samples - mean_ * mean_, 0.0)).astype(dtype))
    mean = keras.tree.pack_sequence_as(structure, means)
    std = keras.tree.pack_sequence_as(structure, stds)
    return mean, std


def _check_inputs(x: object) -> None:
    """Raise before anything changes when `x` cannot be predicted on (None, or 0 rows)."""
    import keras

    if x is None:
        raise TrainingTypeError(
            "mc_predict expected inputs x as for model.predict (an array, a list or dict of "
            "arrays, a tf.data.Dataset, a keras.utils.PyDataset or a generator), got None. "
            "Fix: pass the inputs to sample on, e.g. mc_predict(model, x_test)."
        )
    leaves = keras.tree.flatten(x)
    shapes = [tuple(getattr(a, "shape", None) or ()) for a in leaves]
    if leaves and all(len(s) > 0 for s in shapes):
        empty = [s for s in shapes if s[0] == 0]
        if empty:
            raise TrainingConfigError(
                f"mc_predict expected at least one row of inputs, got x with shape "
                f"{empty[0]} (0 rows): there is nothing to sample. Fix: pass a "
                "non-empty batch."
            )


# Inputs repeated for one `predict` call are kept under this size (the chunk of rows shrinks).
_TILE_BYTES = 64 * 2**20

Sums = tuple[Any, list[np.ndarray], list[np.ndarray]]  # output structure, sums, sums of squares


def _row_arrays(x: Any) -> list[np.ndarray] | None:
    """`x`'s leaves as arrays with a common first dimension, or None (a dataset, a generator)."""
    import keras

    leaves = keras.tree.flatten(x)
    if not leaves or not all(
        hasattr(a, "shape") and hasattr(a, "dtype") and len(a.shape) > 0 for a in leaves
    ):
        return None
    arrays = [np.asarray(a) for a in leaves]
    rows = {a.shape[0] for a in arrays}
    return arrays if len(rows) == 1 and arrays[0].shape[0] > 0 else None


def _sample_per_call(
    model: Any, x: Any, samples: int, batch_size: int | None, progbar: Any
) -> Sums:
    """One `predict` per sample."""
    import keras

    structure: Any = None
    sums: list[np.ndarray] = []
    squares: list[np.ndarray] = []
    for i in range(samples):
        out = model.predict(x, batch_size=batch_size, verbose=0)
        flat = [np.asarray(a) for a in keras.tree.flatten(out)]
        if structure is None:
            structure = out
            sums = [np.zeros(a.shape, np.float64) for a in flat]
            squares = [np.zeros(a.shape, np.float64) for a in flat]
        for total, total_sq, a in zip(sums, squares, flat, strict=True):
            total += a
            total_sq += np.square(a, dtype=np.float64)
        progbar.update(i + 1)
    return structure, sums, squares


def _sample_tiled(
    model: Any,
    x: Any,
    arrays: list[np.ndarray],
    samples: int,
    batch_size: int | None,
    progbar: Any,
) -> Sums:
    """One `predict` per chunk of rows, over the chunk repeated `samples` times."""
    import keras

    rows = arrays[0].shape[0]
    row_bytes = max(1, sum(a.nbytes for a in arrays) // rows)
    chunk = max(1, min(rows, _TILE_BYTES // (row_bytes * samples)))
    structure: Any = None
    parts: list[tuple[list[np.ndarray], list[np.ndarray]]] = []
    for start in range(0, rows, chunk):
        pieces = [a[start : start + chunk] for a in arrays]
        count = pieces[0].shape[0]
        tiled = keras.tree.pack_sequence_as(x, [np.concatenate([p] * samples) for p in pieces])
        structure = model.predict(tiled, batch_size=batch_size, verbose=0)
        flat = [
            np.asarray(a, np.float64).reshape(samples, count, *np.shape(a)[1:])
            for a in keras.tree.flatten(structure)
        ]
        parts.append(([f.sum(axis=0) for f in flat], [np.square(f).sum(axis=0) for f in flat]))
        progbar.update(round(samples * min(start + chunk, rows) / rows))
    sums = [np.concatenate([p[0][i] for p in parts]) for i in range(len(parts[0][0]))]
    squares = [np.concatenate([p[1][i] for p in parts]) for i in range(len(parts[0][1]))]
    dtypes = [np.asarray(a).dtype for a in keras.tree.flatten(structure)]
    like = [np.zeros((0,), d) for d in dtypes]
    return keras.tree.pack_sequence_as(structure, like), sums, squares


@contextmanager
def _torch_generator(seed: int | None) -> Iterator[None]:
    """On PyTorch, seed the global generator for the block and put it back afterwards.

    Keras' torch `dropout` takes a fast path that draws from PyTorch's global generator whenever
    the layer was built without a seed (torch's fused dropout takes no generator), so the layers'
    seed states alone do not make the draws reproducible there. Other backends: nothing to do.
    """
    import keras

    if seed is None or keras.backend.backend() != "torch":
        yield
        return
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _float_dtype(array: Any) -> Any:
    dtype = np.asarray(array).dtype
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float32)
