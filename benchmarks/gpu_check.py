"""GPU learners: train every algorithm a few iterations with 1 and 2 learners on CUDA.

For each algorithm (``ALGOS``: all nine of the package) and each learner count it
builds the smallest sensible config (``ALGO_CONFIGS`` below) with ``num_learners`` remote learners
asking for ``num_gpus_per_learner=1`` (``0.5`` when two learners must share one GPU), checks that
every parameter of every learner's modules lives on the device, trains ``--iters`` timed
iterations after one warm-up, and prints a table of env steps/s (RLlib's
``num_env_steps_sampled_lifetime`` over wall clock) and learner time per iteration (RLlib's
``learner_update_timer``). Exits with status 1 if any run failed.

    python benchmarks/gpu_check.py                   # on a machine with a GPU and CUDA torch
    python benchmarks/gpu_check.py --device cpu      # the same code path with CPU learners

The project's ``make install`` pins the CPU build of torch; on a GPU machine install a CUDA build
of the same version first (``pip install torch==2.13.0 --index-url
https://download.pytorch.org/whl/cu128``). On one GPU the whole check takes 2-4 minutes.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import time
import traceback

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

ALGOS = ["IPPO", "DCL", "LIO", "IncentiveDesigner", "DualRLDesigner", "AMD", "LOLAExact", "LOLAPG",
         "AmTFT"]

# name -> (env, env_config, training kwargs): small, but whole episodes for two learners.
ALGO_CONFIGS = {
    "IPPO": ("prisoners_dilemma", {}, dict(train_batch_size_per_learner=256, minibatch_size=128,
                                           num_epochs=2)),
    "DCL": ("prisoners_dilemma", {}, dict(train_batch_size_per_learner=256)),
    "LIO": ("escape_room", {"n_agents": 2, "min_at_lever": 1},
            dict(episodes_per_iteration=8, policy_hiddens=[64], incentive_hiddens=[64])),
    "IncentiveDesigner": ("escape_room", {"n_agents": 5, "min_at_lever": 2, "obs_mode": "designer"},
                          dict(designer="metagrad", episodes_per_iteration=8, agent_hidden=[64],
                               designer_hidden=[64])),
    "DualRLDesigner": ("escape_room", {"n_agents": 5, "min_at_lever": 2, "obs_mode": "designer"},
                       dict(train_batch_size_per_learner=256, minibatch_size=128, num_epochs=2)),
    "AMD": ("greed_fear", {}, dict(gradient="pg", episodes_per_iteration=16)),
    "LOLAExact": ("iterated_prisoners_dilemma", {}, dict(episodes_per_iteration=8)),
    "LOLAPG": ("coin_game", {"horizon": 20}, dict(episodes_per_iteration=8, policy_hiddens=[32])),
    # the cooperative-policy phase (PPO on the welfare reward), the bulk of amTFT's training
    "AmTFT": ("iterated_prisoners_dilemma", {}, dict(welfare=["utilitarian"], train_batch_size_per_learner=200,
                                                     minibatch_size=100, num_epochs=2)),
}


def algo_config(name, runners, learners, gpus_per_learner=0.0, runner_resources=None, seed=0):
    """The ``ALGO_CONFIGS`` setting of ``name`` with the given resources."""
    from rllib_coopai.algorithms import get_config_class

    if name not in ALGO_CONFIGS:
        raise ValueError(f"unknown algorithm {name!r}; this check knows {', '.join(ALGO_CONFIGS)}")
    env, env_config, training = ALGO_CONFIGS[name]
    return (get_config_class(name)()
            .environment(env, env_config=env_config)
            .env_runners(num_env_runners=runners,
                         custom_resources_per_env_runner=dict(runner_resources or {}))
            .learners(num_learners=learners, num_gpus_per_learner=gpus_per_learner)
            .training(**training)
            .debugging(seed=seed))


Timing = collections.namedtuple("Timing", "rate learn_s sample_s steps_per_iter")


def timed_training(algo, iters) -> "Timing":
    """One warm-up ``train()``, then ``iters`` timed ones: env steps/s over the wall clock, mean
    learner and sampling seconds per iteration (RLlib's ``learner_update_timer`` and
    ``env_runner_sampling_timer``) and env steps per iteration."""
    start = algo.train()["num_env_steps_sampled_lifetime"]
    t0 = time.perf_counter()
    learn, sample = [], []
    for _ in range(iters):
        res = algo.train()
        timers = res.get("timers", {})
        learn.append(timers.get("learner_update_timer", float("nan")))
        sample.append(timers.get("env_runner_sampling_timer", float("nan")))
    dt = time.perf_counter() - t0
    steps = res["num_env_steps_sampled_lifetime"] - start
    return Timing(steps / dt, sum(learn) / len(learn), sum(sample) / len(sample), steps / iters)


def learner_devices(algo):
    """The set of device types ('cuda', 'cpu') holding any learner's module parameters."""
    out = algo.learner_group.foreach_learner(
        lambda l: sorted({p.device.type for m in l.module.keys() for p in l.module[m].parameters()}))
    return sorted({d for r in out for d in r.get()})


