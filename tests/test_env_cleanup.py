"""Cleanup (LIO thesis §5.3.1, App. B.4.1; hand-computed oracles)."""
import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from rllib_coopai.envs import make
from rllib_coopai.envs.cleanup import CLEAN, DOWN, LEFT, RIGHT, STAY, UP, CleanupEnv


def rc(env, r, c):
    return r * env.width + c


def place(env, *cells):
    env._pos = np.array(cells, np.int64)


def test_initial_state_and_spawn_points():
    env = CleanupEnv()
    env.reset(seed=0)
    assert [divmod(int(p), 7) for p in env._pos] == [(5, 2), (1, 4)]
    assert env._waste.sum() == 2 and not env._apples.any()
    assert env._potential_waste.size == 2 and env._apple_cells.size == 5
    env = CleanupEnv(map_size="10x10")
    env.reset(seed=0)
    assert [divmod(int(p), 10) for p in env._pos] == [(8, 3), (5, 4)]
    assert env._waste.sum() == 8 and env._potential_waste.size == 16 and env._apple_cells.size == 12


def test_spawn_probabilities_7x7():
    env = CleanupEnv()
    env.reset(seed=0)
    assert env.spawn_probabilities() == (0.0, 0.0)
    env._waste[rc(env, 2, 1)] = False
    p_apple, p_waste = env.spawn_probabilities()
    assert p_apple == pytest.approx(0.0833333, abs=1e-6) and p_waste == 0.5
    env._waste[rc(env, 1, 1)] = False
    assert env.spawn_probabilities() == (0.5, 0.5)


def test_spawn_probabilities_10x10():
    env = CleanupEnv(map_size="10x10")
    env.reset(seed=0)
    waste = env._potential_waste[env._waste[env._potential_waste]]
    assert env.spawn_probabilities() == (0.0, 0.0)
    env._waste[waste[0]] = False
    assert env.spawn_probabilities() == (0.0, 0.0)  # d = 0.4375 >= 0.4
    env._waste[waste[1]] = False
    assert env.spawn_probabilities()[0] == pytest.approx(0.01875)
    env._waste[env._potential_waste] = False
    assert env.spawn_probabilities() == (0.3, 0.5)


def test_waste_and_apple_spawn_rates():
    env = CleanupEnv()
    env.reset(seed=0)
    trials, waste_hits, apples = 4000, 0, 0
    for _ in range(trials):
        env._waste[env._potential_waste] = False
        env._apples[:] = False
        env._spawn()
        waste_hits += env._waste.sum()
        apples += env._apples.sum()
    assert waste_hits / trials == pytest.approx(0.75, abs=0.03)
    # 5 apple cells, none under an agent at the spawn points: 5 * 0.5 apples expected.
    assert apples / trials == pytest.approx(2.5, abs=0.1)


def test_first_step_never_rewards():
    for seed in range(5):
        env = CleanupEnv()
        env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        _, r, *_ = env.step({a: int(rng.integers(6)) for a in env.possible_agents})
        assert sum(r.values()) == 0


def test_beam_clears_first_waste_only():
    env = CleanupEnv()
    env.reset(seed=0)
    place(env, rc(env, 5, 1), rc(env, 1, 4))
    _, r, _, _, infos = env.step({"agent_0": CLEAN, "agent_1": STAY})
    assert infos["agent_0"]["cleaned"] == 1 and infos["agent_0"]["cooperated"] is True
    assert infos["agent_0"]["action_type"] == "clean" and infos["agent_0"]["fired_beam"]
    assert infos["agent_1"]["cooperated"] is False and infos["agent_1"]["action_type"] == "other"
    assert env._waste[rc(env, 1, 1)]  # (1,1) untouched: the ray stopped at (2,1)
    assert env._beam[rc(env, 2, 1)] and env._beam[rc(env, 4, 1)] and not env._beam[rc(env, 1, 1)]
    assert infos["agent_0"]["joint_action"] == (CLEAN, STAY)


def test_second_clean_and_respawn_rate():
    env = CleanupEnv(waste_spawn_prob=0.0)
    env.reset(seed=0)
    place(env, rc(env, 5, 1), rc(env, 1, 4))
    env.step({"agent_0": CLEAN, "agent_1": STAY})
    assert not env._waste[rc(env, 2, 1)]
    _, _, _, _, infos = env.step({"agent_0": CLEAN, "agent_1": STAY})
    assert infos["agent_0"]["cleaned"] == 1 and not env._waste.any()
    # With the default waste probability 0.5 the cleared cell re-fills in the same step half the time.
    env = CleanupEnv()
    refills, n = 0, 800
    env.reset(seed=1)
    for _ in range(n):
        env.reset()
        place(env, rc(env, 5, 1), rc(env, 1, 4))
        env.step({"agent_0": CLEAN, "agent_1": STAY})
        refills += env._waste[rc(env, 2, 1)]
    assert refills / n == pytest.approx(0.5, abs=0.06)


def test_beam_out_of_reach_and_blocked_by_agent():
    env = CleanupEnv()
    env.reset(seed=0)
    place(env, rc(env, 5, 3), rc(env, 1, 4))
    _, _, _, _, infos = env.step({"agent_0": CLEAN, "agent_1": STAY})
    assert infos["agent_0"]["cleaned"] == 0 and infos["agent_0"]["cooperated"] is False
    assert env._waste.sum() == 2
    env.reset(seed=0)
    place(env, rc(env, 5, 1), rc(env, 3, 1))  # agent 1 stands in the centre ray
    _, _, _, _, infos = env.step({"agent_0": CLEAN, "agent_1": STAY})
    assert infos["agent_0"]["cleaned"] == 0 and env._waste.sum() == 2


