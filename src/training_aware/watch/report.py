"""`WatchReport`: what a watched run found, as text, a JSON-ready dict or a standalone HTML page."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from training_aware.watch._analysis import Finding, facts_link

__all__ = ["WatchReport"]


@dataclass
class WatchReport:
    """The findings of a watch: each layer that ran in a mode its entry point did not mean.

    Attributes:
        findings: one `Finding` per layer, entry point and call site, in the order first seen.
        counts: how many calls showed each finding (by `Finding.key()`).
        backend: the Keras backend ("" if the run never imported Keras).
        entry_points: the entry points under which a mode-dependent layer ran.
        layers_watched: how many mode-dependent layers ran.
        keras_imported: whether the run imported Keras at all.
    """

    findings: list[Finding]
    counts: dict[tuple[str, ...], int] = field(default_factory=dict)
    backend: str = ""
    entry_points: list[str] = field(default_factory=list)
    layers_watched: int = 0
    keras_imported: bool = True

    @property
    def ok(self) -> bool:
        return not self.findings

    def headline(self) -> str:
        if not self.keras_imported:
            return "training-aware run: the script never imported Keras; nothing to watch."
        if not self.layers_watched:
            return (
                f"training-aware run ({self.backend}): no layer whose behaviour depends on "
                "`training` ran; nothing to report."
            )
        where = ", ".join(self.entry_points) or "-"
        if self.ok:
            return (
                f"training-aware run ({self.backend}): OK: {self.layers_watched} mode-dependent "
                f"layer(s) watched under {where}; each ran in the mode meant."
            )
        return (
            f"training-aware run ({self.backend}): {len(self.findings)} layer(s) ran in the "
            f"wrong mode ({self.layers_watched} mode-dependent layer(s) watched under {where}):"
        )

    def to_text(self) -> str:
        lines = [self.headline()]
        for i, f in enumerate(self.findings, 1):
            calls = self.counts.get(f.key(), 1)
            lines.append(
                f"{i}. {f.entry_point}: {f.model} / {f.path} ({f.layer_class}) ran in "
                f"{f.received} mode, expected {f.expected} ({calls} call{'s' * (calls != 1)})"
            )
            if f.site:
                lines.append(f"   at {f.site}: {f.source}" if f.source else f"   at {f.site}")
            row = f" (FACTS {f.facts}: {facts_link(f.facts)})" if f.facts else ""
            lines.append(f"   why: {f.why}{row}")
            lines.append(f"   fix: {f.fix}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "backend": self.backend,
            "keras_imported": self.keras_imported,
            "entry_points": list(self.entry_points),
            "layers_watched": self.layers_watched,
            "findings": [
                {**f.to_dict(), "calls": self.counts.get(f.key(), 1)} for f in self.findings
            ],
        }

    def to_html(self, title: str = "training-aware run") -> str:
        """A standalone page (no scripts, no external assets) to attach or share."""
        e = html.escape
        rows = []
        for f in self.findings:
            facts = (
                f'<a href="{e(facts_link(f.facts, absolute=True))}">{e(f.facts)}</a>'
                if f.facts
                else ""
            )
            rows.append(
                "<tr>"
                f"<td>{e(f.entry_point)}</td><td>{e(f.model)}</td>"
                f"<td><code>{e(f.path)}</code><br><small>{e(f.layer_class)}</small></td>"
                f"<td>{e(f.received)} <small>(expected {e(f.expected)})</small></td>"
                f"<td><code>{e(f.site)}</code><br><code>{e(f.source)}</code></td>"
                f"<td>{facts}</td><td>{e(f.why)}</td><td>{e(f.fix)}</td>"
                f"<td>{self.counts.get(f.key(), 1)}</td>"
                "</tr>"
            )
        table = (
            "<table><thead><tr><th>entry point</th><th>model</th><th>layer</th><th>mode</th>"
            "<th>call site</th><th>FACTS</th><th>why</th><th>fix</th><th>calls</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            if rows
            else ""
        )
        style = (
            "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}"
            "th{background:#f4f4f4}.bad{color:#b00020}.ok{color:#1b5e20}"
        )
        status = "ok" if self.ok else "bad"
        return (
            f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{e(title)}</title>"
            f"<style>{style}</style></head><body><h1>{e(title)}</h1>"
            f"<p class='{status}'>{e(self.headline())}</p>{table}</body></html>\n"
        )
