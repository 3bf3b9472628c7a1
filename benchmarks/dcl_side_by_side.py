"""DCL side by side with the authors' code (github.com/shuhui-zhu/DCL) on the one-shot PD.

    python benchmarks/dcl_side_by_side.py --reference /path/to/DCL --algos DCL-IC --seeds 0 1 2 3 4 \\
        --max-seconds 150 --variant code_seq
    python benchmarks/dcl_side_by_side.py --algos DCL-IC DCL --seeds 0 1 2 --variant fast   # package only

Runs, one after the other and INTERLEAVED (per algorithm and seed: one run of the authors' code, one
of the package, the order alternating from pair to pair), each in a fresh process with one torch
thread (``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)``) and the same seed:

* the authors' trainer (``trainer.dcl_repeated_games.Repeated_Game_Trainer``, built as their
  ``main.py`` builds it) with their ``configs/config.yaml`` defaults and the README's IPD settings
  (``game=IPD max_steps=1 mega_step=1 batch_size=128 entropy_coeff=1.0 temperature=10.0``,
  ``with_constraints`` = DCL-IC). Their code never seeds; here torch, numpy and ``random`` are
  seeded. ``wandb`` is replaced by a no-op module when it is not installed and hydra is not
  imported. A subclass of their trainer reads social welfare and the time at each iteration's
  ``_log_episode_returns`` (their files are not modified);
* the package's ``algo.train()`` from ``tuned_configs/dcl/prisoners_dilemma{,_ic}.yaml`` (DCL paper
  Table 5) with ``--variant``'s flags (``benchmarks/dcl_iteration_gap.py``: ``paper`` = the package's
  defaults, ``code`` = the authors' code's loss choices, ``code_seq`` = those plus sequential agent
  updates), or ``fast`` = ``tuned_configs/dcl/prisoners_dilemma_fast.yaml`` (with
  ``ic_lambda=1`` for DCL-IC); ``num_env_runners=0``.

"Hold" (both codes): social welfare >= -2.2 for 5 consecutive iterations; the iteration (and
seconds since the first iteration started) reported is the first of the 5. A run stops at its
``--max-seconds`` budget or ``--after-hold`` iterations after it held. Writes
``docs/results/dcl_side_by_side.json`` (per-run summaries, welfare curves down-sampled to <= 200
points, ``uptime`` before and after) and ``docs/results/dcl_side_by_side.png`` (welfare vs wall
time), and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from dcl_iteration_gap import HOLD_N, HOLD_SW, PRESETS, VARIANTS, held_at  # noqa: E402

FAST_PRESET = "dcl/prisoners_dilemma_fast"
REF_OVERRIDES = dict(game="IPD", max_steps=1, mega_step=1, batch_size=128, entropy_coeff=1.0,
                     temperature=10.0)  # the README's IPD command
MAX_POINTS = 200


def _downsample(curve, n=MAX_POINTS):
    if len(curve) <= n:
        return curve
    idx = sorted({round(i * (len(curve) - 1) / (n - 1)) for i in range(n)})
    return [curve[i] for i in idx]


def _summary(code, algo, variant, seed, welfare, times, env_steps, max_seconds):
    """welfare[k], times[k] (s since training started, after iteration k), env_steps total."""
    hold = held_at(welfare)
    secs = times[-1] if times else 0.0
    return {
        "code": code, "algo": algo, "variant": variant, "seed": seed,
        "iterations": len(welfare), "seconds": round(secs, 2),
        "it_per_s": round(len(welfare) / secs, 2) if secs else None,
        "env_steps_per_s": round(env_steps / secs, 1) if secs else None,
        "held_at_iteration": hold,
        "held_at_seconds": None if hold is None else round(times[hold], 2),
        "max_seconds": max_seconds,
        "curve": _downsample([[round(t, 2), k, round(w, 4)]
                              for k, (t, w) in enumerate(zip(times, welfare))]),
    }


class _Stop(Exception):
    pass


def _stub_wandb():
    """A no-op ``wandb`` when it is not installed (the authors' code logs only to wandb)."""
    try:
        import wandb  # noqa: F401
        return
    except ImportError:
        pass
    import types

    mod = types.ModuleType("wandb")
    mod.init = lambda *a, **k: None
    mod.log = lambda *a, **k: None
    mod.finish = lambda *a, **k: None
    sys.modules["wandb"] = mod


def run_reference(path, algo, seed, max_seconds, after_hold, max_iters):
    import random

    import numpy as np
    import torch
    import yaml

    torch.set_num_threads(1)
    _stub_wandb()
    os.environ["WANDB_MODE"] = "disabled"
    sys.path.insert(0, os.path.abspath(path))
    from env.repeated_game import IteratedPrisonersDilemma
    from trainer.dcl_repeated_games import Repeated_Game_Trainer
    from utility.agents.agent_class_repeated_games import DCL_Agent_Repeated_Games

    with open(os.path.join(path, "configs", "config.yaml")) as f:
        cfg = yaml.safe_load(f)
    cfg.update(REF_OVERRIDES, with_constraints=(algo == "DCL-IC"))
    num = lambda k: float(cfg[k])  # noqa: E731  (PyYAML reads "7e-4" as a string)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    welfare, times = [], []

    class Hooked(Repeated_Game_Trainer):
        def _log_episode_returns(self):
            # Their batch welfare (mean over the batch of discounted returns, summed over agents),
            # read before their own logging, which also resets the buffer of returns.
            welfare.append(float(np.mean(self.episode_returns, axis=0).sum()))
            times.append(time.perf_counter() - t0)
            super()._log_episode_returns()
            hold = held_at(welfare)
            if (times[-1] >= max_seconds or len(welfare) >= max_iters
                    or (hold is not None and len(welfare) >= hold + HOLD_N + after_hold)):
                raise _Stop

    n_iter = int(cfg["N_iterations"])
    trainer = Hooked(
        env=IteratedPrisonersDilemma, agent_class=DCL_Agent_Repeated_Games,
        mega_step=int(cfg["mega_step"]), gamma=num("gamma"), max_steps=int(cfg["max_steps"]),
        temperature=num("temperature"), temperature_decay=num("temperature_decay"),
        hidden_dim=int(cfg["hidden_dim"]), lr_critic=num("lr_critic"), lr_actor=num("lr_actor"),
        with_constraints=bool(cfg["with_constraints"]), buffer_length=int(cfg["batch_size"]),
        num_iter_per_batch=int(cfg["num_iter_per_batch"]), batch_size=int(cfg["batch_size"]),
        N_agents=2, N_episodes=n_iter * int(cfg["batch_size"]) // int(cfg["max_steps"]),
        is_entropy=bool(cfg["is_entropy"]), entropy_coeff=num("entropy_coeff"),
        entropy_coeff_decay=num("entropy_coeff_decay"))
    t0 = time.perf_counter()
    try:
        trainer.train()
    except _Stop:
        pass
    steps = len(welfare) * int(cfg["batch_size"])
    return _summary("authors", algo, "config.yaml", seed, welfare, times, steps, max_seconds)


def package_config(algo, variant, seed):
    from rllib_coopai.presets import preset_config

    if variant == "fast":
        return preset_config(FAST_PRESET, seed=seed, num_env_runners=0,
                             ic_lambda=1.0 if algo == "DCL-IC" else 0.0)
    return preset_config(PRESETS[algo], seed=seed, num_env_runners=0,
                         **VARIANTS[variant](algo == "DCL-IC"))


def run_package(algo, variant, seed, max_seconds, after_hold, max_iters):
    import torch

    torch.set_num_threads(1)
    algo_obj = package_config(algo, variant, seed).build_algo()
    welfare, times, steps = [], [], 0
    t0 = time.perf_counter()
    try:
        while True:
            res = algo_obj.train()
            times.append(time.perf_counter() - t0)
            welfare.append(res["env_runners"].get("social_welfare"))
            steps = res.get("num_env_steps_sampled_lifetime", steps)
            hold = held_at(welfare)
            if (times[-1] >= max_seconds or len(welfare) >= max_iters
                    or (hold is not None and len(welfare) >= hold + HOLD_N + after_hold)):
                break
    finally:
        algo_obj.stop()
    return _summary("package", algo, variant, seed, welfare, times, steps, max_seconds)


def _child(args):
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if args.child == "authors":
        r = run_reference(args.reference, args.algos[0], args.seeds[0], args.max_seconds,
                          args.after_hold, args.max_iters)
    else:
        r = run_package(args.algos[0], args.variant, args.seeds[0], args.max_seconds,
                        args.after_hold, args.max_iters)
    print("RESULT " + json.dumps(r), flush=True)


def _spawn(kind, algo, seed, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", kind, "--algos", algo,
           "--seeds", str(seed), "--max-seconds", str(args.max_seconds), "--variant", args.variant,
           "--after-hold", str(args.after_hold), "--max-iters", str(args.max_iters)]
    if args.reference:
        cmd += ["--reference", args.reference]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", RAY_AUTH_MODE="disabled",
               WANDB_MODE="disabled", PYTHONPATH=ROOT)
    cwd = args.reference if kind == "authors" else ROOT
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{kind} {algo} seed {seed} failed:\n{out.stderr[-3000:]}")