def test_collect_apple_and_walls():
    env = CleanupEnv()
    env.reset(seed=0)
    place(env, rc(env, 5, 1), rc(env, 2, 4))
    env._apples[rc(env, 2, 5)] = True
    _, r, _, _, infos = env.step({"agent_0": LEFT, "agent_1": RIGHT})
    assert r == {"agent_0": 0.0, "agent_1": 1.0}
    assert infos["agent_1"]["action_type"] == "collect"
    assert env._pos.tolist() == [rc(env, 5, 1), rc(env, 2, 5)]  # wall blocked agent 0
    env.step({"agent_0": DOWN, "agent_1": RIGHT})
    assert env._pos.tolist() == [rc(env, 5, 1), rc(env, 2, 5)]


def test_move_conflicts():
    env = CleanupEnv()
    winners = set()
    for seed in range(20):
        env.reset(seed=seed)
        place(env, rc(env, 3, 2), rc(env, 3, 4))
        env.step({"agent_0": RIGHT, "agent_1": LEFT})  # both want (3,3)
        pos = env._pos.tolist()
        assert pos[0] != pos[1] and rc(env, 3, 3) in pos
        winners.add(pos.index(rc(env, 3, 3)))
    assert winners == {0, 1}
    env.reset(seed=0)
    place(env, rc(env, 3, 2), rc(env, 3, 3))
    env.step({"agent_0": RIGHT, "agent_1": STAY})  # blocked by a staying agent
    assert env._pos.tolist() == [rc(env, 3, 2), rc(env, 3, 3)]


@pytest.mark.parametrize("map_size,side", [("7x7", 9), ("10x10", 15)])
def test_observation(map_size, side):
    env = CleanupEnv(map_size=map_size, n_agents=3)
    obs, _ = env.reset(seed=0)
    for i, a in enumerate(env.possible_agents):
        o = obs[a]
        assert o.shape == (side, side, 3) and o.dtype == np.float32
        assert env.observation_space(a).contains(o)
        c = side // 2
        np.testing.assert_allclose(o[c, c], np.array(env._palette[6 + i]))
    # 7x7 agent 0 at (5,2): window row 0 is map row 1, so map (1,1) (waste) is at [0, 3].
    if map_size == "7x7":
        o = obs["agent_0"]
        np.testing.assert_allclose(o[0, 3] * 256, [113, 75, 24])
        np.testing.assert_allclose(o[c + 1, c] * 256, [180, 180, 180])  # wall below
        np.testing.assert_allclose(o[c + 2, c], 0.0)  # outside the map: padding
    assert env.state().shape == (env.height, env.width, 3)


def test_api_seed_render_make():
    parallel_api_test(CleanupEnv(horizon=30), num_cycles=60)
    parallel_api_test(CleanupEnv(map_size="10x10", n_agents=4, horizon=20), num_cycles=40)
    parallel_seed_test(lambda: CleanupEnv(n_agents=3))
    env = make("cleanup", map_size="10x10", render_mode="ansi")
    env.reset(seed=0)
    steps = 0
    while env.agents:
        env.step({a: CLEAN for a in env.agents})
        steps += 1
    assert steps == 50
    text = env.render()
    assert isinstance(text, str) and "@" in text and "0" in text


def test_shuffle_spawn():
    env = CleanupEnv(shuffle_spawn=True, n_agents=4)
    seen = set()
    for seed in range(10):
        env.reset(seed=seed)
        assert len(set(env._pos.tolist())) == 4
        seen.add(tuple(env._pos.tolist()))
    assert len(seen) > 1


@pytest.mark.parametrize("kw,key", [
    (dict(map_size="5x5"), "map_size"), (dict(n_agents=0), "n_agents"), (dict(n_agents=99), "n_agents"),
    (dict(horizon=0), "horizon"), (dict(apple_respawn_prob=1.5), "apple_respawn_prob"),
    (dict(waste_spawn_prob=-0.1), "waste_spawn_prob"), (dict(threshold_depletion=0.0), "threshold_depletion"),
    (dict(threshold_restoration=0.7), "threshold_restoration"), (dict(view_size=0), "view_size"),
    (dict(beam_length=0), "beam_length"), (dict(shuffle_spawn="yes"), "shuffle_spawn"),
])
def test_validation(kw, key):
    with pytest.raises(ValueError, match=key):
        CleanupEnv(**kw)


def test_rllib_adapter_continues_the_stream_on_a_repeated_seed():
    """RLlib 2.60's EnvRunner re-sends its seed at every ``sample(num_episodes=...)``; the adapter
    must not restart Cleanup's random spawns from the same state each time, yet stay
    reproducible: a fresh adapter given the same seeds replays the same episodes."""
    from rllib_coopai.wrappers.rllib_env import RLlibParallelEnv

    def episode(env, seed):
        env.reset(seed=seed)
        frames = []
        for _ in range(50):  # agent_0 cleans every step, agent_1 stays: only the env's RNG varies
            obs, *_ = env.step({"agent_0": 5, "agent_1": 4})
            frames.append(np.asarray(obs["agent_1"]).copy())
        return np.stack(frames)

    env = RLlibParallelEnv(make("cleanup", map_size="7x7"))
    first, second = episode(env, 3), episode(env, 3)
    assert not np.array_equal(first, second)  # the repeated seed 3 did not restart the stream
    replay = RLlibParallelEnv(make("cleanup", map_size="7x7"))
    np.testing.assert_array_equal(episode(replay, 3), first)
    np.testing.assert_array_equal(episode(replay, 3), second)
    fresh = RLlibParallelEnv(make("cleanup", map_size="7x7"))
    np.testing.assert_array_equal(episode(replay, 4), episode(fresh, 4))  # a new seed is honoured
