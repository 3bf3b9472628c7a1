"""``make train`` = ``python -m rllib_coopai.train_default``: train the default experiment.

The default experiment is chosen by :func:`default_experiment` (one function to switch): DCL on the
one-shot Prisoner's Dilemma when ``rllib_coopai.algorithms.dcl.default_experiment_config()`` exists
and imports, else IPPO on the one-shot PD (dcl.md §2.9 Table 5 settings). It prints one progress
line per iteration, a final summary (per-agent returns, social welfare, cooperation rate, agreement
rate if present) and saves a checkpoint that ``rllib evaluate`` can roll out.

    python -m rllib_coopai.train_default [--iterations 20] [--algo auto|dcl|ippo] [--seed 0]
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from typing import Optional, Tuple

DEFAULT_ITERATIONS = 20


def ippo_default_config(seed: Optional[int] = 0):
    """IPPO on the one-shot PD, dcl.md §2.9 Table 5 (IPPO column), batch 128, 8-8 ReLU MLPs."""
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


def default_experiment(algo: str = "auto", seed: Optional[int] = 0) -> Tuple[str, object, str]:
    """``(name, AlgorithmConfig, why)`` of the experiment ``make train`` runs.

    ``algo="auto"``: DCL's ``default_experiment_config()`` if it exists and imports, else IPPO.
    """
    why = ""
    if algo in ("auto", "dcl"):
        try:
            fn = None
            for module in ("rllib_coopai.algorithms.dcl", "rllib_coopai.algorithms.dcl.dcl"):
                fn = getattr(importlib.import_module(module), "default_experiment_config", None)
                if fn is not None:
                    break
            if fn is None:
                raise AttributeError("rllib_coopai.algorithms.dcl has no default_experiment_config()")
            return "DCL", fn(seed=seed), "DCL's default_experiment_config()"
        except Exception as e:  # noqa: BLE001 - any failure falls back to the IPPO baseline
            if algo == "dcl":
                raise
            why = f" (DCL default experiment unavailable: {type(e).__name__}: {e})"
    return "IPPO", ippo_default_config(seed), "IPPO baseline, dcl.md Table 5" + why


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rllib_coopai.train_default",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS)
    parser.add_argument("--algo", choices=("auto", "dcl", "ippo"), default="auto")
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
        for _ in range(args.iterations):
            result = algo.train()
            print(format_progress(result), flush=True)
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
