"""The base-class action guard (``CoopParallelEnv.check_actions``) on every registered environment."""
import numpy as np
import pytest

from rllib_coopai.envs import make, names

# The only registered env without usable defaults: a 2x2 game given by its payoff table.
KWARGS = {"matrix_game": {"payoffs": [[[1, 1], [0, 2]], [[2, 0], [0.5, 0.5]]]}}
ENVS = names()


def _env(name):
    return make(name, **KWARGS.get(name, {}))


def _started(name):
    env = _env(name)
    env.reset(seed=0)
    return env, {a: 0 for a in env.agents}


@pytest.mark.parametrize("name", ENVS)
def test_step_before_reset(name):
    env = _env(name)
    with pytest.raises(ValueError, match=r"before reset\(\)"):
        env.step({a: 0 for a in env.possible_agents})


@pytest.mark.parametrize("name", ENVS)
def test_step_after_the_episode_ended(name):
    env, _ = _started(name)
    steps = 0
    while env.agents:
        env.step({a: 0 for a in env.agents})
        steps += 1
        assert steps <= 10_000
    with pytest.raises(ValueError, match=r"after the episode ended; call reset\(\)"):
        env.step({a: 0 for a in env.possible_agents})
    env.reset(seed=1)  # a reset makes the env usable again
    env.step({a: 0 for a in env.agents})


@pytest.mark.parametrize("name", ENVS)
def test_missing_agent(name):
    env, acts = _started(name)
    gone = env.agents[-1]
    del acts[gone]
    with pytest.raises(ValueError, match=f"missing action for agent '{gone}'"):
        env.step(acts)


@pytest.mark.parametrize("name", ENVS)
def test_extra_agent(name):
    env, acts = _started(name)
    acts["intruder"] = 0
    with pytest.raises(ValueError, match="action for agent 'intruder', which is not a live agent"):
        env.step(acts)


@pytest.mark.parametrize("name", ENVS)
@pytest.mark.parametrize("bad", [0.5, 1.0, np.float32(1.0), -1, "1", None, [0]])
def test_action_of_wrong_type_or_value(name, bad):
    env, acts = _started(name)
    agent = env.agents[-1]
    acts[agent] = bad
    with pytest.raises(ValueError, match=f"action of '{agent}' must be an integer in \\[0, "):
        env.step(acts)


@pytest.mark.parametrize("name", ENVS)
def test_out_of_range_integer_names_agent_and_range(name):
    env, acts = _started(name)
    agent = env.agents[0]
    n = env.action_space(agent).n
    acts[agent] = np.int64(n)
    with pytest.raises(ValueError, match=f"action of '{agent}' must be an integer in \\[0, {n - 1}\\], got"):
        env.step(acts)
    env.step({a: env.action_space(a).n - 1 for a in env.agents})  # the top action is fine


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, int])
def test_numpy_and_python_integers_are_accepted(dtype):
    env = _env("prisoners_dilemma")
    env.reset(seed=0)
    _, rew, *_ = env.step({"player_0": dtype(1), "player_1": np.array(0, dtype=np.int64)})
    assert rew == {"player_0": 0.0, "player_1": -3.0}  # D vs C


def test_a_rejected_step_changes_nothing():
    """A refused step neither advances time nor pays out (before, matrix games paid out again)."""
    env = _env("prisoners_dilemma")
    env.reset(seed=0)
    _, rew, _, trunc, _ = env.step({"player_0": 0, "player_1": 0})
    assert trunc["player_0"] and env.agents == []
    for _ in range(3):
        with pytest.raises(ValueError):
            env.step({"player_0": 0, "player_1": 0})
    assert env._t == 1


def test_rejects_non_dict_actions():
    env = _env("grid_game")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="actions must be a dict agent -> action, got list"):
        env.step([0, 1])
