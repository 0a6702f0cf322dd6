"""`pytest --training-aware`: the watch of `training-aware run`, for a test suite.

Off unless asked. With `--training-aware` (or `--training-aware=report`) each test that ran a
layer in the wrong mode gets the finding in its report section ("training-aware"), and the
session ends with a summary table; `--training-aware=error` also fails those tests. Registered
through the `pytest11` entry point `training_aware.pytest_plugin`; `-p training_aware.pytest_plugin`
names the same plugin, so giving both registers it once.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

from training_aware.watch import Watch

__all__ = ["WatchFindingsError"]

_NAME = "training-aware-watch"


class WatchFindingsError(AssertionError):
    """`--training-aware=error`: the test ran a layer in the wrong mode."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("training-aware")
    group.addoption(
        "--training-aware",
        nargs="?",
        const="report",
        default=None,
        metavar="report|error",
        dest="training_aware",
        help=(
            "watch every Keras model the tests run and report each layer that ran in the wrong "
            "mode (inference inside fit, training inside predict); =error fails those tests"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    mode = config.getoption("training_aware", None)
    if mode not in (None, "report", "error"):
        mode = _give_back(config, mode)
    if mode and not config.pluginmanager.has_plugin(_NAME):
        config.pluginmanager.register(_WatchPlugin(mode), _NAME)


def _give_back(config: pytest.Config, value: str) -> str:
    """`pytest --training-aware tests/`: the optional value took the path; return it to pytest."""
    if not (os.path.exists(value.split("::")[0]) or value.startswith("-")):
        raise pytest.UsageError(
            f"--training-aware takes `report` (the default) or `error`, got {value!r}. "
            "Fix: --training-aware, or --training-aware=error"
        )
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = []  # pytest fell back to testpaths/the folder: the path was the argument
    config.args.append(value)
    return "report"


class _WatchPlugin:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.watch = Watch().start()
        self.by_test: dict[str, set[tuple[str, ...]]] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, Any, Any]:
        self.by_test[item.nodeid] = self.watch.new_bucket()
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        try:
            return (yield)
        finally:
            keys = self.by_test.get(item.nodeid, set())
            if keys:
                text = self.watch.report(keys=keys).to_text()
                item.add_report_section("call", "training-aware", text)
                if self.mode == "error":
                    raise WatchFindingsError(text)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        write = terminalreporter.write_line
        terminalreporter.write_sep("=", "training-aware: layers run in the wrong mode")
        rows = [
            (test, self.watch.findings[key])
            for test, keys in self.by_test.items()
            for key in sorted(keys)
        ]
        if not rows:
            report = self.watch.report()
            write(report.headline().replace("training-aware run", "training-aware"))
            return
        header = ("test", "entry point", "layer", "mode (expected)", "call site", "FACTS")
        body = [
            (
                test,
                f.entry_point,
                f"{f.model} / {f.path} ({f.layer_class})",
                f"{f.received} ({f.expected})",
                f.site,
                f.facts,
            )
            for test, f in rows
        ]
        widths = [max(len(r[i]) for r in (header, *body)) for i in range(len(header))]
        for row in (header, tuple("-" * w for w in widths), *body):
            write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        tests = len({test for test, _ in rows})
        write(f"{len(rows)} finding(s) in {tests} test(s); each test's report has the fix.")

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.watch.stop()
