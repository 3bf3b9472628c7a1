"""Lost env runners: DCL, LIO, the incentive designer and AMD finish an iteration with the asked
amount of data when one of two env runners is killed, come back when all are killed and Ray
restarts them, fail within a bounded time with a clear error when none come back, and report an
env that raises inside an env runner with the env's name and its own message."""
import sys
import time

import pytest
import ray
from ray import cloudpickle
from ray.tune.registry import ENV_CREATOR, _global_registry, register_env

from rllib_coopai.algorithms.amd import AMDConfig
from rllib_coopai.algorithms.dcl import DCLConfig
from rllib_coopai.algorithms.incentive_designer import IncentiveDesignerConfig
from rllib_coopai.algorithms.lio import LIOConfig
from rllib_coopai.core.sampling import EnvRunnerFailure

ER21 = {"n_agents": 2, "min_at_lever": 1, "horizon": 5}
ER_DESIGNER = {"n_agents": 2, "min_at_lever": 1, "horizon": 5, "obs_mode": "designer"}

# Config builders, each asking for a known amount of data per iteration.
CONFIGS = {
    "DCL": (lambda: DCLConfig().environment("prisoners_dilemma")
            .training(train_batch_size_per_learner=32), "steps", 32),
    "LIO": (lambda: LIOConfig().environment("escape_room", env_config=ER21)
            .training(episodes_per_iteration=4, policy_hiddens=[8], incentive_hiddens=[8]),
            "episodes", 4),
    "IncentiveDesigner": (lambda: IncentiveDesignerConfig().environment(
        "escape_room", env_config=ER_DESIGNER).training(
            episodes_per_iteration=4, agent_hidden=[8], designer_hidden=[8]), "episodes", 4),
    "AMD": (lambda: AMDConfig().environment("escape_room", env_config=ER_DESIGNER)
            .training(episodes_per_iteration=4, learner_hidden=[8]), "episodes", 4),
}


def _build(name, restore_timeout_s):
    make, _, _ = CONFIGS[name]
    return (make().env_runners(num_env_runners=2, num_envs_per_env_runner=1)
            .fault_tolerance(env_runner_restore_timeout_s=restore_timeout_s)
            .debugging(seed=0)).build_algo()


def _actors(algo):
    return list(algo.env_runner_group._worker_manager._actors.values())


def _sampled(res, unit):
    er = res["env_runners"]
    return er["num_env_steps_sampled"] if unit == "steps" else er["num_episodes"]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_one_of_two_env_runners_killed_survivor_samples_the_rest(ray_session, name):
    _, unit, asked = CONFIGS[name]
    algo = _build(name, restore_timeout_s=20)
    try:
        algo.train()
        ray.kill(_actors(algo)[0], no_restart=True)
        res = algo.train()
        assert _sampled(res, unit) >= asked
        assert res["env_runners_lost_in_iteration"] == 1
        assert res["num_healthy_env_runners"] == 1
    finally:
        algo.stop()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_all_env_runners_killed_for_good_fails_within_bounded_time(ray_session, name):
    algo = _build(name, restore_timeout_s=3)
    try:
        algo.train()
        for actor in _actors(algo):
            ray.kill(actor, no_restart=True)
        start = time.monotonic()
        with pytest.raises(EnvRunnerFailure,
                           match=r"all 2 env runners failed .* none came back within "
                                 r"env_runner_restore_timeout_s=3 s"):
            algo.train()
        assert time.monotonic() - start < 60
    finally:
        algo.stop()


def test_all_env_runners_killed_and_restarted_training_continues(ray_session):
    _, unit, asked = CONFIGS["DCL"]
    algo = _build("DCL", restore_timeout_s=90)
    try:
        algo.train()
        for actor in _actors(algo):
            ray.kill(actor, no_restart=False)  # Ray restarts them (restart_failed_env_runners)
        res = algo.train()
        assert _sampled(res, unit) >= asked
        assert res["num_healthy_env_runners"] >= 1
    finally:
        algo.stop()


def _exploding_pd(env_config):
    env = _global_registry.get(ENV_CREATOR, "prisoners_dilemma")(env_config)
    if env_config.worker_index > 0:  # the driver's probe env works; the env runners' raise
        def step(action_dict):
            raise ValueError("payoff table exploded")
        env.step = step
    return env


def test_env_raising_in_a_worker_is_reported_in_the_driver(ray_session):
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    register_env("exploding_pd", _exploding_pd)
    algo = (DCLConfig().environment("exploding_pd", disable_env_checking=True)
            .env_runners(num_env_runners=1)
            .training(train_batch_size_per_learner=16).debugging(seed=0)).build_algo()
    try:
        with pytest.raises(EnvRunnerFailure,
                           match=r"environment 'exploding_pd' raised in env runner 1 during "
                                 r"sample: ValueError: payoff table exploded"):
            algo.train()
    finally:
        algo.stop()
