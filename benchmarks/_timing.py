"""Shared benchmark helpers: interleaved repeats, medians, paired ratios, deterministic counts.

Wall time on a shared 2-core machine is noisy, so every script interleaves its candidates in each
repeat (rotating the order) and reports, against a baseline: the ratio of the medians, the median
of the paired per-repeat ratios (samples taken back to back, so a load change between repeats
cancels out) and the ratio of the best samples. Beside the timings, two deterministic checks:
Python function calls per compiled step (cProfile) and ops in the traced TensorFlow graph.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

BACKENDS = ("tensorflow", "jax", "torch")


def select_backend(argv: list[str] | None = None) -> str:
    """Set `KERAS_BACKEND` from `--backend` in `argv` (default: `sys.argv`); call before Keras.

    `--backend` wins over the environment variable; neither given means TensorFlow. Keras picks
    its backend once, at import, so this must run before the first `import keras`.
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--backend", choices=BACKENDS)
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if known.backend:
        os.environ["KERAS_BACKEND"] = known.backend
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    chosen = os.environ["KERAS_BACKEND"]
    if "keras" in sys.modules:
        actual = sys.modules["keras"].backend.backend()
        if actual != chosen:
            raise SystemExit(f"keras was imported with backend {actual} before --backend {chosen}")
    return chosen


def add_backend_argument(parser: argparse.ArgumentParser) -> None:
    """Declare `--backend` on a script's parser (`select_backend` has already applied it)."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=os.environ.get("KERAS_BACKEND", "tensorflow"),
        help="Keras backend, set before Keras is imported (default: $KERAS_BACKEND, else "
        "tensorflow)",
    )


def model_benchmark_arguments(
    description: str, argv: list[str] | None = None
) -> argparse.Namespace:
    """The options every model benchmark shares (backend, repeats, calls, steps, threads), parsed;
    the op threads are pinned before returning."""
    parser = argparse.ArgumentParser(description=description)
    add_backend_argument(parser)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--calls", type=int, default=50, help="eager calls per sample")
    parser.add_argument("--steps", type=int, default=50, help="fit steps per sample")
    parser.add_argument(
        "--threads", type=int, default=1, help="op threads (0: the backend's default)"
    )
    args = parser.parse_args(argv)
    set_threads(args.threads)
    return args


def random_batch(batch: int, features: int, units: int) -> tuple[Any, Any]:
    """Seeded `(x, y)` float32 arrays, and Keras' own seed set, the same in every script."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, features)).astype("float32")
    y = rng.normal(size=(batch, units)).astype("float32")
    return x, y


def per_call(fn: Callable[[], Any], calls: int) -> float:
    """Mean seconds per call over `calls` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def interleaved(
    fns: dict[str, Callable[[], Any]], repeats: int, calls: int
) -> dict[str, list[float]]:
    """Seconds per call, one sample per candidate per repeat, candidates in rotating order."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for fn in fns.values():  # warm-up: tracing, building
        per_call(fn, 3)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            samples[name].append(per_call(fns[name], calls))
    return samples


def report(title: str, samples: dict[str, list[float]], baseline: str) -> dict[str, float]:
    """Print medians and ratios to `baseline`; return the median paired ratio per candidate."""
    base = samples[baseline]
    base_median, base_min = statistics.median(base), min(base)
    print(f"\n{title}")
    ratios = {}
    for name, values in samples.items():
        median = statistics.median(values)
        ratios[name] = statistics.median(v / b for v, b in zip(values, base, strict=True))
        print(
            f"  {name:<32} {median * 1e3:8.3f} ms   paired {ratios[name]:5.3f}x   "
            f"medians {median / base_median:5.3f}x   best {min(values) / base_min:5.3f}x"
        )
    return ratios


def python_calls_per_step(models: dict[str, Any], x: Any, y: Any, steps: int = 20) -> None:
    """Python function calls per `train_on_batch` (deterministic, unlike wall time)."""
    import cProfile
    import pstats

    print("\nPython function calls per compiled fit step (cProfile count, deterministic)")
    for name, model in models.items():
        profile = cProfile.Profile()
        profile.runcall(lambda m=model: [m.train_on_batch(x, y) for _ in range(steps)])
        print(f"  {name:<32} {pstats.Stats(profile).total_calls / steps:8.0f}")


def graph_ops(models: dict[str, Any], batch: int, features: int) -> None:
    """TensorFlow only: the number of ops in each model's traced forward graph, per mode."""
    import tensorflow as tf

    spec = tf.TensorSpec((batch, features))
    print("\ntraced forward graph, number of ops (training=True / False)")
    for name, model in models.items():
        counts = [
            len(
                tf.function(lambda v, m=model, t=training: m(v, training=t))
                .get_concrete_function(spec)
                .graph.get_operations()
            )
            for training in (True, False)
        ]
        print(f"  {name:<32} {counts[0]} / {counts[1]}")


def set_threads(threads: int) -> None:
    """Pin TensorFlow or PyTorch to `threads` op threads (0: the backend's default).

    JAX's CPU thread pool is fixed when it starts; it keeps its default.
    """
    import keras

    if not threads:
        return
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    elif keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(threads)


def compare_models(
    models: dict[str, Any],
    x: Any,
    y: Any,
    baseline: str,
    *,
    repeats: int,
    calls: int,
    steps: int,
) -> dict[str, dict[str, float]]:
    """The standard model comparison: eager inference, eager training, one compiled fit step.

    Prints each table and the deterministic checks; returns paired ratios per measure
    (`"infer"`, `"train"`, `"fit"`) and candidate. Compiles every model with SGD and mse.
    """
    import keras

    ratios = {
        "infer": report(
            "eager forward, inference: model(x)",
            interleaved({n: (lambda m=m: m(x)) for n, m in models.items()}, repeats, calls),
            baseline,
        ),
        "train": report(
            "eager forward, training: model(x, training=True)",
            interleaved(
                {n: (lambda m=m: m(x, training=True)) for n, m in models.items()}, repeats, calls
            ),
            baseline,
        ),
    }
    for model in models.values():
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    ratios["fit"] = report(
        "compiled fit step: model.train_on_batch(x, y)",
        interleaved(
            {n: (lambda m=m: m.train_on_batch(x, y)) for n, m in models.items()}, repeats, steps
        ),
        baseline,
    )
    python_calls_per_step(models, x, y)
    if keras.backend.backend() == "tensorflow":
        graph_ops(models, x.shape[0], x.shape[1])
    return ratios
