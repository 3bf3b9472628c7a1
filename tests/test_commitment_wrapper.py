"""Markov Commitment Game wrapper and protocol oracles (DCL paper §2, §4.1.3, Tables 1-2)."""
import numpy as np
import pytest
import torch
from pettingzoo.test import parallel_api_test

from rllib_coopai.algorithms.dcl.connectors import executed_actions
from rllib_coopai.core.returns import discounted_returns as mc_returns
from rllib_coopai.envs import make
from rllib_coopai.wrappers.commitment import (
    ACT,
    COMMIT,
    PROPOSE,
    CommitmentGameWrapper,
    MegaStepWrapper,
)

C, D = 0, 1
A1, A2 = 0, 1


def play_step(env, m, c, a):
    agents = env.possible_agents
    env.step(dict(zip(agents, m)))
    env.step(dict(zip(agents, c)))
    return env.step(dict(zip(agents, a)))


def test_parallel_api_conformance():
    parallel_api_test(CommitmentGameWrapper(make("prisoners_dilemma", horizon=3)), num_cycles=30)
    parallel_api_test(CommitmentGameWrapper(make("public_goods", n_agents=3)), num_cycles=10)
    parallel_api_test(CommitmentGameWrapper(make("purely_conflicting"), mega_steps=2), num_cycles=30)
    parallel_api_test(MegaStepWrapper(make("purely_conflicting"), 2), num_cycles=30)


def test_deal_rule_two_agents_item_1():
    env = CommitmentGameWrapper(make("prisoners_dilemma"))
    for c, expect in [((1, 1), (C, C)), ((0, 1), (D, D)), ((1, 0), (D, D)), ((0, 0), (D, D))]:
        env.reset(seed=0)
        obs, rew, term, trunc, infos = play_step(env, (C, C), c, (D, D))
        assert infos["player_0"]["joint_action"] == expect
        assert infos["player_0"]["deal"] == (c == (1, 1))
        assert infos["player_0"]["rates"]["agreement_rate"] == float(c == (1, 1))
        r = (-1.0, -1.0) if expect == (C, C) else (-2.0, -2.0)  # DCL paper Table 1: rewards of executed
        assert (rew["player_0"], rew["player_1"]) == r
        assert infos["player_0"]["cooperated"] == (expect[0] == C)
        assert all(trunc.values())


@pytest.mark.parametrize("n", [3, 5])
def test_deal_rule_n_agents(n):
    """m is executed iff all N commit (DCL paper §2, N agents)."""
    env = CommitmentGameWrapper(make("public_goods", n_agents=n))
    rng = np.random.default_rng(n)
    for _ in range(30):
        m = rng.integers(0, 2, n)
        c = rng.integers(0, 2, n)
        if rng.random() < 0.3:
            c[:] = 1
        a = rng.integers(0, 2, n)
        env.reset(seed=1)
        _, _, _, _, infos = play_step(env, m.tolist(), c.tolist(), a.tolist())
        executed = [infos[ag]["executed_action"] for ag in env.possible_agents]
        assert executed == (m if c.all() else a).tolist()
        assert executed == executed_actions(m[None], c[None], a[None])[0].tolist()


def test_stages_observations_and_masks():
    env = CommitmentGameWrapper(make("purely_conflicting"), mega_steps=2)
    assert env.n_actions["player_0"] == 4 and env.action_space("player_0").n == 4  # |A|^K sequences
    obs, infos = env.reset(seed=0)
    o = obs["player_0"]
    d = env._flat_dims["player_0"]
    assert o[d: d + 3].tolist() == [1, 0, 0] and o[d + 3:].sum() == 0  # proposal stage
    assert infos["player_0"]["action_mask"].tolist() == [1, 1, 1, 1]
    obs, rew, *_ , infos = env.step({"player_0": 1, "player_1": 2})
    o = obs["player_1"]
    assert o[d: d + 3].tolist() == [0, 1, 0]
    assert o[d + 3:].tolist() == [0, 1, 0, 0, 0, 0, 1, 0]  # joint proposal seen by all
    assert infos["player_1"]["action_mask"].tolist() == [1, 1, 0, 0]  # commit stage: 0/1 only
    assert rew == {"player_0": 0.0, "player_1": 0.0}
    assert env.stage == COMMIT
    assert env.step({"player_0": 1, "player_1": 1})[0]["player_0"][d + 2] == 1 and env.stage == ACT
    dict_env = CommitmentGameWrapper(make("prisoners_dilemma"), action_mask_in_obs=True)
    obs, _ = dict_env.reset(seed=0)
    assert set(obs["player_0"]) == {"observations", "action_mask"}
    assert dict_env.stage == PROPOSE


