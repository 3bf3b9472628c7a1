"""amTFT(w) / amTFT(W) (normative-disagreement paper §3.4, §4.1, App. C.1; Lerer & Peysakhovich
2017): the welfare and punishment rewards, the debit and punishment rules on hand-made traces,
the welfare-switch detector, and short seeded learning runs on the IPD."""
import math

import numpy as np
import pytest

from rllib_coopai.algorithms.amtft import AmTFTConfig, AmTFTPlayer
from rllib_coopai.envs import make
from rllib_coopai.envs.matrix_games import ASYM_BOS_PAYOFFS, PD_PAYOFFS
from rllib_coopai.wrappers.welfare_reward import (
    PunishmentRewardWrapper,
    WelfareRewardWrapper,
    punishment_rewards,
    welfare_rewards,
)

C, D = 0, 1          # IPD
B, S = 0, 1          # IAsymBoS
START = 4            # start state of a 2x2 matrix game (n_joint)
ALL_C = np.zeros(5, int)
ALL_D = np.ones(5, int)
# tit-for-tat for seat 1: plays seat 0's previous action (states: 2*a0 + a1), C at the start
TFT_SEAT1 = np.array([0, 0, 1, 1, 0])


def play_trace(player: AmTFTPlayer, opponent_actions):
    """Seat-0 ``player`` against scripted seat-1 actions; returns (my actions, events)."""
    state, obs, mine, events = player.initial_state(), START, [], []
    for theirs in opponent_actions:
        a, state, ev = player.step(state, obs)
        mine.append(a)
        events.append(ev)
        obs = 2 * a + theirs
    return mine, events


# ------------------------------------------------------------------ reward wrappers
def _step_both(env, actions):
    return env.step({"player_0": actions[0], "player_1": actions[1]})


def test_welfare_reward_wrapper_gives_every_agent_the_welfare_of_the_step():
    for welfare, expected in (("utilitarian", [5.0, 0.0, 4.0]), ("egalitarian", [1.0, 0.0, 2.0]),
                              ("nash", [4.0, 0.0, 4.0])):
        env = WelfareRewardWrapper(make("iterated_asymmetric_bos"), welfare)
        env.reset(seed=0)
        for (a0, a1), w in zip([(B, B), (B, S), (S, S)], expected):
            _, rew, _, _, infos = _step_both(env, (a0, a1))
            assert rew == {"player_0": w, "player_1": w}, welfare
            env_r = np.asarray(ASYM_BOS_PAYOFFS)[a0, a1]
            assert infos["player_0"]["extrinsic_reward"] == env_r[0]
            assert infos["player_1"]["extrinsic_reward"] == env_r[1]


def test_inequity_averse_welfare_reward_follows_the_e_traces():
    """w_IA^t = r_1 + r_2 - beta |e_1 - e_2|, e^t = gamma lam e^{t-1} + r^t (App. C.1), by hand:
    (B,B) twice in IAsymBoS, gamma = lam = 0.96, beta = 1."""
    env = WelfareRewardWrapper(make("iterated_asymmetric_bos"), "ia")
    env.reset(seed=0)
    _, r1, *_ = _step_both(env, (B, B))
    _, r2, *_ = _step_both(env, (B, B))
    decay = 0.96 * 0.96
    e = np.array([4.0, 1.0]) * (1 + decay)
    assert r1["player_0"] == pytest.approx(5.0 - 3.0)
    assert r2["player_1"] == pytest.approx(5.0 - abs(e[0] - e[1]))
    # the wrapper and the trajectory function are one definition
    np.testing.assert_allclose(welfare_rewards([[4, 1], [4, 1]], "inequity_averse"), [r1["player_0"], r2["player_0"]])
    env = WelfareRewardWrapper(make("iterated_asymmetric_bos"), "inequity_averse", beta=0.5)
    env.reset(seed=0)
    _, r, *_ = _step_both(env, (B, B))
    assert r["player_0"] == pytest.approx(5.0 - 0.5 * 3.0)


