"""A Ray Tune search over IPPO's learning rate and the PD's horizon from Python (the YAML
equivalent: ``rllib train file tuned_configs/...yaml`` with ``lr: {grid_search: [...]}``).

    python examples/tune_search.py

Every trial writes TensorBoard event files with the cooperation metrics under
``~/ray_results/ippo_pd_search``: ``tensorboard --logdir ~/ray_results/ippo_pd_search``.
"""
import os

import ray
from ray import tune

from rllib_coopai import IPPO, IPPOConfig
from rllib_coopai.cli.progress import ProgressCallback, summary_lines

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


def main():
    ray.init(include_dashboard=False, log_to_driver=False)
    config = (
        IPPOConfig()
        .environment("prisoners_dilemma",
                     env_config={"horizon": tune.grid_search([1, 5])})   # one-shot vs LIO's IPD
        .env_runners(num_env_runners=0)
        .training(lr=tune.grid_search([1e-3, 1e-4]),
                  entropy_coeff=tune.uniform(0.0, 0.01),
                  train_batch_size_per_learner=128, minibatch_size=128, num_epochs=1)
    )
    tuner = tune.Tuner(
        IPPO,
        param_space=config,
        tune_config=tune.TuneConfig(num_samples=1, metric="env_runners/social_welfare", mode="max"),
        run_config=tune.RunConfig(
            name="ippo_pd_search",
            stop={"training_iteration": 5},
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=True, checkpoint_frequency=5),
            callbacks=[ProgressCallback()],   # one line per iteration per trial
            verbose=0,
        ),
    )
    results = tuner.fit()
    best = results.get_best_result()
    print("best config:", {k: best.config[k] for k in ("lr", "entropy_coeff")},
          "horizon", best.config["env_config"]["horizon"])
    print("\n".join(summary_lines(best.metrics)))
    print("best checkpoint:", best.checkpoint.path if best.checkpoint else None)
    ray.shutdown()


if __name__ == "__main__":
    main()
