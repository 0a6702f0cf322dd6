"""The README's `.pre-commit-config.yaml`, run by the real `pre-commit` on a real commit.

A clone of this repository (its tracked files as they are in the working tree, tagged
`v` + the version, as a release is) stands in for GitHub: the README's snippet is used verbatim
but for the `repo:` URL. pre-commit builds the hooks' environment from the clone the way it
would from GitHub (pip installs it with its dependencies, from the package index), then:

- with the fix hook skipped, the lint hook blocks a commit of a file and a notebook that drop
  `training`, and changes nothing;
- with both hooks, the fix hook rewrites both (the commit stops once, as pre-commit does for a
  hook that modified files) and the lint hook still blocks what needs a human (a TA004 in a
  third file);
- once that is settled, the commit goes through.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = re.compile(
    r"No matching distribution|Could not find a version|NewConnectionError|Network is "
    r"unreachable|Temporary failure in name resolution|Max retries exceeded|ProxyError"
)

BAD = """\
import keras


class Block(keras.Model):
    def __init__(self):
        super().__init__()
        self.bn = keras.layers.BatchNormalization()
        self.drop = keras.layers.Dropout(0.5)

    def call(self, x, training=None):
        x = self.bn(x)
        return self.drop(x)
"""

PINNED = """\
import keras


class MCDropout(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.drop = keras.layers.Dropout(0.5)

    def call(self, x, training=None):
        return self.drop(x, training=True)
"""

NOTEBOOK_CELL = """\
class Model(keras.Model):
    def __init__(self):
        super().__init__()
        self.drop = keras.layers.Dropout(0.5)

    def call(self, x):
        return self.drop(x)"""

pytestmark = [pytest.mark.slow, pytest.mark.backend_independent]


def _pre_commit() -> list[str]:
    local = Path(sys.executable).parent / "pre-commit"
    found = str(local) if local.exists() else shutil.which("pre-commit")
    if found is None:
        pytest.skip("pre-commit is not installed (it is in the test extra)")
    return [found]


def _git(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def _clone(dest: Path, env: dict[str, str]) -> None:
    """This repository's tracked and new files, as they are now, committed and tagged."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    _git("init", "-q", cwd=dest, env=env)
    _git("add", "-A", cwd=dest, env=env)
    assert _git("commit", "-q", "-m", "release", cwd=dest, env=env).returncode == 0
    import training_aware

    assert _git("tag", f"v{training_aware.__version__}", cwd=dest, env=env).returncode == 0


def _notebook() -> str:
    cells = [
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {},
            "outputs": [],
            "source": ["!pip install -q keras\n", "import keras"],
        },
        {
            "cell_type": "code",
            "execution_count": 2,
            "metadata": {},
            "outputs": [],
            "source": [line + "\n" for line in NOTEBOOK_CELL.split("\n")[:-1]]
            + [NOTEBOOK_CELL.split("\n")[-1]],
        },
    ]
    nb = {
        "cells": cells,
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=1) + "\n"


def test_the_readme_configuration_blocks_then_fixes_a_commit(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    pre_commit = _pre_commit()
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    env.pop("PYTHONPATH", None)  # the hook runs the clone's package, in pre-commit's venv
    env.pop("VIRTUAL_ENV", None)
    clone = tmp_path / "training-aware"
    clone.mkdir()
    _clone(clone, env)

    readme = (ROOT / "README.md").read_text()
    (snippet,) = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL) if "repos:" in b]
    url = "https://github.com/training-aware/training-aware"
    assert url in snippet
    project = tmp_path / "project"
    project.mkdir()
    _git("init", "-q", cwd=project, env=env)
    (project / ".pre-commit-config.yaml").write_text(snippet.replace(url, str(clone)))
    (project / "block.py").write_text(BAD)
    (project / "pinned.py").write_text(PINNED)
    (project / "explore.ipynb").write_text(_notebook())
    installed = subprocess.run(
        [*pre_commit, "install"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    built = subprocess.run(
        [*pre_commit, "install-hooks"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if built.returncode != 0:
        log = tmp_path / "pre-commit-home" / "pre-commit.log"
        text = built.stdout + built.stderr + (log.read_text() if log.exists() else "")
        if OFFLINE.search(text):
            pytest.skip(
                "pre-commit could not build the hook environment: pip needs a package index "
                f"(libcst, typing-extensions, the build backend), unreachable here: "
                f"{OFFLINE.search(text).group(0)}"  # type: ignore[union-attr]
            )
        raise AssertionError(text[-4000:])
    _git("add", "-A", cwd=project, env=env)

    lint_only = _git(
        "commit", "-m", "add a model", cwd=project, env={**env, "SKIP": "training-aware-fix"}
    )
    assert lint_only.returncode != 0, lint_only.stdout
    output = lint_only.stdout + lint_only.stderr
    assert re.search(r"training-aware lint\.+Failed", output), output
    assert "block.py:11:13: TA002 `Block.call` calls `self.bn`" in output
    assert "block.py:12:16: TA002 `Block.call` calls `self.drop`" in output
    assert "pinned.py:10:16: TA004" in output
    assert "explore.ipynb:cell 2:line 7:col 16: TA001 `Model.call`" in output
    assert (project / "block.py").read_text() == BAD  # the lint hook changes nothing
    assert _git("log", cwd=project, env=env).returncode != 0  # nothing was committed

    both = _git("commit", "-m", "add a model", cwd=project, env=env)
    assert both.returncode != 0
    output = both.stdout + both.stderr
    assert re.search(r"training-aware lint --fix\.+Failed", output), output
    assert "files were modified by this hook" in output
    fixed = (project / "block.py").read_text()
    assert "        x = self.bn(x, training=training)\n" in fixed
    assert "        return self.drop(x, training=training)\n" in fixed
    notebook = json.loads((project / "explore.ipynb").read_text())
    assert notebook["cells"][1]["source"][-2:] == [
        "    def call(self, x, training=None):\n",
        "        return self.drop(x, training=training)",
    ]
    assert notebook["cells"][0]["source"][0] == "!pip install -q keras\n"
    # TA004 needs a human: the lint hook still blocks it.
    assert re.search(r"training-aware lint\.+Failed", output) and "TA004" in output

    assert (project / "pinned.py").read_text() == PINNED  # TA004 is never rewritten
    settled = PINNED.replace("training=True)", "training=True)  # noqa: TA004 (MC dropout)")
    (project / "pinned.py").write_text(settled)
    _git("add", "-A", cwd=project, env=env)
    done = _git("commit", "-m", "add a model", cwd=project, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"training-aware lint\.+Passed", done.stdout + done.stderr)