def test_punishment_wrapper_gives_the_punisher_minus_the_opponents_reward():
    for punisher in (0, 1):
        env = PunishmentRewardWrapper(make("iterated_prisoners_dilemma"), punisher)
        env.reset(seed=0)
        for a0, a1 in [(C, C), (C, D), (D, C), (D, D)]:
            _, rew, _, _, infos = _step_both(env, (a0, a1))
            r = np.asarray(PD_PAYOFFS)[a0, a1]
            me, other = f"player_{punisher}", f"player_{1 - punisher}"
            assert rew[me] == -r[1 - punisher]
            assert rew[other] == r[1 - punisher]
            assert infos[me]["extrinsic_reward"] == r[punisher]
    np.testing.assert_allclose(punishment_rewards([[-3.0, 0.0], [-1.0, -1.0]], 1), [3.0, 1.0])
    # the RLlib adapters (env: rllib_coopai.wrappers.welfare_reward.<Name>RLlibEnv)
    from rllib_coopai.wrappers.welfare_reward import PunishmentRewardRLlibEnv, WelfareRewardRLlibEnv

    env = PunishmentRewardRLlibEnv({"base_env": "iterated_prisoners_dilemma", "punisher": 1, "horizon": 3})
    env.reset(seed=0)
    assert env.step({"player_0": C, "player_1": D})[1] == {"player_0": -3.0, "player_1": 3.0}
    env = WelfareRewardRLlibEnv({"base_env": "iterated_asymmetric_bos", "welfare": "ia",
                                 "welfare_kwargs": {"beta": 0.5}})
    env.reset(seed=0)
    assert env.step({"player_0": B, "player_1": B})[1] == {"player_0": 3.5, "player_1": 3.5}


def test_reward_wrappers_bad_input():
    with pytest.raises(ValueError, match="unknown welfare function 'utilitarin'.*utilitarian"):
        WelfareRewardWrapper(make("iterated_prisoners_dilemma"), "utilitarin")
    with pytest.raises(ValueError, match="punisher"):
        PunishmentRewardWrapper(make("iterated_prisoners_dilemma"), 2)
    with pytest.raises(ValueError, match="beta"):
        WelfareRewardWrapper(make("iterated_prisoners_dilemma"), "ia", bta=1.0)


# ------------------------------------------------------------------ debit and punishment
def test_debit_arithmetic_on_a_hand_made_ipd_trace():
    """Debit without rollouts (the paper's change (2)): each observed step adds
    r_opp(a_me, a_opp) - r_opp(a_me, a_hat), a_hat = the cooperative policy's prediction.
    IPD, cooperative policies always C: a defection (C,D) adds 0 - (-1) = 1, cooperation 0;
    with ``own_loss`` a defection adds r_me(C,C) - r_me(C,D) = -1 - (-3) = 2."""
    opp = [C, D, D, C, D, C, C]
    for measure, per_defection in (("opponent_gain", 1.0), ("own_loss", 2.0)):
        player = AmTFTPlayer(PD_PAYOFFS, 0, [[ALL_C, ALL_C]], [ALL_D], debit_measure=measure)
        mine, events = play_trace(player, opp)
        assert mine == [C] * len(opp)
        # the debit at step t counts the opponent's actions before t
        expected = np.cumsum([0] + [per_defection * (a == D) for a in opp[:-1]])
        np.testing.assert_allclose([e["debit"] for e in events], expected)
        assert not any(e["punishing"] for e in events)


def test_debit_uses_the_prediction_in_the_previous_state():
    """The prediction a_hat is the opponent's cooperative action in the state before its action.
    Opponent's cooperative policy: tit-for-tat on seat 0; seat 0's cooperative table: D at the
    start, C after. The opponent's D right after my D was predicted (adds 0); its next D, after my
    C, adds r_opp(C,D) - r_opp(C,C) = 1. A state-blind "always C" prediction would count both."""
    mine_table = np.array([C, C, C, C, D])
    opp = [C, D, D, D]
    player = AmTFTPlayer(PD_PAYOFFS, 0, [[mine_table, TFT_SEAT1]], [ALL_D])
    mine, events = play_trace(player, opp)
    assert mine == [D, C, C, C]
    assert [e["debit"] for e in events] == [0.0, 0.0, 0.0, 1.0]
    blind = AmTFTPlayer(PD_PAYOFFS, 0, [[mine_table, ALL_C]], [ALL_D])
    assert [e["debit"] for e in play_trace(blind, opp)[1]] == [0.0, 0.0, 1.0, 2.0]


