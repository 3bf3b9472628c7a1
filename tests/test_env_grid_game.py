"""DCL grid game (DCL paper §4.1.2, Table 6; hand-computed oracles)."""
import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from rllib_coopai.envs import make
from rllib_coopai.envs.grid_game import GridGameEnv

C = {"player_0": 0, "player_1": 1}
D = {"player_0": 1, "player_1": 0}


def episode(env, a1, a2, gamma=0.99):
    env.reset(seed=0)
    rets = np.zeros(2)
    disc = np.zeros(2)
    t = 0
    while env.agents:
        _, r, _, _, _ = env.step({"player_0": a1, "player_1": a2})
        rr = np.array([r["player_0"], r["player_1"]])
        rets += rr
        disc += gamma ** t * rr
        t += 1
    assert t == 16
    return rets, disc


def test_reset_observation():
    env = GridGameEnv()
    obs, _ = env.reset(seed=0)
    for a in env.possible_agents:
        assert obs[a].tolist() == [1, 0, 0, 0, 0, 0, 0, 1]
        assert obs[a].dtype == np.float32


@pytest.mark.parametrize("acts,expected", [
    ((0, 1), (0, 0)), ((1, 1), (1, -2)), ((0, 0), (-2, 1)), ((1, 0), (-1, -1)),
])
def test_first_step_rewards(acts, expected):
    env = GridGameEnv()
    env.reset(seed=0)
    _, r, _, _, infos = env.step({"player_0": acts[0], "player_1": acts[1]})
    assert (r["player_0"], r["player_1"]) == expected
    assert infos["player_0"]["joint_action"] == acts
    assert infos["player_0"]["cooperated"] == (acts[0] == 0)
    assert infos["player_1"]["cooperated"] == (acts[1] == 1)


def test_clamping_and_positions():
    env = GridGameEnv()
    env.reset(seed=0)
    obs, *_ = env.step({"player_0": 0, "player_1": 1})  # both clamped at home
    assert obs["player_0"].tolist() == [1, 0, 0, 0, 0, 0, 0, 1]
    for _ in range(5):
        obs, *_ = env.step({"player_0": 1, "player_1": 0})  # cross and clamp at the far ends
    assert obs["player_0"].tolist() == [0, 0, 0, 1, 1, 0, 0, 0]


@pytest.mark.parametrize("a1,a2,undisc,disc", [
    (0, 1, (0, 0), (0, 0)),
    (1, 0, (-45, -45), (-41.572669, -41.572669)),
    (1, 1, (45, -90), (41.572669, -83.145337)),
    (0, 0, (-90, 45), (-83.145337, 41.572669)),
])
def test_full_episode_returns(a1, a2, undisc, disc):
    rets, d = episode(GridGameEnv(), a1, a2)
    assert rets.tolist() == list(undisc)
    np.testing.assert_allclose(d, disc, atol=1e-6)


def test_welfare_invariant():
    env = GridGameEnv()
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    while env.agents:
        obs, r, *_ = env.step({a: int(rng.integers(2)) for a in env.possible_agents})
        p1, p2 = obs["player_0"][:4].argmax(), obs["player_0"][4:].argmax()
        assert r["player_0"] + r["player_1"] == -(p1 + (3 - p2))


def test_api_seed_render_make():
    parallel_api_test(GridGameEnv(), num_cycles=40)
    parallel_seed_test(GridGameEnv)
    env = make("grid_game", render_mode="ansi", horizon=3)
    assert env.horizon == 3
    env.reset(seed=0)
    env.step(D)
    text = env.render()
    assert isinstance(text, str) and "1" in text and "2" in text


@pytest.mark.parametrize("kw,key", [
    (dict(grid_size=1), "grid_size"), (dict(horizon=0), "horizon"), (dict(horizon=2.5), "horizon"),
    (dict(conflict=-1), "conflict"), (dict(render_mode="rgb_array"), "render_mode"),
])
def test_validation(kw, key):
    with pytest.raises(ValueError, match=key):
        GridGameEnv(**kw)
