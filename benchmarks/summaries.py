"""Per-claim result summaries: the small JSON files under ``docs/results/`` that ``docs/REPRODUCTION.md``
and the analysis scripts read.

The benchmark scripts write their raw per-run JSON (and checkpoints) to ``runs/`` (git-ignored).
:func:`summarise` collects the raw files of one claim into ``docs/results/<claim>.json``:

* every file keeps its own schema, under ``sources[<file name without .json>]``, so the plotting and
  statistics code that reads a raw file reads its summary the same way;
* every curve (a list of more than ``MAX_POINTS`` per-iteration / per-evaluation records) is thinned to
  ``MAX_POINTS`` points: evenly spaced over the run, except that the last ``KEEP_TAIL`` points are kept
  as they are, so the "mean of the last 10 iterations / last 5 evaluations" finals are exact;
* floats are rounded to ``DIGITS`` significant digits;
* a curve of records (dicts with the same keys) is stored by columns (``{"__columns__": {key: [...]}}``);
  :func:`load` turns it back into the list of records.

Load a summary with :func:`load`, and the runs of one group with :func:`runs`.
"""
from __future__ import annotations

import fnmatch
import glob
import io
import json
import math
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = os.path.join(ROOT, "runs")
RESULTS = os.path.join(ROOT, "docs", "results")
MAX_POINTS = 200
KEEP_TAIL = 10
DIGITS = 4
COLUMNS = "__columns__"


def _round(x):
    if isinstance(x, float):
        if not math.isfinite(x) or x == 0.0:
            return x
        return round(x, max(0, DIGITS - 1 - int(math.floor(math.log10(abs(x))))))
    return x


def thin(seq, max_points=MAX_POINTS, keep_tail=KEEP_TAIL):
    """``seq`` with at most ``max_points`` elements: evenly spaced picks (first one included) over all but
    the last ``keep_tail`` elements, then those ``keep_tail`` unchanged."""
    n = len(seq)
    if n <= max_points:
        return list(seq)
    head_n, head_len = max_points - keep_tail, n - keep_tail
    idx = sorted({round(i * (head_len - 1) / (head_n - 1)) for i in range(head_n)})
    return [seq[i] for i in idx] + list(seq[head_len:])


def compact(obj):
    """``obj`` with every curve thinned (see :func:`thin`), every float rounded and every list of
    records stored by columns."""
    if isinstance(obj, dict):
        return {k: compact(v) for k, v in obj.items()}
    if isinstance(obj, list):
        # a curve: a long list of records (dicts, or [x, y, ...] rows) or of numbers
        return _by_columns([compact(v) for v in (thin(obj) if len(obj) > MAX_POINTS else obj)])
    return _round(obj)


def _by_columns(items):
    """A list of records with the same keys as ``{COLUMNS: {key: column}}`` (nested records too)."""
    if len(items) > 1 and all(isinstance(v, dict) and v and COLUMNS not in v for v in items) and \
            all(v.keys() == items[0].keys() for v in items):
        return {COLUMNS: {k: _by_columns([v[k] for v in items]) for k in items[0]}}
    return items


def expand(obj):
    """The inverse of the column storage of :func:`compact`: lists of records again."""
    if isinstance(obj, dict):
        if set(obj) == {COLUMNS}:
            cols = {k: expand(v) for k, v in obj[COLUMNS].items()}
            n = len(next(iter(cols.values()))) if cols else 0
            return [{k: v[i] for k, v in cols.items()} for i in range(n)]
        return {k: expand(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [expand(v) for v in obj]
    return obj


def summarise(claim: str, sources: dict, meta: dict | None = None) -> str:
    """Write ``docs/results/<claim>.json`` from the raw files ``sources`` names.

    ``sources``: ``{sub-directory of runs/: [glob patterns of its JSON files]}``. Raises ``SystemExit``
    naming the patterns that match nothing (the claim's benchmark commands have not been run).
    """
    found, missing = {}, []
    for sub, patterns in sources.items():
        for pattern in patterns:
            paths = sorted(glob.glob(os.path.join(RUNS, sub, pattern)))
            if not paths:
                missing.append(os.path.join("runs", sub, pattern))
            for path in paths:
                with open(path) as f:
                    found[os.path.splitext(os.path.basename(path))[0]] = compact(json.load(f))
    if missing:
        raise SystemExit(f"{claim}: no raw results at {', '.join(missing)}; run `make reproduce CLAIM={claim}` "
                         "(or the benchmark commands it lists) first")
    os.makedirs(RESULTS, exist_ok=True)
    out = os.path.join(RESULTS, f"{claim}.json")
    with open(out, "w") as f:
        json.dump({"claim": claim, **(meta or {}), "sources": found}, f, separators=(",", ":"))
    return out


def load(claim: str) -> dict:
    """The ``sources`` of ``docs/results/<claim>.json`` (``{raw file stem: its compacted content}``)."""
    path = os.path.join(RESULTS, f"{claim}.json")
    if not os.path.exists(path):
        known = sorted(os.path.splitext(p)[0] for p in os.listdir(RESULTS) if p.endswith(".json"))
        raise SystemExit(f"no summary {path}; known summaries: {', '.join(known)}")
    with open(path) as f:
        return expand(json.load(f)["sources"])


def runs(claim: str, patterns, key: str) -> list:
    """The non-empty ``key`` runs (``"lio"`` / ``"baseline"`` entries of ``benchmarks/lio_learning.py``
    results) of every source of ``claim`` whose name matches one of ``patterns`` (fnmatch), in name order."""
    patterns = (patterns,) if isinstance(patterns, str) else patterns
    sources = load(claim)
    names = sorted(n for n in sources if any(fnmatch.fnmatch(n, p) for p in patterns))
    return [r for n in names for r in sources[n].get(key, []) if r and r.get("curve")]


COMPACT_OVER = 60_000  # bytes: larger figures are stored as palette PNGs


def save_compact_png(src, path: str, colors: int = 128) -> str:
    """Write the PNG ``src`` (a path or a file-like object) to ``path``; one larger than
    ``COMPACT_OVER`` bytes as a ``colors``-colour palette PNG (about a third of the size of
    matplotlib's RGBA output and the same to the eye), so that ``docs/`` stays small."""
    from PIL import Image

    if hasattr(src, "read"):
        data = src.read()
    else:
        with open(src, "rb") as f:
            data = f.read()
    if len(data) <= COMPACT_OVER:
        with open(path, "wb") as f:
            f.write(data)
        return path
    with Image.open(io.BytesIO(data)) as img:
        img.convert("RGB").quantize(colors=colors, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)
    return path


def figure_path(claim: str) -> str:
    """Where the report's figure for ``claim`` lives: ``docs/results/<claim>.png``."""
    return os.path.join(RESULTS, f"{claim}.png")
