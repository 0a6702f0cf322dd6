"""Fetch the linter's precision corpus: pinned releases of packages with Keras code.

Each package is downloaded with `pip download --no-deps` (a wheel, or the sdist where there is
no wheel) into a cache directory and unpacked there; only `.py` files are kept. Nothing is
installed and nothing is committed: the corpus lives in the cache
(`$TRAINING_AWARE_CORPUS`, default `~/.cache/training-aware-corpus`).

    python scripts/fetch_lint_corpus.py                   # fetch what is missing, print the root
    python scripts/fetch_lint_corpus.py --list            # print the pinned packages
    python scripts/fetch_lint_corpus.py --set held-out    # the held-out set (see below)

Two sets. `CORPUS` (the default set, `--set tuning`) is the code the rules were built and tuned
on. `HELD_OUT` (`--set held-out`) is code the rules were never tuned on, chosen after the rules
were written, to measure them: Keras 3 model zoos and example-style code (several of them
multi-module projects with separate layer, model and training modules) and Keras-2-era libraries
calling `tf.*` ops. About 2.3 MB of wheels to download; 9.5 MB and 1,086 `.py` files once
unpacked, 1,078 of them linted.

The layout is `<cache>/<name>-<version>/<import path>/...`; each package's linted roots are
listed in `CORPUS` and `HELD_OUT` (`roots`, relative to its directory). docs/lint-precision.md
reviews every finding over these roots and tests/lint/test_precision.py keeps that page and
the linter's output equal.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Package:
    name: str  # PyPI distribution name
    version: str
    roots: tuple[str, ...]  # directories or globs (relative) that are linted
    sdist: bool = False  # no wheel on PyPI: unpack the sdist

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


CORPUS: tuple[Package, ...] = (
    Package("keras", "3.15.1", ("keras",)),
    Package("keras-hub", "0.32.0", ("keras_hub",)),
    Package("tf-keras", "2.21.0", ("tf_keras",)),
    Package("tensorflow-recommenders", "0.7.7", ("tensorflow_recommenders",)),
    Package("keras-tuner", "1.4.8", ("keras_tuner",)),
    Package(
        "tensorflow-probability",
        "0.25.0",
        ("tensorflow_probability/python/layers", "tensorflow_probability/python/experimental/nn"),
    ),
    Package("keras-cv", "0.9.0", ("keras_cv",)),
    Package("spektral", "1.3.1", ("spektral",)),
    Package("larq", "0.14.0", ("larq",)),
    Package("larq-zoo", "2.4.0", ("larq_zoo",)),
    Package("segmentation-models", "1.0.1", ("segmentation_models",)),
    Package("keras-cv-attention-models", "1.4.3", ("keras_cv_attention_models",)),
    Package("keras-rs", "0.4.0", ("keras_rs",)),
    Package("autokeras", "3.0.0", ("autokeras",)),
    Package("keras-tcn", "3.5.7", ("tcn",)),
    Package("keras-mdn-layer", "1.0.0", ("keras_mdn_layer",)),
    Package("ncps", "1.0.1", ("ncps",)),
    Package("tensorflow-similarity", "0.17.1", ("tensorflow_similarity",)),
    Package("keras-ocr", "0.9.3", ("keras_ocr",)),
    Package("vit-keras", "0.2.0", ("vit_keras",), sdist=True),
    Package("keras-efficient-kan", "0.1.10", ("keras_efficient_kan",)),
    Package(
        "transformers",
        "4.40.2",
        ("transformers/modeling_tf_utils.py", "transformers/models/*/modeling_tf_*.py"),
    ),
)

# Held out: never used to build or tune a rule. Keras 3 first (multi-backend unless a module
# calls `tf.*`), then Keras-2-era `tf.keras` libraries. Multi-module projects: k3-node
# (layers/, models/, tasks/, applications/), kgcnn (layers/, literature/<model>/_layers.py and
# _model.py, training/), kimm (_src/blocks, _src/layers, _src/models), keras-vision (per model:
# base_layers, blocks, model), deepctr (layers/, models/), gcvit (layers/, models/).
HELD_OUT: tuple[Package, ...] = (
    Package("k3-node", "1.0.0", ("k3_node",)),
    Package("kgcnn", "4.0.2", ("kgcnn",)),
    Package("kimm", "0.2.5", ("kimm",)),
    Package("k3im", "0.1.1", ("k3im",)),
    Package("keras-vision", "0.6.3", ("keras_vision",)),
    Package("keras-proba", "0.1.0", ("keras_proba",)),
    Package("tf-gnns", "0.3.2", ("tf_gnns",)),
    Package("keras-neural-processes", "0.1.0", ("knp",)),
    Package("tfgans", "0.1.1", ("tfgans",)),
    Package("deepctr", "0.9.4", ("deepctr",)),
    Package("gcvit", "1.1.6", ("gcvit",)),
    Package("keras-fsl", "0.2.0", ("keras_fsl",)),
    Package("tabnet", "0.1.6", ("tabnet",)),
    Package("biggan", "1.0.0a1", ("biggan",)),
    Package("keras-unet-collection", "0.1.13", ("keras_unet_collection",)),
)

SETS: dict[str, tuple[Package, ...]] = {"tuning": CORPUS, "held-out": HELD_OUT}


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return Path(os.environ.get("TRAINING_AWARE_CORPUS", default / "training-aware-corpus"))


def package_dir(package: Package) -> Path:
    return cache_dir() / package.key


def roots(package: Package) -> list[Path]:
    """The files and directories of `package` that are linted (globs expanded, sorted)."""
    base = package_dir(package)
    found: list[Path] = []
    for pattern in package.roots:
        if any(ch in pattern for ch in "*?["):
            found.extend(sorted(base.glob(pattern)))
        else:
            found.append(base / pattern)
    return found


def is_fetched(package: Package) -> bool:
    return (package_dir(package) / ".complete").is_file()


def _unpack(archive: Path, dest: Path) -> None:
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.filename.endswith(".py") and ".." not in info.filename:
                    zf.extract(info, dest)
        return
    with tarfile.open(archive) as tf:
        members = [
            m
            for m in tf.getmembers()
            if m.isfile() and m.name.endswith(".py") and ".." not in m.name
        ]
        tf.extractall(dest, members=members, filter="data")
    # sdists unpack into `<name>-<version>/`: lift its contents one level up
    (top,) = [p for p in dest.iterdir() if p.is_dir()]
    for child in top.iterdir():
        shutil.move(str(child), dest / child.name)
    top.rmdir()


def fetch(package: Package) -> Path:
    """Download and unpack `package` into the cache unless it is there; returns its directory."""
    dest = package_dir(package)
    if is_fetched(package):
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "--dest",
            tmp,
            f"{package.name}=={package.version}",
        ]
        if package.sdist:
            cmd[4:4] = ["--no-binary", ":all:"]
        else:
            cmd[4:4] = [
                "--only-binary",
                ":all:",
                "--python-version",
                "3.12",
                "--platform",
                "any",
                "--implementation",
                "py",
            ]
        subprocess.run(cmd, check=True)
        (archive,) = Path(tmp).iterdir()
        dest.mkdir(parents=True)
        _unpack(archive, dest)
    (dest / ".complete").write_text(f"{package.key}\n")
    return dest


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the pinned packages")
    parser.add_argument(
        "--set",
        choices=sorted(SETS),
        default="tuning",
        help="which set: the one the rules were tuned on (default) or the held-out one",
    )
    args = parser.parse_args(argv)
    packages = SETS[args.set]
    if args.list:
        for package in packages:
            print(f"{package.name}=={package.version}  {' '.join(package.roots)}")
        return 0
    for package in packages:
        fetch(package)
    print(cache_dir())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
