"""DCL learning benchmarks (DCL paper §4.1, §5.1): several seeds per setting, curves as PNG, summary as md.

    python benchmarks/dcl_learning.py --setting pd --seeds 5 --iters 250
    python benchmarks/dcl_learning.py --setting grid --seeds 2 --time-limit 600
    python benchmarks/dcl_learning.py --setting rpc --seeds 2 --time-limit 600
    python benchmarks/dcl_learning.py --setting public_goods --seeds 2 --iters 300

Settings (``--budget paper`` uses Tables 5-7 as they are; the default ``fast`` budget keeps the
paper's architecture and batch sizes but uses the larger learning rates / shorter schedules of
``tuned_configs/dcl/prisoners_dilemma_fast.yaml``, the way ``make train`` runs):

* ``pd``: one-shot PD, DCL, DCL-IC, decentralized DCL, IPPO (baseline on the plain game),
  IPPO-in-MCG (IPPO playing the staged commitment game), and IPPO with a mediator
  (Mediated-MARL, unconstrained and constrained) or with formal contracts (MOCA), Table 5;
* ``grid``: grid game (4 cells, horizon 16), DCL, DCL-IC and the baselines IPPO, Mediated-MARL and
  MOCA, Table 6;
* ``rpc``: repeated purely conflicting game, horizon 16, mega-steps K=2, DCL, and the baselines
  DCL without mega-steps (K=1), IPPO, Mediated-MARL and MOCA, Table 7;
* ``public_goods``: N = 2, 3, 5 (``--n-agents``), DCL-IC, batch 256 (Table 8 setting), and IPPO.

Each run records per iteration: social welfare (undiscounted sum of the base env's returns),
agreement rate, per-agent returns, env steps and wall-clock seconds. Results go to
``runs/dcl/<setting>.json|.png|.md`` (git-ignored; ``--out`` to change);
``python benchmarks/reproduce.py --claim dcl_<setting>`` runs a paper claim's commands and writes
its summary to ``docs/results/`` for ``docs/REPRODUCTION.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

OUT = "runs/dcl"


def dcl_config(env, env_config=None, budget="fast", **training):
    from rllib_coopai.algorithms.dcl import DCLConfig
    from rllib_coopai.presets import preset_training

    cfg = DCLConfig().environment(env, env_config=env_config or {}).env_runners(
        num_env_runners=0, num_envs_per_env_runner=16)
    if budget == "fast":
        skip = ("train_batch_size_per_learner", "env_config", "num_env_runners", "num_envs_per_env_runner")
        fast = {k: v for k, v in preset_training("dcl/prisoners_dilemma_fast").items() if k not in skip}
        fast.update(ic_lambda=0.0)
        training = {**fast, **training}
    return cfg.training(**training)


def ippo_config(env, budget="fast", mcg=False, env_config=None):
    """IPPO on the plain game, or (``mcg=True``) IPPO playing the staged Markov Commitment Game
    (3 RLlib steps per base step; batch sizes are in RLlib steps), with Table 5's IPPO column:
    2 ReLU layers of 8, KL coefficient 0.2, KL target 0.01, clip 0.3, no entropy bonus."""
    from rllib_coopai.algorithms.ippo import IPPOConfig
    from rllib_coopai.wrappers.commitment import CommitmentGameRLlibEnv

    lr = 3e-3 if budget == "fast" else 4e-4
    cfg = IPPOConfig()
    cfg = (cfg.environment(CommitmentGameRLlibEnv, env_config={"base_env": env}) if mcg
           else cfg.environment(env, env_config=env_config or {}))
    return (cfg.env_runners(num_env_runners=0, num_envs_per_env_runner=16)
            .training(lr=lr, train_batch_size_per_learner=128 if budget == "paper" else 256,
                      minibatch_size=128, num_epochs=1 if budget == "paper" else 4,
                      kl_coeff=0.2, kl_target=0.01, clip_param=0.3, entropy_coeff=0.0)
            .rl_module(model_config={"fcnet_hiddens": [8, 8], "fcnet_activation": "relu"}))


# The DCL paper's baselines that are IPPO on a wrapped game, per setting: method -> preset of
# tuned_configs/dcl_baselines/.
WRAPPER_BASELINES = {
    "pd": {"Mediated": "mediated_prisoners_dilemma",
           "Mediated-constrained": "mediated_constrained_prisoners_dilemma",
           "MOCA": "moca_prisoners_dilemma"},
    "grid": {"Mediated": "mediated_grid_game", "MOCA": "moca_grid_game"},
    "rpc": {"Mediated": "mediated_purely_conflicting", "MOCA": "moca_purely_conflicting",
            "MOCA-grid-fees": "moca_purely_conflicting"},
}
# Variants of a preset's env_config (merged into it): MOCA on RPC with the grid game's fee levels
# (0.5 / 1 / 2 on a named action: with a fee of 1 on A2 the mixed outcomes are only weak equilibria).
WRAPPER_ENV_CONFIG = {"MOCA-grid-fees": {"transfer_levels": [0.5, 1.0, 2.0]}}


def wrapper_baselines(setting, budget):
    """The DCL paper's other baselines (Tables 5-7), IPPO on a wrapped game: Mediated-MARL with the
    unconstrained (and in the PD the constrained) mediator, and MOCA-style formal contracts.
    ``paper`` runs the ``tuned_configs/dcl_baselines/`` presets as they are; ``fast`` uses the fast
    IPPO's learning rate (3e-3) and epochs (4 in the PD with minibatches of 128; 5 in the grid game
    and RPC, whose Tables 6-7 share the batch of 512 games, with minibatches of half a batch), and
    where the preset has an entropy bonus (the mediators: Table 5's 1.0, Tables 6-7's 2.0, annealed
    over thousands of iterations) lets it fall from its start to 0 over 100 iterations. A batch
    holds the preset's games either way (a mediator adds one wrapper step per game step, contracts
    two per episode)."""
    from rllib_coopai.presets import preset_config, preset_training

    out = {}
    for name, preset in WRAPPER_BASELINES[setting].items():
        extra = dict(num_envs_per_env_runner=16)
        base = preset_training(f"dcl_baselines/{preset}")
        if budget == "fast":
            batch = base["train_batch_size_per_learner"]
            pd = setting == "pd"  # the PD's fast IPPO: 4 epochs, minibatch 128
            extra.update(lr=3e-3, num_epochs=4 if pd else 5, minibatch_size=128 if pd else batch // 2)
            entropy = base.get("entropy_coeff", 0.0)
            start = entropy[0][1] if isinstance(entropy, list) else entropy  # a schedule's first value
            if start > 0:
                extra["entropy_coeff"] = [[0, start], [100 * batch, 0.0]]
        if name in WRAPPER_ENV_CONFIG:
            extra["env_config"] = dict(base["env_config"], **WRAPPER_ENV_CONFIG[name])
        out[name] = preset_config(f"dcl_baselines/{preset}", **extra)
    return out


def settings(name, budget, n_agents=(2, 3, 5)):
    paper = budget == "paper"
    if name == "pd":
        b = 128 if paper else 256
        return {
            "DCL": dcl_config("prisoners_dilemma", budget=budget, ic_lambda=0.0,
                              train_batch_size_per_learner=b),
            "DCL-IC": dcl_config("prisoners_dilemma", budget=budget, ic_lambda=1.0,
                                 train_batch_size_per_learner=b),
            "DCL-decentralized": dcl_config("prisoners_dilemma", budget=budget, ic_lambda=0.0,
                                            mode="decentralized", train_batch_size_per_learner=b),
            "IPPO": ippo_config("prisoners_dilemma", budget),
            "IPPO-in-MCG": ippo_config("prisoners_dilemma", budget, mcg=True),
            **wrapper_baselines("pd", budget),
        }
    from rllib_coopai.presets import preset_training

    if paper:  # Tables 6-7 as they are
        table6 = dict(train_batch_size_per_learner=512, hidden_dim=32, num_epochs=30, gamma=0.99,
                      lr=4e-4, critic_lr=8e-4, temperature=1.0, temperature_decay=0.0,
                      min_temperature=1.0, entropy_coeff=2.0, entropy_decay=0.0005,
                      min_entropy_coeff=0.001)
        table7 = dict(table6)
    else:  # the fast presets of the grid game and of RPC with K = 2
        skip = ("ic_lambda", "env_config", "num_env_runners", "num_envs_per_env_runner", "mega_steps")
        table6 = {k: v for k, v in preset_training("dcl/grid_game_fast").items() if k not in skip}
        table7 = {k: v for k, v in preset_training("dcl/purely_conflicting_mega2_fast").items()
                  if k not in skip}
    def ippo_512(env):  # IPPO with Tables 6-7's batch and 2 x 32 ReLU networks
        return ippo_config(env, budget).training(
            train_batch_size_per_learner=512, minibatch_size=256 if not paper else 512,
            num_epochs=5 if not paper else 30).rl_module(
            model_config={"fcnet_hiddens": [32, 32], "fcnet_activation": "relu"})

    if name == "grid":
        return {"DCL": dcl_config("grid_game", budget=budget, ic_lambda=0.0, **table6),
                "DCL-IC": dcl_config("grid_game", budget=budget, ic_lambda=1.0, **table6),
                "IPPO": ippo_512("grid_game"), **wrapper_baselines("grid", budget)}
    if name == "rpc":
        return {"DCL-K2": dcl_config("purely_conflicting", budget=budget, ic_lambda=0.0,
                                     mega_steps=2, **table7),
                "DCL-IC-K2": dcl_config("purely_conflicting", budget=budget, ic_lambda=1.0,
                                        mega_steps=2, **table7),
                "DCL-K1": dcl_config("purely_conflicting", budget=budget, ic_lambda=0.0,
                                     mega_steps=1, **table7),  # no multi-step commitments
                "IPPO": ippo_512("purely_conflicting"), **wrapper_baselines("rpc", budget)}
    if name == "public_goods":
        # Table 8 gives only DCL-IC and batch 256; the rest is the PD's (fast) settings. A
        # 5x smaller entropy bonus (0.1, -0.002 / iter) was tried for N = 5 and oscillated
        # (docs/REPRODUCTION.md, public goods), so it is not the default.
        out = {f"DCL-IC N={n}": dcl_config("public_goods", {"n_agents": n}, budget=budget,
                                           ic_lambda=1.0, train_batch_size_per_learner=256)
               for n in n_agents}
        out.update({f"IPPO N={n}": ippo_config("public_goods", budget, env_config={"n_agents": n})
                    for n in n_agents})  # the plain game: free-riding dominates
        return out
    raise ValueError(f"unknown setting {name!r}; known: pd, grid, rpc, public_goods")


#: The wrappers' per-step rates recorded per iteration where the env reports them (Mediated-MARL:
#: share of agent steps delegated, mean coalition size; MOCA: share of game steps under a contract,
#: share of contracting stages with a proposal, share of proposals accepted).
WRAPPER_RATES = ("delegation_rate", "coalition_size", "contract_rate", "proposal_rate", "accept_rate")


def run(cfg, seed, iters, time_limit):
    algo = cfg.debugging(seed=seed).build_algo()
    hist = []
    t0 = time.perf_counter()
    try:
        for it in range(iters):
            res = algo.train()
            er = res["env_runners"]
            hist.append({
                "iter": it, "t": time.perf_counter() - t0,
                "env_steps": res["num_env_steps_sampled_lifetime"],
                "social_welfare": er.get("social_welfare"),
                "agreement_rate": er.get("agreement_rate"),
                "agent_returns": er.get("agent_returns"),
            })
            rates = {k: float(er[k]) for k in WRAPPER_RATES if k in er}
            if rates:
                hist[-1]["rates"] = rates
            if time_limit and time.perf_counter() - t0 > time_limit:
                break
    finally:
        algo.stop()
    return hist


def summarize(name, results, target):
    lines = [f"# DCL benchmark: {name}", "",
             "Per method: mean over seeds of the last 10 iterations (training batches, sampling "
             "policies). 'first >= target' = first iteration (and seconds) whose batch reached "
             "the target.", "",
             "| method | seeds | iters | final social welfare | final agreement | per-seed final SW | "
             "first >= target (iter / s) |", "|---|---|---|---|---|---|---|"]
    for method, runs in results.items():
        finals = [np.mean([h["social_welfare"] for h in r[-10:]]) for r in runs]
        agree = [np.mean([h["agreement_rate"] or 0.0 for h in r[-10:]]) for r in runs]
        hits = []
        for r in runs:
            hit = next((h for h in r if h["social_welfare"] is not None
                        and h["social_welfare"] >= target(method)), None)
            hits.append(f"{hit['iter']} / {hit['t']:.0f}" if hit else "never")
        lines.append(f"| {method} | {len(runs)} | {len(runs[0])} | {np.mean(finals):.3f} ± "
                     f"{np.std(finals):.3f} | {np.mean(agree):.3f} | "
                     f"{', '.join(f'{f:.2f}' for f in finals)} | {', '.join(hits)} |")
    return "\n".join(lines) + "\n"


def plot(name, results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for method, runs in results.items():
        # seeds on one grid: the iterations every seed reached (runs restored from a summary are thinned)
        last = min(r[-1]["iter"] for r in runs)
        x = np.array([h["iter"] for h in min(runs, key=len) if h["iter"] <= last], dtype=float)

        def on_x(r, key, missing):
            return np.interp(x, [h["iter"] for h in r], [missing if h[key] is None else h[key] for h in r])

        sw = np.array([on_x(r, "social_welfare", np.nan) for r in runs])
        ag = np.array([on_x(r, "agreement_rate", 0.0) for r in runs])  # None: a method without agreements
        for ax, y in ((axes[0], sw), (axes[1], ag)):
            m, se = y.mean(0), y.std(0) / np.sqrt(len(y))
            ax.plot(x, m, label=f"{method} ({len(runs)} seeds)")
            ax.fill_between(x, m - se, m + se, alpha=0.2)
    axes[0].set_title(f"{name}: social welfare")
    axes[1].set_title(f"{name}: agreement rate")
    for ax in axes:
        ax.set_xlabel("training iteration")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


REFERENCE = {"pd": -2.2, "grid": -10.0, "rpc": 15.0}
TABLE8_SW = {2: 0.997, 3: 1.491, 5: 1.989, 10: 3.659}  # DCL paper Table 8


def reference(setting, method):
    """Target social welfare of the 'first >= target' column: public goods uses 95 % of Table 8."""
    if setting == "public_goods":
        return 0.95 * TABLE8_SW.get(int(method.rsplit("=", 1)[-1]), 0.0)
    return REFERENCE.get(setting, 0.0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--setting", default="pd")
    p.add_argument("--methods", default="", help="comma list; default all of the setting")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0,
                   help="run seeds first-seed .. first-seed+seeds-1; with first-seed > 0 the "
                        "stored runs of seeds < first-seed are kept (adds seeds to a table)")
    p.add_argument("--iters", type=int, default=250)
    p.add_argument("--ippo-iters", type=int, default=40, help="iterations for the IPPO baselines")
    p.add_argument("--time-limit", type=float, default=0.0, help="seconds per run (0 = none)")
    p.add_argument("--budget", choices=["fast", "paper"], default="fast")
    p.add_argument("--out", default=OUT)
    p.add_argument("--n-agents", default="2,3,5", help="public_goods: comma list of N")
    p.add_argument("--override", default="",
                   help='JSON dict of DCL training keys applied to every DCL method, e.g. '
                        '\'{"entropy_coeff": 0.1}\'')
    p.add_argument("--tag", default="", help="suffix of the output files (tuning probes)")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the md and png from the existing json; train nothing")
    args = p.parse_args(argv)
    import ray

    import rllib_coopai  # noqa: F401

    if not args.report_only:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    cfgs = settings(args.setting, args.budget,
                    n_agents=tuple(int(n) for n in args.n_agents.split(",")))
    if args.methods:
        cfgs = {k: v for k, v in cfgs.items() if k in args.methods.split(",")}
    if args.override:
        override = json.loads(args.override)
        cfgs = {k: (v if k.startswith("IPPO") else v.training(**override)) for k, v in cfgs.items()}
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"{args.setting}{'_paper' if args.budget == 'paper' else ''}"
                                  f"{args.tag}")
    results, commands = {}, []
    if os.path.exists(stem + ".json"):
        old = json.load(open(stem + ".json"))
        results = old["results"]
        commands = old.get("commands", [old.get("argv", [])])
    if not args.report_only:
        commands = [c for c in commands if c != sys.argv[1:]] + [sys.argv[1:]]
    for method, cfg in ({} if args.report_only else cfgs).items():
        results[method] = list(results.get(method, []))[: args.first_seed]
        if len(results[method]) != args.first_seed:
            raise SystemExit(f"{method}: {len(results[method])} stored seeds, --first-seed "
                             f"{args.first_seed} needs exactly that many")
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            iters = args.ippo_iters if method.startswith("IPPO") else args.iters
            hist = run(cfg.copy(copy_frozen=False), seed, iters, args.time_limit)
            results[method].append(hist)
            last = hist[-1]
            print(f"{method} seed {seed}: iters {len(hist)} t {last['t']:.0f}s SW "
                  f"{last['social_welfare']:.3f} agree {last['agreement_rate']}", flush=True)
            json.dump({"setting": args.setting, "budget": args.budget, "commands": commands,
                       "results": results}, open(stem + ".json", "w"))
    plot(args.setting, results, stem + ".png")
    with open(stem + ".md", "w") as f:
        f.write(summarize(args.setting, results, lambda m: reference(args.setting, m)))
        f.write("\nCommands (later ones replace the methods they name):\n\n" + "".join(
            f"* `python benchmarks/dcl_learning.py {' '.join(c)}`\n" for c in commands))
    print(open(stem + ".md").read())
    if ray.is_initialized():
        ray.shutdown()


if __name__ == "__main__":
    main()
