"""How to install Keras with a backend, in one place for every message that says it.

training-aware is not on PyPI yet, so the messages name the two ways that work today: an editable
install from a clone, and pip's direct reference to the Git repository.
"""

from __future__ import annotations

REPOSITORY = "https://github.com/training-aware/training-aware"

INSTALL_WITH_KERAS = (
    "install Keras with a backend (training-aware is not on PyPI yet): from a clone of "
    f"{REPOSITORY}, pip install -e '.[tensorflow]' (or [jax], [torch]; [keras] with a backend "
    f"you install yourself); or pip install 'training-aware[tensorflow] @ git+{REPOSITORY}'"
)
