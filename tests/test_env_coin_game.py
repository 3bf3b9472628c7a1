"""Coin Game and asymmetric bargaining Coin Game (AMD thesis §4.3.1; normative-disagreement paper §4.1, App. B)."""
import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from rllib_coopai.envs import make
from rllib_coopai.envs.coin_game import (DOWN, LEFT, RIGHT, UP, AsymmetricBargainingCoinGameEnv,
                                         CoinGameEnv)


def cell(r, c, g=3):
    return r * g + c


def setup_coin(env, p0, p1, coin, red):
    env.reset(seed=0)
    env._pos = np.array([p0, p1])
    env._coin, env._coin_red = coin, red


@pytest.mark.parametrize("red,expected", [(True, (1, 0)), (False, (1, -2))])
def test_red_picks(red, expected):
    env = CoinGameEnv()
    # red at (0,0) moves right onto the coin at (0,1); blue at (2,2) moves up to (1,2).
    setup_coin(env, cell(0, 0), cell(2, 2), cell(0, 1), red)
    _, r, _, _, infos = env.step({"player_0": RIGHT, "player_1": UP})
    assert (r["player_0"], r["player_1"]) == expected
    assert infos["player_0"]["cooperated"] == red and infos["player_0"]["picked"]
    assert "cooperated" not in infos["player_1"] and not infos["player_1"]["picked"]
    assert infos["player_0"]["joint_action"] == (RIGHT, UP)
    # A new coin appeared on a free cell.
    assert env._coin not in (int(env._pos[0]), int(env._pos[1]))


def test_blue_picks_red_coin_and_simultaneous_pick():
    env = CoinGameEnv()
    setup_coin(env, cell(0, 0), cell(1, 2), cell(1, 1), True)
    _, r, *_ = env.step({"player_0": UP, "player_1": LEFT})  # red wraps to (2,0); blue picks
    assert (r["player_0"], r["player_1"]) == (-2, 1)
    setup_coin(env, cell(1, 0), cell(1, 2), cell(1, 1), True)
    _, r, _, _, infos = env.step({"player_0": RIGHT, "player_1": LEFT})  # both pick the red coin
    assert (r["player_0"], r["player_1"]) == (-1, 1)
    assert infos["player_0"]["cooperated"] is True and infos["player_1"]["cooperated"] is False


def test_no_pick_no_reward_and_torus():
    env = CoinGameEnv(obs_mode="global")
    setup_coin(env, cell(0, 0), cell(2, 2), cell(1, 1), False)
    obs, r, _, _, infos = env.step({"player_0": LEFT, "player_1": DOWN})
    assert r == {"player_0": 0.0, "player_1": 0.0} and "cooperated" not in infos["player_0"]
    assert env._pos.tolist() == [cell(0, 2), cell(0, 2)]
    o = obs["player_0"]
    assert o.shape == (3, 3, 4) and o[0, 2, 0] == 1 and o[0, 2, 1] == 1 and o[1, 1, 3] == 1
    assert o.sum() == 3 and np.array_equal(obs["player_1"], o)


def test_relative_and_egocentric_obs():
    env = CoinGameEnv(obs_mode="relative")
    setup_coin(env, cell(0, 0), cell(2, 1), cell(1, 1), True)
    o = env._observe()
    assert o["player_0"][0, 0, 0] == 1 and o["player_0"][2, 1, 1] == 1 and o["player_0"][1, 1, 2] == 1
    # Blue sees itself in channel 0 and the red coin as the "other colour" coin (channel 3).
    assert o["player_1"][2, 1, 0] == 1 and o["player_1"][0, 0, 1] == 1 and o["player_1"][1, 1, 3] == 1
    env = CoinGameEnv(obs_mode="egocentric")
    setup_coin(env, cell(0, 0), cell(2, 1), cell(1, 1), True)
    o = env._observe()
    for a in env.possible_agents:
        assert o[a][1, 1, 0] == 1  # observer at the centre
    assert o["player_0"][2, 2, 2] == 1  # coin at +1,+1 from red
    assert o["player_0"][0, 2, 1] == 1  # blue at (2,1) = (-1,+1) from red on the torus


def greedy(env, i):
    """Shortest torus move towards the coin."""
    g = env.grid_size
    pr, pc = divmod(int(env._pos[i]), g)
    cr, cc = divmod(int(env._coin), g)
    dr, dc = (cr - pr) % g, (cc - pc) % g
    if dc:
        return RIGHT if dc <= g // 2 else LEFT
    if dr:
        return DOWN if dr <= g // 2 else UP
    return RIGHT


def test_greedy_play_welfare_near_zero():
    env = CoinGameEnv()
    total, coins = 0.0, 0
    env.reset(seed=1)
    for ep in range(30):
        if not env.agents:
            env.reset()
        while env.agents:
            _, r, _, _, infos = env.step({"player_0": greedy(env, 0), "player_1": greedy(env, 1)})
            total += r["player_0"] + r["player_1"]
            coins += infos["player_0"]["picked"] or infos["player_1"]["picked"]
    assert coins > 1000
    assert abs(total / coins) < 0.15


