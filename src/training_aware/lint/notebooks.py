"""Jupyter notebooks (`.ipynb`): check and repair their code cells as one module.

A notebook's code cells run in one namespace (an import in cell 1 serves a class in cell 5), so
they are checked together, as one module made of the cells in order. IPython syntax is not
Python and is masked, line for line, so every line keeps its number:

- a cell magic (`%%time`, `%%bash`, ...) on a cell's first line: the whole cell is skipped;
- a line magic (`%matplotlib inline`), a shell escape (`!pip install ...`), their assignment
  forms (`files = !ls`) and help (`keras.layers.Dense?`): the line becomes `pass`;
- a cell that is still not Python (a syntax error) is reported (TA000, with its cell and line)
  and skipped; the other cells are still checked.

Findings carry the cell's number (1-based, every cell counted, Markdown included) and the line
within the cell: `model.ipynb:cell 4:line 3:col 9: TA002 ...`. Markdown and raw cells, outputs
and metadata are never read. A notebook whose kernel is not Python is not checked.

`--fix` edits only the source lines it repairs: the notebook is written back with the JSON layout
it had (indentation, key order, escaping), so outputs, metadata and every other byte stay as they
were. A notebook whose layout cannot be reproduced exactly, or whose repair would touch a masked
IPython line, is left unchanged with one line saying why.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from training_aware.lint.checker import lint_source
from training_aware.lint.rules import Finding

if TYPE_CHECKING:  # libcst is imported only when fixing
    from training_aware.lint.checker import Project
    from training_aware.lint.fix import FileFix, Wants
    from training_aware.lint.fixers import FixStyle

SUFFIX = ".ipynb"
_MAGIC = re.compile(
    r"""^(?P<indent>[ \t]*)(?:
        [%!]                                 # %magic, !shell
      | [\w.\[\]'",\s]+?=[ \t]*[%!]          # name = !shell, name = %magic
      | [\w.]+[ \t]*\?\??[ \t]*$             # obj? obj??
      | \?\??[\w.]                           # ?obj
    )""",
    re.VERBOSE,
)
_TOP_AWAIT = getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)


def is_notebook(path: str) -> bool:
    """Is `path` a Jupyter notebook (by its name)?"""
    return path.endswith(SUFFIX)


@dataclass
class _Line:
    cell: int  # 1-based over every cell
    number: int  # 1-based within the cell
    text: str  # the cell's own text of the line
    masked: bool


@dataclass
class _Module:
    """The code cells as one module: its text, and where each of its lines comes from."""

    lines: list[_Line] = field(default_factory=list)
    text_lines: list[str] = field(default_factory=list)  # what the checker reads
    problems: list[Finding] = field(default_factory=list)  # cells that are not Python

    @property
    def text(self) -> str:
        return "".join(self.text_lines)

    def locate(self, finding: Finding) -> Finding:
        """`finding` (a line of the module) as a cell and a line in it."""
        if not self.lines:
            return finding
        origin = self.lines[min(max(finding.line, 1), len(self.lines)) - 1]
        return replace(finding, line=origin.number, cell=origin.cell)


def _split(text: str) -> list[str]:
    """Lines as Python numbers them (\\n, \\r\\n, \\r), each keeping its ending."""
    return io.StringIO(text, newline="").readlines()


def _cell_text(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _parses(text: str, flags: int = 0) -> SyntaxError | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, "<cell>", "exec", flags | ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        return exc
    except (ValueError, RecursionError, MemoryError) as exc:
        return SyntaxError(f"{type(exc).__name__}: {exc}")
    return None


def _module(notebook: dict[str, Any], path: str) -> _Module:
    module = _Module()
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        lines = _split(_cell_text(cell))
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += "\n"
        first = next((line.strip() for line in lines if line.strip()), "")
        if first.startswith("%%"):
            checked = ["\n"] * len(lines)
        else:
            checked = [_mask(line) for line in lines]
            error = _parses("".join(checked))
            if error is not None and _parses("".join(checked), _TOP_AWAIT) is None:
                checked = ["\n"] * len(lines)  # top-level `await`: IPython runs it, Python not
            elif error is not None:
                module.problems.append(
                    Finding(
                        path,
                        error.lineno or 1,
                        max(error.offset or 1, 1),
                        "TA000",
                        f"syntax error: {error.msg}; this cell was not checked (fix the "
                        f"syntax, then re-run)",
                        cell=number,
                    )
                )
                checked = ["\n"] * len(lines)
        for index, (line, seen) in enumerate(zip(lines, checked, strict=True), start=1):
            module.lines.append(_Line(number, index, line, masked=seen != line))
            module.text_lines.append(seen)
    return module


def _mask(line: str) -> str:
    match = _MAGIC.match(line)
    return line if match is None else f"{match.group('indent')}pass\n"


def _load(data: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The notebook's JSON, or why it cannot be read as a notebook."""
    try:
        notebook = json.loads(data)
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"not a valid notebook (JSON: {reason}); not checked"
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        if isinstance(notebook, dict) and "worksheets" in notebook:
            return None, (
                "an nbformat 3 notebook; not checked (save it again in Jupyter, or run "
                "`jupyter nbconvert --to notebook`, to get the current format)"
            )
        return None, "not a Jupyter notebook (no `cells` list); not checked"
    return notebook, None


def _is_python(notebook: dict[str, Any]) -> bool:
    metadata = notebook.get("metadata")
    if not isinstance(metadata, dict):
        return True
    for key in ("language_info", "kernelspec"):
        info = metadata.get(key)
        if isinstance(info, dict):
            language = info.get("name" if key == "language_info" else "language")
            if isinstance(language, str):
                return language.lower() == "python"
    return True


def _sorted(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.cell or 0, f.line, f.col, f.code))


