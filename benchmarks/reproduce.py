"""Reproduce one paper claim of ``docs/REPRODUCTION.md``: run its benchmark commands, then summarise.

    python benchmarks/reproduce.py                          # list the claims
    python benchmarks/reproduce.py --claim dcl_pd           # run the benchmarks, then summarise
    python benchmarks/reproduce.py --claim dcl_pd --dry-run # print the commands only
    python benchmarks/reproduce.py --claim dcl_pd --summarise-only
    python benchmarks/reproduce.py --check                  # parse every claim's command lines, run nothing

(``make reproduce CLAIM=dcl_pd`` is the second line.) The benchmarks write raw per-run JSON, PNGs and
checkpoints under ``runs/`` (git-ignored); the summarise step writes the claim's small summary
``docs/results/<claim>.json`` (see ``benchmarks/summaries.py``) and its figure ``docs/results/<claim>.png``
(copied from ``runs/`` or drawn from the summary by an analysis script). The runs are long: the
``hours`` column of the list is the wall clock they took on a shared 2-core CPU machine.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys

from summaries import ROOT, figure_path, save_compact_png, summarise

PY = sys.executable


def _lio(*args):
    return ["benchmarks/lio_learning.py", *args]


def _dcl(*args):
    return ["benchmarks/dcl_learning.py", *args]


SEEDS5 = ["--seeds", "0", "1", "2", "3", "4"]

# claim -> paper result, the benchmark commands (argv after the interpreter), the raw results they write
# ({runs/ sub-directory: [glob patterns]}), the figure ("copy" a PNG from runs/, or "script" that draws it
# from the summary), and the wall clock the commands took here (hours).
CLAIMS = {
    "dcl_pd": dict(
        paper="DCL paper §4.1.1, Fig. 2, Table 5: every DCL variant converges to mutual cooperation (SW -2) in the PD",
        commands=[_dcl("--setting", "pd", "--methods", "DCL,DCL-IC,DCL-decentralized,IPPO", "--seeds", "5",
                       "--iters", "300", "--ippo-iters", "40", "--time-limit", "150")],
        sources={"dcl": ["pd.json"]}, figure=("copy", "runs/dcl/pd.png"), hours=0.7),
    "dcl_pd_baselines": dict(
        paper="DCL paper §4.1.1, Fig. 2: in the PD Mediated-MARL (unconstrained) is second best, the constrained "
              "mediator converges to neither mutual cooperation nor mutual defection, MOCA to mutual defection",
        commands=[_dcl("--setting", "pd", "--methods", "Mediated,Mediated-constrained,MOCA", "--seeds", "5",
                       "--iters", "150", "--tag", "_baselines")],
        sources={"dcl": ["pd_baselines.json"]}, figure=("copy", "runs/dcl/pd_baselines.png"), hours=0.8),
    "dcl_grid": dict(
        paper="DCL paper §4.1.2, Fig. 4, Table 6: DCL agents learn to cooperate in the grid game (SW 0) and beat "
              "IPPO, Mediated-MARL and MOCA on each agent's return and on social welfare",
        commands=[_dcl("--setting", "grid", "--methods", "DCL,DCL-IC", "--seeds", "5", "--iters", "250"),
                  _dcl("--setting", "grid", "--methods", "IPPO", "--seeds", "5", "--ippo-iters", "100"),
                  _dcl("--setting", "grid", "--methods", "Mediated,MOCA", "--seeds", "5", "--iters", "150")],
        sources={"dcl": ["grid.json"]}, figure=("copy", "runs/dcl/grid.png"), hours=1.0),
    "dcl_rpc": dict(
        paper="DCL paper §4.1.3, Fig. 5, Table 7: mega-step (K=2) commitments reach the alternating deal in RPC "
              "and beat IPPO, Mediated-MARL and MOCA",
        commands=[_dcl("--setting", "rpc", "--methods", "DCL-K2", "--seeds", "5", "--iters", "2000",
                       "--time-limit", "420"),
                  _dcl("--setting", "rpc", "--methods", "IPPO", "--seeds", "5", "--ippo-iters", "100"),
                  _dcl("--setting", "rpc", "--methods", "DCL-K1", "--seeds", "5", "--iters", "2000",
                       "--time-limit", "420"),
                  _dcl("--setting", "rpc", "--methods", "Mediated,MOCA", "--seeds", "5", "--iters", "150"),
                  _dcl("--setting", "rpc", "--methods", "MOCA-grid-fees", "--seeds", "5", "--iters", "150")],
        sources={"dcl": ["rpc.json"]}, figure=("copy", "runs/dcl/rpc.png"), hours=2.3),
    "dcl_public_goods": dict(
        paper="DCL paper §5.1, Table 8: DCL-IC public goods, N = 2 / 3 / 5 / 10: agreement > 0.99, "
              "SW 0.997 / 1.491 / 1.989 / 3.659",
        commands=[_dcl("--setting", "public_goods", "--n-agents", "3,5", "--seeds", "5", "--iters", "300",
                       "--time-limit", "400"),
                  _dcl("--setting", "public_goods", "--n-agents", "2", "--seeds", "5", "--iters", "120"),
                  _dcl("--setting", "public_goods", "--n-agents", "10", "--methods", "DCL-IC N=10", "--seeds", "5",
                       "--iters", "300", "--time-limit", "900"),
                  _dcl("--setting", "public_goods", "--n-agents", "2,3,5,10", "--methods",
                       "IPPO N=2,IPPO N=3,IPPO N=5,IPPO N=10", "--seeds", "5", "--ippo-iters", "40"),
                  _dcl("--setting", "public_goods", "--n-agents", "5", "--seeds", "1", "--iters", "150",
                       "--tag", "_probe_ent01", "--override",
                       '{"entropy_coeff": 0.1, "entropy_decay": 0.002, "min_entropy_coeff": 0.0}')],
        sources={"dcl": ["public_goods.json", "public_goods_probe_ent01.json"]},
        figure=("copy", "runs/dcl/public_goods.png"), hours=2.3),
    "lola_exact": dict(
        paper="Normative-disagreement paper Fig. 4 (and Foerster et al. 2018): LOLA-Exact cooperates in the IPD; "
              "in IAsymBoS it reaches different Pareto-optimal outcomes per seed, so cross-play fails",
        commands=[["benchmarks/lola_exact.py", "--seeds", "10", "--iters", "10"]],
        sources={"lola": ["ipd.json", "iasymbos.json"]}, figure=("copy", "runs/lola/lola.png"), hours=0.1),
    "amtft_iasymbos": dict(
        paper="Normative-disagreement paper Figs. 3 / 5: on IAsymBoS amTFT(w) pairs with different w fail in "
              "cross-play; amTFT(W) with W1 and W2 sharing a welfare function coordinate",
        commands=[["benchmarks/amtft_crossplay.py", "--game", "iasymbos", "--seeds", "0", "1", "2",
                   "--episodes", "10"]],
        sources={"amtft_iasymbos": ["table5.json"]}, figure=("copy", "runs/amtft_iasymbos/table5.png"),
        hours=0.15),
    "lio_er21": dict(
        paper="LIO thesis §5.4, Fig. 5.5: LIO converges near the optimum 9 of ER(2,1); independent PG does not",
        commands=[_lio("--setting", "er21", *SEEDS5, "--iters", "320", "--eval-every", "40")],
        sources={"lio": ["er21.json"]}, figure=("copy", "runs/lio/er21.png"), hours=0.25),
    "lio_er32": dict(
        paper="LIO thesis §5.4, Fig. 5.5, Table B.4: LIO converges near the optimum 8 of ER(3,2)",
        commands=[_lio("--setting", "er32_thesis", "--seeds", str(s), "--iters", "50000", "--eval-every", "1000",
                       "--eval-episodes", "10", "--final-eval", "100", "--no-baseline", "--tag", f"er32_thesis_s{s}")
                  for s in range(5)]
                 + [_lio("--setting", "er32", *SEEDS5, "--iters", "400", "--eval-every", "25"),
                    _lio("--setting", "er32", *SEEDS5, "--iters", "400", "--eval-every", "25", "--final-eval", "100",
                         "--tag", "er32_softmax_eval")]
                 + [_lio("--setting", "er32", *SEEDS5, "--iters", "400", "--eval-every", "25", "--no-baseline",
                         "--tag", tag, "--override", override) + (["--final-eval", "100"] if final else [])
                    for tag, override, final in (
                        ("er32_bound", '{"preactivation_bound": 3.0}', False),
                        ("er32_refinit", '{"weight_init": "reference"}', False),
                        ("er32_refinit_inc0.01", '{"weight_init": "reference", "incentive_lr": 0.01}', False),
                        ("er32_two_rollouts", '{"schedule": "two_rollouts"}', True),
                        ("er32_all_givers", '{"meta_gradient_scope": "all_givers"}', True))],
        sources={"lio": ["er32_thesis_s*.json", "er32.json", "er32_softmax_eval.json", "er32_bound.json",
                         "er32_refinit.json", "er32_refinit_inc0.01.json", "er32_two_rollouts.json",
                         "er32_all_givers.json"]},
        figure=("script", ["benchmarks/er32_thesis_plot.py"]), hours=9.0),
    "lio_er53": dict(
        paper="LIO thesis §B.5, Fig. B.4c: LIO reaches the optimum of ER(5,3) (17)",
        commands=[_lio("--setting", "er53", *SEEDS5, "--iters", "300", "--eval-every", "25")],
        sources={"lio": ["er53.json"]}, figure=("copy", "runs/lio/er53.png"), hours=0.6),
    "lio_asym": dict(
        paper="LIO thesis §B.5.1: LIO (A1) + PG (A2) reach near 9.0 in the asymmetric Escape Room; two PG agents fail",
        commands=[_lio("--setting", "asym", *SEEDS5, "--iters", "200", "--eval-every", "20")],
        sources={"lio": ["asym.json"]}, figure=("copy", "runs/lio/asym.png"), hours=0.1),
    "lio_ipd": dict(
        paper="LIO thesis §5.2.2 Prop. 3, §5.4 Fig. 5.4, Table B.3: LIO reaches mutual cooperation in the IPD",
        commands=[_lio("--setting", "ipd", "--seeds", "0", "1", "2", "--iters", "64", "--eval-every", "16")],
        sources={"lio": ["ipd.json"]}, figure=("copy", "runs/lio/ipd.png"), hours=0.05),
    "lio_cleanup7": dict(
        paper="LIO thesis §5.4, Fig. 5.6, Table B.5: on Cleanup 7x7 LIO collects more than AC (division of labour)",
        commands=[_lio("--setting", "cleanup7_batched", "--seeds", *map(str, range(10)), "--iters", "690",
                       "--eval-every", "50", "--eval-episodes", "4", "--no-baseline", "--tag", "cleanup7_batched_lio"),
                  _lio("--setting", "cleanup7_batched", "--seeds", *map(str, range(8)), "--iters", "1375",
                       "--eval-every", "100", "--eval-episodes", "4", "--no-lio", "--tag", "cleanup7_batched_ac"),
                  _lio("--setting", "cleanup7_batched", "--seeds", "0", "1", "--iters", "1375", "--eval-every", "100",
                       "--eval-episodes", "4", "--no-lio", "--tag", "cleanup7_batched_lr1e-3_ac",
                       "--override", '{"policy_lr": 0.001, "critic_lr": 0.001}'),
                  _lio("--setting", "cleanup7_batched", "--seeds", *map(str, range(2, 8)), "--iters", "690",
                       "--eval-every", "50", "--eval-episodes", "4", "--no-baseline",
                       "--tag", "cleanup7_batched_totalcritic", "--override", '{"giver_critic": "total"}'),
                  ["benchmarks/cleanup7_stats.py", "--set", "batched"]],
        sources={"lio": ["cleanup7_batched_lio*.json", "cleanup7_batched_ac*.json",
                         "cleanup7_batched_lr1e-3_ac*.json", "cleanup7_batched_totalcritic*.json"]},
        figure=("script", ["benchmarks/cleanup7_plot.py", "--set", "batched"]), hours=4.0),
    "lio_cleanup7_one_episode": dict(
        paper="LIO thesis Fig. 5.6 with Table B.5's one-episode updates (LIO at policy lr 1e-3 and 1e-4; AC)",
        commands=[_lio("--setting", "cleanup7_thesis", "--seeds", str(s), "--iters", "5500", "--eval-every", "250",
                       "--eval-episodes", "4", "--no-baseline", "--tag", f"cleanup7_fast_lio_s{s}",
                       "--override", '{"policy_lr": 0.001}') for s in range(15)]
                 + [_lio("--setting", "cleanup7_thesis", "--seeds", str(s), "--iters", "12000", "--eval-every", "500",
                         "--eval-episodes", "4", "--no-lio", "--tag", f"cleanup7_b5_ac_s{s}") for s in range(5)]
                 + [_lio("--setting", "cleanup7_thesis", "--seeds", "0", "--iters", "4000", "--eval-every", "250",
                         "--eval-episodes", "4", "--no-baseline", "--tag", "cleanup7_b5_lio"),
                    _lio("--setting", "cleanup7_thesis", "--seeds", "0", "1", "--iters", "2750", "--eval-every", "250",
                         "--eval-episodes", "4", "--no-baseline", "--tag", "cleanup7_fast_lio_inc1e-4",
                         "--override", '{"policy_lr": 0.001, "incentive_lr": 0.0001}'),
                    ["benchmarks/cleanup7_stats.py", "--set", "fast"]],
        sources={"lio": ["cleanup7_fast_lio_s*.json", "cleanup7_b5_ac*.json", "cleanup7_b5_lio*.json",
                         "cleanup7_fast_lio_inc1e-4*.json"]},
        figure=("script", ["benchmarks/cleanup7_plot.py", "--set", "one_episode"]), hours=15.0),
    "lio_cleanup10": dict(
        paper="LIO thesis Fig. 5.6 (10x10), Table B.5: LIO above AC on Cleanup 10x10",
        commands=[_lio("--setting", "cleanup10_thesis", "--seeds", "0", "--iters", "6000", "--eval-every", "250",
                       "--eval-episodes", "4", "--no-baseline", "--tag", "cleanup10_lio_lr1e-3",
                       "--override", '{"policy_lr": 0.001}'),
                  _lio("--setting", "cleanup10_thesis", "--seeds", "0", "--iters", "10000", "--eval-every", "500",
                       "--eval-episodes", "4", "--no-lio", "--tag", "cleanup10_ac")],
        sources={"lio": ["cleanup10_lio_lr1e-3.json", "cleanup10_ac.json"]},
        figure=("script", ["benchmarks/cleanup7_plot.py", "--set", "cleanup10"]), hours=1.0),
    "metagrad_er52": dict(
        paper="ID thesis §6.4, Fig. 6.1, Table C.1: MetaGrad reaches the ER(5,2) optimum (~26 net); dual-RL fails",
        commands=[["benchmarks/designer_escape_room.py", "--preset", "fast", "--seeds", "5", "--iters", "400"],
                  ["benchmarks/designer_escape_room.py", "--preset", "table_c1", "--seeds", "5", "--minutes", "1.5"]],
        sources={"designer": ["er52.json", "er52_table_c1.json"]},
        figure=("copy", "runs/designer/er52.png"), hours=0.5),
    "metagrad_er105": dict(
        paper="ID thesis §6.4, Fig. 6.1b, Table C.2: MetaGrad reaches the ER(10,5) optimum (~40 net); dual-RL fails",
        commands=[["benchmarks/designer_escape_room.py", "--n", "10", "--m", "5", "--preset", "fast", "--seeds",
                   "3", "--iters", "400"]],
        sources={"designer": ["er105.json"]}, figure=("copy", "runs/designer/er105.png"), hours=0.45),
    "metagrad_gtb": dict(
        paper="ID thesis §6.4.1, Fig. 6.3, Table C.4: the MetaGrad tax designer beats dual-RL and US-federal on GTB",
        commands=[["benchmarks/designer_gtb.py", "--minutes", "7"],
                  ["benchmarks/designer_gtb.py", "--minutes", "4", "--methods", "ippo_us_federal"]],
        sources={"designer": ["gtb.json"]}, figure=("copy", "runs/designer/gtb.png"), hours=0.55),
    "amd_table_4_2": dict(
        paper="AMD thesis §4.3, Table 4.2: with the planner P(CC) ~99% in PD, Chicken, Stag Hunt",
        commands=[["benchmarks/amd_matrix_games.py", "--seeds", "5"]],
        sources={"amd": ["table_4_2.json"]}, figure=("copy", "runs/amd/amd_pcc.png"), hours=0.3),
    "amd_table_4_3": dict(
        paper="AMD thesis §4.3, Tables 4.3 and 4.2 (turned off), stochastic actor-critic players: exact V / "
              "revenue-neutral / estimated V P(CC) and AAR in PD, Chicken, Stag Hunt",
        commands=[["benchmarks/amd_table_4_3.py", "--seeds", "5"],
                  ["benchmarks/amd_table_4_3.py", "--seeds", "3", "--settings", "exact_rn_lin",
                   "--tag", "_linearized"]],
        sources={"amd": ["table_4_3.json", "table_4_3_linearized.json"]},
        figure=("copy", "runs/amd/amd_table_4_3.png"), hours=1.0),
}


def _run(argv, dry_run=False):
    print("$ python " + shlex.join(argv), flush=True)
    if not dry_run:
        subprocess.run([PY, *argv], cwd=ROOT, check=True, env={**os.environ, "RAY_AUTH_MODE": "disabled"})


def summarise_claim(name):
    """Write ``docs/results/<name>.json`` from ``runs/`` and draw or copy its figure."""
    spec = CLAIMS[name]
    out = summarise(name, spec["sources"], {"paper": spec["paper"],
                                            "commands": [shlex.join(["python", *c]) for c in spec["commands"]]})
    print(f"wrote {os.path.relpath(out, ROOT)}")
    kind, what = spec["figure"]
    if kind == "copy":
        src = os.path.join(ROOT, what)
        if not os.path.exists(src):
            raise SystemExit(f"{name}: the benchmark's figure {what} is missing; rerun its commands")
        save_compact_png(src, figure_path(name))
    else:
        _run(what)
    print(f"wrote {os.path.relpath(figure_path(name), ROOT)}")


class _Parsed(Exception):
    pass


def check(names):
    """Run each command's script up to its argument parsing (nothing trains); report what fails to parse."""
    import argparse as ap
    import runpy

    original, bad = ap.ArgumentParser.parse_args, []

    def parse_and_stop(self, args=None, namespace=None):
        original(self, args, namespace)
        raise _Parsed

    ap.ArgumentParser.parse_args = parse_and_stop
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        for name in names:
            failed_before = len(bad)
            for argv in CLAIMS[name]["commands"]:
                old_argv, sys.argv = sys.argv, [os.path.join(ROOT, argv[0]), *argv[1:]]
                try:
                    runpy.run_path(sys.argv[0], run_name="__main__")
                    bad.append((name, argv, "ran without parsing arguments"))
                except _Parsed:
                    pass
                except SystemExit as e:  # argparse's error exit
                    bad.append((name, argv, f"exit {e.code}"))
                finally:
                    sys.argv = old_argv
            n = len(CLAIMS[name]["commands"])
            print(f"{name}: {n - (len(bad) - failed_before)} of {n} command(s) parsed", flush=True)
    finally:
        ap.ArgumentParser.parse_args = original
    for name, argv, why in bad:
        print(f"FAILED {name}: python {shlex.join(argv)} ({why})")
    return not bad


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--claim", default=None, help="the claim to reproduce (without it: list the claims)")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument("--summarise-only", action="store_true",
                   help="skip the benchmarks; rebuild the summary and figure from runs/")
    p.add_argument("--check", action="store_true",
                   help="parse the command line of every command (of --claim, or of every claim); train nothing")
    args = p.parse_args(argv)
    if args.claim is not None and args.claim not in CLAIMS:
        raise SystemExit(f"unknown claim {args.claim!r}; known claims: {', '.join(CLAIMS)}")
    if args.check:
        raise SystemExit(0 if check([args.claim] if args.claim else list(CLAIMS)) else 1)
    if args.claim is None:
        width = max(map(len, CLAIMS))
        print(f"{'claim':{width}}  hours  paper result (docs/REPRODUCTION.md)")
        for name, spec in CLAIMS.items():
            print(f"{name:{width}}  {spec['hours']:5.2f}  {spec['paper']}")
        print("\nmake reproduce CLAIM=<claim>   (or: python benchmarks/reproduce.py --claim <claim> [--dry-run])")
        return
    commands = CLAIMS[args.claim]["commands"]
    analyses = [c for c in commands if c[0].endswith("_stats.py")]  # read the summary: run after it
    if not args.summarise_only:
        for command in commands:
            if command not in analyses:
                _run(command, args.dry_run)
    if args.dry_run:
        print(f"(then the summary docs/results/{args.claim}.json and figure docs/results/{args.claim}.png)")
        for command in analyses:
            _run(command, dry_run=True)
        return
    summarise_claim(args.claim)
    for command in analyses:
        _run(command)


if __name__ == "__main__":
    main()
