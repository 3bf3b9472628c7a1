"""Method vs its paper's baselines, one figure per paper, drawn only from the stored claim summaries
``docs/results/<claim>.json`` (``benchmarks/summaries.py``); nothing is trained.

    python benchmarks/compare_baselines.py --paper all       # docs/results/compare_<paper>.png, every paper
    python benchmarks/compare_baselines.py --paper lio       # one paper: dcl, lio, designer, amd, lola

One panel per paper setting whose summary holds the method and at least one baseline. Where the runs have
learning curves, each method is drawn as the mean over seeds with a band of +- one standard error (thin
lines: the single seeds); seeds evaluated at different x (env steps) are linearly interpolated onto the
union of their x values, as far as every seed ran. Where only final values are stored (AMD Table 4.2),
bars give the mean over seeds, error bars the standard error and dots the seeds. The paper's number is a
dashed line where the paper states one. Settings whose summary holds no baseline are listed in the printed
summary as "no baseline stored" with what a rerun would need.
"""
from __future__ import annotations

import argparse
import io
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cleanup7_runs import (B5_AC, BATCHED_AC, BATCHED_AC_LR1E3, BATCHED_LIO, CLEANUP10_AC,  # noqa: E402
                           CLEANUP10_LIO, FAST_LIO, load_runs)
from summaries import RESULTS, load, save_compact_png  # noqa: E402

PAPERS = ("dcl", "lio", "designer", "amd", "lola")
METHOD, BASE, BASE2, BASE3, VARIANT, VARIANT2, VARIANT3 = ("tab:blue", "tab:red", "tab:orange", "tab:brown",
                                                           "tab:green", "tab:purple", "tab:pink")
DPI = 90


# ---------------------------------------------------------------------------------------------- statistics

def mean_se(runs):
    """``(x, mean, standard error)`` over seeds of ``runs`` (a list of ``(seed, x, y)``).

    Seeds evaluated at the same x are averaged as they are; otherwise every seed is linearly interpolated
    onto the union of the seeds' x values between the largest first x and the smallest last x (the range
    every seed covers). One seed: standard error 0."""
    xs = [np.asarray(x, float) for _, x, _ in runs]
    ys = [np.asarray(y, float) for _, _, y in runs]
    if all(len(x) == len(xs[0]) and np.array_equal(x, xs[0]) for x in xs):
        grid, table = xs[0], np.stack(ys)
    else:
        lo, hi = max(x[0] for x in xs), min(x[-1] for x in xs)
        grid = np.unique(np.concatenate(xs))
        grid = grid[(grid >= lo) & (grid <= hi)]
        table = np.stack([np.interp(grid, x, y) for x, y in zip(xs, ys)])
    n = len(runs)
    se = table.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(len(grid))
    return grid, table.mean(axis=0), se


def seeds_text(seeds):
    """``"seeds 0-4"`` / ``"seeds 0, 2, 5"`` / ``"seed 0"``."""
    seeds = sorted(int(s) for s in seeds)
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return "seeds " + ", ".join(map(str, seeds))


def smooth(y, k):
    """Trailing mean over ``k`` points (the first points over what there is)."""
    c = np.cumsum(np.insert(np.asarray(y, float), 0, 0.0))
    i = np.arange(1, len(y) + 1)
    return (c[i] - c[np.maximum(0, i - k)]) / np.minimum(i, k)


# -------------------------------------------------------------------------------------- the panels' data
# A panel: {"key", "title", "kind": "curve" | "bars", "xlabel", "ylabel", "series": [(label, colour, data)],
# "paper": [(value, label)] | None}. Curve data: a list of (seed, x, y); bar data: {seed: value}, and for
# bars "paper" is {series label: value}; "tail" (curves, default 1): the printed final of a series is the mean
# over seeds of each seed's last "tail" points (the reproduction report's "final" of that claim).

def _lio_runs(source, key, field="greedy_social_welfare", x="iteration"):
    return [(r["seed"], [p[x] for p in r["curve"]], [p.get(field, np.nan) for p in r["curve"]])
            for r in source[key] if r.get("curve")]


def _group(group, field="policy_social_welfare"):
    return [(r["seed"], [p["env_steps"] for p in r["curve"]], [p[field] for p in r["curve"]])
            for r in load_runs(group)]


