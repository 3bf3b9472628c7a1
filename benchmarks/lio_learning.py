"""LIO learning curves vs the independent-PG (or actor-critic) baseline; writes JSON + PNG.

    python benchmarks/lio_learning.py --setting er21 --seeds 0 1 2 3 4 --iters 300
    python benchmarks/lio_learning.py --setting er32 --seeds 0 1 2 --iters 600
    python benchmarks/lio_learning.py --setting ipd --seeds 0 1 2 --iters 200
    python benchmarks/lio_learning.py --setting cleanup7 --seeds 0 --iters 200
    python benchmarks/lio_learning.py --setting cleanup7_thesis --seeds 0 --iters 1000000 --minutes 40 \
        --eval-every 250 --eval-episodes 4 --override '{"policy_lr": 0.001}' --no-baseline
    python benchmarks/lio_learning.py --setting er32_thesis --seeds 0 --iters 50000 --eval-every 1000 \
        --eval-episodes 10 --minutes 95 --no-baseline --tag er32_thesis_s0

Each run trains with ``num_env_runners=0`` and evaluates the greedy policies (``explore=False``,
10 episodes) every ``--eval-every`` iterations. Results go to ``runs/lio/<tag>.json`` and
``runs/lio/<tag>.png`` (mean +- s.e. over seeds of the greedy social welfare; git-ignored);
``python benchmarks/reproduce.py --claim lio_<claim>`` runs a paper claim's commands and summarises
them into ``docs/results/`` for ``docs/REPRODUCTION.md``.
The settings use the CI-sized hyperparameters of ``tests/test_lio_learning.py`` (batches of
episodes, larger learning rates than the thesis's one-episode updates), not the thesis's YAMLs;
``cleanup7_thesis`` is Table B.5 as it stands (``tuned_configs/lio/cleanup_7x7*.yaml``) and
``er32_thesis`` Table B.4's N=3 column (``tuned_configs/lio/escape_room_3_2.yaml``), both read
from those YAMLs. Every evaluation also samples the softmax policies with the epsilon floor set to 0
(``policy_social_welfare``): that is the reference code's evaluation, the metric of the thesis's
curves (``evaluate.test_room_symmetric`` / ``test_ssd`` sample ``run_actor`` with epsilon 0; older
Escape Room results lack it). Every evaluation is written to the JSON at once, so a run
cut short keeps its curve.

At every evaluation the algorithm is also saved to ``runs/lio_learning/<tag>/<lio|baseline>_seed<N>``
(``--checkpoint-dir`` to change), so a run can be continued later with the same command plus
``--resume`` and a larger ``--iters`` / new ``--minutes``:

    python benchmarks/lio_learning.py --setting cleanup7_thesis --seeds 7 --iters 1000000 --minutes 30 \
        --eval-every 250 --eval-episodes 4 --no-baseline --tag cleanup7_fast_lio_s7 \
        --override '{"policy_lr": 0.001}' --resume

``--final-eval 100`` adds a 100-episode evaluation (greedy and softmax) of the final policies to each
seed's entry; on a finished run, ``--resume --final-eval 100`` with the run's own ``--iters`` only
evaluates its checkpoint (how the er32_thesis and two-rollout checkpoints were scored).
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "runs", "lio")

ER_FAST = dict(policy_lr=0.01, incentive_lr=0.03, cost_lr=0.001, entropy_coeff=0.1, epsilon_div=100,
               episodes_per_iteration=16, schedule="one_rollout")
TUNED = os.path.join(ROOT, "tuned_configs", "lio")


def tuned(name, **changes):
    """``(env, env_config, training keys)`` of ``tuned_configs/lio/<name>.yaml`` (+ ``changes``).

    The thesis settings below are read from the YAMLs that ``rllib train`` runs, so the benchmark and
    the tuned configs cannot drift apart. Keys that are not LIO training keys (``num_env_runners``;
    the runs here always sample on the local runner) are dropped.
    """
    from rllib_coopai.cli.experiment import read_file

    (exp,) = read_file(os.path.join(TUNED, f"{name}.yaml")).values()
    training = {k: v for k, v in exp["config"].items() if k not in ("env_config", "num_env_runners")}
    return exp["env"], exp["config"]["env_config"], {**training, **changes}


def thesis(lio_file, baseline_file=None):
    """A setting from tuned YAMLs; the baseline is ``baseline_file`` or the LIO file without incentives."""
    env, env_config, lio = tuned(lio_file)
    base = tuned(baseline_file)[2] if baseline_file else {**lio, "incentives": False}
    return env, env_config, lio, base


SETTINGS = {
    "er21": ("escape_room", {"n_agents": 2, "min_at_lever": 1}, ER_FAST, {**ER_FAST, "incentives": False}),
    # ER(3,2): Table B.4's N=3 exploration floor (0.3) and its cost/incentive lr ratio 1:10 (cost_lr
    # 0.001 -> 0.003): with ER(2,1)'s 1:30 the lever-pullers' bribes to the winner outgrow its exit
    # reward and the greedy policies collapse to "all at the lever" (docs/REPRODUCTION.md, ER(3,2)).
    "er32": ("escape_room", {"n_agents": 3, "min_at_lever": 2}, dict(ER_FAST, epsilon_end=0.3, cost_lr=0.003),
             dict(ER_FAST, epsilon_end=0.3, cost_lr=0.003, incentives=False)),
    # Table B.4's N=3 column as it stands (tuned_configs/lio/escape_room_3_2.yaml): one-episode updates,
    # the thesis's two-rollout schedule, policy lr 1e-4, separate cost Adam lr 1e-4, epsilon 0.5 -> 0.3
    # over 1000 updates; baseline = the same without incentives.
    "er32_thesis": thesis("escape_room_3_2"),
    # ER(5,3) (optimum 17: three pull, two exit) and the asymmetric ER (optimum 9; A1 = player_0 is
    # the only LIO agent, A2 plain PG): the ER(3,2) settings / ER(2,1)'s.
    "er53": ("escape_room", {"n_agents": 5, "min_at_lever": 3}, dict(ER_FAST, epsilon_end=0.3, cost_lr=0.003),
             dict(ER_FAST, epsilon_end=0.3, cost_lr=0.003, incentives=False)),
    "asym": ("escape_room", {"asymmetric": True}, dict(ER_FAST, lio_agents=["player_0"]),
             dict(ER_FAST, incentives=False)),
    "ipd": ("prisoners_dilemma", {"horizon": 5},
            dict(policy_lr=0.01, incentive_lr=0.01, cost_coeff=0.0, separate_cost_optimizer=False, r_max=3.0,
                 entropy_coeff=0.1, epsilon_start=1.0, epsilon_end=0.01, epsilon_div=50, episodes_per_iteration=16,
                 policy_hiddens=[16, 8], incentive_hiddens=[16, 8]),
            dict(incentives=False, policy_lr=0.01, entropy_coeff=0.1, epsilon_start=1.0, epsilon_end=0.01,
                 epsilon_div=50, episodes_per_iteration=16, policy_hiddens=[16, 8])),
    "cleanup7": ("cleanup", {"map_size": "7x7"},
                 dict(policy_learner="ac", policy_lr=0.001, incentive_lr=0.001, critic_lr=0.001, cost_coeff=1e-4,
                      separate_cost_optimizer=False, entropy_coeff=0.1, epsilon_end=0.05, epsilon_div=100,
                      episodes_per_iteration=4, policy_hiddens=[64, 64], incentive_hiddens=[64, 64]),
                 dict(incentives=False, policy_learner="ac", policy_lr=0.001, critic_lr=0.001, entropy_coeff=0.1,
                      epsilon_end=0.05, epsilon_div=100, episodes_per_iteration=4, policy_hiddens=[64, 64])),
    # Table B.5 as it stands (tuned_configs/lio/cleanup_7x7.yaml and cleanup_7x7_ac.yaml): one-episode
    # updates, policy lr 1e-4 for LIO and 1e-3 for AC, epsilon 0.5 -> 0.05 over 100 updates, and the
    # reference code's TF1 initialisers (PyTorch's smaller defaults shrink the meta-gradient ~1000x).
    "cleanup7_thesis": thesis("cleanup_7x7", "cleanup_7x7_ac"),
    # cleanup_7x7_batched(_ac).yaml: batches of 8 episodes from 8 vector envs, policy lr 4e-3, critic lr
    # 3e-3, epsilon over 13 updates, and (LIO) giver_critic="extrinsic" (docs/REPRODUCTION.md, Cleanup 7x7).
    "cleanup7_batched": thesis("cleanup_7x7_batched", "cleanup_7x7_batched_ac"),
    # Table B.5's 10x10 columns: the 7x7 settings with epsilon annealed over 1000 (LIO) / 5000 (AC) updates.
    "cleanup10_thesis": thesis("cleanup_10x10", "cleanup_10x10_ac"),
}


def same_training(a, b):
    """Whether two training-key dicts configure LIO identically (a key one of them leaves out counts
    at LIOConfig's default), so that results recorded before a key moved into a tuned YAML resume."""
    from rllib_coopai.algorithms.lio import LIOConfig

    a, b, key = dict(a), dict(b), "num_envs_per_env_runner"  # an EnvRunner key: compared on its own
    if a.pop(key, 1) != b.pop(key, 1):
        return False
    ca, cb = LIOConfig().training(**a), LIOConfig().training(**b)
    return all(getattr(ca, k) == getattr(cb, k) for k in set(a) | set(b))


def evaluate(algo, n=5, explore=False):
    """Collective env return / cooperation rate of the evaluated policies.

    ``explore=False``: the greedy (argmax) policies. ``explore=True``: actions sampled from the
    softmax policies with the exploration floor set to 0 -- the reference code's evaluation
    (``test_ssd`` runs the actors with epsilon 0). The evaluation samples in the training process;
    its random draws are put back afterwards (``preserved_process_rng``), so a run's training
    does not depend on how often or how it is evaluated.
    """
    from rllib_coopai.core.rng_state import preserved_process_rng

    algo.eval_env_runner_group.sync_weights(from_worker_or_learner_group=algo.learner_group)
    runner = algo.eval_env_runner_group.local_env_runner
    if explore:
        for mid in runner.module.keys():
            eps = getattr(runner.module[mid], "epsilon", None)
            if eps is not None:
                eps.fill_(0.0)
    with preserved_process_rng():
        episodes = runner.sample(num_episodes=n, explore=explore)
    coop = [float(i["cooperated"]) for ep in episodes for sa in ep.agent_episodes.values()
            for i in sa.get_infos()[1:] if "cooperated" in i]
    return {"social_welfare": sum(ep.get_return() for ep in episodes) / n,
            "cooperation_rate": sum(coop) / max(len(coop), 1)}


def run(env, env_config, training, seed, iters, eval_every, minutes=None, eval_episodes=5, on_progress=None,
        checkpoint=None, resume_from=None, final_eval=0):
    """Train one seed, evaluating every ``eval_every`` iterations.

    ``checkpoint``: a directory the algorithm is saved to at every evaluation (so a run that is cut
    off keeps its last evaluated state). ``resume_from``: this seed's earlier result entry; the
    algorithm is then restored from ``checkpoint`` (weights, optimizer states, epsilon, iteration
    and env-step counters) and its curve is continued. The random streams after a resume differ
    from those of an uninterrupted run. ``final_eval``: at the end, evaluate the greedy and the
    softmax policies over this many episodes (``final_eval`` in the entry); resuming a finished run
    with it only evaluates.
    """
    from rllib_coopai.algorithms.lio import LIOConfig

    training = dict(training)
    num_envs = training.pop("num_envs_per_env_runner", 1)  # an EnvRunner key, allowed in --override / YAMLs
    cfg = (
        LIOConfig().environment(env, env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=num_envs)
        .debugging(seed=seed).training(**training)
        .evaluation(evaluation_interval=10**6, evaluation_duration=10, evaluation_duration_unit="episodes",
                    evaluation_config={"explore": False})
    )
    algo = cfg.build_algo()
    curve, t0, extra = [], time.time(), {}
    if resume_from is not None:
        algo.restore_from_path(checkpoint)
        if algo.iteration != resume_from["curve"][-1]["iteration"]:
            raise SystemExit(f"checkpoint {checkpoint} is at iteration {algo.iteration}, the results at "
                             f"{resume_from['curve'][-1]['iteration']}: they do not belong together")
        curve = list(resume_from["curve"])
        extra = {k: resume_from[k] for k in ("resumed_at", "final_eval") if k in resume_from}
        if iters > algo.iteration:
            extra["resumed_at"] = extra.get("resumed_at", []) + [algo.iteration]
            extra.pop("final_eval", None)
        t0 -= resume_from["seconds"]
    t_start, first = time.time(), algo.iteration + 1
    try:
        for i in range(first, iters + 1):
            res = algo.train()
            out_of_time = minutes is not None and time.time() - t_start > 60.0 * minutes
            if i % eval_every == 0 or i == iters or out_of_time:
                ev = evaluate(algo, eval_episodes)
                ev_pi = evaluate(algo, eval_episodes, explore=True)
                curve.append({
                    "iteration": i,
                    "env_steps": res["env_runners"].get("num_env_steps_sampled_lifetime"),
                    "seconds": round(time.time() - t0, 1),
                    "greedy_social_welfare": ev["social_welfare"],
                    "greedy_cooperation_rate": ev["cooperation_rate"],
                    "policy_social_welfare": ev_pi["social_welfare"],
                    "policy_cooperation_rate": ev_pi["cooperation_rate"],
                    "train_social_welfare": res["env_runners"].get("social_welfare"),
                    "incentives": {
                        str(mid): {k: float(v) for k, v in m.items() if str(k).startswith("incentives_")}
                        for mid, m in res.get("learners", {}).items() if isinstance(m, dict)
                        and any(str(k).startswith("incentives_") for k in m)
                    },
                })
                print(seed, curve[-1], flush=True)
                if checkpoint is not None:
                    algo.save_to_path(checkpoint)
                if on_progress is not None:  # long runs: keep what is done on disk
                    on_progress({"seed": seed, "seconds": time.time() - t0, "curve": curve, "partial": True, **extra})
            if out_of_time:
                break
        seconds = time.time() - t0 if iters >= first or resume_from is None else resume_from["seconds"]
        if final_eval:
            greedy, pi = evaluate(algo, final_eval), evaluate(algo, final_eval, explore=True)
            extra["final_eval"] = {"iteration": algo.iteration, "episodes": final_eval,
                                   "greedy_social_welfare": greedy["social_welfare"],
                                   "policy_social_welfare": pi["social_welfare"],
                                   "policy_cooperation_rate": pi["cooperation_rate"]}
            print(seed, extra["final_eval"], flush=True)
    finally:
        algo.stop()
    return {"seed": seed, "seconds": seconds, "curve": curve, **extra}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--setting", choices=sorted(SETTINGS), default="er21")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--eval-every", type=int, default=20)
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--no-lio", action="store_true")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock cap per run")
    p.add_argument("--eval-episodes", type=int, default=5)
    p.add_argument("--append", action="store_true",
                   help="merge these seeds into the existing JSON (same seed replaced)")
    p.add_argument("--tag", default=None, help="output name (default: the setting)")
    p.add_argument("--checkpoint-dir", default=None,
                   help="save each run's algorithm here at every evaluation, as <dir>/<lio|baseline>_seed<N> "
                        "(default: runs/lio_learning/<tag>)")
    p.add_argument("--resume", action="store_true",
                   help="continue these seeds from their checkpoints and the curves in <tag>.json, up to --iters "
                        "(implies --append)")
    p.add_argument("--final-eval", type=int, default=0, metavar="EPISODES",
                   help="after training, evaluate the greedy and the softmax policies over this many episodes; "
                        "with --resume on a finished run (--iters = its last iteration) it only evaluates")
    p.add_argument("--override", default=None,
                   help='JSON dict of training keys applied to both LIO and the baseline, '
                        'e.g. \'{"policy_lr": 0.01}\'')
    args = p.parse_args()
    torch.set_num_threads(1)
    import ray

    import rllib_coopai  # noqa: F401

    env, env_config, lio_kw, base_kw = SETTINGS[args.setting]
    if args.override:
        extra = json.loads(args.override)
        lio_kw, base_kw = {**lio_kw, **extra}, {**base_kw, **extra}
    results = {"setting": args.setting, "env": env, "env_config": env_config, "lio": [], "baseline": [],
               "lio_training": lio_kw, "baseline_training": base_kw}
    tag = args.tag or args.setting
    path = os.path.join(OUT, f"{tag}.json")
    ckpt_root = os.path.abspath(args.checkpoint_dir or os.path.join(ROOT, "runs", "lio_learning", tag))

    def ckpt_of(key, seed):
        return os.path.join(ckpt_root, f"{key}_seed{seed}")

    earlier = {}  # (key, seed) -> the entry a --resume continues
    if args.resume and not os.path.exists(path):
        raise SystemExit(f"--resume: no earlier results at {path}")
    if (args.append or args.resume) and os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        for key, ran in (("lio", not args.no_lio), ("baseline", not args.no_baseline)):
            results[key] = [r for r in old.get(key, []) if not (ran and r["seed"] in args.seeds)]
            if args.resume and ran:
                if not same_training(old.get(f"{key}_training") or {}, results[f"{key}_training"]):
                    raise SystemExit(f"--resume: the {key} training settings differ from those in {path} "
                                     "(pass the same --setting and --override)")
                for seed in args.seeds:
                    entry = next((r for r in old.get(key, []) if r and r["seed"] == seed and r["curve"]), None)
                    if entry is None or not os.path.isdir(ckpt_of(key, seed)):
                        raise SystemExit(f"--resume: seed {seed} ({key}) needs an evaluated run in {path} and "
                                         f"its checkpoint {ckpt_of(key, seed)}")
                    earlier[key, seed] = entry
    os.makedirs(OUT, exist_ok=True)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

    def save():
        with open(path, "w") as f:
            json.dump(results, f, indent=1, default=float)

    for seed in args.seeds:
        for key, kw, skip in (("lio", lio_kw, args.no_lio), ("baseline", base_kw, args.no_baseline)):
            if skip:
                continue
            results[key].append(None)

            def progress(entry, key=key):
                results[key][-1] = entry
                save()

            results[key][-1] = run(env, env_config, kw, seed, args.iters, args.eval_every,
                                   args.minutes, args.eval_episodes, on_progress=progress,
                                   checkpoint=ckpt_of(key, seed),
                                   resume_from=earlier.get((key, seed)), final_eval=args.final_eval)
            save()
    ray.shutdown()
    for key in ("lio", "baseline"):
        results[key].sort(key=lambda r: r["seed"])
    save()
    plot(results, os.path.join(OUT, f"{tag}.png"))


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fields = [("greedy_social_welfare", "greedy collective return")]
    if results["setting"].startswith("cleanup"):  # Cleanup: also the training (exploring) return
        fields.append(("train_social_welfare", "training collective return (behaviour policy)"))
    if any(r and r["curve"] and "policy_social_welfare" in r["curve"][0]
           for key in ("lio", "baseline") for r in results[key]):
        fields.append(("policy_social_welfare", "collective return, softmax policy without epsilon"))
    fig, axes = plt.subplots(1, len(fields), figsize=(5.5 * len(fields), 4), squeeze=False)
    for ax, (field, ylabel) in zip(axes[0], fields):
        for key, label in (("lio", "LIO"), ("baseline", "independent PG/AC")):
            # Runs recorded before a field existed (e.g. the softmax evaluation) are left out of its panel.
            runs = [r for r in results[key] if r and r["curve"] and field in r["curve"][0]]
            if not runs:
                continue
            n = min(len(r["curve"]) for r in runs)  # time-capped runs may differ in length
            x = [np.mean([r["curve"][k]["env_steps"] for r in runs]) for k in range(n)]
            y = np.array([[r["curve"][k].get(field, np.nan) for k in range(n)] for r in runs], float)
            m = y.mean(0)
            se = y.std(0) / np.sqrt(len(runs))
            ax.plot(x, m, label=f"{label} ({len(runs)} seeds)")
            ax.fill_between(x, m - se, m + se, alpha=0.3)
        ax.set_xlabel("env steps sampled")
        ax.set_ylabel(ylabel)
        ax.legend()
    axes[0][0].set_title(f"LIO, {results['setting']} {results['env_config']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
