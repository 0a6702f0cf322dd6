"""Configuration from `[tool.training-aware]` in the nearest `pyproject.toml`.

```toml
[tool.training-aware]
select = ["TA"]            # code prefixes to report (default: every rule)
ignore = ["TA006"]         # code prefixes to drop
exclude = ["generated/*"]  # globs, matched against names and paths relative to this file
fix-style = "forward"      # --fix on TA001 in a model: "forward" or "base-class"
keras = "3"                # the Keras the code targets: "2" or "3" (default: read from the code)
backends = ["tensorflow", "jax"]  # the backends it runs on (default: read from the code)
latent = false             # also report latent findings (harmless in this configuration)
```

Command-line `--select`/`--ignore` replace the file's lists; `--exclude` adds to its globs;
`--keras`, `--backends` and `--latent` replace the file's values.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any

from training_aware.lint.rules import BACKENDS, CODES, OPT_IN

_KEYS = frozenset({"select", "ignore", "exclude", "fix-style", "keras", "backends", "latent"})
FIX_STYLES = ("forward", "base-class")
KERAS_VERSIONS = ("2", "3")


class ConfigError(Exception):
    """A configuration or command-line value that cannot be used (exit status 2)."""


@dataclass(frozen=True, slots=True)
class Config:
    """The effective settings of one run."""

    select: tuple[str, ...] = ("TA",)
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    root: str | None = None
    source: str | None = None
    fix_style: str = "forward"
    keras: str | None = None  # None: decided per module from the code
    backends: tuple[str, ...] | None = None  # None: decided per module from the code
    latent: bool = False

    def wants(self, code: str) -> bool:
        """Is `code` reported? The longest matching prefix of select/ignore decides; an opt-in
        rule (TA009) is reported only when `select` names its full code."""
        if code in OPT_IN and code not in self.select:
            return False
        best_select = max((len(p) for p in self.select if code.startswith(p)), default=-1)
        best_ignore = max((len(p) for p in self.ignore if code.startswith(p)), default=-1)
        return best_select >= 0 and best_select > best_ignore


def check_codes(values: list[str], where: str) -> tuple[str, ...]:
    """Validate code prefixes such as `TA`, `TA00`, `TA002`.

    Raises:
        ConfigError: a value that is no prefix of any rule code.
    """
    out = []
    for raw in values:
        value = raw.strip().upper()
        if not value:
            continue
        if not any(code.startswith(value) for code in CODES):
            known = ", ".join(CODES)
            raise ConfigError(f"{where}: unknown rule code {raw!r}; expected one of {known}")
        out.append(value)
    return tuple(out)


def check_keras(value: object, where: str) -> str:
    """Validate a declared Keras generation (`"2"`, `"3"`, also `2`, `3.0`).

    Raises:
        ConfigError: any other value.
    """
    text = str(value).strip()
    major = text.split(".", 1)[0]
    if isinstance(value, bool) or major not in KERAS_VERSIONS:
        raise ConfigError(f'{where}: expected Keras "2" or "3", got {value!r}')
    return major


def check_backends(values: list[str], where: str) -> tuple[str, ...]:
    """Validate declared backends (`tensorflow`, `jax`, `torch`).

    Raises:
        ConfigError: an unknown backend, or none at all.
    """
    out = tuple(dict.fromkeys(v.strip().lower() for v in values if v.strip()))
    unknown = [v for v in out if v not in BACKENDS]
    if unknown or not out:
        raise ConfigError(
            f"{where}: unknown backend(s) {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"expected some of {', '.join(BACKENDS)}"
        )
    return out


def find_pyproject(start: str) -> str | None:
    """The nearest `pyproject.toml` at or above `start` (a file or directory)."""
    current = os.path.abspath(start)
    if not os.path.isdir(current):
        current = os.path.dirname(current)
    while True:
        candidate = os.path.join(current, "pyproject.toml")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _toml_loads(text: str, where: str) -> dict[str, Any]:
    try:
        toml: Any = importlib.import_module("tomllib")
    except ModuleNotFoundError:  # Python 3.10
        try:
            toml = importlib.import_module("tomli")
        except ModuleNotFoundError:
            raise ConfigError(
                f"{where}: reading pyproject.toml on Python 3.10 needs tomli (pip install tomli)"
            ) from None
    try:
        data: dict[str, Any] = toml.loads(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError subclasses ValueError
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    return data


def _strings(value: object, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"{where}: expected a list of strings, got {value!r}")


def load_config(start: str) -> Config:
    """Read `[tool.training-aware]` from the nearest pyproject.toml above `start`.

    Args:
        start: the directory (or file) the search begins at.

    Returns:
        The settings; the defaults when there is no pyproject.toml or no such table.

    Raises:
        ConfigError: unreadable TOML, an unknown key or an unknown rule code, with the file.
    """
    path = find_pyproject(start)
    if path is None:
        return Config()
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    table = _toml_loads(text, path).get("tool", {}).get("training-aware")
    root = os.path.dirname(path)
    if table is None:
        return Config(root=root)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.training-aware] must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)} in [tool.training-aware]; "
            f"expected: {', '.join(sorted(_KEYS))}"
        )
    where = f"{path} [tool.training-aware]"
    select = check_codes(_strings(table.get("select", ["TA"]), f"{where} select"), where)
    ignore = check_codes(_strings(table.get("ignore", []), f"{where} ignore"), where)
    exclude = tuple(_strings(table.get("exclude", []), f"{where} exclude"))
    fix_style = table.get("fix-style", "forward")
    if fix_style not in FIX_STYLES:
        raise ConfigError(f"{where} fix-style: expected one of {FIX_STYLES}, got {fix_style!r}")
    keras = check_keras(table["keras"], f"{where} keras") if "keras" in table else None
    backends = None
    if "backends" in table:
        backends = check_backends(_strings(table["backends"], f"{where} backends"), where)
    latent = table.get("latent", False)
    if not isinstance(latent, bool):
        raise ConfigError(f"{where} latent: expected true or false, got {latent!r}")
    return Config(
        select,
        ignore,
        exclude,
        root=root,
        source=path,
        fix_style=fix_style,
        keras=keras,
        backends=backends,
        latent=latent,
    )