def test_punishment_starts_when_the_debit_crosses_the_threshold_and_lasts_k_steps():
    """Always-defecting opponent, threshold 2.5, multiplier 3: the debit reaches 3 > 2.5 on the
    observation of the third defection, so punishment starts at step 3. The opponent's
    cooperative policy is tit-for-tat, so in the 20-step rollouts punishing k steps then
    cooperating costs it exactly k: (D,C) -3 instead of -1, then (D,D) -2 for k-1 steps, then
    (C,D) 0 once, instead of -1 each: loss = 2 + (k-1) - 1 = k. k = 3 x 3 = 9 punishment steps,
    then cooperation again. The answer to my last punishment step is not counted, and the next D
    is what tit-for-tat predicts after it, so the debit grows again from the step after: the next
    punishment starts 4 cooperative steps later."""
    player = AmTFTPlayer(PD_PAYOFFS, 0, [[ALL_C, TFT_SEAT1]], [ALL_D], debit_threshold=2.5,
                         punishment_multiplier=3.0)
    for k in (1, 4, 9):
        assert player.rollout_value(2 * C + D, 0, 0) - player.rollout_value(2 * C + D, k, 0) == k
    assert player.punishment_length(3.0, 2 * C + D, 0) == 9
    mine, events = play_trace(player, [D] * 26)
    assert mine == [C] * 3 + [D] * 9 + [C] * 4 + [D] * 9 + [C] * 1
    assert [e["started_punishment"] for e in events][3] == 9
    assert [i for i, e in enumerate(events) if e["started_punishment"]] == [3, 16]
    assert [e["debit"] for e in events][:3] == [0.0, 1.0, 2.0]


def test_punishment_length_with_the_papers_matrix_game_settings():
    """Threshold 10, multiplier 3, rollouts of 20 (the authors' matrix-game code); opponent's
    cooperative policy always C, so each punishment step costs it r(C,C) - r(D,C) = 2: debit 11
    needs 2k >= 33, k = 17; debit 14 needs 42 > 2 x 20, so the whole rollout, k = 20."""
    player = AmTFTPlayer(PD_PAYOFFS, 0, [[ALL_C, ALL_C]], [ALL_D])
    assert player.punishment_length(11.0, 2 * C + D, 0) == math.ceil(33 / 2)
    assert player.punishment_length(14.0, 2 * C + D, 0) == 20
    mine, events = play_trace(player, [D] * 40)
    # 11 defections -> debit 11 > 10 at step 11 -> 17 steps of punishment, then C again until
    # 11 more defections are counted
    assert mine == [C] * 11 + [D] * 17 + [C] * 11 + [D]
    assert events[11]["started_punishment"] == 17


def test_norm_adaptive_amtft_switches_to_the_opponents_welfare_function():
    """amTFT(W), W = (utilitarian: both play B, inequity-averse: both play S) on IAsymBoS, seat 0
    starts with its first w (B). A scripted opponent plays the inequity-averse cooperative policy
    (always S): after 2 steps that match w_IA's prediction and not w_Util's, seat 0 switches to
    w_IA and coordinates on (S,S). Miscoordination costs the opponent (r(B,S) = 0 < r(B,B) = 1),
    so it adds no debit and nothing is punished."""
    all_b, all_s = np.zeros(5, int), np.ones(5, int)
    coop = [[all_b, all_b], [all_s, all_s]]
    player = AmTFTPlayer(ASYM_BOS_PAYOFFS, 0, coop, [all_b, all_b], detection_steps=2)
    mine, events = play_trace(player, [S] * 6)
    assert mine == [B, B, S, S, S, S]
    assert [e["switched_welfare"] for e in events] == [False, False, True, False, False, False]
    assert events[-1]["welfare"] == 1
    # the alternative (every deviation is defection; here no debit either): never adapts
    rigid = AmTFTPlayer(ASYM_BOS_PAYOFFS, 0, coop, [all_b, all_b], norm_adaptive=False)
    mine, events = play_trace(rigid, [S] * 6)
    assert mine == [B] * 6 and not any(e["punishing"] for e in events)
    # an opponent that follows the active w is never taken to follow another one
    mine, events = play_trace(player, [B] * 6)
    assert mine == [B] * 6 and not any(e["switched_welfare"] for e in events)