def dcl_panels():
    def curves(results, method):
        return [(i, [p["iter"] for p in run], [p["social_welfare"] for p in run])
                for i, run in enumerate(results[method])]

    pd = load("dcl_pd")["pd"]["results"]
    runs = {m: curves(pd, m) for m in ("DCL", "DCL-IC", "DCL-decentralized", "IPPO")}
    panels = [dict(key="pd", title="one-shot PD (Table 5)", kind="curve", xlabel="training iteration (batch 256)",
                   ylabel="social welfare (training batch)",
                   series=[("DCL (λ = 0)", METHOD, runs["DCL"]), ("DCL-IC (λ = 1)", VARIANT, runs["DCL-IC"]),
                           ("decentralized DCL", VARIANT2, runs["DCL-decentralized"]),
                           ("IPPO (plain PD)", BASE, runs["IPPO"])],
                   paper=[(-2.0, "DCL paper Fig. 2: SW -2")], tail=10)]
    wrapped = load("dcl_pd_baselines")["pd_baselines"]["results"]
    panels.append(dict(key="pd_baselines", title="one-shot PD: mediator and contracts (Table 5)", kind="curve",
                       xlabel="training iteration (128 games)", ylabel="social welfare (training batch)",
                       series=[("DCL (λ = 0)", METHOD, runs["DCL"]),
                               ("Mediated-MARL", BASE2, curves(wrapped, "Mediated")),
                               ("Mediated-MARL, constrained", BASE3, curves(wrapped, "Mediated-constrained")),
                               ("MOCA (contracts)", VARIANT2, curves(wrapped, "MOCA")),
                               ("IPPO (plain PD)", BASE, runs["IPPO"])],
                       paper=[(-2.0, "mutual cooperation"), (-4.0, "mutual defection")], tail=10))
    grid = load("dcl_grid")["grid"]["results"]
    rpc = load("dcl_rpc")["rpc"]["results"]
    pg = load("dcl_public_goods")["public_goods"]["results"]
    missing = []

    if "IPPO" in grid:
        panels.append(dict(key="grid", title="grid game (Table 6)", kind="curve",
                           xlabel="training iteration (batch 512)", ylabel="social welfare (training batch)",
                           series=[("DCL (λ = 0)", METHOD, curves(grid, "DCL")),
                                   ("DCL-IC (λ = 1)", VARIANT, curves(grid, "DCL-IC"))]
                           + [(label, color, curves(grid, m)) for m, label, color in
                              (("Mediated", "Mediated-MARL", BASE2), ("MOCA", "MOCA (contracts)", VARIANT2))
                              if m in grid]
                           + [("IPPO", BASE, curves(grid, "IPPO"))],
                           paper=[(0.0, "DCL paper Fig. 4: SW 0")], tail=10))
    else:
        missing.append(
            f"grid game ({', '.join(grid)}, {len(next(iter(grid.values())))} seeds): no baseline stored; a rerun "
            "needs `benchmarks/dcl_learning.py --setting grid --methods IPPO`")
    if "IPPO" in rpc:
        panels.append(dict(key="rpc", title="RPC, K = 2 (Table 7)", kind="curve",
                           xlabel="training iteration (batch 512)", ylabel="social welfare (training batch)",
                           series=[("DCL, K = 2", METHOD, curves(rpc, "DCL-K2"))]
                           + ([("DCL, K = 1 (no mega-steps)", BASE3, curves(rpc, "DCL-K1"))] if "DCL-K1" in rpc else [])
                           + [(label, color, curves(rpc, m)) for m, label, color in
                              (("Mediated", "Mediated-MARL", BASE2), ("MOCA", "MOCA (contracts)", VARIANT2),
                               ("MOCA-grid-fees", "MOCA, the grid's fees 0.5 / 1 / 2", VARIANT3))
                              if m in rpc]
                           + [("IPPO", BASE, curves(rpc, "IPPO"))],
                           paper=[(16.0, "DCL paper Fig. 5: alternating deal, +8 each")], tail=10))
    table8 = {2: 0.997, 3: 1.491, 5: 1.989, 10: 3.659}
    for n in (2, 3, 5, 10):
        if f"IPPO N={n}" in pg and f"DCL-IC N={n}" in pg:
            panels.append(dict(key=f"public_goods_{n}", title=f"public goods, N = {n} (Table 8)", kind="curve",
                               xlabel="training iteration (batch 256)", ylabel="social welfare (training batch)",
                               series=[(f"DCL-IC, N = {n}", METHOD, curves(pg, f"DCL-IC N={n}")),
                                       (f"IPPO, N = {n}", BASE, curves(pg, f"IPPO N={n}"))],
                               paper=[(table8[n], f"DCL paper Table 8: SW {table8[n]}")], tail=10))
    have_pg_baseline = any(k.startswith("IPPO") for k in pg)
    missing += [] if "IPPO" in rpc else [
        f"RPC, K = 2 ({', '.join(rpc)}, {len(next(iter(rpc.values())))} seed): no baseline stored; a rerun needs "
        "`benchmarks/dcl_learning.py --setting rpc --methods DCL-K1,IPPO`",
    ]
    missing += [] if have_pg_baseline else [
        f"public goods Table 8 ({', '.join(pg)}): no baseline stored; a rerun needs "
        "`benchmarks/dcl_learning.py --setting public_goods --n-agents 2,3,5,10 --methods 'IPPO N=2,IPPO N=3,IPPO N=5,IPPO N=10'`"]
    return panels, missing


