"""Shared timing helpers: interleaved repeats, medians, ratios against a baseline."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def per_call(fn: Callable[[], Any], calls: int) -> float:
    """Mean seconds per call over `calls` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int, calls: int) -> dict[str, float]:
    """Median seconds per call; every repeat runs each candidate once, in rotating order."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for fn in fns.values():  # warm-up: tracing, building
        per_call(fn, 3)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            samples[name].append(per_call(fns[name], calls))
    return {name: statistics.median(values) for name, values in samples.items()}


def report(title: str, medians: dict[str, float], baseline: str) -> dict[str, float]:
    """Print each candidate's median and its ratio to `baseline`; return the ratios."""
    base = medians[baseline]
    print(f"\n{title}")
    ratios = {}
    for name, seconds in medians.items():
        ratios[name] = seconds / base
        print(f"  {name:<34} {seconds * 1e3:8.3f} ms   {ratios[name]:5.3f}x {baseline}")
    return ratios
