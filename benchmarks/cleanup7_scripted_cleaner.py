"""Does the actor-critic learner harvest beside a scripted cleaner? agent_0's action is replaced by "clean"
(action 5) at every step of Cleanup 7x7 and AC agent_1 (LIO with ``incentives=False``) trains; the script
prints agent_1's mean return over the last 25 iterations every 25 iterations. With policy lr 1e-2 it
reached 6.6 / 16.4 / 28.1 / 37.7 / 38.4 at 5k / 10k / 20k / 30k / 40k env steps (the scripted pair's
upper bound is about 38), which showed that a flat AC curve on the full game is the social dilemma, not
a broken learner. The CI-sized version is
``tests/test_lio_learning.py::test_actor_critic_recipient_learns_to_harvest_beside_a_scripted_cleaner``.

    python benchmarks/cleanup7_scripted_cleaner.py --minutes 10 --override '{"policy_lr": 0.01}'
"""
import argparse
import json
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="wall clock per run")
    p.add_argument("--override", action="append", default=None,
                   help="JSON dict of LIO training keys; repeat for several runs (default: one run as is)")
    args = p.parse_args(argv)
    import numpy as np
    import ray
    import torch
    from ray.tune.registry import register_env

    import rllib_coopai  # noqa: F401
    from rllib_coopai.algorithms.lio import LIOConfig
    from rllib_coopai.envs import make
    from rllib_coopai.wrappers.rllib_env import RLlibParallelEnv

    torch.set_num_threads(1)

    def creator(cfg):
        env = RLlibParallelEnv(make("cleanup", **cfg))
        step = env.step

        def scripted_step(actions):
            return step({**actions, "agent_0": 5})  # agent_0 always cleans

        env.step = scripted_step
        return env

    register_env("cleanup_scripted_cleaner", creator)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    base = dict(incentives=False, policy_learner="ac", policy_lr=0.001, critic_lr=0.001, entropy_coeff=0.1,
                epsilon_end=0.05, epsilon_div=100, episodes_per_iteration=4, policy_hiddens=[64, 64])
    for override in [json.loads(o) for o in (args.override or ["{}"])]:
        cfg = (LIOConfig().environment("cleanup_scripted_cleaner", env_config={"map_size": "7x7"})
               .env_runners(num_env_runners=0).debugging(seed=0).training(**{**base, **override}))
        algo = cfg.build_algo()
        t0, returns, i = time.time(), [], 0
        while time.time() - t0 < 60 * args.minutes:
            res = algo.train()
            i += 1
            returns.append(res["env_runners"].get("agent_returns", {}).get("agent_1", float("nan")))
            if i % 25 == 0:
                print(override, i, res["env_runners"].get("num_env_steps_sampled_lifetime"), round(time.time() - t0),
                      "agent_1 return (last 25)", round(float(np.mean(returns[-25:])), 2), flush=True)
        algo.stop()
    ray.shutdown()


if __name__ == "__main__":
    main()