LIO_ER = (  # (claim, source, title, paper's optimum, paper reference)
    ("lio_er21", "er21", "Escape Room ER(2,1)", 9.0, "LIO thesis Fig. 5.5a: near 9"),
    ("lio_er32", "er32", "ER(3,2), batched settings", 8.0, "LIO thesis Fig. 5.5c: near 8"),
    ("lio_er53", "er53", "ER(5,3)", 17.0, "LIO thesis Fig. B.4c: 17"),
    ("lio_asym", "asym", "asymmetric ER (A1 LIO, A2 PG)", 9.0, "LIO thesis §B.5.1: near 9.0"),
    ("lio_ipd", "ipd", "IPD, 5 rounds", None, None),
)


def lio_panels():
    panels = []
    for claim, name, title, optimum, ref in LIO_ER:
        src = load(claim)[name]
        method = "LIO + PG" if name == "asym" else "LIO"
        base = "PG + PG" if name == "asym" else "independent PG"
        panels.append(dict(key=name, title=title, kind="curve", xlabel="training iteration (16 episodes each)",
                           ylabel="collective return, greedy policy",
                           series=[(method, METHOD, _lio_runs(src, "lio")), (base, BASE, _lio_runs(src, "baseline"))],
                           paper=None if optimum is None else [(optimum, ref)]))
    panels.append(dict(key="cleanup7_batched", title="Cleanup 7x7, batched updates", kind="curve",
                       xlabel="env steps", ylabel="collective return, softmax policy (eps 0)",
                       series=[("LIO", METHOD, _group(BATCHED_LIO)), ("AC", BASE, _group(BATCHED_AC)),
                               ("AC, Table B.5 lrs", BASE2, _group(BATCHED_AC_LR1E3))], paper=None, tail=5))
    panels.append(dict(key="cleanup7_one_episode", title="Cleanup 7x7, one-episode updates", kind="curve",
                       xlabel="env steps", ylabel="collective return, softmax policy (eps 0)",
                       series=[("LIO (policy lr 1e-3)", METHOD, _group(FAST_LIO)),
                               ("AC (Table B.5)", BASE, _group(B5_AC))], paper=None, tail=5))
    panels.append(dict(key="cleanup10", title="Cleanup 10x10", kind="curve",
                       xlabel="env steps", ylabel="collective return, softmax policy (eps 0)",
                       series=[("LIO (policy lr 1e-3)", METHOD, _group(CLEANUP10_LIO)),
                               ("AC (Table B.5)", BASE, _group(CLEANUP10_AC))], paper=None, tail=5))
    er32 = load("lio_er32")
    thesis = sorted(n for n in er32 if n.startswith("er32_thesis"))
    missing = [f"ER(3,2), Table B.4 settings ({len(thesis)} LIO seeds, 50k updates): no baseline stored; a rerun "
               "needs `benchmarks/lio_learning.py --setting er32_thesis` without `--no-baseline` "
               "(or with `--no-lio`) for the same 50k updates"]
    return panels, missing


