"""Gather-Trade-Build env: PettingZoo API, seeding, and hand-computed oracles (ID
thesis eqs. 6.7-6.8, C.17: bracket tax, redistribution, equality, CRRA) plus the mechanics (build payment per skill,
gathering, the double auction, escrow expiry, the tax step inside the env)."""
import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from rllib_coopai.envs import make
from rllib_coopai.envs.gather_trade_build import (
    BUILD,
    BUILD_PAYMENTS,
    MOVES,
    N_PRICES,
    TRADE0,
    US_FEDERAL_RATES,
    bracket_tax,
    crra,
    gini_equality,
    redistribute,
    utility,
)

NOOP = 0


def trade_action(resource, side, price):
    return TRADE0 + resource * 2 * N_PRICES + side * N_PRICES + price


def test_parallel_api():
    parallel_api_test(make("gather_trade_build"), num_cycles=120)
    parallel_api_test(make("gather_trade_build", n_agents=2, horizon=20, tax_period=5),
                      num_cycles=30)


def test_seeded_rollouts_repeat():
    def roll(seed):
        env = make("gather_trade_build")
        env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        out = []
        while env.agents:
            acts = {a: int(rng.integers(0, 50)) for a in env.agents}
            obs, rew, *_ = env.step(acts)
            out.append(np.concatenate([[rew[a] for a in env.possible_agents],
                                       obs["agent_0"], env.state()]))
        return np.array(out)

    a, b, c = roll(3), roll(3), roll(4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape[0] == 100


def test_bracket_tax_oracle_item_12():
    """T(z) of eq 6.7 with US-federal rates, hand computed (rates of ID thesis Fig. 6.5)."""
    z = [5, 9.7, 20, 50, 100, 600]
    want = [0.5, 0.97, 2.206, 6.8585, 18.1745, 186.9875]
    np.testing.assert_allclose(bracket_tax(z, US_FEDERAL_RATES), want, rtol=0, atol=1e-9)
    # By hand for z = 50: 0.10*9.7 + 0.12*(39.475-9.7) + 0.22*(50-39.475).
    assert bracket_tax(50, US_FEDERAL_RATES) == pytest.approx(0.97 + 3.573 + 2.3155)
    assert bracket_tax(-3.0, US_FEDERAL_RATES) == 0.0
    assert bracket_tax(100, np.zeros(7)) == 0.0
    assert bracket_tax(100, np.ones(7)) == pytest.approx(100.0)


def test_redistribution_oracle_item_13_keeps_total_coin():
    tax, lump, transfer = redistribute([5, 20, 50, 100], US_FEDERAL_RATES)
    np.testing.assert_allclose(tax, [0.5, 2.206, 6.8585, 18.1745], atol=1e-9)
    assert lump == pytest.approx(6.93475)
    post = np.array([5, 20, 50, 100]) + transfer
    np.testing.assert_allclose(post, [11.43475, 24.72875, 50.07625, 88.76025], atol=1e-9)
    assert post.sum() == pytest.approx(175.0)
    # The cap: an agent with 3 coin in inventory pays at most 3.
    tax, lump, transfer = redistribute([5, 20, 50, 100], US_FEDERAL_RATES, caps=[9, 9, 9, 3])
    np.testing.assert_allclose(tax, [0.5, 2.206, 6.8585, 3.0], atol=1e-9)
    assert transfer.sum() == pytest.approx(0.0, abs=1e-12)


def test_equality_oracle_item_14():
    coins = [5, 20, 50, 100]
    assert gini_equality(coins) == pytest.approx(0.4)
    assert sum(coins) * gini_equality(coins) == pytest.approx(70.0)
    assert gini_equality([7, 7, 7, 7]) == pytest.approx(1.0)
    assert gini_equality([0, 0, 0, 12]) == pytest.approx(0.0)


def test_crra_oracle_item_15():
    assert crra(10.0) == pytest.approx(6.3486, abs=1e-4)
    assert crra(1.0) == 0.0
    assert utility(10.0, 1.0) == pytest.approx(6.3486 - 0.21, abs=1e-4)
    assert utility(10.0, 5.0) - utility(10.0, 6.0) == pytest.approx(0.21)


def _fresh(**kw):
    env = make("gather_trade_build", **kw)
    env.reset(seed=0)
    env.resources[:] = False          # no gathering unless a test puts a resource down
    env.source[:] = False
    return env


def _noops(env):
    return {a: NOOP for a in env.agents}


@pytest.mark.parametrize("agent", [0, 1, 2, 3])
def test_build_payment_per_skill_and_reward(agent):
    env = _fresh()
    env.inv[agent] = [1, 1]
    acts = _noops(env)
    acts[f"agent_{agent}"] = BUILD
    _, rew, _, _, info = env.step(acts)
    assert env.coin[agent] == pytest.approx(10 + BUILD_PAYMENTS[agent])
    assert env.labor[agent] == 10.0
    assert env.houses[tuple(env.pos[agent])] == agent
    assert info[f"agent_{agent}"]["totals"]["houses_built"] == 1.0
    want = crra(10 + BUILD_PAYMENTS[agent]) - crra(10) - 0.21 * 10  # C.16 / C.17
    assert rew[f"agent_{agent}"] == pytest.approx(want)
    assert BUILD_PAYMENTS == (11.33, 13.27, 16.47, 22.25)
    # No resources -> building is a no-op without labor.
    acts = _noops(env)
    acts[f"agent_{agent}"] = BUILD
    _, rew, *_ = env.step(acts)
    assert rew[f"agent_{agent}"] == 0.0


def test_move_blocked_by_water_and_edge_and_gather():
    env = _fresh()
    env.pos[0] = (6, 7)            # below it (7, 7) is water
    _, rew, *_ = env.step({**_noops(env), "agent_0": 2})
    assert tuple(env.pos[0]) == (6, 7) and rew["agent_0"] == 0.0
    env.pos[1] = (14, 0)
    env.step({**_noops(env), "agent_1": 3})  # left edge
    assert tuple(env.pos[1]) == (14, 0)
    env.resources[0, 6, 6] = True
    _, rew, *_ = env.step({**_noops(env), "agent_0": 3})  # move onto wood: labor 1 + gather 1
    assert tuple(env.pos[0]) == (6, 6) and env.inv[0, 0] == 1
    assert rew["agent_0"] == pytest.approx(-0.21 * 2)
    assert MOVES[3] == (0, -1)


def test_double_auction_trades_at_resting_price_and_orders_expire():
    env = _fresh(order_duration=3)
    env.inv[0, 1] = 1                                        # agent_0 owns one stone
    env.step({**_noops(env), "agent_0": trade_action(1, 1, 3)})   # ask stone at 3
    assert env.escrow_res[0, 1] == 1 and env.inv[0, 1] == 0
    assert env.market_counts()[1 * 22 + 11 + 3] == 1
    _, _, _, _, info = env.step({**_noops(env), "agent_1": trade_action(1, 0, 5)})  # bid at 5
    assert env.inv[1, 1] == 1 and env.escrow_res[0, 1] == 0
    assert env.coin[1] == pytest.approx(7.0) and env.coin[0] == pytest.approx(13.0)
    assert env.escrow_coin.sum() == 0 and env.market_counts().sum() == 0
    assert info["agent_0"]["totals"]["trades"] == 1 and info["agent_1"]["totals"]["trades"] == 1
    assert env.total_coin().sum() == pytest.approx(40.0)
    # An unmatched bid escrows coin and returns it when it expires.
    env.step({**_noops(env), "agent_2": trade_action(0, 0, 4)})
    assert env.escrow_coin[2] == 4 and env.coin[2] == 6
    for _ in range(3):
        env.step(_noops(env))
    assert env.escrow_coin[2] == 0 and env.coin[2] == 10
    # A bid below the ask does not trade; no coin for a bid -> no order and no labor.
    env.inv[3, 0] = 1
    env.step({**_noops(env), "agent_3": trade_action(0, 1, 6)})
    env.step({**_noops(env), "agent_2": trade_action(0, 0, 5)})
    assert env.inv[2, 0] == 0 and env.market_counts().sum() == 2
    env.coin[1] = 0.0
    labor = env.labor[1]
    env.step({**_noops(env), "agent_1": trade_action(0, 0, 2)})
    assert env.labor[1] == labor and env.market_counts().sum() == 2


def test_period_end_applies_eq_6_8_and_keeps_total_coin():
    env = _fresh()
    env.coin[:] = [15, 30, 60, 110]            # incomes [5, 20, 50, 100] since the start (10 each)
    for t in range(9):
        _, _, _, _, info = env.step(_noops(env))
        assert not info["agent_0"]["tax"]["period_end"]
    u_before = utility(env.total_coin(), env.labor)
    _, rew, _, _, info = env.step(_noops(env))
    assert info["agent_0"]["tax"]["period_end"]
    np.testing.assert_allclose(env.coin, np.array([11.43475, 24.72875, 50.07625, 88.76025]) + 10,
                               atol=1e-9)
    assert [info[a]["tax"]["income"] for a in env.possible_agents] == pytest.approx([5, 20, 50, 100])
    assert info["agent_3"]["totals"]["tax_paid"] == pytest.approx(18.1745)
    assert info["agent_0"]["productivity"] == pytest.approx(215.0)
    want = utility(env.coin, env.labor) - u_before
    assert [rew[a] for a in env.possible_agents] == pytest.approx(want.tolist())
    # Next period: no new income -> no tax.
    for _ in range(10):
        _, _, _, _, info = env.step(_noops(env))
    assert info["agent_3"]["totals"]["tax_paid"] == 0.0


def test_free_market_and_set_tax_rates():
    env = _fresh(tax_rates="free_market")
    env.coin[:] = [15, 30, 60, 110]
    for _ in range(10):
        _, _, _, _, info = env.step(_noops(env))
    np.testing.assert_allclose(env.coin, [15, 30, 60, 110])
    assert info["agent_0"]["rates"]["tax_rate_6"] == 0.0
    env.set_tax_rates([1.0] * 7)
    env.coin[:] = env.coin + [0, 0, 0, 40]     # agent_3 earns 40, everything is redistributed
    for _ in range(10):
        env.step(_noops(env))
    np.testing.assert_allclose(env.coin, [25, 40, 70, 120])
    with pytest.raises(ValueError, match="7 numbers in"):
        env.set_tax_rates([0.5] * 6)
    with pytest.raises(ValueError, match="7 numbers in"):
        env.set_tax_rates([1.5] * 7)
    with pytest.raises(ValueError, match="tax_rates must be one of"):
        make("gather_trade_build", tax_rates="sweden")
    with pytest.raises(ValueError, match="n_agents"):
        make("gather_trade_build", n_agents=5)


def test_rewards_telescope_to_utility_and_info_contract():
    env = make("gather_trade_build")
    env.reset(seed=1)
    u0 = utility(env.total_coin(), env.labor)
    rng = np.random.default_rng(1)
    total = np.zeros(4)
    steps = 0
    while env.agents:
        _, rew, _, _, info = env.step({a: int(rng.integers(0, 50)) for a in env.agents})
        total += [rew[a] for a in env.possible_agents]
        steps += 1
        coins = [info[a]["tax"]["coin"] for a in env.possible_agents]
        assert info["agent_1"]["productivity"] == pytest.approx(sum(coins))
        assert info["agent_1"]["equality"] == pytest.approx(gini_equality(coins))
        assert set(info["agent_0"]) >= {"joint_action", "productivity", "equality", "totals",
                                        "rates", "tax"}
    np.testing.assert_allclose(total, utility(env.total_coin(), env.labor) - u0, atol=1e-9)
    assert steps == 100
