"""Iterations to hold mutual cooperation at DCL paper Table 5 settings, per estimator variant.

    python benchmarks/dcl_iteration_gap.py --variants before code --algos DCL-IC DCL --seeds 0 1 2
    python benchmarks/dcl_iteration_gap.py --max-iters 1500 --max-seconds 300 --out runs/dcl_gap

"Hold" = social welfare >= -2.2 for 5 consecutive iterations (the definition used for the
authors' code, github.com/shuhui-zhu/DCL, in the side-by-side measurement of issue #28); the
iteration reported is the first of those 5. Every run starts from
``tuned_configs/dcl/prisoners_dilemma{,_ic}.yaml`` (Table 5: batch 128, 1 update per iteration,
LRs 4e-4 / 8e-4, entropy 1.0 - 0.0005 per iteration, temperature 10 -> 1) with
``num_env_runners=0`` and one torch thread, seeds run one after the other. Variants:

* ``before``: the learner as it was before ``critic_first`` (one joint step; policy terms read the
  critic of before the update);
* ``paper``: the package's defaults (critic fitted first, DCL paper Algorithms 1-2);
* ``code``: the defaults plus every flag set to the authors' code's choice
  (``entropy_reduction="mean"``, ``entropy_schedule="agent_update"``, ``min_entropy_coeff=0.1``,
  ``action_weight="deal"``, ``pathwise="reference"``, ``critic_lr=7e-4``, and for DCL-IC
  ``ic_mode="reference"``);
* ``code_seq``: ``code`` plus ``agent_updates="sequential"`` (the code updates agent 0, then agent 1
  reading agent 0's new weights);
* ``entropy``: the defaults with only the code's entropy choices (reduction, schedule, floor).

* ``authors``: the authors' code itself (``--reference PATH`` to a checkout of
  github.com/shuhui-zhu/DCL; their trainer with their ``configs/config.yaml`` and the README's IPD
  settings, seeded, run as ``benchmarks/dcl_side_by_side.py`` runs it), for its iterations to hold
  over the same seeds (its random streams are its own, so seed k of the two codes are not paired).

``--loop learner`` (default) runs the package's ``DCLTorchLearner`` and ``DCLMultiRLModule`` built
from the same config, without env runners: each iteration samples 128 one-shot PD negotiations
with the module's own ``negotiate`` (exact categorical draws), builds the joint columns
``DCLJointColumns`` would build (one-shot: return = reward) and takes one learner update. The
learning math and sampling distribution are those of ``algo.train()``; only RLlib's
per-episode overhead is left out, so iteration counts can be measured on a loaded machine
(random streams differ from ``algo.train()``'s, so a seed's count differs, not its distribution).
``--loop algo`` runs ``algo.train()`` itself.

Writes ``<out>/dcl_iteration_gap.md`` (the table) and ``.json`` (per-iteration welfare).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

HOLD_SW, HOLD_N = -2.2, 5
ENTROPY_CODE = dict(entropy_reduction="mean", entropy_schedule="agent_update", min_entropy_coeff=0.1)
VARIANTS = {
    "before": lambda ic: dict(critic_first=False),
    "paper": lambda ic: {},
    "entropy": lambda ic: dict(ENTROPY_CODE),
    "code": lambda ic: dict(ENTROPY_CODE, action_weight="deal", pathwise="reference",
                            critic_lr=7e-4, **({"ic_mode": "reference"} if ic else {})),
}
VARIANTS["code_seq"] = lambda ic: dict(VARIANTS["code"](ic), agent_updates="sequential")
AUTHORS = "authors"  # not a package variant: the authors' code (needs --reference)
PRESETS = {"DCL": "dcl/prisoners_dilemma", "DCL-IC": "dcl/prisoners_dilemma_ic"}


def held_at(welfare, threshold=HOLD_SW, n=HOLD_N):
    """First index of ``n`` consecutive values >= ``threshold`` (None if there is none)."""
    run = 0
    for i, w in enumerate(welfare):
        run = run + 1 if w is not None and w >= threshold else 0
        if run == n:
            return i - n + 1
    return None


def _learner_loop(cfg, seed, max_iters, max_seconds):
    """Welfare per iteration of the package's learner + module on the one-shot PD (see doc)."""
    import numpy as np
    import torch
    from ray.rllib.core.columns import Columns

    from rllib_coopai.algorithms.dcl.learner import ITERATION_KEY
    from rllib_coopai.envs import make
    from rllib_coopai.envs.matrix_games import PD_PAYOFFS
    from rllib_coopai.wrappers.rllib_env import RLlibParallelEnv

    torch.manual_seed(seed)
    np.random.seed(seed)
    cfg.validate()
    env = make("prisoners_dilemma", horizon=1)
    obs0, _ = env.reset(seed=seed)
    learner = cfg.build_learner(env=RLlibParallelEnv(make("prisoners_dilemma", horizon=1)))
    order = learner._agent_order()
    payoff = torch.tensor(PD_PAYOFFS, dtype=torch.float32)
    t_batch = int(cfg.train_batch_size_per_learner)
    obs = {a: torch.as_tensor(np.asarray(obs0[a], np.float32)).expand(t_batch, -1) for a in order}
    welfare, t0 = [], time.perf_counter()
    while len(welfare) < max_iters and time.perf_counter() - t0 < max_seconds:
        with torch.no_grad():
            out = learner.module.negotiate({a: {Columns.OBS: obs[a]} for a in order})
        col = lambda key: torch.stack([out[a][key] for a in order], -1).long()  # noqa: E731
        m, c, a_, e = col("dcl_m"), col("dcl_c"), col("dcl_a"), col(Columns.ACTIONS)
        rewards = payoff[e[:, 0], e[:, 1]]  # (T, 2), one-shot: return = reward
        cols = {"dcl_obs": torch.cat([obs[a] for a in order], -1), "dcl_joint_m": m,
                "dcl_joint_c": c, "dcl_joint_a": a_, "dcl_joint_e": e, "dcl_joint_returns": rewards}
        timesteps = {ITERATION_KEY: len(welfare)}
        learner.before_gradient_based_update(timesteps=timesteps)
        learner._uncompiled_update({mid: cols for mid in order})
        learner.after_gradient_based_update(timesteps=timesteps)
        learner.metrics.reduce()
        welfare.append(float(rewards.sum(-1).mean()))
        if held_at(welfare) is not None:
            break
    return welfare, time.perf_counter() - t0


