"""The Cleanup 7x7 result JSONs that `cleanup7_stats.py` and `cleanup7_s4_plot.py` read: one glob
pattern (or a tuple of them) per group of runs, and the loader both scripts share."""
import glob
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

FAST_LIO = "cleanup7_s4_lio_lr1e-3*.json"  # cleanup_7x7_fast.yaml, seeds 0-14 (sessions 4-11)
B5_AC = "cleanup7_s4_thesis_ac*.json"  # one-episode AC, Table B.5, seeds 0-4
BATCHED_LIO_S12 = "cleanup7_s12_batch8_extrinsic*.json"  # cleanup_7x7_batched.yaml, seeds 0-4
BATCHED_AC_S12 = "cleanup7_s12_batch8_ac*.json"  # cleanup_7x7_batched_ac.yaml, seeds 0-4
BATCHED_LIO = (BATCHED_LIO_S12, "cleanup7_s13_batch8_lio*.json")  # + seeds 5-9 (session 13)
BATCHED_AC = (BATCHED_AC_S12, "cleanup7_s13_batch8_ac*.json")  # + seeds 5-7 (session 13)


def load_runs(patterns, key):
    """The non-empty `key` ("lio" / "baseline") runs of every JSON the pattern(s) match, in path order."""
    patterns = (patterns,) if isinstance(patterns, str) else patterns
    paths = sorted(p for pat in patterns for p in glob.glob(os.path.join(HERE, pat)))
    return [r for path in paths for r in json.load(open(path))[key] if r and r["curve"]]