def test_mega_step_encoding_and_aggregation_items_25_27():
    g = 0.99
    env = MegaStepWrapper(make("purely_conflicting"), 2, "discounted", g)
    assert env.action_space("player_0").n == 4
    assert [tuple(int(x) for x in env.decode("player_0", k)) for k in range(4)] == [
        (A1, A1), (A1, A2), (A2, A1), (A2, A2)]  # ravel order (A1A1, A1A2, A2A1, A2A2)
    env.reset(seed=0)
    # agent 1 plays (A1, A2), agent 2 plays (A2, A1): rewards (-1, 2) then (2, -1)
    _, rew, _, _, infos = env.step({"player_0": 1, "player_1": 2})
    assert rew["player_0"] == pytest.approx(-1 + g * 2) and rew["player_1"] == pytest.approx(2 - g)
    assert infos["player_0"]["extrinsic_reward"] == 1.0  # undiscounted base reward
    assert infos["player_0"]["joint_actions"] == [(A1, A2), (A2, A1)]
    ref = MegaStepWrapper(make("purely_conflicting"), 2, "reference", g)
    ref.reset(seed=0)
    _, rew, *_ = ref.step({"player_0": 1, "player_1": 2})
    assert rew["player_0"] == pytest.approx(g * -1 + 2) and rew["player_1"] == pytest.approx(2 * g - 1)
    # 8 mega-steps per 16-step episode; discounted mega returns (gamma per mega-step) with the
    # reference convention: first sacrificer 7.802786, the other 7.571020 (hand-computed)
    ref.reset(seed=0)
    rs = {"player_0": [], "player_1": []}
    steps = 0
    while ref.agents:
        _, rew, *_ = ref.step({"player_0": 1, "player_1": 2})
        steps += 1
        for k in rs:
            rs[k].append(rew[k])
    assert steps == 8
    assert mc_returns(rs["player_0"], g)[0] == pytest.approx(7.802786, abs=1e-6)
    assert mc_returns(rs["player_1"], g)[0] == pytest.approx(7.571020, abs=1e-6)
    # conventional: per-env-step discounting gives 7.315145 / 7.539078 (hand-computed)
    env.reset(seed=0)
    rs = {"player_0": [], "player_1": []}
    while env.agents:
        _, rew, *_ = env.step({"player_0": 1, "player_1": 2})
        for k in rs:
            rs[k].append(rew[k])
    assert mc_returns(rs["player_0"], g ** 2)[0] == pytest.approx(7.315145, abs=1e-6)
    assert mc_returns(rs["player_1"], g ** 2)[0] == pytest.approx(7.539078, abs=1e-6)


def test_monte_carlo_targets_item_3():
    assert mc_returns([1, 2, 3], 0.5).tolist() == [2.75, 3.5, 3.0]


def test_commitment_game_mega_steps_deal_executes_sequences():
    env = CommitmentGameWrapper(make("purely_conflicting"), mega_steps=2)
    env.reset(seed=0)
    _, rew, _, _, infos = play_step(env, (1, 2), (1, 1), (3, 3))
    assert infos["player_0"]["joint_actions"] == [(A1, A2), (A2, A1)]
    env.reset(seed=0)
    _, rew, _, _, infos = play_step(env, (1, 2), (1, 0), (3, 3))
    assert infos["player_0"]["joint_actions"] == [(A2, A2), (A2, A2)] and rew["player_0"] == 0.0


def test_gumbel_hard_sampling_frequency_item_4():
    from rllib_coopai.algorithms.dcl.losses import st_gumbel

    torch.manual_seed(0)
    logits = torch.log(torch.tensor([0.7, 0.3])).expand(200_000, 2)
    for tau in (10.0, 1.0):
        freq = st_gumbel(logits, tau).mean(0)
        assert freq[0].item() == pytest.approx(0.7, abs=0.005)


def test_bad_arguments():
    with pytest.raises(ValueError, match="mega_steps"):
        CommitmentGameWrapper(make("prisoners_dilemma"), mega_steps=0)
    with pytest.raises(ValueError, match="reward_aggregation"):
        MegaStepWrapper(make("prisoners_dilemma"), 2, "bogus")
