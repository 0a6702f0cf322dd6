"""The `training-aware` dispatcher: help, version, unknown commands."""

from __future__ import annotations

import pytest

from training_aware import __version__
from training_aware.cli import main


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {name}" in out for name in ("demo", "lint", "audit"))


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: training-aware" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lnt"]) == 2
    assert "unknown command 'lnt'" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"training-aware {__version__}"


def test_demo_help_names_the_classic_examples_in_plain_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    top = capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--help"])
    assert exit_.value.code == 0
    demo = capsys.readouterr().out
    for text in (top, demo):
        flat = " ".join(text.split())
        assert "the classic BadModel / GoodModel / ComplexModel examples" in flat
        assert "seed" not in flat.lower()
    flat = " ".join(demo.split())
    assert "--quick" in flat and "--tf-logs" in flat
    assert "widely shared in articles and tutorials" in flat  # where the pattern comes from
    assert "FACTS table (docs/facts.md: what plain Keras 3.15 does" in flat