# ------------------------------------------------------------------ config
def test_amtft_config_bad_input():
    with pytest.raises(ValueError, match="unknown welfare function 'utility'.*utilitarian"):
        AmTFTConfig().environment("iterated_prisoners_dilemma").training(welfare=["utility"]).validate()
    with pytest.raises(ValueError, match="debit_measure"):
        AmTFTConfig().environment("iterated_prisoners_dilemma").training(debit_measure="gain").validate()
    with pytest.raises(ValueError, match="punishment_multiplier"):
        AmTFTConfig().environment("iterated_prisoners_dilemma").training(
            punishment_multiplier=float("nan")).validate()
    with pytest.raises(ValueError, match="beta"):
        AmTFTConfig().environment("iterated_prisoners_dilemma").training(
            welfare=["ia"], welfare_kwargs={"ia": {"betta": 1.0}}).validate()
    with pytest.raises(ValueError, match="ideal point"):
        AmTFTConfig().environment("iterated_prisoners_dilemma").training(welfare=["ks"]).validate()
    with pytest.raises(ValueError, match="2-player iterated matrix game"):
        AmTFTConfig().environment("escape_room").validate()


# ------------------------------------------------------------------ learning
def _greedy_play(module, env, partner):
    """Episode of ``module`` (seat 0, through its RLModule forward with state) vs a scripted
    seat-1 ``partner(t)``; returns (seat-0 actions, seat-1 return)."""
    import torch

    from ray.rllib.core.columns import Columns

    obs, _ = env.reset(seed=0)
    state = module.get_initial_state()["amtft"][None]
    mine, ret, t = [], 0.0, 0
    while env.agents:
        out = module.forward_inference({Columns.OBS: torch.as_tensor(obs["player_0"])[None],
                                        Columns.STATE_IN: {"amtft": state}})
        state = out[Columns.STATE_OUT]["amtft"]
        a = int(out[Columns.ACTIONS][0])
        obs, rew, *_ = env.step({"player_0": a, "player_1": partner(t)})
        mine.append(a)
        ret += rew["player_1"]
        t += 1
    return mine, ret


@pytest.mark.slow
def test_amtft_on_the_ipd_cooperates_in_self_play_and_punishes_a_defector(ray_session, tmp_path):
    """Seeded amTFT(w_Util) on the IPD: cooperative policies (C in every state) in 6 iterations,
    punishment policies (D) in 2 more with the cooperative ones fixed; then amTFT plays itself at
    -1 per step, and an always-defect partner loses by defecting: against amTFT its return is
    below what it gets against a naive cooperator, and amTFT cooperates again after punishing."""
    import torch

    algo = (AmTFTConfig().environment("iterated_prisoners_dilemma")
            .training(welfare="utilitarian", cooperative_iterations=6, punishment_iterations=2)
            .env_runners(num_env_runners=1).debugging(seed=0).build_algo())
    for _ in range(6):
        algo.train()
    learner = algo.learner_group._learner
    coop_before = {k: v.clone() for k, v in learner.module["coop_utilitarian_player_0"].state_dict().items()}
    for _ in range(2):
        algo.train()
    for k, v in learner.module["coop_utilitarian_player_0"].state_dict().items():
        assert torch.equal(v, coop_before[k]), f"cooperative policy changed in the punishment phase: {k}"
    result = algo.train()  # play phase: amTFT vs amTFT in the env runners
    returns = result["env_runners"]["module_episode_returns_mean"]
    for a in ("player_0", "player_1"):
        assert returns[f"amtft_{a}"] / 20 > -1.05, returns
    module = learner.module["amtft_player_0"]
    table = module.player()
    np.testing.assert_array_equal(table.coop[0][0], ALL_C)
    np.testing.assert_array_equal(table.punish[0], ALL_D)

    env = make("iterated_prisoners_dilemma", horizon=40)
    mine, defector_vs_amtft = _greedy_play(module, env, lambda t: D)
    assert mine == [C] * 11 + [D] * 17 + [C] * 11 + [D]  # debit 11 > 10 -> 17 punishment steps
    defector_vs_cooperator = 40 * np.asarray(PD_PAYOFFS)[C, D][1]  # 0 per step
    assert defector_vs_amtft < defector_vs_cooperator - 20, defector_vs_amtft
    _, coop_return = _greedy_play(module, env, lambda t: C)
    assert coop_return == -40.0

    path = algo.save(str(tmp_path / "amtft")).checkpoint.path
    algo.stop()
    from rllib_coopai.cli.evaluate import load_local_algorithm, rollout

    restored = load_local_algorithm(path)  # what ``rllib evaluate`` plays: the AmTFTModules
    assert restored.iteration == 9 and restored.phase() == "play"
    for ep in rollout(restored, 2)["episodes"]:
        assert {ep.module_for(a) for a in ("player_0", "player_1")} == {"amtft_player_0", "amtft_player_1"}
        assert ep.get_return() == -40.0
    returns = restored.train()["env_runners"]["module_episode_returns_mean"]
    assert returns["amtft_player_0"] / 20 > -1.05, returns
    restored.stop()
    from rllib_coopai.cli.crossplay import run_league

    res = run_league([path], episodes=2, out_dir=str(tmp_path / "league"), plot=False)
    np.testing.assert_allclose([res["payoff_seat0"][0][0], res["payoff_seat1"][0][0]], [-1.0, -1.0])


