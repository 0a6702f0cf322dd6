"""The GitHub Actions workflows: CI runs `.ci/run` on each backend; a release tag, named as the
README documents (`v` + the version), builds and publishes the package and the docs site."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"

pytestmark = pytest.mark.backend_independent


def load(name: str) -> dict[str, Any]:
    import yaml

    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(workflow, dict)
    if True in workflow:  # YAML 1.1 reads the key `on` as a boolean
        workflow["on"] = workflow.pop(True)
    return workflow


def runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]


def github_glob(pattern: str) -> re.Pattern[str]:
    """GitHub's filter pattern: `*` is any run of characters but `/`."""
    return re.compile("".join("[^/]*" if c == "*" else re.escape(c) for c in pattern))


def test_ci_runs_the_ci_script_on_each_backend() -> None:
    ci = load("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    (job,) = ci["jobs"].values()
    assert job["strategy"]["matrix"]["backend"] == ["tensorflow", "jax", "torch"]
    assert job["env"]["KERAS_BACKEND"] == "${{ matrix.backend }}"
    assert "bash .ci/run" in runs(job)
    assert (ROOT / ".ci" / "run").is_file()
    assert "TRAINING_AWARE_CI_FLOOR" in (ROOT / ".ci" / "run").read_text()
    conftest = (ROOT / "tests" / "conftest.py").read_text()
    assert 'os.environ["KERAS_BACKEND"]' in conftest  # the suite honours the matrix's backend


def test_release_tag_pattern_is_the_documented_scheme() -> None:
    import training_aware

    release = load("release.yml")
    (pattern,) = release["on"]["push"]["tags"]
    tag = github_glob(pattern)
    readme = (ROOT / "README.md").read_text()
    (rev,) = set(re.findall(r"rev: (\S+)", readme))
    assert rev == f"v{training_aware.__version__}"
    assert tag.fullmatch(rev)
    assert f"`v` + its version (`{rev}`)" in " ".join(readme.split())
    for not_a_release in ("0.1.0", "latest", "v0.1", "docs-v0.1.0"):
        assert not tag.fullmatch(not_a_release), not_a_release


def test_release_builds_checks_and_publishes_by_trusted_publishing() -> None:
    jobs = load("release.yml")["jobs"]
    build = jobs["build"]
    assert any("python -m build" in run for run in runs(build))
    assert any("twine check" in run for run in runs(build))
    assert any("GITHUB_REF_NAME" in run and "v${version}" in run for run in runs(build))
    pypi = jobs["pypi"]
    assert pypi["needs"] == "build"
    assert pypi["permissions"] == {"id-token": "write"}
    assert uses(pypi)[-1] == "pypa/gh-action-pypi-publish"
    publish = pypi["steps"][-1]
    assert "password" not in publish.get("with", {})  # trusted publishing: no token
    docs = jobs["docs"]
    assert any("mkdocs build --strict" in run for run in runs(docs))
    assert uses(docs)[-2:] == ["actions/upload-pages-artifact", "actions/deploy-pages"]
    assert docs["permissions"] == {"pages": "write", "id-token": "write"}
