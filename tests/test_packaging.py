"""Packaging a user can trust: the licence ships, the links work off GitHub, the hook stays small.

The sdist and the wheel are built offline (`python -m build --no-isolation`, with the build backend
from the test extra) and inspected; the README's links must work on a package index page (absolute,
into this repository's files), and every pre-commit snippet must name the project's URL and a tag
of its version.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import training_aware

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
SOURCE = PROJECT["urls"]["Source"]
BLOB = f"{SOURCE}/blob/main/"
BACKENDS = ("keras", "tensorflow", "jax", "torch")

pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("build", reason="the test extra installs `build`")
    pytest.importorskip("hatchling", reason="the test extra installs the build backend")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", out],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def wheel_metadata(dist: Path) -> tuple[list[str], str]:
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        return names, archive.read(meta).decode()


def test_the_wheel_ships_the_licence_the_urls_and_the_package(dist: Path) -> None:
    names, metadata = wheel_metadata(dist)
    licence = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert licence, names
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(licence[0]) == (ROOT / "LICENSE").read_bytes()
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert "Version 2.0, January 2004" in (ROOT / "LICENSE").read_text()
    meta = Parser().parsestr(metadata)
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["Version"] == training_aware.__version__ == PROJECT["version"]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {k.lower(): v for k, v in urls.items()} == {
        k.lower(): v for k, v in PROJECT["urls"].items()
    }
    assert "training_aware/py.typed" in names
    assert not [n for n in names if n.startswith("tests/")]


def test_the_sdist_ships_the_licence(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "README.md", "pyproject.toml", "src/training_aware/__init__.py"} <= names


def test_a_bare_install_pulls_no_keras_and_no_backend(dist: Path) -> None:
    """What pre-commit installs for the hook: the package without extras."""
    _, metadata = wheel_metadata(dist)
    requires = Parser().parsestr(metadata).get_all("Requires-Dist") or []
    unconditional = [r for r in requires if "extra ==" not in r]
    assert unconditional, requires
    heavy = [r for r in unconditional if re.match(rf"({'|'.join(BACKENDS)})\b", r)]
    assert not heavy, f"a bare install would pull {heavy}"
    for extra in ("tensorflow", "jax", "torch", "keras"):
        with_extra = [r for r in requires if re.search(rf"extra == [\"']{extra}[\"']", r)]
        assert any(r.startswith("keras") for r in with_extra), (extra, requires)


BLOCKER = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {backends!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, Block())
from training_aware.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_without_keras(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command in an environment where Keras and every backend are missing."""
    return subprocess.run(
        [sys.executable, "-c", BLOCKER.format(backends=set(BACKENDS)), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_lint_runs_without_keras_or_a_backend(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "import keras\n\n\nclass M(keras.Model):\n    def call(self, x):\n"
        "        return keras.random.dropout(x, 0.5)\n"
    )
    result = run_without_keras(["lint", "bad.py"], tmp_path)
    assert result.returncode == 1, result.stderr
    assert "TA001" in result.stdout


def test_demo_without_keras_says_which_extra_to_install(tmp_path: Path) -> None:
    result = run_without_keras(["demo", "--quick"], tmp_path)
    assert result.returncode == 2
    assert "pip install -e '.[tensorflow]'" in result.stderr
    assert f"pip install 'training-aware[tensorflow] @ git+{SOURCE}'" in result.stderr
    assert "Traceback" not in result.stderr


LINK = re.compile(r"\]\(([^)\s]+)\)|^\[[^\]]+\]:\s*(\S+)", re.MULTILINE)


def test_readme_links_work_on_a_package_index_page() -> None:
    """PyPI shows README.md without the repository: every link must be absolute, and every link
    into this repository must name a file that exists."""
    links = [a or b for a, b in LINK.findall((ROOT / "README.md").read_text())]
    assert links
    relative = [link for link in links if not re.match(r"https?://", link)]
    assert not relative, f"relative links break on a package index page: {relative}"
    for link in links:
        if link.startswith(SOURCE):
            assert link.startswith(BLOB), link
            path = link[len(BLOB) :].split("#")[0]
            assert (ROOT / path).is_file(), f"{link}: no {path} in the repository"


FENCE = re.compile(r"```yaml\n(.*?)```", re.DOTALL)
TAG = re.compile(r"v\d+\.\d+\.\d+")  # the documented scheme: `v` + a release version


def pre_commit_snippets(text: str) -> list[str]:
    return [block for block in FENCE.findall(text) if "id: training-aware" in block]


def test_one_complete_pre_commit_configuration_everywhere() -> None:
    """Every page shows the same whole `.pre-commit-config.yaml`: `repos:`, the project's URL, a
    tag of a release (`v` + the version) and both hooks."""
    import yaml

    pages = sorted(
        p
        for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
        if "id: training-aware" in p.read_text()
    )
    assert {p.relative_to(ROOT).as_posix() for p in pages} >= {
        "README.md",
        "docs/lint.md",
        "docs/lint-fix.md",
    }
    (readme,) = pre_commit_snippets((ROOT / "README.md").read_text())
    for page in pages:
        assert pre_commit_snippets(page.read_text()) == [readme], page
    hooks_file = (ROOT / ".pre-commit-hooks.yaml").read_text()
    commented = "\n".join(
        line[4:] for line in hooks_file.splitlines() if line.startswith("#   ") or line == "#"
    )
    assert readme.strip() in commented
    config = yaml.safe_load(readme)
    assert list(config) == ["repos"]
    (repo,) = config["repos"]
    hooks = {hook["id"]: hook for hook in yaml.safe_load(hooks_file)}
    assert repo["repo"] == SOURCE
    assert TAG.fullmatch(repo["rev"]) and repo["rev"] == f"v{PROJECT['version']}"
    assert [hook["id"] for hook in repo["hooks"]] == ["training-aware-fix", "training-aware-lint"]
    for hook in hooks.values():
        assert hook["language"] == "python" and "additional_dependencies" not in hook
        assert hook["types_or"] == ["python", "jupyter"]
    assert hooks["training-aware-lint"]["entry"] == "training-aware lint"
    assert hooks["training-aware-fix"]["entry"] == "training-aware lint --fix"
    assert PROJECT["scripts"]["training-aware"] == "training_aware.cli:main"


def test_readme_says_what_facts_is_before_citing_it() -> None:
    text = " ".join((ROOT / "README.md").read_text().split())
    introduced = text.find("[FACTS](")
    assert text.find("), the project's table of what plain Keras 3.15", introduced) != -1
    assert introduced != -1
    first_mention = text.find("FACTS")
    assert first_mention == introduced + 1, text[first_mention - 80 : first_mention + 80]
    citations = [m.start() for m in re.finditer(r"\bF\d{1,2}\b", text)]
    assert all(c > introduced for c in citations), "an F-row is cited before FACTS is introduced"
    assert "seed" not in text.lower()
    assert "the classic `BadModel` / `GoodModel` / `ComplexModel` examples" in text


def test_the_library_without_keras_says_which_extra_to_install(tmp_path: Path) -> None:
    code = BLOCKER.split("from training_aware.cli")[0] + (
        "import training_aware\n"
        "try:\n"
        "    training_aware.TrainingAwareModel\n"
        "except ModuleNotFoundError as error:\n"
        "    print(error.name, '|', error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code.format(backends=set(BACKENDS))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    name, _, message = result.stdout.partition(" | ")
    assert name == "keras"
    assert "not on PyPI yet" in message and "pip install -e '.[tensorflow]'" in message
    assert f"pip install 'training-aware[tensorflow] @ git+{SOURCE}'" in message