def main(argv=None):
    import ray

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--algos", default=",".join(ALGOS))
    p.add_argument("--learners", default="1,2", help="learner counts, comma-separated")
    p.add_argument("--runners", type=int, default=2, help="env runners per run")
    p.add_argument("--iters", type=int, default=3, help="timed iterations after one warm-up")
    args = p.parse_args(argv)
    algos = [a for a in args.algos.split(",") if a]
    unknown = [a for a in algos if a not in ALGO_CONFIGS]
    if unknown:
        p.error(f"unknown algorithm(s) {unknown}; known: {', '.join(ALGO_CONFIGS)}")
    learner_counts = [int(n) for n in args.learners.split(",")]

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"--device cuda, but torch {torch.__version__} sees no CUDA device "
              "(install a CUDA build of torch, or use --device cpu)", file=sys.stderr)
        return 2
    n_gpus = torch.cuda.device_count() if args.device == "cuda" else 0
    # Logical CPUs for every actor of the largest run (learners take one CPU each without a GPU).
    need = args.runners + max(learner_counts) + 1
    ray.init(address="local", num_cpus=max(os.cpu_count() or 1, need), num_gpus=n_gpus,
             include_dashboard=False,
             log_to_driver=False)
    import rllib_coopai  # noqa: F401  (registers envs and algorithms)

    print(f"torch {torch.__version__}, device {args.device}"
          + (f" ({torch.cuda.get_device_name(0)}, {n_gpus} GPU)" if n_gpus else "")
          + f", {args.runners} env runners, cluster {ray.cluster_resources()}", flush=True)
    rows, failed = [], 0
    for name in algos:
        for n in learner_counts:
            gpus = 0.0 if args.device == "cpu" else (1.0 if n_gpus >= n else 1.0 / n)
            algo = None
            try:
                algo = algo_config(name, args.runners, n, gpus).build_algo()
                devices = learner_devices(algo)
                if devices != [args.device]:
                    raise AssertionError(f"learner parameters on {devices}, expected [{args.device!r}]")
                timing = timed_training(algo, args.iters)
                rate, learn_s = timing.rate, timing.learn_s
                devices = learner_devices(algo)  # still there after the updates
                if devices != [args.device]:
                    raise AssertionError(f"after training: parameters on {devices}")
                rows.append((name, n, gpus, rate, learn_s, "ok"))
            except Exception as err:  # report and keep checking the rest
                failed += 1
                traceback.print_exc()
                rows.append((name, n, gpus, float("nan"), float("nan"),
                             f"FAILED: {type(err).__name__}: {str(err).splitlines()[0][:80]}"))
            finally:
                if algo is not None:
                    algo.stop()
            print(" | ".join(str(x) for x in rows[-1]), flush=True)
    ray.shutdown()
    print()
    print("| algorithm | learners | GPUs per learner | env steps/s | learner s/iter | status |")
    print("|---|---:|---:|---:|---:|---|")
    for name, n, gpus, rate, learn_s, status in rows:
        print(f"| {name} | {n} | {gpus:g} | {rate:,.0f} | {learn_s:.3f} | {status} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