def _check(
    notebook: dict[str, Any],
    path: str,
    opt_in: Iterable[str],
    text: str = "",
    *,
    latent: bool = False,
    project: Project | None = None,
) -> list[Finding]:
    if not _is_python(notebook):
        return []
    module = _module(notebook, path)
    found = (
        lint_source(module.text, path, opt_in=opt_in, latent=latent, project=project)
        if module.lines
        else []
    )
    return _place([*module.problems, *(module.locate(f) for f in found)], notebook, text)


def _place(findings: Iterable[Finding], notebook: dict[str, Any], text: str) -> list[Finding]:
    """`findings`, sorted, each with the line of the `.ipynb` file that holds it."""
    lines = _file_lines(notebook, text)
    return _sorted(replace(f, file_line=lines.get((f.cell or 0, f.line), 1)) for f in findings)


def _file_lines(notebook: dict[str, Any], text: str) -> dict[tuple[int, int], int]:
    """Where each code cell's source line sits in the `.ipynb` file: `(cell, line)` -> line.

    Every source line of every code cell is replaced by a marker and the notebook written in its
    own layout (one JSON line per source line, as Jupyter writes it): the markers' lines are the
    source lines' lines. A string source (one JSON line) maps all its lines to that line.
    """
    layout = _layout(notebook, text) or {"indent": 1}
    layout.pop("tail", None)
    marked = json.loads(json.dumps(notebook))
    for number, cell in enumerate(marked.get("cells", []), start=1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            count = len(_split(_cell_text(cell))) if isinstance(source, list) else 1
            marks = [f"\x00{number}:{index}\x00" for index in range(1, count + 1)]
            cell["source"] = marks if isinstance(source, list) else marks[0]
    found: dict[tuple[int, int], int] = {}
    pattern = re.compile(r"\\u0000(\d+):(\d+)\\u0000")
    for row, line in enumerate(json.dumps(marked, **layout).split("\n"), start=1):
        for match in pattern.finditer(line):
            found[int(match.group(1)), int(match.group(2))] = row
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if isinstance(cell, dict) and isinstance(cell.get("source"), str) and (number, 1) in found:
            for index in range(2, len(_split(cell["source"])) + 1):
                found[number, index] = found[number, 1]
    return found


def lint_notebook(
    data: bytes,
    path: str,
    *,
    opt_in: Iterable[str] = (),
    latent: bool = False,
    project: Project | None = None,
) -> list[Finding]:
    """Check a notebook's code cells; never raises for any input.

    Args:
        data: the `.ipynb` file's bytes.
        path: the name to print in findings.
        opt_in: off-by-default rules to report too, as for `lint_source`.
        latent: report latent findings too, as for `lint_source`.
        project: the run's project index, through which the cells' imports are typed.

    Returns:
        The findings, each with its `cell` and its `line` in the cell, sorted; a single TA000
        when the file is not a notebook.
    """
    notebook, error = _load(data)
    if notebook is None:
        return [Finding(path, 1, 1, "TA000", error or "not a notebook")]
    text = data.decode("utf-8", "replace")
    return _check(notebook, path, opt_in, text, latent=latent, project=project)


def _layout(notebook: dict[str, Any], text: str) -> dict[str, Any] | None:
    """The `json.dumps` options that write `notebook` back as exactly `text`, if any."""
    body = text.rstrip()
    tail = text[len(body) :]
    second = text.split("\n", 2)[1] if text.count("\n") >= 2 else ""
    found = len(second) - len(second.lstrip(" "))
    layouts: list[dict[str, Any]] = [
        {"indent": indent} for indent in dict.fromkeys((found or 1, 1, 2, 4))
    ]
    layouts += [{"indent": None}, {"indent": None, "separators": (",", ":")}]  # one line
    for layout in layouts:
        for ascii_only in (False, True):
            options = {**layout, "ensure_ascii": ascii_only}
            if json.dumps(notebook, **options) == body:
                options["tail"] = tail
                return options
    return None


def _rebuild(module: _Module, fixed: str) -> dict[int, list[str]] | str:
    """The repaired lines of each cell, or why the repair cannot be put back into the cells."""
    before = module.text_lines
    after = _split(fixed)
    cells: dict[int, list[str]] = {}
    for line in module.lines:
        cells.setdefault(line.cell, [])
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for line in module.lines[i1:i2]:
                cells[line.cell].append(line.text)
            continue
        touched = module.lines[i1:i2]
        if any(line.masked for line in touched):
            return "a repair would change an IPython magic, shell escape or skipped cell line"
        owners = {line.cell for line in touched}
        if len(owners) > 1:
            return "a repair would span two cells"
        owner = touched[0].cell if touched else module.lines[max(i1 - 1, 0)].cell
        cells[owner].extend(after[j1:j2])
    return cells


def fix_notebook(
    path: str,
    data: bytes,
    *,
    style: FixStyle = "forward",
    wants: Wants | None = None,
    unsafe: bool = False,
    write: bool = True,
    latent: bool = False,
    project: Project | None = None,
) -> FileFix:
    """Repair a notebook's code cells (as `fix_file` repairs a module), writing it back when
    `write`; only the repaired source lines change.

    Returns:
        A `FileFix` whose `original` and `fixed` are the notebook's JSON text and whose findings
        carry their cell; a notebook that cannot be read, repaired or written back exactly is
        left unchanged, with `error` saying why.
    """
    from training_aware.lint.fix import FileFix, _replace, fix_source

    def wanted(code: str) -> bool:
        return wants is None or wants(code)

    notebook, error = _load(data)
    if notebook is None:
        return FileFix(path, None, None, remaining=(Finding(path, 1, 1, "TA000", error or ""),))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        found = tuple(f for f in _check(notebook, path, ()) if wanted(f.code))
        return FileFix(path, None, None, remaining=found)
    if not _is_python(notebook):
        return FileFix(path, text, text)
    module = _module(notebook, path)
    problems = tuple(f for f in module.problems if wanted(f.code))
    result = fix_source(
        module.text,
        path,
        style=style,
        wants=wanted,
        unsafe=unsafe,
        latent=latent,
        project=project,
    )
    skipped = tuple((module.locate(f), why) for f, why in result.skipped)
    held = tuple((module.locate(f), why) for f, why in result.unsafe)
    risky = tuple((module.locate(f), why) for f, why in result.applied_unsafe)
    kept = FileFix(
        path,
        text,
        text,
        remaining=tuple(
            _place([*problems, *(module.locate(f) for f in result.remaining)], notebook, text)
        ),
        skipped=skipped,
        unsafe=held,
        error=result.error,
    )
    if not result.changed or result.fixed is None:
        return kept
    cells = _rebuild(module, result.fixed)
    layout = _layout(notebook, text)
    if isinstance(cells, str) or layout is None:
        why = cells if isinstance(cells, str) else "its JSON layout cannot be written back exactly"
        return replace(kept, error=f"{why}; the notebook was not changed")
    repaired = json.loads(text)
    for number, lines in cells.items():
        cell = repaired["cells"][number - 1]
        old = _cell_text(cell)
        new = "".join(lines)
        if not old.endswith(("\n", "\r")) and new.endswith("\n"):
            new = new[:-1]
        if new != old:
            source = cell.get("source")
            cell["source"] = _split(new) if isinstance(source, list) else new
    tail = layout.pop("tail")
    fixed = json.dumps(repaired, **layout) + tail
    remaining = tuple(
        f
        for f in _check(repaired, path, (), fixed, latent=latent, project=project)
        if wanted(f.code)
    )
    done = FileFix(
        path,
        text,
        fixed,
        applied=tuple(module.locate(f) for f in result.applied),
        remaining=remaining,
        skipped=skipped,
        unsafe=held,
        applied_unsafe=risky,
    )
    if write and done.changed:
        try:
            _replace(path, fixed.encode("utf-8"))
        except OSError as exc:
            return replace(kept, error=f"cannot write: {exc.strerror or exc}")
    return done
