"""Short LIO learning tests (fixed seeds, num_env_runners=0, CI-sized budgets).

* Escape Room ER(2,1): LIO's greedy policies reach collective return >= 8 (optimum 9) in most
  seeds, while independent policy-gradient agents (the baseline, no incentives) stay <= 1.
* Iterated Prisoner's Dilemma (5 rounds): LIO reaches mutual cooperation.

Budgets: batches of 16 episodes per rollout and larger learning rates than the thesis's
one-episode updates (see benchmarks/lio_learning.py for longer runs).
"""
import pytest
import torch

import rllib_coopai  # noqa: F401
from rllib_coopai.algorithms.lio import LIOConfig

torch.set_num_threads(1)

ER_FAST = dict(policy_lr=0.01, incentive_lr=0.01, cost_lr=0.001, epsilon_div=100, episodes_per_iteration=16)
ER_ITERS = 100


def _greedy_run(env, env_config, training, seed, iters):
    cfg = (
        LIOConfig().environment(env, env_config=env_config).env_runners(num_env_runners=0)
        .debugging(seed=seed).training(**training)
        .evaluation(evaluation_interval=10**6, evaluation_duration=10, evaluation_duration_unit="episodes",
                    evaluation_config={"explore": False})
    )
    algo = cfg.build_algo()
    try:
        for _ in range(iters):
            algo.train()
        return greedy_eval(algo)
    finally:
        algo.stop()


def greedy_eval(algo, n=5):
    """Collective env return and cooperation rate of the greedy (explore=False) policies."""
    algo.eval_env_runner_group.sync_weights(from_worker_or_learner_group=algo.learner_group)
    episodes = algo.eval_env_runner_group.local_env_runner.sample(num_episodes=n, explore=False)
    coop = [
        float(info["cooperated"])
        for ep in episodes for sa in ep.agent_episodes.values() for info in sa.get_infos()[1:]
        if "cooperated" in info
    ]
    return {
        "social_welfare": sum(ep.get_return() for ep in episodes) / n,
        "cooperation_rate": sum(coop) / max(len(coop), 1),
    }


def test_lio_solves_escape_room_2_1(ray_session):
    welfare = [
        _greedy_run("escape_room", {"n_agents": 2, "min_at_lever": 1}, ER_FAST, seed, ER_ITERS)["social_welfare"]
        for seed in (0, 1, 2)
    ]
    assert sum(w >= 8.0 for w in welfare) >= 2, welfare


def test_independent_pg_fails_escape_room_2_1(ray_session):
    ev = _greedy_run("escape_room", {"n_agents": 2, "min_at_lever": 1}, dict(ER_FAST, incentives=False), 0, ER_ITERS)
    assert ev["social_welfare"] <= 1.0, ev["social_welfare"]


IPD_FAST = dict(
    policy_lr=0.01, incentive_lr=0.01, cost_coeff=0.0, separate_cost_optimizer=False, r_max=3.0,
    entropy_coeff=0.1, epsilon_start=1.0, epsilon_end=0.01, epsilon_div=50, episodes_per_iteration=16,
    policy_hiddens=[16, 8], incentive_hiddens=[16, 8],
)


def test_lio_reaches_mutual_cooperation_in_ipd(ray_session):
    ev = _greedy_run("prisoners_dilemma", {"horizon": 5}, IPD_FAST, 0, 60)
    assert ev["cooperation_rate"] >= 0.9, ev["cooperation_rate"]
    assert ev["social_welfare"] >= -11.0, ev["social_welfare"]  # all-C = -10 per 5-round episode
