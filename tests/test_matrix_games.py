"""Matrix games: payoff tables, observation layout, validation, and hand-derived static oracles."""
import itertools

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from rllib_coopai.envs import make, names
from rllib_coopai.envs.matrix_games import PRESETS

MATRIX = sorted(PRESETS)


def play(env, joint):
    env.reset(seed=0)
    acts = dict(zip(env.possible_agents, joint))
    return env.step(acts)


@pytest.mark.parametrize("name", [n for n in MATRIX if n != "matrix_game"])
def test_pettingzoo_api_and_seed(name):
    parallel_api_test(make(name, horizon=3), num_cycles=50)
    parallel_seed_test(lambda: make(name, horizon=3))


def test_prisoners_dilemma_payoffs_dcl_table1():
    # DCL paper Table 1: R(C,C)=(-1,-1); R(C,D)=(-3,0); R(D,C)=(0,-3); R(D,D)=(-2,-2); C=0, D=1.
    env = make("prisoners_dilemma")
    expect = {(0, 0): (-1, -1), (0, 1): (-3, 0), (1, 0): (0, -3), (1, 1): (-2, -2)}
    for joint, pay in expect.items():
        _, rew, _, trunc, info = play(env, joint)
        assert (rew["player_0"], rew["player_1"]) == pay
        assert all(trunc.values()), "one-shot game ends after one step"
        assert info["player_0"]["joint_action"] == joint
        assert info["player_0"]["cooperated"] == (joint[0] == 0)
        assert info["player_1"]["cooperated"] == (joint[1] == 0)


def test_ipd_observation_is_previous_joint_action_plus_start_flag():
    # LIO thesis §5.3.1: 5-dim one-hot, index 2*a1 + a2 (C=0, D=1), index 4 = start state.
    env = make("prisoners_dilemma", horizon=5)
    obs, _ = env.reset(seed=1)
    assert obs["player_0"].tolist() == [0, 0, 0, 0, 1]
    for t, joint in enumerate([(0, 1), (1, 0), (1, 1), (0, 0), (0, 1)]):
        obs, rew, term, trunc, _ = env.step(dict(zip(env.possible_agents, joint)))
        expect = np.zeros(5)
        expect[2 * joint[0] + joint[1]] = 1
        assert obs["player_0"].tolist() == expect.tolist() == obs["player_1"].tolist()
        assert all(trunc.values()) == (t == 4)
    assert env.agents == []


def expected_payoffs(env, p):
    """Expected payoff of each player when player i plays action 0 with probability p[i] (2x2)."""
    probs = [np.array([pi, 1 - pi]) for pi in p]
    joint = np.einsum("i,j->ij", *probs)
    return np.einsum("ij,ijk->k", joint, env.payoffs)


@pytest.mark.parametrize("p1,p2", [(0.25, 0.25), (0.1, 0.9), (0.6, 0.3)])
def test_amd_welfare_closed_forms(p1, p2):
    # hand-derived from AMD thesis Table 4.1: PD V = 2 + 2(p1+p2); Chicken V = 2 + 3.5(p1+p2) - 3 p1 p2;
    # Stag Hunt V = 2 + 4 p1 p2.
    pd = make("greed_fear", greed=1.0, fear=1.0)
    assert expected_payoffs(pd, (p1, p2)).sum() == pytest.approx(2 + 2 * (p1 + p2))
    ch = make("chicken")
    assert expected_payoffs(ch, (p1, p2)).sum() == pytest.approx(2 + 3.5 * (p1 + p2) - 3 * p1 * p2)
    sh = make("stag_hunt")
    assert expected_payoffs(sh, (p1, p2)).sum() == pytest.approx(2 + 4 * p1 * p2)


def test_amd_table_4_1_matrices():
    # AMD thesis Table 4.1 (CC; CD; DC; DD).
    assert make("greed_fear").payoffs.reshape(4, 2).tolist() == [[3, 3], [0, 4], [4, 0], [1, 1]]
    assert make("chicken").payoffs.reshape(4, 2).tolist() == [[3, 3], [2, 3.5], [3.5, 2], [1, 1]]
    assert make("stag_hunt").payoffs.reshape(4, 2).tolist() == [[3, 3], [0, 2], [2, 0], [1, 1]]


