"""IPPO, the env registration with Ray, and the metrics callback, end to end through algo.train()."""
import numpy as np
import pytest

import rllib_coopai
from rllib_coopai import IPPOConfig
from rllib_coopai.envs import names

# Smallest sensible setting per env for the 2-iteration smoke runs.
SMALL = {
    "cleanup": {"map_size": "7x7", "n_agents": 2, "horizon": 20},
    "coin_game": {"horizon": 20},
    "asymmetric_coin_game": {"horizon": 20},
    "grid_game": {"horizon": 8},
    "public_goods": {"n_agents": 3},
    "escape_room": {"n_agents": 2, "min_at_lever": 1},
    "purely_conflicting": {"horizon": 4},
    "matrix_game": {"payoffs": [[[1, 1], [0, 2]], [[2, 0], [0, 0]]]},
}


def small_ippo(env, env_config=None, runners=0, batch=64, **training):
    return (
        IPPOConfig()
        .environment(env, env_config=env_config or {})
        .env_runners(num_env_runners=runners, rollout_fragment_length="auto")
        .training(train_batch_size_per_learner=batch, minibatch_size=32, num_epochs=1, **training)
        .debugging(seed=0)
    )


def _one_name_per_env_class():
    """The first registered name of each env class: the names of one class (the eight matrix games)
    differ only in their numbers, not in how an env runner builds, pickles or steps them."""
    first = {}
    for name in names():
        first.setdefault(type(rllib_coopai.envs.make(name, **SMALL.get(name, {}))), name)
    return sorted(first.values())


REMOTE = _one_name_per_env_class()
LOCAL = [name for name in names() if name not in REMOTE]


def _train_two_iterations(env, runners):
    algo = small_ippo(env, SMALL.get(env), runners=runners).build_algo()
    try:
        for _ in range(2):
            result = algo.train()
        er = result["env_runners"]
        assert result["num_env_steps_sampled_lifetime"] >= 128
        agents = rllib_coopai.envs.make(env, **SMALL.get(env, {})).possible_agents
        if er.get("num_episodes_lifetime", 0) > 0:
            assert set(er["agent_returns"]) == set(agents)
            assert er["social_welfare"] == pytest.approx(sum(er["agent_returns"].values()), abs=1e-6)
    finally:
        algo.stop()


@pytest.mark.slow
@pytest.mark.parametrize("env", REMOTE)
def test_every_env_class_trains_two_iterations_with_two_env_runners(ray_session, env):
    _train_two_iterations(env, runners=2)


@pytest.mark.parametrize("env", LOCAL)
def test_every_other_env_name_trains_two_iterations_locally(ray_session, env):
    _train_two_iterations(env, runners=0)


def test_one_module_per_agent_or_shared(ray_session):
    algo = small_ippo("public_goods", {"n_agents": 3}).build_algo()
    try:
        assert set(algo.config.policies) == {"player_0", "player_1", "player_2"}
    finally:
        algo.stop()
    algo = small_ippo("public_goods", {"n_agents": 3}, share_policy=True).build_algo()
    try:
        assert set(algo.config.policies) == {"shared"}
        algo.train()
    finally:
        algo.stop()


def test_pd_metrics_are_consistent(ray_session):
    """One-shot PD: an episode's welfare is -4 + (number of cooperators), so the batch means must
    satisfy social_welfare = -4 + 2 * cooperation_rate exactly (a wrong callback breaks this)."""
    algo = small_ippo("prisoners_dilemma", batch=256).build_algo()
    try:
        er = algo.train()["env_runners"]
        assert 0.0 < er["cooperation_rate"] < 1.0
        assert er["social_welfare"] == pytest.approx(-4 + 2 * er["cooperation_rate"], abs=1e-9)
        assert er["social_welfare"] == pytest.approx(er["episode_return_mean"], abs=0.5)
    finally:
        algo.stop()


@pytest.mark.slow
def test_ippo_learns_mutual_defection_in_one_shot_pd(ray_session):
    """Independent learners in the one-shot PD end in mutual defection (DCL paper §4.1.1)."""
    algo = (
        small_ippo("prisoners_dilemma", batch=512, lr=3e-3)
        .training(minibatch_size=128, num_epochs=4)
        .env_runners(num_envs_per_env_runner=16)  # one-step episodes: step 16 games at once
        .build_algo()
    )
    try:
        rates = []
        for _ in range(8):  # stops at the first iteration below 0.1: the assertion cannot change after it
            rates.append(algo.train()["env_runners"]["cooperation_rate"])
            if rates[-1] < 0.1:
                break
        assert rates[0] > 0.3, "starts near uniform play"
        assert rates[-1] < 0.1, f"cooperation rate did not collapse within 8 iterations: {rates}"
    finally:
        algo.stop()


def test_two_learners_and_checkpoint_restore(ray_session, tmp_path):
    from ray.rllib.algorithms.algorithm import Algorithm

    cfg = small_ippo("prisoners_dilemma", batch=128).learners(num_learners=2)
    algo = cfg.build_algo()
    try:
        algo.train()
        path = algo.save_to_path(str(tmp_path / "ckpt"))
        w = algo.get_module("player_0").state_dict()
    finally:
        algo.stop()
    restored = Algorithm.from_checkpoint(path)
    try:
        w2 = restored.get_module("player_0").state_dict()
        for k in w:
            np.testing.assert_allclose(np.asarray(w[k]), np.asarray(w2[k]))
        restored.train()
    finally:
        restored.stop()


def test_bad_env_name_and_value_fail_in_driver_with_clear_message():
    with pytest.raises(ValueError, match="Known environments:.*prisoners_dilemma"):
        small_ippo("prisoners_dilema").validate()
    with pytest.raises(ValueError, match="horizon"):
        small_ippo("prisoners_dilemma", {"horizon": -1}).validate()
    with pytest.raises(ValueError, match="valid options"):
        small_ippo("prisoners_dilemma", {"horizn": 3}).validate()
