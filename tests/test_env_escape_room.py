"""Escape Room ER(N, M) (LIO thesis §5.1, App. B.4.1; hand-computed oracles)."""
import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from rllib_coopai.envs import make
from rllib_coopai.envs.escape_room import DOOR, LEVER, START, EscapeRoomEnv


def run_scripted(env, policy, seed=0):
    """Run one episode; ``policy(t) -> list of actions``. Returns (total per agent, steps, infos)."""
    env.reset(seed=seed)
    totals = np.zeros(len(env.possible_agents))
    t, all_infos = 0, []
    while env.agents:
        acts = policy(t)
        _, rew, term, trunc, infos = env.step(dict(zip(env.possible_agents, acts)))
        totals += [rew[a] for a in env.possible_agents]
        all_infos.append(infos)
        t += 1
    return totals, t, all_infos


@pytest.mark.parametrize("n,m,optimum", [(2, 1, 9), (3, 2, 8), (5, 3, 17), (5, 2, 28), (10, 5, 45)])
def test_optimum_in_one_step(n, m, optimum):
    env = EscapeRoomEnv(n_agents=n, min_at_lever=m)
    policy = lambda t: [LEVER] * m + [DOOR] * (n - m)
    totals, steps, infos = run_scripted(env, policy)
    assert totals.sum() == optimum == 10 * (n - m) - m
    assert steps == 1
    a0 = env.possible_agents[0]
    assert infos[0][a0]["cooperated"] is True and infos[0][a0]["action_type"] == "lever"
    assert infos[0][env.possible_agents[-1]]["action_type"] == "door"
    assert infos[0][a0]["joint_action"] == tuple(policy(0))


def test_no_cooperation_values():
    env = EscapeRoomEnv(n_agents=3, min_at_lever=2)
    totals, steps, _ = run_scripted(env, lambda t: [START] * 3)
    assert steps == 5 and totals.sum() == 0
    # One agent to the closed door: -1 then 0 while staying.
    totals, steps, _ = run_scripted(env, lambda t: [DOOR, START, START])
    assert steps == 5 and totals.tolist() == [-1, 0, 0]
    # All to the lever: -N, door opens but nobody exits -> episode continues.
    env.reset(seed=0)
    _, rew, term, trunc, infos = env.step({a: LEVER for a in env.possible_agents})
    assert sum(rew.values()) == -3 and not any(term.values()) and infos["player_0"]["door_open"]


def test_reward_edge_cases():
    env = EscapeRoomEnv(n_agents=3, min_at_lever=2)
    env.reset(seed=0)
    # Step 1: agents 0, 1 to lever (M=2 -> door opens), agent 2 stays: -1, -1, 0.
    # Then: staying at lever while the door is open gives 0 (not +10); agent 2 to door +10, done.
    _, r, term, _, _ = env.step({"player_0": LEVER, "player_1": START, "player_2": START})
    assert [r[a] for a in env.possible_agents] == [-1, 0, 0]
    # Exactly M-1 = 1 at lever: start->door costs -1 and the episode continues.
    _, r, term, trunc, _ = env.step({"player_0": LEVER, "player_1": START, "player_2": DOOR})
    assert [r[a] for a in env.possible_agents] == [0, 0, -1]
    assert not any(term.values()) and not any(trunc.values())
    # M at lever (one moved from start: -1, one stays: 0); agent at door stays at open door: +10.
    _, r, term, trunc, _ = env.step({"player_0": LEVER, "player_1": LEVER, "player_2": DOOR})
    assert [r[a] for a in env.possible_agents] == [0, -1, 10]
    assert all(term.values()) and not env.agents


def test_door_needs_lever_action_this_step():
    env = EscapeRoomEnv(n_agents=2, min_at_lever=1)
    env.reset(seed=0)
    env.step({"player_0": LEVER, "player_1": START})
    # Agent 0 leaves the lever: door closed, agent 1 reaching the door gets -1.
    _, r, term, _, infos = env.step({"player_0": START, "player_1": DOOR})
    assert r == {"player_0": -1, "player_1": -1} and not infos["player_0"]["door_open"]
    assert infos["player_0"]["cooperated"] is False