def test_chicken_mixed_equilibrium_and_stag_hunt_threshold():
    # Chicken mixed NE: P(C) = 2/3 each, payoff 8/3 (hand-derived); at the NE a player is
    # indifferent between C and D.
    ch = make("chicken")
    q = 2 / 3
    u_c = expected_payoffs(ch, (1.0, q))[0]
    u_d = expected_payoffs(ch, (0.0, q))[0]
    assert u_c == pytest.approx(u_d) == pytest.approx(8 / 3)
    # Stag Hunt: C is a best response iff the opponent's P(C) > 1/2.
    sh = make("stag_hunt")
    for q, c_better in [(0.49, False), (0.51, True)]:
        assert (expected_payoffs(sh, (1.0, q))[0] > expected_payoffs(sh, (0.0, q))[0]) == c_better


def test_bos_variants_and_mixed_equilibrium():
    # normative-disagreement paper Fig. 2, equilibria hand-derived: asymmetric BoS (4,1)/(2,2);
    # mixed NE row P(B)=2/3, column P(B)=1/3, payoffs (4/3, 2/3).
    abos = make("asymmetric_bach_or_stravinsky")
    assert abos.payoffs.reshape(4, 2).tolist() == [[4, 1], [0, 0], [0, 0], [2, 2]]
    assert make("bach_or_stravinsky", asymmetric=True).payoffs.tolist() == abos.payoffs.tolist()
    assert make("bach_or_stravinsky").payoffs.reshape(4, 2).tolist() == [[3, 2], [0, 0], [0, 0], [2, 3]]
    u = expected_payoffs(abos, (2 / 3, 1 / 3))
    assert u.tolist() == pytest.approx([4 / 3, 2 / 3])


def test_purely_conflicting_and_matching_pennies():
    # DCL paper Table 2: (A1,A1)=(0,0); (A1,A2)=(-1,2); (A2,A1)=(2,-1); (A2,A2)=(0,0); horizon 16.
    rpc = make("purely_conflicting")
    assert rpc.horizon == 16
    assert rpc.payoffs.reshape(4, 2).tolist() == [[0, 0], [-1, 2], [2, -1], [0, 0]]
    mp = make("matching_pennies")
    assert np.all(mp.payoffs.sum(-1) == 0), "matching pennies is zero-sum"
    _, _, _, _, info = play(mp, (0, 1))
    assert "cooperated" not in info["player_0"], "no cooperation defined in matching pennies"


def test_generic_three_player_table():
    table = np.arange(2 * 3 * 2 * 3, dtype=float).reshape(2, 3, 2, 3)
    env = make("matrix_game", payoffs=table.tolist(), horizon=2)
    assert len(env.possible_agents) == 3
    assert env.observation_space("player_0").shape == (13,)
    obs, rew, *_ = play(env, (1, 2, 0))
    assert [rew[a] for a in env.possible_agents] == table[1, 2, 0].tolist()
    assert obs["player_2"].argmax() == np.ravel_multi_index((1, 2, 0), (2, 3, 2))


@pytest.mark.parametrize(
    "name,kwargs,key",
    [
        ("prisoners_dilemma", {"horizon": 0}, "horizon"),
        ("prisoners_dilemma", {"horizon": 2.5}, "horizon"),
        ("greed_fear", {"greed": float("nan")}, "greed"),
        ("bach_or_stravinsky", {"asymmetric": "yes"}, "asymmetric"),
        ("matrix_game", {"payoffs": [[1, 2], [3, 4]]}, "payoffs"),
        ("prisoners_dilemma", {"render_mode": "human"}, "render_mode"),
        ("prisoners_dilemma", {"horizn": 3}, "horizon"),
    ],
)
def test_bad_values_name_the_key(name, kwargs, key):
    with pytest.raises(ValueError, match=key):
        make(name, **kwargs)


def test_bad_action_names_range():
    env = make("prisoners_dilemma")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        env.step({"player_0": 2, "player_1": 0})


def test_render_ansi():
    env = make("prisoners_dilemma", horizon=2, render_mode="ansi")
    env.reset(seed=0)
    env.step({"player_0": 0, "player_1": 1})
    text = env.render()
    assert "C" in text and "D" in text and "(-3.0, 0.0)" in text


def test_registry_unknown_name_lists_known_ones():
    with pytest.raises(ValueError) as err:
        make("prisoner_dilemma")
    msg = str(err.value)
    assert "prisoners_dilemma" in msg and "escape_room" in msg and "Did you mean" in msg
    assert set(MATRIX) <= set(names())
