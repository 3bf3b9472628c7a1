"""LIO as an RLlib algorithm: config errors, metrics, oracle 17 on the learner, schedules,
2 env runners + 2 learners, checkpoint restore."""
import numpy as np
import pytest
import torch

import rllib_coopai  # noqa: F401  (registers envs and algorithms)
from rllib_coopai.algorithms import get_config_class
from rllib_coopai.algorithms.lio import LIO, LIOConfig

torch.set_num_threads(1)

ER21 = {"n_agents": 2, "min_at_lever": 1}


def _small(cfg, **training):
    kw = dict(episodes_per_iteration=4, policy_hiddens=[16], incentive_hiddens=[16])
    kw.update(training)
    return cfg.env_runners(num_env_runners=0).debugging(seed=0).training(**kw)


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"schedule": "three"}, "schedule"),
        ({"r_max": 0.0}, "r_max"),
        ({"policy_lr": -1.0}, "policy_lr"),
        ({"epsilon_start": 0.1, "epsilon_end": 0.5}, "epsilon_end"),
        ({"lio_agents": ["nobody"]}, "lio_agents"),
        ({"policy_learner": "ppo"}, "policy_learner"),
        ({"episodes_per_iteration": 0}, "episodes_per_iteration"),
    ],
)
def test_config_validation_errors(kw, match):
    cfg = LIOConfig().environment("escape_room", env_config=ER21).training(**kw)
    with pytest.raises(ValueError, match=match):
        cfg.validate()


def test_unknown_env_lists_known_names():
    with pytest.raises(ValueError, match="Known environments"):
        LIOConfig().environment("escape_rom").validate()


def test_registered_and_builds_from_environment_only(ray_session):
    """The throughput benchmark's path: get_config_class("LIO")().environment(...)."""
    cfg = get_config_class("LIO")().environment("escape_room", env_config=ER21)
    assert isinstance(cfg, LIOConfig)
    algo = cfg.env_runners(num_env_runners=0).build_algo()
    try:
        res = algo.train()
        assert "social_welfare" in res["env_runners"]
        for aid in ("player_0", "player_1"):
            lr = res["learners"][aid]
            for key in ("incentives_given", "incentives_received", "incentives_received_start",
                        "incentives_given_start"):
                assert key in lr, key
            assert 0.0 <= lr["incentives_given"] <= 2.0 * 5  # R_max per step, <= 5 steps
        assert res["learners"]["theta_hat_mismatch"] == 0.0  # committed params == graph's theta_hat
    finally:
        algo.stop()


@pytest.mark.parametrize("schedule", ["two_rollouts", "one_rollout"])
def test_zero_recipient_lr_zero_meta_gradient_on_learner(ray_session, schedule):
    """Oracle 17 through the learner: policy lr 0 -> meta-gradient exactly 0, cost gradient not."""
    for lr, zero in ((0.0, True), (0.05, False)):
        algo = _small(LIOConfig().environment("escape_room", env_config=ER21), policy_lr=lr, schedule=schedule).build_algo()
        try:
            w0 = {k: np.array(v, copy=True) for k, v in algo.get_module("player_1").get_state().items()}
            for _ in range(2):
                res = algo.train()
            lr_res = res["learners"]["player_0"]
            if zero:
                assert lr_res["meta_grad_norm"] == 0.0
                w1 = algo.get_module("player_1").get_state()
                for k in algo.get_module("player_1").policy_param_names():
                    np.testing.assert_array_equal(w0[k], w1[k])  # recipients did not move
            else:
                assert lr_res["meta_grad_norm"] > 0.0
            assert lr_res["cost_grad_norm"] > 0.0
            assert res["learners"]["theta_hat_mismatch"] == 0.0
        finally:
            algo.stop()


def test_independent_pg_baseline_has_no_incentives(ray_session):
    from rllib_coopai.algorithms.lio import independent_pg_config

    algo = _small(independent_pg_config().environment("escape_room", env_config=ER21)).build_algo()
    try:
        mod = algo.get_module("player_0")
        assert not mod.gives_incentives and not hasattr(mod, "inc_net")
        res = algo.train()
        assert "incentives_given" not in res["learners"]["player_0"]
    finally:
        algo.stop()


def test_two_env_runners_two_learners_and_checkpoint(ray_session, tmp_path):
    """num_env_runners=2, num_learners=2 (whole episodes per learner, hand all-reduce), restore."""
    cfg = (
        LIOConfig()
        .environment("escape_room", env_config={"n_agents": 3, "min_at_lever": 2})
        .env_runners(num_env_runners=2, num_cpus_per_env_runner=0.25)
        .learners(num_learners=2, num_cpus_per_learner=0.25)
        .debugging(seed=0)
        .training(episodes_per_iteration=4, policy_hiddens=[16], incentive_hiddens=[16], policy_lr=0.05)
    )
    algo = cfg.build_algo()
    try:
        for _ in range(2):
            res = algo.train()
        assert res["learners"]["theta_hat_mismatch"] == 0.0
        assert res["learners"]["player_2"]["meta_grad_norm"] > 0.0
        path = algo.save_to_path(str(tmp_path / "ckpt"))
        before = {a: algo.get_module(a).get_state() for a in ("player_0", "player_1", "player_2")}
    finally:
        algo.stop()
    restored = LIO.from_checkpoint(path)
    try:
        for a, state in before.items():
            after = restored.get_module(a).get_state()
            for k, v in state.items():
                np.testing.assert_allclose(after[k], v, err_msg=f"{a}.{k}")
        res = restored.train()
        assert np.isfinite(res["learners"]["player_0"]["incentives_given"])
    finally:
        restored.stop()


def test_asymmetric_escape_room_lio_asym(ray_session):
    """LIO-asym: only player_0 has an incentive head; player_1 is plain PG and never pays."""
    algo = _small(
        LIOConfig().environment("escape_room", env_config={"asymmetric": True}), lio_agents=["player_0"]
    ).build_algo()
    try:
        assert algo.get_module("player_0").gives_incentives
        assert not algo.get_module("player_1").gives_incentives
        res = algo.train()
        assert "incentives_received_lever" in res["learners"]["player_1"]
        assert "incentives_given" not in res["learners"]["player_1"]
    finally:
        algo.stop()