def _uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return None


def _median_time_to_hold(rs):
    """Median seconds-to-hold over runs, a run that did not hold counting as +inf (None if the
    median itself is a run that did not hold)."""
    vals = sorted(r["held_at_seconds"] if r["held_at_seconds"] is not None else float("inf")
                  for r in rs)
    med = statistics.median(vals) if vals else float("inf")
    return None if med == float("inf") else round(med, 1)


def table(rows):
    lines = ["| code | algorithm | variant | seed | it/s | env steps/s | held at iteration "
             "| held at s | iterations run | s run |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        held_i = r["held_at_iteration"] if r["held_at_iteration"] is not None else "-"
        held_s = r["held_at_seconds"] if r["held_at_seconds"] is not None else "-"
        lines.append(f"| {r['code']} | {r['algo']} | {r['variant']} | {r['seed']} | {r['it_per_s']} "
                     f"| {r['env_steps_per_s']} | {held_i} | {held_s} | {r['iterations']} "
                     f"| {r['seconds']} |")
    groups = {}
    for r in rows:
        groups.setdefault((r["code"], r["algo"], r["variant"]), []).append(r)
    lines += ["", "| code | algorithm | variant | held / runs | median it/s | median env steps/s "
                  "| median held-at iteration (held runs) | median s to hold (not held = inf) |",
              "|---|---|---|---|---:|---:|---:|---:|"]
    for (c, a, v), rs in groups.items():
        held = [r["held_at_iteration"] for r in rs if r["held_at_iteration"] is not None]
        med_it = statistics.median(held) if held else "-"
        mts = _median_time_to_hold(rs)
        lines.append(f"| {c} | {a} | {v} | {len(held)}/{len(rs)} "
                     f"| {statistics.median(r['it_per_s'] for r in rs)} "
                     f"| {statistics.median(r['env_steps_per_s'] for r in rs)} | {med_it} "
                     f"| {mts if mts is not None else 'not held'} |")
    return "\n".join(lines)


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    algos = sorted({r["algo"] for r in rows})
    fig, axes = plt.subplots(1, len(algos), figsize=(6.5 * len(algos), 4.2), squeeze=False)
    palette = ["tab:red", "tab:green", "tab:orange", "tab:purple"]
    variants = sorted({r["variant"] for r in rows if r["code"] == "package"})
    colors = {("authors", "config.yaml"): "tab:blue"}
    colors.update({("package", v): palette[i % len(palette)] for i, v in enumerate(variants)})
    for ax, algo in zip(axes[0], algos):
        seen = set()
        for r in (r for r in rows if r["algo"] == algo):
            color = colors[(r["code"], r["variant"])]
            t = [p[0] for p in r["curve"]]
            w = [p[2] for p in r["curve"]]
            label = (f"authors' code" if r["code"] == "authors" else f"package ({r['variant']})")
            ax.plot(t, w, color=color, alpha=0.6, lw=1,
                    label=None if label in seen else label)
            seen.add(label)
            if r["held_at_seconds"] is not None:
                ax.plot([r["held_at_seconds"]], [HOLD_SW], "o", color=color, ms=4)
        ax.axhline(HOLD_SW, color="gray", ls="--", lw=0.8)
        ax.set_title(f"{algo}, one-shot PD (fast: package's fast preset; others: Table 5)",
                     fontsize=9)
        ax.set_xlabel("wall-clock seconds (one torch thread, runs interleaved)")
        ax.set_ylabel("social welfare (batch mean)")
        ax.set_ylim(-4.1, -1.9)
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reference", default=None,
                   help="path to a checkout of github.com/shuhui-zhu/DCL (without it only the "
                        "package runs)")
    p.add_argument("--algos", nargs="+", default=["DCL-IC", "DCL"], choices=sorted(PRESETS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--max-seconds", type=float, default=150.0, help="wall budget per run")
    p.add_argument("--max-iters", type=int, default=10000)
    p.add_argument("--after-hold", type=int, default=100,
                   help="iterations to keep running after the hold is confirmed")
    p.add_argument("--variant", choices=["paper", "code", "code_seq", "fast"], default="code_seq")
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "results", "dcl_side_by_side"),
                   help="writes <out>.json and <out>.png")
    p.add_argument("--codes", nargs="+", choices=["authors", "package"],
                   default=["authors", "package"],
                   help="which codes to run (authors needs --reference); e.g. two invocations, "
                        "one per code, each on its own core, to count iterations-to-hold with a "
                        "large --max-seconds (counts do not depend on the load)")
    p.add_argument("--append", action="store_true",
                   help="add these runs to those already in <out>.json (e.g. a --variant fast "
                        "run after the Table 5 one); table and plot show all")
    p.add_argument("--child", choices=["authors", "package"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(args)
    if args.reference and not os.path.isfile(os.path.join(args.reference, "trainer",
                                                         "dcl_repeated_games.py")):
        p.error(f"--reference {args.reference!r} is not a checkout of the authors' DCL code "
                "(no trainer/dcl_repeated_games.py)")
    load_before = _uptime()
    rows, pair, earlier = [], 0, []
    if args.append and os.path.isfile(args.out + ".json"):
        with open(args.out + ".json") as f:
            old = json.load(f)
        earlier = old["runs"]
        load_before = f"{old.get('uptime_before')} | appended: {load_before}"
    rows = list(earlier)
    for algo in args.algos:
        for seed in args.seeds:
            kinds = [k for k in ("authors", "package")
                     if k in args.codes and (k == "package" or args.reference)]
            if pair % 2:
                kinds.reverse()  # alternate who goes first, so slow drifts of the load even out
            pair += 1
            for kind in kinds:
                r = _spawn(kind, algo, seed, args)
                rows.append(r)
                print(f"{kind} {algo} {r['variant']} seed {seed}: {r['it_per_s']} it/s, held at "
                      f"{r['held_at_iteration']} ({r['held_at_seconds']} s)", flush=True)
                os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
                with open(args.out + ".json", "w") as f:
                    json.dump({"hold": f"social welfare >= {HOLD_SW} for {HOLD_N} consecutive "
                                       "iterations (first of them)",
                               "argv": sys.argv[1:], "uptime_before": load_before,
                               "uptime_after": None, "runs": rows}, f)
    md = table(rows)
    with open(args.out + ".json", "w") as f:
        json.dump({"hold": f"social welfare >= {HOLD_SW} for {HOLD_N} consecutive iterations "
                           "(first of them)", "argv": sys.argv[1:], "uptime_before": load_before,
                   "uptime_after": _uptime(), "runs": rows, "table": md}, f)
    plot(rows, args.out + ".png")
    print(md)
    print(f"\nload: before {load_before}\n      after  {_uptime()}")


if __name__ == "__main__":
    main()
