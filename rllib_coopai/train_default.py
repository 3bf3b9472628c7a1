"""``make train`` = ``python -m rllib_coopai.train_default``: train the default experiment.

The default experiment (:func:`default_experiment`) is DCL on the one-shot Prisoner's Dilemma
(``rllib_coopai.algorithms.dcl.default_experiment_config()``); ``--algo ippo`` runs the IPPO
baseline on the same game (DCL paper Table 5 settings) for comparison. Training stops early
once mutual cooperation is reached and held for 5 iterations. It prints one progress
line per iteration, a final summary (per-agent returns, social welfare, cooperation rate, agreement
rate if present) and saves a checkpoint that ``rllib evaluate`` can roll out.

    python -m rllib_coopai.train_default [--iterations 300] [--algo dcl|ippo] [--seed 0]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Optional, Tuple

DEFAULT_ITERATIONS = 300


def ippo_default_config(seed: Optional[int] = 0):
    """IPPO on the one-shot PD, DCL paper Table 5 (IPPO column), batch 128, 8-8 ReLU MLPs."""
    from rllib_coopai.algorithms.ippo import IPPOConfig

    return (
        IPPOConfig()
        .environment("prisoners_dilemma", env_config={"horizon": 1})
        .env_runners(num_env_runners=0)
        .training(train_batch_size_per_learner=128, minibatch_size=128, num_epochs=1, lr=4e-4,
                  kl_coeff=0.2, kl_target=0.01, clip_param=0.3, entropy_coeff=0.0)
        .rl_module(model_config={"fcnet_hiddens": [8, 8], "fcnet_activation": "relu"})
        .debugging(seed=seed)
    )


def default_experiment(algo: str = "dcl", seed: Optional[int] = 0) -> Tuple[str, object, str]:
    """``(name, AlgorithmConfig, why)`` of the experiment ``make train`` runs (DCL unless asked)."""
    if algo == "ippo":
        return "IPPO", ippo_default_config(seed), "IPPO baseline, DCL paper Table 5"
    from rllib_coopai.algorithms.dcl import default_experiment_config

    return "DCL", default_experiment_config(seed=seed), "DCL, rllib_coopai.algorithms.dcl.default_experiment_config()"


def converged(history, window: int = 5) -> bool:
    """Mutual cooperation reached and held: the last ``window`` iterations all have social welfare
    >= -2.1 (mutual cooperation is -2, defection -4) and, where reported, agreement >= 0.95."""
    if len(history) < window:
        return False
    for er in history[-window:]:
        if er.get("social_welfare", -1e9) < -2.1 or er.get("agreement_rate", 1.0) < 0.95:
            return False
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rllib_coopai.train_default",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS)
    parser.add_argument("--algo", choices=("dcl", "ippo"), default="dcl")
    parser.add_argument("--no-early-stop", action="store_true",
                        help="run all iterations even after cooperation is reached and held")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-dir", default=os.path.expanduser("~/ray_results/train_default"))
    args = parser.parse_args(argv)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")

    import ray

    import rllib_coopai  # noqa: F401  (registers envs and algorithms)
    from rllib_coopai.cli.progress import format_progress, summary_lines

    name, config, why = default_experiment(args.algo, args.seed)
    print(f"Default experiment: {name} on {config.env!r} ({why}), {args.iterations} iterations",
          flush=True)
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    algo = config.build_algo()
    start = time.time()
    result = {}
    try:
        history = []
        for _ in range(args.iterations):
            result = algo.train()
            print(format_progress(result), flush=True)
            history.append(result.get("env_runners", {}))
            if not args.no_early_stop and converged(history):
                print(f"== mutual cooperation held for 5 iterations: stopping at iteration "
                      f"{len(history)}", flush=True)
                break
        path = algo.save_to_path(os.path.join(args.checkpoint_dir, name))
    finally:
        algo.stop()
    steps = result.get("num_env_steps_sampled_lifetime", 0)
    elapsed = time.time() - start
    print(f"== {name} finished: {elapsed:.1f}s, {steps / max(elapsed, 1e-9):,.0f} env steps/s")
    for line in summary_lines(result):
        print(line)
    print(f"  checkpoint:      {path}")
    print(f"  roll it out:     rllib evaluate {path} --episodes 10")
    return 0


if __name__ == "__main__":
    sys.exit(main())
