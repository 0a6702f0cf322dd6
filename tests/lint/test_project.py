"""The linter on a whole project: the index across modules, the configuration each module runs
in (behaviour-changing findings by default, latent ones on request), and `--fix` across modules,
checked afterwards by running `training_aware.audit` on every backend."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from training_aware.lint import lint_source
from training_aware.lint.checker import Project
from training_aware.lint.config import Config
from training_aware.lint.runner import lint_paths, main

from .helpers import PYTHON, REPO

FIXTURE = REPO / "tests" / "lint_projects" / "textclf"
PACKAGE = FIXTURE / "textclf"
LINT = REPO / "src" / "training_aware" / "lint"


def marked(latent: bool) -> set[tuple[str, int]]:
    """The `(file, line)` of every `# dropped` comment in the fixture (latent ones too)."""
    out = set()
    for path in sorted(PACKAGE.glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "# dropped" in line and (latent or "(latent)" not in line):
                out.add((path.name, number))
    return out


def found(paths: list[Path], *, latent: bool = False) -> set[tuple[str, int]]:
    config = Config(latent=latent)
    return {(Path(f.path).name, f.line) for f in lint_paths([str(p) for p in paths], config)}


def test_every_dropped_flag_of_the_project_is_reported():
    assert len(marked(latent=False)) == 7
    assert found([FIXTURE]) == marked(latent=False)
    assert found([FIXTURE], latent=True) == marked(latent=True)


def test_one_file_of_a_package_is_checked_with_its_package():
    # models.py alone: the classes it imports are read from layers.py next to it
    assert found([PACKAGE / "models.py"]) == {m for m in marked(False) if m[0] == "models.py"}
    # train.py alone: the factory it imports through the package's __init__ and models.py
    assert found([PACKAGE / "train.py"]) == {("train.py", 17)}


def test_each_cross_module_finding_names_the_class_from_the_other_module():
    messages = {
        (Path(f.path).name, f.line): f.message for f in lint_paths([str(FIXTURE)], Config())
    }
    assert "`self.embed` (NoisyEmbedding)" in messages[("models.py", 19)]
    assert "`block` (ResidualBlock)" in messages[("models.py", 21)]
    assert "`self.head` (Sequential)" in messages[("models.py", 24)]
    assert "`train_classifier` calls `model`" in messages[("train.py", 17)]


def test_json_carries_the_category_and_the_judged_configuration(capsys):
    assert main(["--format", "json", "--latent", str(FIXTURE)]) == 1
    data = json.loads(capsys.readouterr().out)
    by_line = {(Path(d["path"]).name, d["line"]): d for d in data}
    model = by_line[("models.py", 19)]
    assert (model["category"], model["keras"], model["backends"]) == (
        "behaviour",
        "3",
        ["tensorflow", "jax", "torch"],
    )
    assert model["message"].endswith("[changes behaviour with Keras 3 on jax]")
    loop = by_line[("train.py", 17)]  # `tf.GradientTape`: TensorFlow only
    assert (loop["category"], loop["backends"]) == ("behaviour", ["tensorflow"])
    latent = by_line[("layers.py", 43)]
    assert latent["category"] == "latent"
    assert "[latent: no effect with Keras 3 on tensorflow, jax, torch;" in latent["message"]


@pytest.fixture
def fixed_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    copy = tmp_path / "textclf"
    shutil.copytree(FIXTURE, copy)
    assert main(["--fix", "--latent", str(copy)]) == 0
    assert "fixed 8 finding(s) in 3 file(s)" in capsys.readouterr().err  # the summary line
    return copy


def test_fix_repairs_every_dropped_flag_across_modules(fixed_project: Path):
    assert found([fixed_project], latent=True) == set()
    for name, line in marked(latent=True):
        before = (PACKAGE / name).read_text().splitlines()[line - 1]
        after = (fixed_project / "textclf" / name).read_text().splitlines()[line - 1]
        assert after != before, (name, line)
        assert "training=" in after, (name, line)


def _audit(projects: list[Path], backend: str) -> list[dict[str, bool]]:
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(REPO / "src")}
    script = str(Path(__file__).with_name("audit_project.py"))
    result = subprocess.run(
        [PYTHON, script, *map(str, projects)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answer: list[dict[str, bool]] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_after_fix_the_audit_finds_nothing_on_every_backend(fixed_project: Path, backend: str):
    # plain Keras: `Regressor` (no `training` in `call`) trains in inference mode on every
    # backend (FACTS F1); `Classifier` (flags dropped inside `call`) only on JAX (FACTS F2)
    before, after = _audit([FIXTURE, fixed_project], backend)
    assert before == {"Classifier": backend != "jax", "Regressor": False}
    assert after == {"Classifier": True, "Regressor": True}


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


BLOCK = """
    import keras

    class Block(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x, training=None):
            return self.drop(x, training=training)
