"""`ModeReport`: what `audit` found, as data (`.rows`, `.problems`, `.to_dict()`) and as a table.

`print(report)` shows a table: one row per mode-dependent layer, one column per entry point, each
cell the mode the layer received (`train`/`infer`) and `!` where it differs from the mode meant.
With `rich` installed and a colour terminal the table is coloured; otherwise it is plain text.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from training_aware.errors import ModeMismatchError

__all__ = ["Cell", "ModeReport", "Problem", "Row", "mode_name"]


def mode_name(mode: bool | None) -> str:
    """`True` -> "training", `False` -> "inference", `None` -> "either"."""
    return "either" if mode is None else ("training" if mode else "inference")


def _short(mode: bool | None) -> str:
    return "-" if mode is None else ("train" if mode else "infer")


@dataclass(frozen=True)
class Cell:
    """One layer at one entry point: the mode meant and the modes it actually ran in."""

    expected: bool | None  # None: either mode is legitimate (a frozen layer under fit)
    received: tuple[bool, ...]  # effective modes, one per distinct value seen; () if not called
    ok: bool

    def text(self) -> str:
        if not self.received:
            return "-"
        got = "/".join(_short(m) for m in self.received)
        return got if self.ok else f"{got}!"


@dataclass(frozen=True)
class Row:
    """A mode-dependent layer and its cells, keyed by entry point."""

    path: str
    layer_class: str
    cells: dict[str, Cell]


@dataclass(frozen=True)
class Problem:
    """A layer that ran in the wrong mode, changed its statistics in inference, or disagreed."""

    path: str
    layer_class: str
    entry_point: str
    expected: str  # "training" / "inference"
    received: str  # "training" / "inference" / "training and inference"
    kind: str  # "wrong-mode", "statistics-changed" or "inconsistent"
    message: str
    fix: str

    def line(self) -> str:
        return (
            f"{self.path} ({self.layer_class}) at {self.entry_point}: {self.message}. "
            f"Fix: {self.fix}"
        )


@dataclass
class ModeReport:
    """The result of `training_aware.audit`.

    `print(report)` shows the table (one row per mode-dependent layer, one column per entry
    point); `ok`, `problems` and `to_dict()` are for code, `raise_for_problems()` for tests.

    Example:

    ```python
    import keras
    import numpy as np
    from training_aware import audit

    inputs = keras.Input((4,))
    h = keras.layers.BatchNormalization()(keras.layers.Dense(8)(inputs))
    model = keras.Model(inputs, keras.layers.Dropout(0.5)(h))
    report = audit(model, np.ones((8, 4), "float32"))
    assert report.ok and not report.problems
    assert report.to_dict()["entry_points"][0] == "fit"
    report.raise_for_problems()                    # raises ModeMismatchError on problems
    ```

    Attributes:
        model: the audited model's class and name.
        backend: the Keras backend the audit ran on.
        entry_points: the entry points run, in table order.
        rows: one `Row` per mode-dependent layer.
        problems: every `Problem` found; empty when the model is clean.
        notes: what the audit did that the reader should know (e.g. a throwaway compile).
    """

    model: str
    backend: str
    entry_points: tuple[str, ...]
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problems found."""
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise `ModeMismatchError` listing every problem (one line each, with its fix)."""
        if self.ok:
            return
        lines = [p.line() for p in self.problems]
        raise ModeMismatchError(
            f"audit of {self.model} on {self.backend} found {len(lines)} problem(s):\n  - "
            + "\n  - ".join(lines)
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: model, backend, ok, entry points, rows, problems, notes."""
        return {
            "model": self.model,
            "backend": self.backend,
            "ok": self.ok,
            "entry_points": list(self.entry_points),
            "rows": [
                {
                    "path": r.path,
                    "class": r.layer_class,
                    "modes": {
                        ep: {
                            "expected": mode_name(c.expected),
                            "received": [mode_name(m) for m in c.received],
                            "ok": c.ok,
                        }
                        for ep, c in r.cells.items()
                    },
                }
                for r in self.rows
            ],
            "problems": [
                {
                    "path": p.path,
                    "class": p.layer_class,
                    "entry_point": p.entry_point,
                    "expected": p.expected,
                    "received": p.received,
                    "kind": p.kind,
                    "message": p.message,
                    "fix": p.fix,
                }
                for p in self.problems
            ],
            "notes": list(self.notes),
        }

    def _table(self) -> tuple[list[str], list[list[str]]]:
        header = ["layer", "class", *self.entry_points]
        body = [
            [r.path, r.layer_class, *(r.cells[ep].text() for ep in self.entry_points)]
            for r in self.rows
        ]
        return header, body

    def _summary(self) -> list[str]:
        head = f"training-aware audit: {self.model} ({self.backend})"
        if self.ok:
            status = "OK: every mode-dependent layer ran in the mode meant."
        else:
            status = f"{len(self.problems)} problem(s):"
        return [head, status]

    def to_text(self) -> str:
        """The report as plain text (no colours)."""
        header, body = self._table()
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        lines = self._summary()[:1]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines.append(fmt.format(*header))
        lines.append(fmt.format(*("-" * w for w in widths)))
        lines += [fmt.format(*row) for row in body]
        if not body:
            lines.append("(no mode-dependent layers)")
        lines.append("train/infer: mode received; '!': not the mode meant; '-': not called")
        lines.append(self._summary()[1])
        lines += [f"  - {p.line()}" for p in self.problems]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        header, body = self._table()
        table = Table(title=self._summary()[0], title_justify="left")
        for name in header:
            table.add_column(name)
        for r, cells in zip(self.rows, body, strict=True):
            styled = [Text(cells[0]), Text(cells[1], style="dim")]
            for ep in self.entry_points:
                cell = r.cells[ep]
                style = "dim" if not cell.received else ("green" if cell.ok else "bold red")
                styled.append(Text(cell.text(), style=style))
            table.add_row(*styled)
        parts: list[Any] = [table]
        status_style = "green" if self.ok else "bold red"
        parts.append(Text(self._summary()[1], style=status_style))
        parts += [Text(f"  - {p.line()}", style="red") for p in self.problems]
        parts += [Text(f"note: {n}", style="dim") for n in self.notes]
        return Group(*parts)

    def __str__(self) -> str:
        if not _colour_terminal():
            return self.to_text()
        try:
            from rich.console import Console
        except ImportError:
            return self.to_text()
        buffer = io.StringIO()
        console = Console(file=buffer, force_terminal=True, width=_width())
        console.print(self)
        return buffer.getvalue().rstrip("\n")


def _colour_terminal() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    stream = sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"


def _width() -> int:
    try:
        return max(80, os.get_terminal_size().columns)
    except OSError:
        return 120