def test_horizon_truncation():
    env = EscapeRoomEnv(n_agents=2, horizon=5)
    _, steps, infos = run_scripted(env, lambda t: [START, DOOR])
    assert steps == 5


@pytest.mark.parametrize("n,mode,size", [(2, "lio", 7), (3, "lio", 11), (5, "designer", 15), (10, "designer", 30)])
def test_observation_sizes_and_layout(n, mode, size):
    env = EscapeRoomEnv(n_agents=n, min_at_lever=1, obs_mode=mode)
    obs, _ = env.reset(seed=1)
    for a in env.possible_agents:
        assert obs[a].shape == (size,) and obs[a].dtype == np.float32
        assert env.observation_space(a).contains(obs[a])
        # Everyone at start.
        assert np.all(obs[a][: 3 * n].reshape(n, 3).argmax(1) == START)
    acts = {a: (LEVER if i == 1 else START) for i, a in enumerate(env.possible_agents)}
    acts[env.possible_agents[0]] = START
    obs, *_ = env.step(acts)
    # player_1 sees itself at the lever first; player_0 sees player_1 in its first "other" block.
    assert obs["player_1"][:3].tolist() == [1, 0, 0]
    assert obs["player_0"][:6].tolist() == [0, 1, 0, 1, 0, 0]
    assert env.state().shape == (3 * n,) and env.state()[3:6].tolist() == [1, 0, 0]


def test_asymmetric_variant():
    env = EscapeRoomEnv(asymmetric=True)
    # Optimum: A2 to lever (-1), A1 to door (+10) -> 9; afterwards no rewards.
    totals, steps, infos = run_scripted(env, lambda t: [1, 1])
    assert totals.tolist() == [10, -1] and totals.sum() == 9 and steps == 5
    assert "cooperated" not in infos[0]["player_0"] and infos[0]["player_1"]["cooperated"]
    # A1 penalised every step if the door never opens; A2 can never gain.
    totals, _, _ = run_scripted(env, lambda t: [0, 0])
    assert totals.tolist() == [-5, 0]
    obs, _ = env.reset(seed=0)
    assert obs["player_0"].shape == (4,) and obs["player_1"].shape == (2,)


def test_api_and_seed():
    for kw in [dict(), dict(n_agents=3, min_at_lever=2), dict(obs_mode="designer", n_agents=5, min_at_lever=2),
               dict(asymmetric=True)]:
        parallel_api_test(EscapeRoomEnv(**kw), num_cycles=50)
    parallel_seed_test(lambda: EscapeRoomEnv(n_agents=3, min_at_lever=2))


def test_render_and_make():
    env = make("escape_room", n_agents=3, min_at_lever=2, render_mode="ansi")
    assert isinstance(env, EscapeRoomEnv) and env.min_at_lever == 2
    env.reset(seed=0)
    env.step({a: LEVER for a in env.possible_agents})
    text = env.render()
    assert isinstance(text, str) and "lever" in text and "OPEN" in text
    env = make("escape_room", asymmetric=True, render_mode="ansi")
    env.reset(seed=0)
    assert isinstance(env.render(), str)


@pytest.mark.parametrize("kw,key", [
    (dict(n_agents=1), "n_agents"), (dict(n_agents=3, min_at_lever=3), "min_at_lever"),
    (dict(min_at_lever=0), "min_at_lever"), (dict(horizon=0), "horizon"),
    (dict(obs_mode="rgb"), "obs_mode"), (dict(asymmetric=1), "asymmetric"),
    (dict(asymmetric=True, n_agents=3), "n_agents"), (dict(render_mode="human"), "render_mode"),
])
def test_validation(kw, key):
    with pytest.raises(ValueError, match=key):
        EscapeRoomEnv(**kw)


def test_bad_action():
    env = EscapeRoomEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError):
        env.step({"player_0": 3, "player_1": 0})
