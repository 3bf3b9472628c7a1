"""Bargaining environments of the normative-disagreement paper (§4.1, Fig. 2, App. B):
IAsymBoS, IPD with the code's payoffs, pure coordination, coin game 3x3 and ABCG reward rules."""
import itertools

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from rllib_coopai.envs import make
from rllib_coopai.envs.coin_game import DOWN, LEFT, RIGHT, UP, AsymmetricBargainingCoinGameEnv


def rollout(env, joint_actions):
    """Play a fixed list of joint actions; return the per-step rewards [T, 2] and last obs."""
    env.reset(seed=0)
    rewards, obs = [], None
    for joint in joint_actions:
        obs, r, term, trunc, _ = env.step(dict(zip(env.possible_agents, joint)))
        rewards.append([r[a] for a in env.possible_agents])
    return np.array(rewards), obs, trunc


@pytest.mark.parametrize("name,table", [
    # Fig. 2: asymmetric BoS (B=0, S=1): BB (4,1), SS (2,2), miscoordination (0,0)
    ("iterated_asymmetric_bos", {(0, 0): (4, 1), (0, 1): (0, 0), (1, 0): (0, 0), (1, 1): (2, 2)}),
    ("pure_coordination", {(0, 0): (1, 1), (0, 1): (0, 0), (1, 0): (0, 0), (1, 1): (1, 1)}),
    # the authors' code (C=0, D=1): CC (-1,-1), CD (-3,0), DC (0,-3), DD (-2,-2)
    ("iterated_prisoners_dilemma", {(0, 0): (-1, -1), (0, 1): (-3, 0), (1, 0): (0, -3), (1, 1): (-2, -2)}),
])
def test_matrix_reward_rules(name, table):
    env = make(name)
    for joint, expected in table.items():
        r, _, _ = rollout(env, [joint])
        assert tuple(r[0]) == expected, (name, joint)


def test_iasymbos_is_the_iterated_game():
    env = make("iterated_asymmetric_bos")
    assert env.horizon == 20  # amTFT episode length, paper Table 4
    # always B: (4,1) every step; obs = previous joint action (BB = index 0); truncated at 20
    r, obs, trunc = rollout(env, [(0, 0)] * 20)
    assert r.sum(0).tolist() == [80.0, 20.0] and all(trunc.values())
    assert obs["player_0"].tolist() == [1, 0, 0, 0, 0]
    # alternating BB / SS (a correlated fair coin) gives the Nash-welfare profile (3, 1.5) per step
    r, obs, _ = rollout(make("iterated_asymmetric_bos", horizon=4), [(0, 0), (1, 1)] * 2)
    assert (r.mean(0) == [3.0, 1.5]).all() and obs["player_1"].tolist() == [0, 0, 0, 1, 0]
    assert make("asymmetric_bach_or_stravinsky", horizon=20).payoffs.tolist() == env.payoffs.tolist()
    assert make("iterated_prisoners_dilemma").horizon == 20


def test_pure_coordination_and_coin_game_defaults():
    env = make("pure_coordination")
    payoffs = env.payoffs
    for a, b in itertools.product(range(2), repeat=2):
        assert payoffs[a, b].tolist() == ([1.0, 1.0] if a == b else [0.0, 0.0])
    cg = make("coin_game")
    assert cg.grid_size == 3 and cg.observation_spaces["player_0"].shape == (3, 3, 4)
    abcg = make("asymmetric_coin_game")
    assert abcg.grid_size == 3 and abcg.observation_spaces["player_0"].shape == (3, 3, 6)


def _place(env, p0, p1, cc, dc, cc_colour):
    env._pos = np.array([p0, p1])
    env._cc, env._dc, env._cc_colour = cc, dc, cc_colour


def test_abcg_alternating_cooperation_coins_pay_blue_more():
    """Under the always-cooperate norm the CC colour alternates: red gets 2 and blue 3 per two coins
    (App. B, the authors' code), so w_Util favours it while blue gains more."""
    env = AsymmetricBargainingCoinGameEnv()
    env.reset(seed=3)
    first = env._cc_colour
    totals = np.zeros(2)
    colours = []
    for _ in range(4):
        # put both players next to the CC and step onto it together (cells on the 3x3 torus)
        colours.append(env._cc_colour)
        _place(env, 3, 5, 4, 0, env._cc_colour)  # (1,0) and (1,2) around the CC at (1,1)
        _, r, _, _, infos = env.step({"player_0": RIGHT, "player_1": LEFT})
        totals += [r["player_0"], r["player_1"]]
        assert infos["player_0"]["coin_event"] == "cc"
    assert colours == [first, 1 - first, first, 1 - first]
    assert totals.tolist() == [4.0, 6.0]


def test_abcg_disagreement_coin_and_punishment_helped():
    env = AsymmetricBargainingCoinGameEnv(punishment_helped=0.75)
    env.reset(seed=0)
    # CC red -> DC blue at (0,0); blue steps on it, red steps there too: blue 1 - 0.75
    _place(env, 1, 3, 4, 0, 0)  # red at (0,1), blue at (1,0)
    _, r, _, _, infos = env.step({"player_0": LEFT, "player_1": UP})
    assert r == {"player_0": 0.0, "player_1": 0.25} and infos["player_1"]["coin_event"] == "dc"
    # the same without the helper on the coin: the full 1
    _place(env, 8, 3, 4, 0, 0)
    _, r, *_ = env.step({"player_0": UP, "player_1": UP})
    assert r == {"player_0": 0.0, "player_1": 1.0}
    # red alone on the red CC does not block blue's DC in the same step (paper's text)
    _place(env, 3, 2, 4, 0, 0)  # red (1,0) -> CC (1,1); blue (0,2) -> right wraps to (0,0) = DC
    _, r, *_ = env.step({"player_0": RIGHT, "player_1": RIGHT})
    assert r == {"player_0": 0.0, "player_1": 1.0}
    # nobody on any coin (the punish-by-waiting disagreement profile): (0, 0)
    _place(env, 8, 7, 4, 0, 0)
    _, r, *_ = env.step({"player_0": LEFT, "player_1": RIGHT})
    assert r == {"player_0": 0.0, "player_1": 0.0}
    with pytest.raises(ValueError, match="punishment_helped"):
        AsymmetricBargainingCoinGameEnv(punishment_helped=-1.0)


def test_abcg_with_penalty_api_and_seed():
    parallel_api_test(AsymmetricBargainingCoinGameEnv(punishment_helped=0.75, horizon=30), num_cycles=60)
    parallel_seed_test(lambda: AsymmetricBargainingCoinGameEnv(punishment_helped=0.75))