def run_authors(algo_name, seed, max_iters, max_seconds, reference):
    """Iterations to hold of the authors' code (stops once the hold is confirmed)."""
    from dcl_side_by_side import run_reference

    r = run_reference(reference, algo_name, seed, max_seconds, 0, max_iters)
    return {"algo": algo_name, "variant": AUTHORS, "seed": seed, "loop": "authors' trainer",
            "iterations": r["iterations"], "seconds": r["seconds"], "it_per_s": r["it_per_s"],
            "held_at": r["held_at_iteration"], "curve": r["curve"]}  # [s, iteration, welfare]


def run_one(algo_name, variant, seed, max_iters, max_seconds, loop="learner", reference=None):
    import torch

    from rllib_coopai.presets import preset_config

    if variant == AUTHORS:
        return run_authors(algo_name, seed, max_iters, max_seconds, reference)
    torch.set_num_threads(1)
    overrides = VARIANTS[variant](algo_name == "DCL-IC")
    cfg = preset_config(PRESETS[algo_name], seed=seed, num_env_runners=0, **overrides)
    if loop == "learner":
        welfare, secs = _learner_loop(cfg, seed, max_iters, max_seconds)
        return {"algo": algo_name, "variant": variant, "seed": seed, "loop": loop,
                "iterations": len(welfare), "seconds": round(secs, 1),
                "it_per_s": round(len(welfare) / secs, 2), "held_at": held_at(welfare),
                "welfare": welfare}
    algo = cfg.build_algo()
    welfare, t0 = [], time.perf_counter()
    try:
        while len(welfare) < max_iters and time.perf_counter() - t0 < max_seconds:
            welfare.append(algo.train()["env_runners"].get("social_welfare"))
            if held_at(welfare) is not None:
                break
    finally:
        algo.stop()
    secs = time.perf_counter() - t0
    hold = held_at(welfare)
    return {"algo": algo_name, "variant": variant, "seed": seed, "loop": loop,
            "iterations": len(welfare),
            "seconds": round(secs, 1), "it_per_s": round(len(welfare) / secs, 2),
            "held_at": hold, "welfare": welfare}


def table(rows):
    lines = ["| algorithm | variant | seed | held at iteration | iterations run | s | it/s |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        held = r["held_at"] if r["held_at"] is not None else f"not within {r['iterations']}"
        lines.append(f"| {r['algo']} | {r['variant']} | {r['seed']} | {held} | {r['iterations']} "
                     f"| {r['seconds']} | {r['it_per_s']} |")
    groups = {}
    for r in rows:
        groups.setdefault((r["algo"], r["variant"]), []).append(r)
    lines += ["", "| algorithm | variant | held / runs | median held-at (held runs) |", "|---|---|---|---:|"]
    for (a, v), rs in groups.items():
        held = [r["held_at"] for r in rs if r["held_at"] is not None]
        med = statistics.median(held) if held else "-"
        lines.append(f"| {a} | {v} | {len(held)}/{len(rs)} | {med} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--algos", nargs="+", default=["DCL-IC", "DCL"], choices=sorted(PRESETS))
    p.add_argument("--variants", nargs="+", default=["before", "code"],
                   choices=sorted(VARIANTS) + [AUTHORS])
    p.add_argument("--reference", default=None,
                   help="checkout of github.com/shuhui-zhu/DCL (for --variants authors)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--max-iters", type=int, default=2000)
    p.add_argument("--max-seconds", type=float, default=400.0)
    p.add_argument("--out", default="runs/dcl_gap")
    p.add_argument("--loop", choices=["learner", "algo"], default="learner")
    args = p.parse_args(argv)
    if AUTHORS in args.variants and not (
            args.reference and os.path.isfile(os.path.join(args.reference, "trainer",
                                                           "dcl_repeated_games.py"))):
        p.error("--variants authors needs --reference PATH to a checkout of the authors' DCL "
                f"code (got {args.reference!r})")
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for algo_name in args.algos:
        for seed in args.seeds:
            for variant in args.variants:
                r = run_one(algo_name, variant, seed, args.max_iters, args.max_seconds, args.loop,
                            args.reference)
                rows.append(r)
                print(f"{algo_name} {variant} seed {seed}: held at {r['held_at']} "
                      f"({r['iterations']} iterations, {r['seconds']} s)", flush=True)
                with open(os.path.join(args.out, "dcl_iteration_gap.json"), "w") as f:
                    json.dump(rows, f)
    md = table(rows)
    with open(os.path.join(args.out, "dcl_iteration_gap.md"), "w") as f:
        f.write(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