def _play_players(p0: AmTFTPlayer, p1: AmTFTPlayer, steps: int = 20):
    """Per-step mean payoffs of two AmTFTPlayers (seat 0, seat 1) over ``steps`` steps."""
    payoffs = np.asarray(ASYM_BOS_PAYOFFS, dtype=float)
    s0, s1, obs, total = p0.initial_state(), p1.initial_state(), START, np.zeros(2)
    for _ in range(steps):
        a0, s0, _ = p0.step(s0, obs)
        a1, s1, _ = p1.step(s1, obs)
        total += payoffs[a0, a1]
        obs = 2 * a0 + a1
    return total / steps


@pytest.mark.slow
def test_amtft_w_on_iasymbos_adapts_where_amtft_w_pairs_with_different_w_fail(ray_session):
    """Normative-disagreement paper Fig. 5: in IAsymBoS, amTFT(w_Util) learns (B,B) = (4,1),
    amTFT(w_IA) learns (S,S) = (2,2); an amTFT(w_Util) / amTFT(w_IA) pair miscoordinates (0 per
    step), while pairs whose welfare sets intersect end on the Pareto frontier: the norm-adaptive
    amTFT({w_Util, w_IA}) switches to its partner's w after 2 steps."""
    algo = (AmTFTConfig().environment("iterated_asymmetric_bos")
            .training(welfare=["utilitarian", "inequity_averse"], cooperative_iterations=6,
                      punishment_iterations=1)
            .env_runners(num_env_runners=0).debugging(seed=0).build_algo())
    for _ in range(7):
        algo.train()
    modules = algo.learner_group._learner.module
    full = [modules[f"amtft_player_{i}"].player() for i in (0, 1)]
    algo.stop()
    for seat in (0, 1):  # utilitarian: B everywhere on the path, inequity-averse: S
        assert full[seat].coop[0][seat][START] == B and full[seat].coop[1][seat][START] == S

    def amtft(seat, ws):
        p = full[seat]
        return AmTFTPlayer(p.payoffs, seat, [p.coop[k] for k in ws], [p.punish[k] for k in ws])

    UTIL, IA, BOTH = (0,), (1,), (0, 1)
    np.testing.assert_allclose(_play_players(amtft(0, UTIL), amtft(1, UTIL)), [4.0, 1.0])
    np.testing.assert_allclose(_play_players(amtft(0, IA), amtft(1, IA)), [2.0, 2.0])
    for w0, w1 in ((UTIL, IA), (IA, UTIL)):
        np.testing.assert_allclose(_play_players(amtft(0, w0), amtft(1, w1)), [0.0, 0.0])
    # W = {Util, IA} against {IA}: 2 miscoordinated steps, then (S,S) for 18 of 20 steps
    np.testing.assert_allclose(_play_players(amtft(0, BOTH), amtft(1, IA)), [2.0 * 18 / 20] * 2)
    np.testing.assert_allclose(_play_players(amtft(0, IA), amtft(1, BOTH)), [2.0 * 18 / 20] * 2)
    np.testing.assert_allclose(_play_players(amtft(0, BOTH), amtft(1, UTIL)), [4.0, 1.0])
    np.testing.assert_allclose(_play_players(amtft(0, BOTH), amtft(1, BOTH)), [4.0, 1.0])
