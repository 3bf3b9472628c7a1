"""Quickstart: the Python API. Train IPPO on the one-shot Prisoner's Dilemma, print the cooperation
metrics every iteration, save a checkpoint, restore it and keep training.

    python examples/quickstart.py

Swap ``IPPOConfig`` for ``DCLConfig`` / ``LIOConfig`` (``rllib_coopai.algorithms``) to train this
package's other algorithms with the same calls.
"""
import os
import tempfile

import ray
from ray.rllib.algorithms.algorithm import Algorithm

from rllib_coopai import IPPOConfig
from rllib_coopai.cli.progress import format_progress

os.environ.setdefault("RAY_AUTH_MODE", "disabled")


def main(iterations: int = 5):
    ray.init(include_dashboard=False, log_to_driver=False)
    config = (
        IPPOConfig()
        .environment("prisoners_dilemma", env_config={"horizon": 1})  # see rllib_coopai.envs.names()
        .env_runners(num_env_runners=0)           # 2+ for parallel sampling on a bigger machine
        .training(lr=4e-4, train_batch_size_per_learner=128, minibatch_size=128, num_epochs=1)
        .rl_module(model_config={"fcnet_hiddens": [8, 8]})
        .debugging(seed=0)
    )
    algo = config.build_algo()
    for _ in range(iterations):
        result = algo.train()
        print(format_progress(result))
        # the same numbers, by hand: result["env_runners"]["social_welfare"],
        # result["env_runners"]["agent_returns"]["player_0"], result["env_runners"]["cooperation_rate"]
    path = algo.save_to_path(os.path.join(tempfile.mkdtemp(), "ippo_pd"))
    algo.stop()

    restored = Algorithm.from_checkpoint(path)   # the same algorithm, weights and optimizer state
    print("restored:", format_progress(restored.train()))
    restored.stop()
    print(f"checkpoint: {path}\nroll it out with: rllib evaluate {path} --episodes 10")
    ray.shutdown()


if __name__ == "__main__":
    main()
