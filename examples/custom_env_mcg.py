"""Bring your own PettingZoo game, play it as a Markov Commitment Game (DCL paper §2).

1. Write a plain PettingZoo ``ParallelEnv`` (here: a 3-player Volunteer's Dilemma; it follows the
   package's info contract, ``infos[agent]["cooperated"]``, so cooperation_rate is logged).
2. Register it: ``rllib_coopai.envs.register(name, factory, description)`` then
   ``rllib_coopai.register_all()`` (so Ray, Tune and ``rllib train`` YAML files know the name).
3. Train IPPO in its Markov Commitment Game: ``CommitmentGameRLlibEnv`` (from
   ``rllib_coopai/wrappers/commitment.py``) wraps any registered discrete-action game into the
   propose -> commit -> act protocol; ``agreement_rate`` appears in the metrics.
4. Train DCL on the same game (DCL runs the MCG protocol itself, from the base env's name).

    python examples/custom_env_mcg.py
"""
import functools
import os

import numpy as np
import ray
from gymnasium import spaces
from pettingzoo import ParallelEnv

import rllib_coopai
from rllib_coopai.cli.progress import format_progress

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

VOLUNTEER, IGNORE = 0, 1


class VolunteersDilemma(ParallelEnv):
    """N players; if at least one volunteers everyone gets ``benefit``, volunteers pay ``cost``.

    Observation: the previous joint action as N one-hots plus a start flag (all zeros + 1 at t=0).
    """

    metadata = {"name": "volunteers_dilemma_v0", "render_modes": ["ansi"], "is_parallelizable": True}

    def __init__(self, n_agents: int = 3, benefit: float = 1.0, cost: float = 0.4, horizon: int = 1,
                 render_mode=None):
        if n_agents < 2:
            raise ValueError(f"n_agents must be an integer >= 2, got {n_agents}")
        if not 0 < cost < benefit:
            raise ValueError(f"cost must be in (0, benefit={benefit}), got {cost}")
        self.n, self.benefit, self.cost, self.horizon = n_agents, benefit, cost, horizon
        self.render_mode = render_mode
        self.possible_agents = [f"player_{i}" for i in range(n_agents)]
        self._obs_space = spaces.Box(0.0, 1.0, (2 * n_agents + 1,), np.float32)
        self._act_space = spaces.Discrete(2)
        self._last = None

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent):
        return self._obs_space

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent):
        return self._act_space

    def _obs(self, joint=None):
        o = np.zeros(2 * self.n + 1, np.float32)
        if joint is None:
            o[-1] = 1.0
        else:
            o[2 * np.arange(self.n) + np.asarray(joint)] = 1.0
        return {a: o.copy() for a in self.agents}

    def reset(self, seed=None, options=None):
        self.agents = list(self.possible_agents)
        self.t, self._last = 0, None
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions):
        joint = np.array([int(actions[a]) for a in self.possible_agents])
        volunteers = joint == VOLUNTEER
        pay = self.benefit * float(volunteers.any()) - self.cost * volunteers   # vectorised over N
        self.t += 1
        self._last = joint
        obs = self._obs(joint)
        rewards = {a: float(pay[i]) for i, a in enumerate(self.possible_agents)}
        infos = {a: {"joint_action": tuple(int(x) for x in joint), "cooperated": bool(volunteers[i])}
                 for i, a in enumerate(self.possible_agents)}
        done = self.t >= self.horizon
        terms = {a: done for a in self.agents}
        truncs = {a: False for a in self.agents}
        if done:
            self.agents = []
        return obs, rewards, terms, truncs, infos

    def render(self):
        if self.render_mode == "ansi":
            return f"t={self.t} joint={None if self._last is None else self._last.tolist()}"
        return None


def main(iterations: int = 3):
    rllib_coopai.envs.register("volunteers_dilemma", VolunteersDilemma,
                               "N-player Volunteer's Dilemma (example)")
    rllib_coopai.register_all()   # now `env: volunteers_dilemma` works in YAML files and Tune
    ray.init(include_dashboard=False, log_to_driver=False)

    from ray.tune.registry import register_env

    from rllib_coopai import IPPOConfig
    from rllib_coopai.wrappers.commitment import CommitmentGameRLlibEnv

    register_env("volunteers_dilemma_mcg", CommitmentGameRLlibEnv)
    print("== IPPO in the Markov Commitment Game of the Volunteer's Dilemma")
    algo = (
        IPPOConfig()
        .environment("volunteers_dilemma_mcg",
                     env_config={"base_env": "volunteers_dilemma", "n_agents": 3})
        .env_runners(num_env_runners=0)
        .training(train_batch_size_per_learner=192, minibatch_size=96, num_epochs=2)
        .build_algo()
    )
    for _ in range(iterations):
        print(format_progress(algo.train()))   # shows agreement_rate / commit_rate
    algo.stop()

    try:
        from rllib_coopai.algorithms.dcl import DCLConfig
    except ImportError as e:
        print(f"(DCL not available in this install: {e})")
    else:
        print("== DCL on the Volunteer's Dilemma (DCL plays the MCG protocol itself)")
        algo = (DCLConfig().environment("volunteers_dilemma", env_config={"n_agents": 3})
                .env_runners(num_env_runners=0).build_algo())
        for _ in range(iterations):
            print(format_progress(algo.train()))
        algo.stop()
    ray.shutdown()


if __name__ == "__main__":
    main()
