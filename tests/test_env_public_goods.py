"""Public goods game (DCL paper §5.1, App. 11; hand-computed oracles)."""
import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from rllib_coopai.envs import make
from rllib_coopai.envs.public_goods import CONTRIBUTE, FREE_RIDE, PublicGoodsEnv


def play(env, acts):
    env.reset(seed=0)
    _, r, term, trunc, infos = env.step(dict(zip(env.possible_agents, acts)))
    return np.array([r[a] for a in env.possible_agents]), trunc, infos


@pytest.mark.parametrize("n,sw", [(2, 1.0), (3, 1.5), (5, 2.5), (10, 5.0)])
def test_all_contribute(n, sw):
    r, trunc, infos = play(PublicGoodsEnv(n_agents=n), [CONTRIBUTE] * n)
    np.testing.assert_allclose(r, 0.5)
    assert r.sum() == pytest.approx(sw)
    assert all(trunc.values())  # one-shot
    assert all(i["cooperated"] for i in infos.values())


def test_nobody_contributes():
    r, _, infos = play(PublicGoodsEnv(n_agents=5), [FREE_RIDE] * 5)
    assert r.tolist() == [0.0] * 5
    assert not any(i["cooperated"] for i in infos.values())


def test_five_players_four_contributors():
    r, _, infos = play(PublicGoodsEnv(n_agents=5), [0, 0, 0, 0, 1])
    np.testing.assert_allclose(r, [0.2, 0.2, 0.2, 0.2, 1.2])
    assert r.sum() == pytest.approx(2.0)
    assert infos["player_0"]["joint_action"] == (0, 0, 0, 0, 1)


@pytest.mark.parametrize("k,sw", [(7, 3.5), (8, 4.0)])
def test_ten_players(k, sw):
    env = PublicGoodsEnv(n_agents=10)
    r, _, _ = play(env, [0] * k + [1] * (10 - k))
    assert r[0] == pytest.approx(0.15 * k - 1) and r[0] > 0
    assert r.sum() == pytest.approx(sw)
    r6, _, _ = play(env, [0] * 6 + [1] * 4)
    assert r6[0] < 0


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_free_riding_dominant(n):
    env = PublicGoodsEnv(n_agents=n)
    rng = np.random.default_rng(n)
    for _ in range(10):
        c = rng.integers(0, 2, n).astype(float)
        c[0] = 1
        gain = env.payoffs(np.r_[0, c[1:]])[0] - env.payoffs(c)[0]
        assert gain == pytest.approx(1 - 1.5 / n) and gain > 0


def test_literal_form():
    r, _, _ = play(PublicGoodsEnv(n_agents=2, form="literal"), [0, 0])
    assert r.tolist() == [2.0, 2.0]  # SW 4, which the paper's Table 8 rules out


def test_repeated_horizon_and_obs():
    env = PublicGoodsEnv(n_agents=3, horizon=4)
    obs, _ = env.reset(seed=0)
    assert obs["player_0"].tolist() == [1.0] and obs["player_0"].dtype == np.float32
    steps = 0
    while env.agents:
        env.step({a: 0 for a in env.agents})
        steps += 1
    assert steps == 4


def test_api_seed_render_make():
    parallel_api_test(PublicGoodsEnv(n_agents=5, horizon=3), num_cycles=20)
    parallel_seed_test(lambda: PublicGoodsEnv(n_agents=3, horizon=2))
    env = make("public_goods", n_agents=5, render_mode="ansi")
    env.reset(seed=0)
    env.step({a: 0 for a in env.possible_agents})
    text = env.render()
    assert isinstance(text, str) and "CCCCC" in text


@pytest.mark.parametrize("kw,key", [
    (dict(n_agents=1), "n_agents"), (dict(factor=0), "factor"), (dict(factor="x"), "factor"),
    (dict(form="sum"), "form"), (dict(horizon=0), "horizon"),
])
def test_validation(kw, key):
    with pytest.raises(ValueError, match=key):
        PublicGoodsEnv(**kw)
