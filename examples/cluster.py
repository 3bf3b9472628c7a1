"""Run an experiment on a Ray cluster (``examples/cluster.yaml``): many CPU env runners for
sampling, GPU learners for the updates. The algorithm config is the laptop one; only resources
change.

    ray exec examples/cluster.yaml 'python examples/cluster.py --env-runners 30 --learners 2'
    python examples/cluster.py --address local --env-runners 2 --learners 0 --iterations 2  # laptop

The CLI does the same from a YAML file:
``rllib train file tuned_configs/ippo/cleanup.yaml --address auto --config '{"num_env_runners": 30,
"custom_resources_per_env_runner": {"env_runner_slot": 1}, "num_learners": 2, "num_gpus_per_learner": 1}'``
"""
import argparse
import os

import ray
from ray import tune

import rllib_coopai  # noqa: F401  (registers envs and algorithms with Ray)
from rllib_coopai import algorithms
from rllib_coopai.cli.experiment import load_experiments
from rllib_coopai.cli.progress import ProgressCallback, summary_lines

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--address", default="auto", help="'auto' = the cluster this node belongs to; "
                                                     "'local' = start a local Ray")
    p.add_argument("--file", default=os.path.join(ROOT, "tuned_configs", "ippo", "cleanup.yaml"))
    p.add_argument("--env-runners", type=int, default=30)
    p.add_argument("--learners", type=int, default=2)
    p.add_argument("--iterations", type=int, default=200)
    p.add_argument("--storage-path", default=os.path.expanduser("~/ray_results"))
    args = p.parse_args()

    ray.init(address=None if args.address == "local" else args.address)
    has_gpus = ray.cluster_resources().get("GPU", 0) >= max(args.learners, 1)
    has_slots = "env_runner_slot" in ray.cluster_resources()
    resources = {
        "num_env_runners": args.env_runners,
        "num_learners": args.learners,
        "num_gpus_per_learner": 1 if has_gpus and args.learners > 0 else 0,
        # CPU nodes of cluster.yaml advertise `env_runner_slot`: sampling stays off the GPU nodes
        "custom_resources_per_env_runner": {"env_runner_slot": 1} if has_slots else {},
    }
    [exp] = load_experiments(args.file, config_overrides=resources,
                             stop={"training_iteration": args.iterations},
                             storage_path=args.storage_path)
    print(f"{exp.run} on {exp.env!r} with {resources}; cluster: {ray.cluster_resources()}")
    results = tune.Tuner(
        algorithms.get_algorithm_class(exp.run),
        param_space=exp.config,
        run_config=tune.RunConfig(
            name=exp.name, storage_path=exp.storage_path, stop=exp.stop,
            checkpoint_config=tune.CheckpointConfig(**exp.checkpoint),
            failure_config=tune.FailureConfig(max_failures=3),   # node loss: resume from checkpoint
            callbacks=[ProgressCallback()], verbose=0),
    ).fit()
    best = results[0]
    print("\n".join(summary_lines(best.metrics)))
    print("checkpoint:", best.checkpoint.path if best.checkpoint else None)


if __name__ == "__main__":
    main()
