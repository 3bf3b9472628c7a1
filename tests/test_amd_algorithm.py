"""AMD as an RLlib Algorithm: hand-derived exact-gradient learning oracles (planner on -> mutual
cooperation, planner off -> PD collapses, Stag Hunt stays), the no-planner baseline, the pg
variant on any env, env runners 0/2, num_learners 2, checkpoints and config errors."""
import numpy as np
import pytest

from rllib_coopai.algorithms import get_config_class
from rllib_coopai.algorithms.amd import AMD, AMDConfig
from rllib_coopai.wrappers.designer import DESIGNER_ID


def amd(env="greed_fear", **training):
    kw = dict(updates_per_iteration=400, episodes_per_iteration=20)
    kw.update(training)
    return (AMDConfig().environment(env).env_runners(num_env_runners=0).debugging(seed=0)
            .training(**kw))


def _results(remote_results):
    return [r.get() if hasattr(r, "get") else r for r in remote_results]


def run(cfg, iters):
    algo = cfg.build_algo()
    try:
        return [algo.train() for _ in range(iters)]
    finally:
        algo.stop()


def exact(res, key):
    return res["learners"]["exact"][key]


def test_exact_planner_pd_cooperates_then_collapses_when_turned_off(ray_session):
    """Exact-gradient oracle: 4000 exact steps with the planner -> P(CC) > 0.95; 2400 more without -> collapse."""
    out = run(amd(turn_off_after=10), 16)
    on, off = out[9], out[-1]
    assert exact(on, "p_all_cooperate") > 0.95
    assert on["env_runners"]["p_all_cooperate"] > 0.8           # sampled play agrees
    assert exact(on, "welfare") > 5.9
    assert exact(off, "p_all_cooperate") < 0.05
    assert off["env_runners"]["p_all_cooperate"] < 0.3
    assert exact(off, "aar") == 0.0 and off["planner_on"] == 0.0
    assert "designer_payment" in on["env_runners"]


def test_exact_planner_stag_hunt_stays_cooperative_after_turn_off(ray_session):
    out = run(amd("stag_hunt", turn_off_after=10), 12)
    assert exact(out[9], "p_all_cooperate") > 0.95
    assert exact(out[-1], "p_all_cooperate") > 0.95


def test_no_planner_baseline_defects(ray_session):
    """Without mechanism design (planner off from the start) naive learners defect (exact-gradient oracle)."""
    out = run(amd(turn_off_after=0), 10)
    assert exact(out[-1], "p_cooperate_player_0") < 0.01
    assert exact(out[-1], "p_all_cooperate") < 0.001


def test_revenue_neutral_payments_sum_to_zero(ray_session):
    res = run(amd(constraint="revenue_neutral", updates_per_iteration=50), 2)[-1]
    pay = [exact(res, f"expected_payment_player_{i}") for i in range(2)]
    assert sum(pay) == pytest.approx(0.0, abs=1e-6)


def test_pg_variant_any_env_two_env_runners(ray_session):
    cfg = (get_config_class("AMD")().environment(
        "escape_room", env_config={"n_agents": 2, "min_at_lever": 1, "obs_mode": "designer"})
        .env_runners(num_env_runners=2).training(episodes_per_iteration=4, max_reward=2.0,
                                                 cost_form="l2_realized"))
    algo = cfg.build_algo()
    try:
        assert algo.config.gradient == "pg"
        res = algo.train()
        assert "aar" in res["learners"]["sampled"]
        assert "designer_payment" in res["env_runners"]
    finally:
        algo.stop()


def test_two_learners_stay_in_sync(ray_session):
    cfg = amd(gradient="pg", episodes_per_iteration=8, turn_off_after=2).learners(num_learners=2)
    algo = cfg.build_algo()
    try:
        for _ in range(3):
            algo.train()
        states = _results(algo.learner_group.foreach_learner(
            lambda l: {m: {k: v.detach().numpy().copy() for k, v in l.module[m].state_dict().items()}
                       for m in l.module.keys()}))
        for m in states[0]:
            for k in states[0][m]:
                np.testing.assert_allclose(states[0][m][k], states[1][m][k], atol=1e-6)
        assert float(states[0][DESIGNER_ID]["payment_scale"]) == 0.0   # turned off after 2
    finally:
        algo.stop()


def test_checkpoint_restores(ray_session, tmp_path):
    algo = amd(turn_off_after=2, updates_per_iteration=20).build_algo()
    try:
        for _ in range(3):
            algo.train()
        path = algo.save_to_path(str(tmp_path / "amd"))
        w = algo.get_module("player_0").state_dict()
        wp = algo.get_module(DESIGNER_ID).state_dict()
    finally:
        algo.stop()
    restored = AMD.from_checkpoint(path)
    try:
        w2 = restored.get_module("player_0").state_dict()
        for k in w:
            np.testing.assert_allclose(w[k].numpy(), w2[k].numpy())
        for k in wp:
            np.testing.assert_allclose(wp[k].numpy(), restored.get_module(DESIGNER_ID).state_dict()[k].numpy())
        res = restored.train()
        assert res["planner_on"] == 0.0 and exact(res, "aar") == 0.0
    finally:
        restored.stop()


def test_bad_config():
    with pytest.raises(ValueError, match="one-shot matrix game"):
        AMDConfig().environment("escape_room").training(gradient="exact").validate()
    with pytest.raises(ValueError, match="constraint must be one of"):
        AMDConfig().environment("greed_fear").training(constraint="budget").validate()
    with pytest.raises(ValueError, match="max_reward"):
        AMDConfig().environment("greed_fear").training(max_reward=0).validate()
    with pytest.raises(ValueError, match="cost_form"):
        AMDConfig().environment("greed_fear").training(cost_form="l1").validate()
