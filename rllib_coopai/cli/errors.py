"""Errors meant for the person at the terminal (exit status 2, one paragraph, no traceback)."""
from __future__ import annotations

import difflib
from typing import Iterable


class CLIError(Exception):
    """Bad input: a missing file, bad YAML, an unknown name or an invalid value."""


def suggest(word: str, candidates: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the nearest candidate (difflib), or ``""``."""
    candidates = [str(c) for c in candidates]
    lower = {c.lower(): c for c in candidates}
    hint = difflib.get_close_matches(str(word).lower(), list(lower), n=1, cutoff=0.6)
    return f" Did you mean {lower[hint[0]]!r}?" if hint else ""
