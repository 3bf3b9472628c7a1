"""The designer seat (rllib_coopai/wrappers/designer.py), no Ray: observation layout, payments,
info contract, ID thesis §6.3.1, App. C.2.2 (designer optimum in ER, designer input size)."""
import numpy as np
import pytest
import torch

from rllib_coopai.envs import make
from rllib_coopai.wrappers.designer import (
    DESIGNER_ID,
    DesignerSeatWrapper,
    joint_action_onehot,
    payments,
    social_objective,
)

LEVER, START, DOOR = 0, 1, 2


def er(n=5, m=2, **kw):
    return DesignerSeatWrapper(make("escape_room", n_agents=n, min_at_lever=m, obs_mode="designer"), **kw)


def play(env, joint, incentives):
    """One inner-env step through the seat; returns (agent rewards, designer reward, infos, done)."""
    obs, rew, term, trunc, info = env.step({a: k for a, k in zip(env.env_agents, joint)})
    assert list(obs) == [DESIGNER_ID] and rew == {}
    d_obs = obs[DESIGNER_ID]
    obs, rew, term, trunc, info = env.step({DESIGNER_ID: np.asarray(incentives, np.float32)})
    return d_obs, rew, info, not env.agents


def test_designer_observation_er52_is_positions_plus_joint_action():
    env = er()
    env.reset(seed=0)
    assert env.observation_space(DESIGNER_ID).shape == (30,)  # 3n + 3n (ID thesis App. C.2.2)
    assert env.observation_space("player_0").shape == (15,)   # ID agents: 3N
    joint = [LEVER, LEVER, DOOR, START, DOOR]
    d_obs, *_ = play(env, joint, [0, 0, 0])
    start = np.tile([0, 1, 0], 5)
    np.testing.assert_array_equal(d_obs[:15], start)
    np.testing.assert_array_equal(d_obs[15:], joint_action_onehot(joint, [3] * 5))


@pytest.mark.parametrize("n,m,eps", [(5, 2, 0.01), (10, 5, 0.05), (2, 1, 0.2)])
def test_designer_optimum_escape_room(n, m, eps):
    """ID thesis §6.3.1: 10(n-m) - m - m(1+eps), paying 1+eps for the lever only."""
    env = er(n, m)
    env.reset(seed=1)
    joint = [LEVER] * m + [DOOR] * (n - m)
    _, rew, info, done = play(env, joint, [1 + eps, 0.0, 0.0])
    assert done
    env_sum = sum(info[a]["extrinsic_reward"] for a in env.env_agents)
    assert env_sum == pytest.approx(10 * (n - m) - m)          # hand-computed optimum (no designer cost)
    assert rew[DESIGNER_ID] == pytest.approx(10 * (n - m) - m - m * (1 + eps))
    # Every lever puller is better off than staying (0): -1 + 1 + eps > 0.
    for a in env.env_agents[:m]:
        assert rew[a] == pytest.approx(eps)
        assert info[a]["totals"]["designer_payment"] == pytest.approx(1 + eps)
        assert info[a]["totals"]["designer_payment/lever"] == pytest.approx(1 + eps)
    for a in env.env_agents[m:]:
        assert rew[a] == pytest.approx(10.0)
        assert info[a]["social_objective"] == pytest.approx(10 * (n - m) - m)


def test_objective_gross_when_not_subtracting():
    env = er(subtract_payments=False)
    env.reset(seed=0)
    _, rew, *_ = play(env, [LEVER, LEVER, DOOR, DOOR, DOOR], [2.0, 2.0, 2.0])
    assert rew[DESIGNER_ID] == pytest.approx(28.0)


def test_payments_per_agent_revenue_neutral_and_bounds():
    u = np.array([3.0, -1.0])
    pay = payments(u, np.array([0, 1]), "per_agent", revenue_neutral=True)
    np.testing.assert_allclose(pay, [2.0, -2.0])
    assert pay.sum() == pytest.approx(0.0)
    ut = torch.tensor([[0.5, 1.0, 1.5]], requires_grad=True)
    pt = payments(ut, torch.tensor([[2, 0, 2]]), "per_action")
    assert pt.tolist() == [[1.5, 0.5, 1.5]]
    pt.sum().backward()  # differentiable
    assert ut.grad.tolist() == [[1.0, 0.0, 2.0]]
    env = DesignerSeatWrapper(make("greed_fear"), output="per_agent", low=-3.0, high=3.0,
                              revenue_neutral=True)
    env.reset(seed=0)
    env.step({"player_0": 0, "player_1": 1})
    _, rew, _, _, info = env.step({DESIGNER_ID: np.array([5.0, 1.0], np.float32)})  # clipped to 3
    assert rew["player_0"] - info["player_0"]["extrinsic_reward"] == pytest.approx(1.0)
    assert rew["player_1"] - info["player_1"]["extrinsic_reward"] == pytest.approx(-1.0)


def test_menu_action_assigns_values_per_action_type():
    env = er(2, 1, action="menu", menu=(0.0, 1.1, 2.0))
    assert env.action_space(DESIGNER_ID).n == 27                # ID thesis §6.3.2
    np.testing.assert_allclose(env.incentive_vector(0), [0, 0, 0])
    np.testing.assert_allclose(env.incentive_vector(26), [2, 2, 2])
    np.testing.assert_allclose(env.incentive_vector(9 * 1 + 3 * 0 + 2), [1.1, 0.0, 2.0])


def test_episode_flow_and_termination():
    env = er(2, 1)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"player_0", "player_1"}
    for t in range(5):
        _, rew, info, done = play(env, [START, START], [0.5, 0.5, 0.5])
        assert rew["player_0"] == pytest.approx(0.5)
        if t < 4:
            assert not done
    assert done  # truncated at the horizon (5)


def test_objectives_and_bad_input():
    assert social_objective([1.0, 3.0]) == 4.0
    assert social_objective([2.0, 2.0], "productivity_x_equality") == pytest.approx(4.0)
    assert social_objective([4.0, 0.0], "productivity_x_equality") == pytest.approx(0.0)
    with pytest.raises(ValueError, match="output"):
        er(output="per_thing")
    with pytest.raises(ValueError, match="high must be > low"):
        er(low=1.0, high=1.0)
    with pytest.raises(ValueError, match="objective"):
        er(objective="max")
    # different action counts (3 and 2): per_action has one output per agent-action
    assert DesignerSeatWrapper(make("matrix_game", payoffs=np.zeros((2, 3, 2)))).n_outputs == 5
