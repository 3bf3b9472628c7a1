"""IncentiveDesigner (MetaGrad and dual-RL): gradient plumbing, learning, scale-out, checkpoints.

the zero meta-gradient when agents do not learn (derived from ID thesis eq. 6.3), the meta-gradient against a
direct autograd route and finite differences, MetaGrad vs dual-RL on ER(5,2) (CI-sized),
env runners 0/2, num_learners 2, save_to_path / from_checkpoint, config errors.
"""
import numpy as np
import pytest
import torch

from rllib_coopai.algorithms import get_config_class
from rllib_coopai.algorithms.incentive_designer import DualRLDesignerConfig, IncentiveDesignerConfig
from rllib_coopai.wrappers.designer import DESIGNER_ID

from designer_checks import (
    assert_learners_in_sync,
    check_meta_gradient,
    check_restore,
    learner_in_float64,
)

ER21 = {"n_agents": 2, "min_at_lever": 1, "obs_mode": "designer"}
ER52 = {"n_agents": 5, "min_at_lever": 2, "obs_mode": "designer"}


def metagrad(env_config=ER21, **training):
    kw = dict(episodes_per_iteration=4, agent_lr=0.03, designer_lr=3e-3, agent_hidden=[16],
              designer_hidden=[16])
    kw.update(training)
    return (IncentiveDesignerConfig().environment("escape_room", env_config=env_config)
            .env_runners(num_env_runners=0).debugging(seed=0).training(**kw))


def test_zero_meta_gradient_when_agents_do_not_learn(ray_session):
    """Derived from ID thesis eq. 6.3: alpha_theta = 0 -> the meta-gradient is exactly 0; only the cost moves eta."""
    algo = metagrad(agent_lr=0.0, cost_lr=1e-2).build_algo()
    try:
        incent = []
        for _ in range(4):
            res = algo.train()["learners"][DESIGNER_ID]
            incent.append([res[f"mean_incentive_{k}"] for k in range(3)])
        assert res["meta_grad_norm"] == 0.0
        assert res["incentive_cost"] > 0.0
        # Only the cost optimizer moved eta: every incentive went down.
        learner = algo.learner_group._learner
        theta_prev, data_prev = learner._prev
        meta, cost_g, _, _ = learner.meta_gradient(data_prev, theta_prev, data_prev)
        assert all(torch.count_nonzero(g) == 0 for g in meta.values())
        assert any(torch.count_nonzero(g) > 0 for g in cost_g.values())
        assert all(a > b for a, b in zip(incent[1], incent[-1]))
    finally:
        algo.stop()


def test_meta_gradient_matches_direct_autograd_and_finite_differences(ray_session):
    algo = metagrad(agent_lr=0.5).build_algo()
    try:
        for _ in range(2):
            algo.train()
        check_meta_gradient(*learner_in_float64(algo))
    finally:
        algo.stop()


def _welfare_curve(config, iters):
    algo = config.build_algo()
    try:
        out = []
        for _ in range(iters):
            er = algo.train()["env_runners"]
            out.append((er["num_env_steps_sampled_lifetime"], er.get("social_welfare", np.nan),
                        er.get("social_objective_net", np.nan)))
        return out
    finally:
        algo.stop()


# tuned_configs/incentive_designer/escape_room_metagrad_fast.yaml (benchmarks/designer_escape_room.py)
MG_ER52 = dict(episodes_per_iteration=8, agent_lr=0.02, designer_lr=0.005, cost_lr=None,
               cost_coeff=1.0, cost_warmup_updates=100, preactivation_bound=3.0,
               agent_hidden=[64, 64], designer_hidden=[64, 32])


def _metagrad_er52(seed, max_iters, target):
    """Train until the sampled social objective net of the designer's payments (the env-runner
    episode mean each iteration reports), averaged over the last 3 iterations (24 episodes),
    reaches ``target``. Also returns the largest lead of the lever's mean incentive over the
    other two actions' seen on the way."""
    algo = metagrad(ER52, **MG_ER52).debugging(seed=seed).build_algo()
    welfare, net, lever_lead = [], [], []
    try:
        for _ in range(max_iters):
            res = algo.train()
            er = res["env_runners"]
            welfare.append(er["social_welfare"])
            net.append(er["social_objective_net"])
            d = res["learners"][DESIGNER_ID]
            if "mean_incentive_0" in d:
                lever, start, door = (d[f"mean_incentive_{k}"] for k in range(3))
                lever_lead.append((lever - max(start, door), lever))
            if np.mean(net[-3:]) >= target:
                break
        return dict(welfare=float(np.mean(welfare[-3:])), net=float(np.mean(net[-3:])),
                    steps=er["num_env_steps_sampled_lifetime"], lever_lead=max(lever_lead),
                    incentives=[d[f"mean_incentive_{k}"] for k in range(3)])
    finally:
        algo.stop()