def designer_panels():
    panels = []
    for claim, name, title, paper in (
            ("metagrad_er52", "er52", "ER(5,2), fast settings", (26.0, "ID thesis Fig. 6.1a: ~26")),
            ("metagrad_er52", "er52_table_c1", "ER(5,2), Table C.1 settings, 1.5 min", (26.0, "ID thesis Fig. 6.1a: ~26")),
            ("metagrad_er105", "er105", "ER(10,5), fast settings", (40.0, "ID thesis Fig. 6.1b: ~40"))):
        src = load(claim)[name]
        runs = {k: [(i, [p[0] for p in r["curve"]], [p[2] for p in r["curve"]]) for i, r in enumerate(src[k])]
                for k in ("metagrad", "rl")}
        panels.append(dict(key=name, title=title, kind="curve", xlabel="RLlib env steps (2 per ER step)",
                           ylabel="designer objective: welfare net of payments",
                           series=[("MetaGrad", METHOD, runs["metagrad"]), ("dual-RL", BASE, runs["rl"])],
                           paper=[paper], tail=10))
    gtb = load("metagrad_gtb")["gtb"]["runs"]
    labels = (("metagrad", "MetaGrad", METHOD), ("dual_rl", "dual-RL", BASE), ("us_federal", "US-federal", BASE2),
              ("free_market", "free market", BASE3), ("ippo_us_federal", "IPPO under US-federal", VARIANT2))
    series = []
    for k, label, colour in labels:
        if k in gtb:
            rows = gtb[k]["rows"]
            series.append((label, colour, [(gtb[k]["seed"], [r["episodes"] for r in rows],
                                            smooth([r["objective"] for r in rows], 10))]))
    panels.append(dict(key="gtb", title="Gather-Trade-Build", kind="curve", xlabel="training episodes",
                       ylabel="productivity x equality per episode\n(trailing mean of 10 iterations)",
                       series=series, paper=None))
    return panels, []


AMD_PAPER = {  # AMD thesis Table 4.2, P(CC) in %: planner on / turned off after 4000 (+4000) / no planner
    "PD": (98.7, 0.48, 0.004), "Chicken": (99.0, 53.8, 3.7), "Stag Hunt": (99.1, 99.6, 0.004)}


def amd_panels():
    t = load("amd_table_4_2")["table_4_2"]
    panels = []
    for game, (p_on, p_off, p_none) in AMD_PAPER.items():
        cells = (("on", "planner on", METHOD, p_on), ("om", "planner, opp. model (eq. 4.6)", VARIANT, None),
                 ("off", "turned off after 4000", BASE2, p_off), ("none", "no planner", BASE, p_none))
        series = [(label, colour, {i: 100.0 * v for i, v in enumerate(t[f"{game}/{cell}"]["pcc"])})
                  for cell, label, colour, _ in cells if f"{game}/{cell}" in t]
        panels.append(dict(key=game, title=f"{game} (Table 4.2)", kind="bars", xlabel="",
                           ylabel="P(C, C) at the end (%)", series=series,
                           paper={label: p for _, label, _, p in cells if p is not None}))
    return panels, []


def lola_panels():
    ipd = load("lola_exact")["ipd"]["runs"]
    runs = {c: [(r["seed"], [p[0] for p in r["curve"]], [(p[1] + p[2]) / 2 for p in r["curve"]])
                for r in ipd if r["correction"] == c] for c in ("taylor", "none")}
    panels = [dict(key="ipd", title="IPD, exact values (γ = 0.96)", kind="curve", xlabel="exact update steps",
                   ylabel="reward per step, mean of the two players",
                   series=[("LOLA-Exact", METHOD, runs["taylor"]), ("naive learners", BASE, runs["none"])],
                   paper=None)]
    bos = load("lola_exact")["iasymbos"]["runs"]
    missing = [f"IAsymBoS ({len(bos)} LOLA-Exact seeds and their cross-play league): no baseline stored; a rerun "
               "needs benchmarks/lola_exact.py to train the naive learners (correction 'none') on "
               "iterated_asymmetric_bos as it does on the IPD"]
    return panels, missing


BUILDERS = {"dcl": dcl_panels, "lio": lio_panels, "designer": designer_panels, "amd": amd_panels,
            "lola": lola_panels}
TITLES = {"dcl": "DCL paper: DCL vs IPPO", "lio": "LIO thesis: LIO vs independent PG / AC",
          "designer": "ID thesis: MetaGrad vs dual-RL and fixed tax schedules",
          "amd": "AMD thesis: planner vs no planner",
          "lola": "normative-disagreement paper: LOLA-Exact vs naive learners"}


# ------------------------------------------------------------------------------------------------ drawing

def _draw_curve(ax, panel):
    plotted, finals = {}, {}
    tail = panel.get("tail", 1)
    for rank, (label, colour, runs) in enumerate(panel["series"]):
        z = 3 + len(panel["series"]) - rank  # the method above its baselines
        for _, x, y in runs:
            ax.plot(x, y, color=colour, lw=0.6, alpha=0.25, zorder=1)
        x, m, se = mean_se(runs)
        (line,) = ax.plot(x, m, color=colour, lw=1.8, label=f"{label} (n={len(runs)})", zorder=z)
        ax.fill_between(x, m - se, m + se, color=colour, alpha=0.2, lw=0, zorder=2)
        plotted[label] = (np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float))
        # the printed final: each seed's own end (mean of its last `tail` points), averaged over seeds
        finals[label] = float(np.mean([np.mean(np.asarray(y, float)[-tail:]) for _, _, y in runs]))
    for value, ref in panel["paper"] or ():
        ax.axhline(value, color="black", ls="--", lw=1.0, label=ref)
    return plotted, finals