"""

NET = """
    import keras
    {imports}

    class Net({base}):
        def __init__(self):
            super().__init__()
            self.block = Block()

        def call(self, x, training=None):
            {body}
            return self.block(x)
"""


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"pkg/__init__.py": "", "pkg/blocks.py": BLOCK}, "from .blocks import Block"),
        ({"pkg/__init__.py": "", "pkg/blocks.py": BLOCK}, "from pkg.blocks import Block"),
        (
            {
                "pkg/__init__.py": "from .sub.blocks import Block\n",
                "pkg/sub/__init__.py": "",
                "pkg/sub/blocks.py": BLOCK,
            },
            "from . import Block",
        ),
        ({"pkg/__init__.py": "", "pkg/blocks.py": BLOCK}, "from . import blocks as b"),
    ],
    ids=["relative", "absolute", "re-exported by __init__", "module alias"],
)
def test_imports_between_modules_are_resolved(tmp_path: Path, files, expected):
    write(tmp_path, files)
    name = "b.Block" if " as b" in expected else "Block"
    net = NET.format(imports=expected, base="keras.Model", body="pass").replace(
        "Block()", f"{name}()"
    )
    write(tmp_path, {"pkg/net.py": net})
    assert found([tmp_path]) == {("net.py", 12)}


def test_scripts_side_by_side_import_each_other(tmp_path: Path):
    # no package: `python train.py` finds `models.py` in its own directory
    write(tmp_path, {"blocks.py": BLOCK})
    write(
        tmp_path,
        {"net.py": NET.format(imports="from blocks import Block", base="keras.Model", body="pass")},
    )
    assert found([tmp_path / "net.py"]) == {("net.py", 12)}


def test_a_base_class_from_another_module_brings_its_sublayers(tmp_path: Path):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/blocks.py": BLOCK,
            "pkg/base.py": """
        import keras
        from .blocks import Block

        class Base(keras.Model):
            def __init__(self):
                super().__init__()
                self.block = Block()
                self.drop = keras.layers.Dropout(0.1)
    """,
            "pkg/net.py": """
        from .base import Base

        class Net(Base):
            def call(self, x, training=None):
                return self.drop(self.block(x, training=training))
    """,
        },
    )
    assert found([tmp_path]) == {("net.py", 6)}


def test_unknown_names_stay_silent(tmp_path: Path):
    # an import the project does not hold, and a module that cannot be parsed
    write(tmp_path, {"pkg/__init__.py": "", "pkg/broken.py": "class Block(:\n"})
    write(
        tmp_path,
        {
            "pkg/net.py": NET.format(
                imports="from .broken import Block", base="keras.Model", body="pass"
            ),
            "pkg/other.py": NET.format(
                imports="from x import Block", base="keras.Model", body="pass"
            ),
        },
    )
    assert found([tmp_path / "pkg" / "net.py", tmp_path / "pkg" / "other.py"]) == set()


def test_a_module_calling_tensorflow_ops_runs_on_tensorflow_only(tmp_path: Path):
    # TA002 in a model: on TensorFlow the call context hands the mode on (latent there)
    tf_net = NET.format(
        imports="import tensorflow as tf\n" + BLOCK.split("import keras")[1],
        base="keras.Model",
        body="x = tf.nn.relu(x)",
    )
    found_tf = lint_source(textwrap.dedent(tf_net), "tf_net.py", latent=True)
    assert [(f.code, f.category, f.backends) for f in found_tf] == [
        ("TA002", "latent", ("tensorflow",))
    ]
    assert "a bug after a port to jax" in found_tf[0].message
    assert lint_source(textwrap.dedent(tf_net), "tf_net.py") == []
    # tf.data and settings do not tie the model to TensorFlow
    data_net = tf_net.replace("tf.nn.relu(x)", "tf.data.Dataset.from_tensors(x)")
    assert [f.category for f in lint_source(textwrap.dedent(data_net), "n.py")] == ["behaviour"]


def test_a_layer_dropping_the_flag_is_latent_a_model_is_not():
    layer = NET.format(
        imports=BLOCK.split("import keras")[1], base="keras.layers.Layer", body="pass"
    )
    assert lint_source(textwrap.dedent(layer), "n.py") == []
    [finding] = lint_source(textwrap.dedent(layer), "n.py", latent=True)
    assert finding.category == "latent"
    assert "call context" in finding.message


@pytest.mark.parametrize(
    ("gate", "keras"),
    [
        ('if keras.__version__ >= "3":\n    raise ImportError("needs Keras 2")', "2"),
        ('if int(keras.__version__.split(".")[0]) >= 3:\n    raise ImportError()', "2"),
        ('if keras.__version__.startswith("3"):\n    raise ImportError()', "2"),
        ('if keras.__version__ < "3":\n    raise ImportError("needs Keras 3")', "3"),
        ('assert tf.__version__ < "2.16"', "2"),
    ],
)
def test_an_import_time_gate_in_the_package_decides_the_keras(tmp_path: Path, gate, keras):
    init = "import keras\nimport tensorflow as tf\n" + gate + "\n"
    net = NET.format(imports=BLOCK.split("import keras")[1], base="keras.Model", body="pass")
    write(tmp_path, {"pkg/__init__.py": init, "pkg/net.py": net})
    [finding] = lint_paths([str(tmp_path / "pkg" / "net.py")], Config(latent=True))
    assert finding.keras == keras
    assert finding.category == ("latent" if keras == "2" else "behaviour")


@pytest.mark.parametrize(
    ("name", "text", "keras"),
    [
        ("requirements.txt", "tensorflow==2.15.1\nnumpy\n", "2"),
        ("requirements-dev.txt", "tf-keras>=2.15\n", "2"),
        ("setup.cfg", "[options]\ninstall_requires =\n    keras>=2.4,<3\n", "2"),
        ("pyproject.toml", '[project]\nname = "p"\ndependencies = ["keras>=3.2"]\n', "3"),
        ("requirements.txt", "keras\n", "3"),
    ],
)
def test_declared_requirements_decide_the_keras(tmp_path: Path, name, text, keras):
    write(tmp_path, {name: text})
    net = NET.format(imports=BLOCK.split("import keras")[1], base="keras.Model", body="pass")
    write(tmp_path, {"net.py": net})
    [finding] = lint_paths([str(tmp_path / "net.py")], Config(latent=True))
    assert finding.keras == keras


def test_declared_configuration_wins(tmp_path: Path, capsys):
    net = NET.format(imports=BLOCK.split("import keras")[1], base="keras.Model", body="pass")
    write(tmp_path, {"net.py": net})
    path = str(tmp_path / "net.py")
    # TA002 in a model changes behaviour on JAX only
    assert main(["--backends", "tensorflow,torch", path]) == 0
    assert main(["--backends", "tensorflow,torch", "--latent", path]) == 1
    assert "[latent: no effect with Keras 3 on tensorflow, torch" in capsys.readouterr().out
    write(tmp_path, {"pyproject.toml": '[tool.training-aware]\nbackends = ["jax"]\n'})
    assert main([path]) == 1
    write(tmp_path, {"pyproject.toml": '[tool.training-aware]\nkeras = "2"\n'})
    assert main([path]) == 0
    write(tmp_path, {"pyproject.toml": '[tool.training-aware]\nkeras = "2"\nlatent = true\n'})
    assert main([path]) == 1
    assert main(["--keras", "4", path]) == 2
    assert main(["--backends", "cntk", path]) == 2


def test_ta006_reports_only_what_it_can_show():
    source = """
        import keras
        import tensorflow as tf

        def make_critic():
            return keras.Sequential([keras.layers.Conv2D(4, 3), keras.layers.Dense(1)])

        def make_generator():
            return keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])

        class Aug(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.noise = keras.layers.GaussianNoise(0.1)

            def call(self, x, training=True):
                return self.noise(x, training=training)

        critic, generator, aug = make_critic(), make_generator(), Aug()
        critic = make_critic()
        generator = make_generator()
        aug = Aug()

        def step(x, model):
            with tf.GradientTape() as tape:
                a = critic(x)      # nothing mode-dependent inside
                b = generator(x)   # BatchNorm: reported
                c = aug(x)         # `call` defaults `training=True`: the bare call trains
                d = model(x)       # unknown
            return tape.gradient(a + b + c + d, generator.trainable_variables)

        def saliency(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = generator(x)   # attribution: gradients with respect to the input
            return tape.gradient(y, x)
    """
    found = [(f.code, f.line) for f in lint_source(textwrap.dedent(source), latent=True)]
    assert [line for code, line in found if code == "TA006"] == [27]


def test_the_lint_package_has_no_import_cycle():
    # files -> project index -> types -> rules -> report and fixes: data flows one way
    graph: dict[str, set[str]] = {}
    for path in LINT.glob("*.py"):
        name = path.stem
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
                if module == "training_aware.lint":
                    graph[name] |= {a.name for a in node.names}
                elif module.startswith("training_aware.lint."):
                    graph[name].add(module.rsplit(".", 1)[-1])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("training_aware.lint."):
                        graph[name].add(alias.name.rsplit(".", 1)[-1])
    graph = {k: {v for v in vs if v in graph and v != "__init__"} for k, vs in graph.items()}
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        assert node not in stack, "import cycle: " + " -> ".join([*stack, node])
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, [*stack, node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    assert re.search(r"\bproject\b", " ".join(sorted(graph["layertypes"])))


def test_a_project_object_can_be_reused_for_many_modules(tmp_path: Path):
    write(tmp_path, {"pkg/__init__.py": "", "pkg/blocks.py": BLOCK})
    net = NET.format(imports="from .blocks import Block", base="keras.Model", body="pass")
    write(tmp_path, {"pkg/net.py": net})
    project = Project()
    for name in ("blocks.py", "net.py"):
        project.add(str(tmp_path / "pkg" / name))
    text = (tmp_path / "pkg" / "net.py").read_text()
    assert [
        f.code for f in lint_source(text, str(tmp_path / "pkg" / "net.py"), project=project)
    ] == ["TA002"]


def test_flake8_plugin_reads_the_package_of_its_file():
    from training_aware.lint.flake8_plugin import TrainingAwareChecker

    path = PACKAGE / "models.py"
    text = path.read_text()
    plugin = TrainingAwareChecker(ast.parse(text), text.splitlines(True), str(path))
    lines = {line for line, _, _, _ in plugin.run()}
    assert lines == {line for name, line in marked(False) if name == "models.py"}


def test_the_project_example_of_the_docs_reports_what_the_page_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    page = (REPO / "docs" / "lint.md").read_text()
    section = page.split("## The whole project", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n# (shop/\w+\.py)\n(.*?)```", section, flags=re.S)
    assert [name for name, _ in blocks] == ["shop/layers.py", "shop/models.py"]
    write(tmp_path, {"shop/__init__.py": "", **{n: f"# {n}\n{text}" for n, text in blocks}})
    shown = re.search(r"```console\n\$ training-aware lint shop/\n(.*?)```", section, re.S)
    assert shown is not None
    monkeypatch.chdir(tmp_path)
    assert main(["shop/"]) == 1
    assert capsys.readouterr().out == shown.group(1)


def test_base_classes_importing_each_other_in_a_circle_end(tmp_path: Path):
    base = """
        import keras
        from .{other} import {other_cls}

        class {cls}({other_cls}):
            def __init__(self):
                super().__init__()
                self.drop = keras.layers.Dropout(0.5)

            def call(self, x, training=None):
                return self.drop(x)
    """
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": base.format(other="b", other_cls="B", cls="A"),
            "pkg/b.py": base.format(other="a", other_cls="A", cls="B"),
        },
    )
    found_all = lint_paths([str(tmp_path)], Config(latent=True))
    assert {f.code for f in found_all} <= {"TA002"}  # no TA000, no recursion error


def test_a_helper_that_a_base_class_calls_is_checked_in_the_subclass(tmp_path: Path):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/base.py": """
                import keras

                class Base(keras.Model):
                    def call(self, x, training=None):
                        return self.forward(x)
            """,
            "pkg/net.py": """
                import keras
                from .base import Base

                class Net(Base):
                    def __init__(self):
                        super().__init__()
                        self.drop = keras.layers.Dropout(0.5)

                    def forward(self, x):
                        return self.drop(x)
            """,
        },
    )
    assert found([tmp_path]) == {("net.py", 11)}