@pytest.mark.slow
def test_metagrad_reaches_escape_room_optimum_dual_rl_does_not(ray_session):
    """CI-sized ID thesis §6.4 on ER(5,2): MetaGrad reaches the social objective's optimum region
    net of its payments in most seeds, dual-RL does not (optimum: 28 gross = sum of the agents'
    env rewards, two at the lever and three exiting; 26 - 2 eps net of payments at the thesis's
    equilibrium payment 1 + eps, ID thesis §6.3.1).

    Settings of ``escape_room_metagrad_fast.yaml`` (larger learning rates than Table C.1, whose
    100k episodes do not fit in a test; the cost in the designer's optimizer, ramped in over 100
    updates; pre-activation bound 3). Seeds 0, 1, 2, at most 250 iterations x 8 episodes each.
    The social objective net of payments, averaged over the last 3 iterations (24 episodes), must
    reach >= 25 in at least 2 of the 3 seeds, with gross welfare >= 25 (benchmark, 400
    iterations: seeds 0, 1, 3, 4 end at net 27.3-27.5, seed 2 at -7; random play gives ~10 gross).
    On the way the designer must have paid for the lever (mean incentive > 1 = the lever's cost,
    and 0.5 above the door's and staying's): the welfare is bought, then the payments shrink.
    Dual-RL (PPO designer, same seed) with at least MetaGrad's env steps ends below 12 and never
    gets above 20, in every seed. Runs are reproducible per seed (module order fixed, see
    ``rllib_coopai.algorithms.common.FixedModuleOrder``). Seeds run in order and stop once two
    have reached the target (the third cannot change the verdict), each with its dual-RL run.
    """
    reached = []
    for seed in range(3):
        if len(reached) >= 2:
            break
        mg = _metagrad_er52(seed, max_iters=250, target=25.0)
        if mg["net"] >= 25.0:
            reached.append(seed)
            assert mg["welfare"] >= 25.0, mg
            lead, lever = mg["lever_lead"]
            assert lead > 0.5 and lever > 1.0, mg
        rl = (IncentiveDesignerConfig().environment("escape_room", env_config=ER52)
              .env_runners(num_env_runners=0).debugging(seed=seed)
              .training(designer="rl", lr=3e-4, train_batch_size_per_learner=800,
                        minibatch_size=800, num_epochs=1, entropy_coeff=0.01)
              .rl_module(model_config={"fcnet_hiddens": [128, 64]}))
        rl_curve = _welfare_curve(rl, int(np.ceil(mg["steps"] / 800)))
        assert rl_curve[-1][0] >= mg["steps"]
        # Random play gives ~10 (the first iterations of both methods); dual-RL ends below it.
        assert rl_curve[-1][1] < 12.0 and max(c[1] for c in rl_curve) < 20.0, (seed, rl_curve)
    assert len(reached) >= 2, reached


def _preactivation(algo, obs):
    with torch.no_grad():
        return algo.learner_group._learner.module[DESIGNER_ID].preactivation(obs)


