"""Apply `training-aware lint --fix` to a copy of the linter's precision corpus and check it.

For each package of the corpus (`scripts/fetch_lint_corpus.py`; run it first), its linted roots
are copied to a temporary directory, `training-aware lint --fix` runs on the copy (the real
command, in a subprocess), and every file it changed is checked:

- it parses (`ast.parse`) and compiles (`compile`);
- linting it reports no finding of a fixed rule (TA001, TA002, TA005, TA006) beyond those the
  fixer said it could not fix safely;
- a second `--fix` changes nothing (idempotence), and no file outside the changed ones differs.

    python scripts/lint_fix_corpus.py            # a Markdown table, as in docs/lint-fix.md

Exit status 1 when any check fails.
"""

from __future__ import annotations

import ast
import filecmp
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

FIXABLE = ("TA001", "TA002", "TA005", "TA006")
HERE = Path(__file__).resolve().parent


def _corpus() -> list[tuple[str, list[Path]]]:
    """(package, roots) pairs from scripts/fetch_lint_corpus.py."""
    spec = importlib.util.spec_from_file_location("fetch", HERE / "fetch_lint_corpus.py")
    if spec is None or spec.loader is None or not (HERE / "fetch_lint_corpus.py").exists():
        raise SystemExit("scripts/fetch_lint_corpus.py is missing")
    fetch = importlib.util.module_from_spec(spec)
    sys.modules["fetch"] = fetch
    spec.loader.exec_module(fetch)
    out = []
    for package in fetch.CORPUS:
        roots = [r for r in fetch.roots(package) if r.exists()]
        if not roots:
            print(
                f"skipped {package.key}: not fetched (scripts/fetch_lint_corpus.py)",
                file=sys.stderr,
            )
            continue
        out.append((package.key, roots))
    return out


def _lint(args: list[str], cwd: Path) -> tuple[list[dict[str, object]], str]:
    cmd = [sys.executable, "-m", "training_aware", "lint", "--format", "json", *args]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout or "[]"), proc.stderr


def _count(summary: str, words: str) -> int:
    """The number before `words` in the summary line (0 when absent)."""
    if words not in summary:
        return 0
    return int(summary.split(words)[0].rsplit(" ", 1)[-1])


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if p.is_file())


def check_package(key: str, roots: list[Path]) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        work, pristine = Path(tmp, "work"), Path(tmp, "pristine")
        for root in roots:
            for base in (work, pristine):
                target = base / root.name
                if root.is_dir():
                    shutil.copytree(root, target)
                else:
                    base.mkdir(exist_ok=True)
                    shutil.copy2(root, target)
        names = sorted(p.name for p in work.iterdir())
        before, _ = _lint(names, work)
        after, summary = _lint(["--fix", *names], work)
        changed = [
            p for p in _files(work) if not filecmp.cmp(p, pristine / p.relative_to(work), False)
        ]
        parse = compiles = 0
        for path in changed:
            text = path.read_text(encoding="utf-8")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    ast.parse(text)
                    parse += 1
                    compile(text, str(path), "exec", dont_inherit=True)
                    compiles += 1
                except SyntaxError:
                    pass
        left = Counter(str(f["code"]) for f in after if f["code"] in FIXABLE)
        # left alone: the repairs held back as unsafe, and the findings with no repair
        unsafe = _count(summary, " have an unsafe fix") + _count(summary, " could not be fixed")
        second = subprocess.run(
            [sys.executable, "-m", "training_aware", "lint", "--diff", *names],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
    found = Counter(str(f["code"]) for f in before if f["code"] in FIXABLE)
    line = summary.strip().splitlines()[-1] if summary.strip() else ""
    fixed = int(line.split(" finding(s)")[0].rsplit(" ", 1)[-1]) if "finding(s)" in line else 0
    return {
        "package": key,
        "found": found,
        "left": left,
        "unsafe": unsafe,
        "changed": len(changed),
        "parse": parse,
        "compile": compiles,
        "second_run_diff": bool(second.stdout),
        "fixed": fixed,
        "summary": line,
    }


def main() -> int:
    rows = [check_package(key, roots) for key, roots in _corpus()]
    print(
        "| package | TA001 | TA002 | TA005 | TA006 | fixed | left (unsafe) | files changed "
        "| parse | compile | clean after | 2nd run |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for row in rows:
        found, left = row["found"], row["left"]
        assert isinstance(found, Counter) and isinstance(left, Counter)
        fixed = row["fixed"]  # with the callers a repair made need `training` (2nd round)
        clean = left.total() == row["unsafe"]
        good = clean and row["parse"] == row["compile"] == row["changed"]
        good = good and not row["second_run_diff"]
        ok = ok and good
        print(
            f"| {row['package']} | "
            + " | ".join(str(found[c]) for c in FIXABLE)
            + f" | {fixed} | {left.total()} ({row['unsafe']}) | {row['changed']} | {row['parse']} "
            f"| {row['compile']} | {'yes' if clean else 'NO'} "
            f"| {'no change' if not row['second_run_diff'] else 'CHANGED'} |"
        )
    total = Counter[str]()
    for row in rows:
        total.update(row["found"])  # type: ignore[arg-type]
    fixed_total = sum(int(row["fixed"]) for row in rows)  # type: ignore[call-overload]
    changed_total = sum(int(row["changed"]) for row in rows)  # type: ignore[call-overload]
    print(
        "| **all** | " + " | ".join(str(total[c]) for c in FIXABLE) + f" | {fixed_total} | "
        f"{sum(row['left'].total() for row in rows)} | {changed_total} | | | "  # type: ignore[attr-defined]
        f"{'yes' if ok else 'NO'} | |"
    )
    for row in rows:
        print(f"<!-- {row['package']}: {row['summary']} -->", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    raise SystemExit(main())