def test_alternate_colour():
    env = CoinGameEnv(coin_colour="alternate")
    setup_coin(env, cell(0, 0), cell(2, 2), cell(0, 1), True)
    env.step({"player_0": RIGHT, "player_1": UP})
    assert env._coin_red is False


def setup_abcg(env, p0, p1, cc, dc, cc_colour):
    env.reset(seed=0)
    env._pos = np.array([p0, p1])
    env._cc, env._dc, env._cc_colour = cc, dc, cc_colour


@pytest.mark.parametrize("cc_colour,expected", [(0, (2.0, 0.0)), (1, (0.0, 3.0))])
def test_abcg_joint_cooperation_coin(cc_colour, expected):
    env = AsymmetricBargainingCoinGameEnv()
    setup_abcg(env, cell(1, 0), cell(1, 2), cell(1, 1), cell(0, 0), cc_colour)
    _, r, _, _, infos = env.step({"player_0": RIGHT, "player_1": LEFT})
    assert (r["player_0"], r["player_1"]) == expected
    assert infos["player_0"]["cooperated"] and infos["player_1"]["coin_event"] == "cc"
    assert env._cc_colour == 1 - cc_colour  # CC colour alternates on regeneration
    assert env._cc != env._dc and not {env._cc, env._dc} & set(env._pos.tolist())


def test_abcg_cc_alone_and_disagreement_coin():
    env = AsymmetricBargainingCoinGameEnv()
    # Red alone on the (red) CC: nothing happens.
    setup_abcg(env, cell(1, 0), cell(2, 2), cell(1, 1), cell(0, 0), 0)
    _, r, *_ = env.step({"player_0": RIGHT, "player_1": UP})
    assert r == {"player_0": 0.0, "player_1": 0.0} and env._cc == cell(1, 1)
    # CC red -> DC blue: red stepping on it gets nothing, blue gets +1.
    setup_abcg(env, cell(0, 1), cell(2, 2), cell(1, 1), cell(0, 0), 0)
    _, r, *_ = env.step({"player_0": LEFT, "player_1": UP})
    assert r == {"player_0": 0.0, "player_1": 0.0}
    setup_abcg(env, cell(2, 2), cell(0, 1), cell(1, 1), cell(0, 0), 0)
    _, r, _, _, infos = env.step({"player_0": UP, "player_1": LEFT})
    assert r == {"player_0": 0.0, "player_1": 1.0}
    assert infos["player_1"]["cooperated"] is False and "cooperated" not in infos["player_0"]


def test_abcg_obs_channels():
    env = AsymmetricBargainingCoinGameEnv(obs_mode="global")
    setup_abcg(env, cell(0, 0), cell(2, 2), cell(1, 1), cell(0, 2), 1)  # blue CC, red DC
    o = env._observe()["player_0"]
    assert o.shape == (3, 3, 6) and o[1, 1, 5] == 1 and o[0, 2, 2] == 1 and o.sum() == 4
    env = AsymmetricBargainingCoinGameEnv(obs_mode="relative")
    setup_abcg(env, cell(0, 0), cell(2, 2), cell(1, 1), cell(0, 2), 1)
    o = env._observe()["player_1"]
    assert o[2, 2, 0] == 1 and o[1, 1, 4] == 1 and o[0, 2, 3] == 1  # own CC, other's DC


@pytest.mark.parametrize("cls", [CoinGameEnv, AsymmetricBargainingCoinGameEnv])
@pytest.mark.parametrize("mode", ["relative", "global", "egocentric"])
def test_api_and_seed(cls, mode):
    parallel_api_test(cls(obs_mode=mode, horizon=30), num_cycles=100)
    parallel_seed_test(lambda: cls(obs_mode=mode))


def test_horizon_render_make():
    for name, cls in [("coin_game", CoinGameEnv), ("asymmetric_coin_game", AsymmetricBargainingCoinGameEnv)]:
        env = make(name, render_mode="ansi")
        assert isinstance(env, cls) and env.horizon == 100
        env.reset(seed=0)
        steps = 0
        while env.agents:
            env.step({a: 0 for a in env.agents})
            steps += 1
        assert steps == 100
        assert isinstance(env.render(), str) and "R" in env.render()


@pytest.mark.parametrize("cls,kw,key", [
    (CoinGameEnv, dict(grid_size=1), "grid_size"), (CoinGameEnv, dict(horizon=0), "horizon"),
    (CoinGameEnv, dict(obs_mode="rgb"), "obs_mode"), (CoinGameEnv, dict(coin_colour="green"), "coin_colour"),
    (AsymmetricBargainingCoinGameEnv, dict(red_coop_reward="a"), "red_coop_reward"),
    (AsymmetricBargainingCoinGameEnv, dict(blue_coop_reward=float("nan")), "blue_coop_reward"),
    (AsymmetricBargainingCoinGameEnv, dict(disagreement_reward=None), "disagreement_reward"),
])
def test_validation(cls, kw, key):
    with pytest.raises(ValueError, match=key):
        cls(**kw)