@pytest.mark.parametrize("bound", [None, 3.0])
def test_preactivation_bound_lets_the_cost_shrink_a_saturated_payment(ray_session, bound):
    """Every output saturated at the maximum 2 (bias 30), agents not learning (zero meta-gradient),
    the cost in the designer's Adam: without the bound the sigmoid passes exactly zero gradient
    and the payments never move; with ``preactivation_bound`` 3 the cost pulls every
    pre-activation down."""
    algo = metagrad(agent_lr=0.0, cost_lr=None, cost_coeff=1.0, designer_lr=1e-2,
                    preactivation_bound=bound).build_algo()
    try:
        learner = algo.learner_group._learner
        with torch.no_grad():
            learner.module[DESIGNER_ID].net[-1].bias.fill_(30.0)
        algo.train()  # stores (theta_0, B_0); the outer step starts with the next batch
        obs = learner._prev[1][DESIGNER_ID]["obs"]
        x0 = _preactivation(algo, obs)
        assert torch.all(learner.module[DESIGNER_ID].incentives(obs) == 2.0)
        for _ in range(3):
            res = algo.train()["learners"][DESIGNER_ID]
        x1 = _preactivation(algo, obs)
        assert res["meta_grad_norm"] == 0.0
        if bound is None:
            assert torch.equal(x0, x1)
        else:
            assert torch.all(x1 < x0 - 0.03), (x0 - x1).min()
    finally:
        algo.stop()


def test_cost_warmup_ramps_the_cost_weight_and_the_cost_lr(ray_session):
    """``cost_warmup_updates`` N: the k-th designer update uses the weight (or the separate cost
    optimizer's lr) times min(1, (k - 1) / N)."""
    for cost_lr in (None, 1e-2):
        algo = metagrad(cost_lr=cost_lr, cost_warmup_updates=4).build_algo()
        try:
            algo.train()  # no outer step yet
            ramp = [algo.train()["learners"][DESIGNER_ID]["cost_weight"] for _ in range(6)]
            assert ramp == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.0])
            cost_opt = algo.learner_group._learner._cost_opt
            if cost_lr is None:
                assert cost_opt is None
            else:
                assert cost_opt.param_groups[0]["lr"] == pytest.approx(cost_lr)
        finally:
            algo.stop()


@pytest.mark.parametrize("designer", ["metagrad", "rl"])
def test_two_env_runners(ray_session, designer):
    if designer == "rl":
        cfg = (DualRLDesignerConfig().environment("escape_room", env_config=ER21).debugging(seed=0)
               .training(train_batch_size_per_learner=64, minibatch_size=32, num_epochs=1))
    else:
        cfg = metagrad()
    cfg = cfg.env_runners(num_env_runners=2)
    algo = cfg.build_algo()
    try:
        res = algo.train()
        er = res["env_runners"]
        assert "social_welfare" in er and "social_objective" in er
        assert "designer_payment" in er and "player_0" in er["designer_payment"]
    finally:
        algo.stop()


def test_two_learners_stay_in_sync(ray_session):
    algo = metagrad().learners(num_learners=2).build_algo()
    try:
        for _ in range(3):
            res = algo.train()
        assert res["learners"][DESIGNER_ID]["meta_grad_norm"] > 0.0
        assert_learners_in_sync(algo)
    finally:
        algo.stop()


def test_checkpoint_restores(ray_session, tmp_path):
    algo = metagrad().build_algo()
    try:
        for _ in range(3):
            algo.train()
    except BaseException:
        algo.stop()
        raise
    check_restore(algo, tmp_path, "social_welfare")


def test_builds_from_env_name_only_and_bad_config(ray_session):
    cfg = get_config_class("IncentiveDesigner")().environment("prisoners_dilemma")
    algo = cfg.env_runners(num_env_runners=0).build_algo()
    try:
        assert "p_all_cooperate" in algo.train()["env_runners"]
    finally:
        algo.stop()
    with pytest.raises(ValueError, match="designer must be one of"):
        IncentiveDesignerConfig().environment("escape_room").training(designer="lola").validate()
    with pytest.raises(ValueError, match="unknown environment"):
        IncentiveDesignerConfig().environment("escape_rom").validate()
    with pytest.raises(ValueError, match="max_incentive"):
        IncentiveDesignerConfig().environment("escape_room").training(max_incentive=-1).validate()
    with pytest.raises(ValueError, match="preactivation_bound"):
        IncentiveDesignerConfig().environment("escape_room").training(
            preactivation_bound=-1.0).validate()
    with pytest.raises(ValueError, match="cost_warmup_updates"):
        IncentiveDesignerConfig().environment("escape_room").training(
            cost_warmup_updates=-2).validate()
    with pytest.raises(ValueError, match="episodes_per_iteration"):
        (IncentiveDesignerConfig().environment("escape_room").learners(num_learners=2)
         .training(episodes_per_iteration=1).validate())
