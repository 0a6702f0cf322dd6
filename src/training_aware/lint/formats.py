"""How `training-aware lint` prints its findings: `--format text|json|sarif|github`, `--statistics`.

- `text`: one `path:line:col: TAxxx message` line per finding (`path:cell N:line L:col C: ...` in
  a notebook), as editors and flake8 show them.
- `json`: a list of objects with `path`, `line`, `col`, `code`, `message` (and `cell` in a
  notebook).
- `sarif`: one SARIF 2.1.0 log, what code-scanning services (GitHub code scanning, GitLab, Azure
  DevOps) read. Every rule is described in the tool's `rules`; a notebook finding points at the
  line of the `.ipynb` file that holds its source line, and carries its cell and its line in the
  cell in the result's `properties` and its message.
- `github`: one GitHub Actions workflow command per finding
  (`::error file=src/m.py,line=3,col=5,title=TA002::message`), which a workflow step turns into
  annotations on the changed lines of a pull request.

`--statistics` prints how many findings each rule produced instead of the findings (like ruff's
`--statistics`): in text, one `count  code  summary` line per rule, most frequent first; with
`--format json`, a list of `{"code", "count", "summary"}` objects.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

from training_aware.lint.rules import RULES, Finding

FORMATS = ("text", "json", "sarif", "github")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_HOME = "https://github.com/training-aware/training-aware"
_RULES_DOC = f"{_HOME}/blob/main/docs/lint.md"


def write(findings: Sequence[Finding], fmt: str, out: TextIO, *, statistics: bool = False) -> None:
    """Print `findings` to `out` in format `fmt` (one of `FORMATS`), or their counts per rule."""
    if statistics:
        out.write(render_statistics(findings, fmt))
    elif fmt == "json":
        out.write(json.dumps([f.to_dict() for f in findings], indent=2) + "\n")
    elif fmt == "sarif":
        out.write(json.dumps(sarif(findings), indent=2) + "\n")
    elif fmt == "github":
        out.writelines(github(f) + "\n" for f in findings)
    else:
        out.writelines(f.format() + "\n" for f in findings)


def check_options(fmt: str, statistics: bool) -> str | None:
    """Why this combination of options cannot be honoured, or None."""
    if statistics and fmt not in ("text", "json"):
        return (
            f"--statistics prints counts, as text or JSON; it cannot be combined with "
            f"--format {fmt}"
        )
    return None


def statistics_rows(findings: Sequence[Finding]) -> list[tuple[str, int, str]]:
    """`(code, count, summary)` per reported rule, most frequent first, then by code."""
    counts = Counter(f.code for f in findings)
    rows = [(code, n, RULES[code].summary if code in RULES else "") for code, n in counts.items()]
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def render_statistics(findings: Sequence[Finding], fmt: str = "text") -> str:
    """The counts per rule, as text lines or a JSON list."""
    rows = statistics_rows(findings)
    if fmt == "json":
        data = [{"code": code, "count": n, "summary": text} for code, n, text in rows]
        return json.dumps(data, indent=2) + "\n"
    width = max((len(str(n)) for _, n, _ in rows), default=1)
    return "".join(f"{n:>{width}}  {code}  {text}\n" for code, n, text in rows)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(finding: Finding) -> str:
    """One GitHub Actions `::error` workflow command.

    In a notebook the annotation is on the line of the `.ipynb` file that holds the source line
    (`file_line`), and the title and message say the cell and the line in it.
    """
    props = [f"file={_escape_property(finding.path)}"]
    title = finding.code
    message = finding.message
    if finding.cell is None:
        props += [f"line={finding.line}", f"col={finding.col}"]
    else:
        props.append(f"line={finding.file_line or 1}")
        title += f" (cell {finding.cell}, line {finding.line})"
        message = f"cell {finding.cell}, line {finding.line}: {message}"
    props.append(f"title={_escape_property(title)}")
    return f"::error {','.join(props)}::{_escape_data(message)}"


def _rule_descriptor(code: str) -> dict[str, Any]:
    rule = RULES[code]
    anchor = code.lower()
    descriptor: dict[str, Any] = {
        "id": code,
        "shortDescription": {"text": rule.summary},
        "helpUri": f"{_RULES_DOC}#{anchor}",
        "defaultConfiguration": {"enabled": rule.default, "level": "error"},
    }
    if rule.facts:
        descriptor["properties"] = {"facts": list(rule.facts)}
    return descriptor


def _uri(path: str) -> str:
    uri = path.replace("\\", "/")
    while uri.startswith("./"):
        uri = uri[2:]
    return uri.replace("%", "%25").replace(" ", "%20")


def sarif(findings: Sequence[Finding]) -> dict[str, Any]:
    """A SARIF 2.1.0 log of `findings` (one run, every rule described)."""
    from training_aware import __version__

    codes = list(RULES)
    results = []
    for finding in findings:
        location: dict[str, Any] = {"artifactLocation": {"uri": _uri(finding.path)}}
        result: dict[str, Any] = {
            "ruleId": finding.code,
            "level": "error",
            "message": {"text": finding.message},
            "locations": [{"physicalLocation": location}],
        }
        if finding.code in RULES:
            result["ruleIndex"] = codes.index(finding.code)
        if finding.cell is None:
            location["region"] = {"startLine": finding.line, "startColumn": finding.col}
        else:
            # Code scanning needs a region: the line of the .ipynb file holding the source line.
            location["region"] = {"startLine": finding.file_line or 1}
            result["message"]["text"] = (
                f"cell {finding.cell}, line {finding.line}: {finding.message}"
            )
            result["properties"] = {
                "cell": finding.cell,
                "line": finding.line,
                "col": finding.col,
            }
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "training-aware",
                        "version": __version__,
                        "informationUri": _HOME,
                        "rules": [_rule_descriptor(code) for code in codes],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