def _draw_bars(ax, panel, rng):
    plotted, finals = {}, {}
    for i, (label, colour, per_seed) in enumerate(panel["series"]):
        v = np.array(list(per_seed.values()), float)
        se = v.std(ddof=1) / np.sqrt(v.size) if v.size > 1 else 0.0
        bars = ax.bar(i, v.mean(), yerr=se, color=colour, alpha=0.6, capsize=4)
        ax.scatter(i + rng.uniform(-0.15, 0.15, v.size), v, color="black", s=9, zorder=3)
        paper = panel["paper"].get(label)
        if paper is not None:
            ax.hlines(paper, i - 0.4, i + 0.4, colors="black", linestyles="--", lw=1.2,
                      label="AMD thesis Table 4.2" if i == 0 else None)
        plotted[label] = (np.array([i], float), np.array([bars[0].get_height()], float))
        finals[label] = float(v.mean())
    ax.set_ylim(0, 125)
    ax.set_xticks(range(len(panel["series"])))
    ax.set_xticklabels([s[0] for s in panel["series"]], rotation=20, ha="right", fontsize=7)
    return plotted, finals


def _seeds_of(panel):
    parts = []
    for label, _, data in panel["series"]:
        seeds = list(data) if isinstance(data, dict) else [s for s, _, _ in data]
        parts.append((label, seeds_text(seeds)))
    if len({s for _, s in parts}) == 1:
        return parts[0][1] + (" each" if len(parts) > 1 else "")
    texts = [s for _, s in parts]
    common = max(texts, key=texts.count)  # the seeds most series share (first such on a tie)
    if texts.count(common) > 1:  # say it once, then the series that differ
        return "; ".join([f"{common} each"] + [f"{label}: {s}" for label, s in parts if s != common])
    return "; ".join(f"{label}: {s}" for label, s in parts)


def draw(paper, out_dir):
    """Draw ``compare_<paper>.png`` into ``out_dir``. Returns ``{"path", "panels": [{"key", "title",
    "plotted": {series label: (x, y) of the drawn mean line or bar}, "finals": {label: last mean}}],
    "missing": [settings without a stored baseline]}``."""
    panels, missing = BUILDERS[paper]()
    n = len(panels)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(4.3 * cols, 6.5), 3.6 * rows + 0.3), squeeze=False)
    rng = np.random.default_rng(0)
    info = []
    for ax, panel in zip(axes.flat, panels):
        plotted, finals = (_draw_bars(ax, panel, rng) if panel["kind"] == "bars" else _draw_curve(ax, panel))
        ax.set_title(f"{panel['title']}\n{_seeds_of(panel)}", fontsize=8)
        ax.set_xlabel(panel["xlabel"], fontsize=7)
        ax.set_ylabel(panel["ylabel"], fontsize=7)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="upper center" if panel["kind"] == "bars" else "best")
        ax.grid(alpha=0.3)
        info.append(dict(key=panel["key"], title=panel["title"], plotted=plotted, finals=finals))
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(TITLES[paper] + "\nmean ± s.e. over seeds; thin lines / dots: single seeds", fontsize=9)
    fig.tight_layout()
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"compare_{paper}.png")
    buf = io.BytesIO()
    fig.savefig(buf, dpi=DPI)
    plt.close(fig)
    buf.seek(0)
    save_compact_png(buf, path)
    return dict(path=path, panels=info, missing=missing)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--paper", choices=(*PAPERS, "all"), default="all")
    p.add_argument("--out", default=RESULTS, help="output folder (default docs/results)")
    args = p.parse_args(argv)
    results = {}
    for paper in PAPERS if args.paper == "all" else (args.paper,):
        res = results[paper] = draw(paper, args.out)
        print(f"{paper}: wrote {os.path.relpath(res['path'])}")
        print("  (final: the mean over seeds of each seed's end; mean of its last 10 iterations for DCL and the "
              "designer on ER, of its last 5 evaluations on Cleanup, else its last evaluation)")
        for panel in res["panels"]:
            finals = ", ".join(f"{label} {v:.3g}" for label, v in panel["finals"].items())
            print(f"  {panel['title']}: final {finals}")
        for line in res["missing"]:
            print(f"  {line}")
    return results


if __name__ == "__main__":
    main()
