"""`# noqa` comments: bare (`# noqa`) silences every rule on the line, `# noqa: TA002,TA004` some.

The syntax is flake8's, so one comment serves both `training-aware lint` and `flake8 --select TA`.
"""

from __future__ import annotations

import re

# flake8's own pattern (flake8/defaults.py), case-insensitive, codes separated by commas/spaces.
_NOQA = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)


def suppressed(line: str, code: str) -> bool:
    """Does a `# noqa` comment on this physical line silence `code`?

    Args:
        line: the source line the finding points at.
        code: the finding's code, e.g. `TA002`.

    Returns:
        True for a bare `# noqa`, or a `# noqa: ...` whose list names `code` or, as in
        flake8, a prefix of it (`# noqa: TA0` silences TA001-TA008).
    """
    if "#" not in line:
        return False
    for match in _NOQA.finditer(line):
        codes = match.group("codes")
        if codes is None:
            return True
        listed = [c.upper() for c in re.split(r"[,\s]+", codes) if c]
        if any(code.startswith(c) for c in listed):
            return True
    return False
