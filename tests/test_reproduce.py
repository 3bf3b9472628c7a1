"""The reproduction report's machinery: claim table, summaries and the commands behind them (no training)."""
import json
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import reproduce  # noqa: E402
import summaries  # noqa: E402


def test_thin_keeps_at_most_200_points_the_first_and_the_last_ten_exactly():
    seq = list(range(1234))
    out = summaries.thin(seq)
    assert len(out) == summaries.MAX_POINTS
    assert out[0] == 0 and out[-summaries.KEEP_TAIL:] == seq[-summaries.KEEP_TAIL:]
    assert out == sorted(set(out))  # increasing, no repeats
    assert summaries.thin(seq[:150]) == seq[:150]


def test_compact_round_trips_through_json_with_thinned_columns():
    curve = [{"iteration": i, "sw": i / 3.0, "agents": {"a": float(i), "b": -1.0}} for i in range(500)]
    raw = {"setting": "x", "lio": [{"seed": 0, "curve": curve}], "empty": [], "rows": [[1.23456789, 2.0]] * 3}
    stored = json.loads(json.dumps(summaries.compact(raw)))
    assert summaries.COLUMNS in stored["lio"][0]["curve"]  # stored by columns
    back = summaries.expand(stored)
    got = back["lio"][0]["curve"]
    assert len(got) == summaries.MAX_POINTS
    assert [p["iteration"] for p in got[-10:]] == list(range(490, 500))
    assert got[-1]["sw"] == pytest.approx(499 / 3.0, rel=1e-3) and got[-1]["agents"] == {"a": 499.0, "b": -1.0}
    assert back["rows"] == [[1.235, 2.0]] * 3 and back["empty"] == [] and back["setting"] == "x"


def test_every_claim_has_a_summary_a_figure_and_a_report_section():
    report = open(os.path.join(ROOT, "docs", "REPRODUCTION.md")).read()
    for name, spec in reproduce.CLAIMS.items():
        sources = summaries.load(name)
        assert sources, name
        for sub, patterns in spec["sources"].items():  # every raw-file pattern is represented
            for pattern in patterns:
                stem = pattern[:-len(".json")]
                assert any(re.fullmatch(stem.replace(".", r"\.").replace("*", ".*").replace("?", "."), s)
                           for s in sources), (name, pattern)
        assert os.path.getsize(summaries.figure_path(name)) > 10_000, name
        assert f"### `{name}`" in report and f"make reproduce CLAIM={name}" in report, name
        assert f"results/{name}.png" in report, name


def test_docs_stay_under_3_mb():
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(ROOT, "docs")) for f in fs)
    assert total < 3 * 1024 * 1024, total


def test_every_claim_command_parses(capsys):
    assert reproduce.check(list(reproduce.CLAIMS)), capsys.readouterr().out


def test_unknown_claim_lists_the_known_ones():
    with pytest.raises(SystemExit, match="known claims: dcl_pd"):
        reproduce.main(["--claim", "nope"])
