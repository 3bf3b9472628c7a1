"""LIO's baselines as env wrappers (LIO thesis §5.3.2, App. B.4.2): inequity aversion (IA, Hughes et
al. 2018) and give-reward actions learned by plain RL (PG-d / PG-c / AC-d / AC-c).

* IA shaping equals the formula on a hand-computed 3-step, 2-agent trace (and the package's
  ``inequity_averse_agent_rewards`` on an N=3 trajectory); the env's reward stays in the infos.
* PG-d: every incentive is one of the discrete levels and moves exactly that amount from giver to
  recipient (the giver pays ``cost_coeff`` per unit); PG-c: ``R_max * sigmoid(u)`` / clipped to
  ``[0, R_max]``.
* PettingZoo's ``parallel_api_test`` on the wrapped envs; bad options fail with clear errors; the
  class paths work from the YAML files in tuned_configs/lio_baselines (the ``rllib train`` check).
* Learning (slow): on ER(2,1), IPPO with PG-d learns to stop giving (giving costs R_a within the
  episode; its effect on the recipient shows only episodes later, LIO thesis §5.1) and ends where
  plain IPPO ends, with no cooperation (LIO reaches 9 on the same game, test_lio_learning.py).
"""
import glob
import os

import numpy as np
import pytest
from gymnasium import spaces
from obs_space_envs import ObsKindsEnv
from pettingzoo.test import parallel_api_test

import rllib_coopai  # noqa: F401
from rllib_coopai.envs import make
from rllib_coopai.metrics.welfare import inequity_averse_agent_rewards
from rllib_coopai.wrappers.incentive_actions import IncentiveActionsRLlibEnv, IncentiveActionsWrapper
from rllib_coopai.wrappers.inequity_aversion import InequityAversionRLlibEnv, InequityAversionWrapper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C, D = 0, 1  # prisoners_dilemma: PD_PAYOFFS, CC -1/-1, CD -3/0, DC 0/-3, DD -2/-2
P0, P1 = "player_0", "player_1"
IA_PATH = "rllib_coopai.wrappers.inequity_aversion.InequityAversionRLlibEnv"
GIVE_PATH = "rllib_coopai.wrappers.incentive_actions.IncentiveActionsRLlibEnv"


# ------------------------------------------------------------------------------ inequity aversion
def test_ia_shaping_equals_the_formula_on_a_hand_computed_trace():
    """gamma*lam = 0.5, alpha 0.5, beta 0.25. Joint actions (D, C), (C, C), (D, D) give the env
    rewards (0, -3), (-1, -1), (-2, -2); traces e = (0, -3), (-1, -2.5), (-2.5, -3.25), so
    player_0 is ahead by 3, 1.5, 0.75 and pays beta * that, player_1 alpha * that."""
    env = InequityAversionWrapper(make("prisoners_dilemma", horizon=3), alpha=0.5, beta=0.25,
                                  gamma=1.0, lam=0.5)
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs[P0][-2:], [0.0, 0.0])  # traces observed, e^{-1} = 0
    expected_rewards = [(-0.75, -4.5), (-1.375, -1.75), (-2.1875, -2.375)]
    expected_traces = [(0.0, -3.0), (-1.0, -2.5), (-2.5, -3.25)]
    extrinsic = [(0.0, -3.0), (-1.0, -1.0), (-2.0, -2.0)]
    for t, joint in enumerate([(D, C), (C, C), (D, D)]):
        obs, rew, term, trunc, infos = env.step({P0: joint[0], P1: joint[1]})
        assert (rew[P0], rew[P1]) == pytest.approx(expected_rewards[t]), t
        assert (infos[P0]["extrinsic_reward"], infos[P1]["extrinsic_reward"]) == extrinsic[t]
        assert infos[P0]["totals"]["inequity_penalty"] == pytest.approx(extrinsic[t][0] - expected_rewards[t][0])
        for a in (P0, P1):
            np.testing.assert_allclose(obs[a][-2:], expected_traces[t])
    assert not env.agents  # horizon 3: the episode is over
    # the package's one definition over the whole trajectory says the same
    np.testing.assert_allclose(
        inequity_averse_agent_rewards(np.array(extrinsic), alpha=0.5, beta=0.25, gamma=1.0, lam=0.5),
        expected_rewards)


def test_ia_matches_the_trajectory_form_for_three_agents_and_resets_its_traces():
    env = InequityAversionWrapper(make("escape_room", n_agents=3, min_at_lever=2, horizon=5),
                                  alpha=0.3, beta=0.2, observe_traces=False)
    rng = np.random.default_rng(0)
    for episode in range(3):
        env.reset(seed=episode)
        raw, shaped = [], []
        while env.agents:
            _, rew, _, _, infos = env.step({a: int(rng.integers(3)) for a in env.agents})
            raw.append([infos[a]["extrinsic_reward"] for a in env.possible_agents])
            shaped.append([rew[a] for a in env.possible_agents])
        # defaults: the LIO thesis IA trace (gamma 0.99, lambda 0.95), fresh traces every episode
        np.testing.assert_allclose(
            shaped, inequity_averse_agent_rewards(np.array(raw), alpha=0.3, beta=0.2, gamma=0.99, lam=0.95))


def test_ia_defaults_are_the_lio_thesis_settings_and_image_observations_keep_their_shape():
    env = InequityAversionWrapper(make("cleanup", map_size="7x7"))
    assert (env.alpha, env.beta, env.lam, env.gamma) == (0.0, 0.05, 0.95, 0.99)
    h, w, c = env.env.observation_space("agent_0").shape
    assert env.observation_space("agent_0").shape == (h, w, c + 2)  # one trace plane per agent
    obs, _ = env.reset(seed=0)
    assert obs["agent_0"].shape == (h, w, c + 2)


# ---------------------------------------------------------------------------------- PG-d / PG-c
def test_pg_d_incentives_are_the_discrete_levels_and_transfer_exactly_that_amount():
    env = IncentiveActionsWrapper(make("prisoners_dilemma", horizon=5), levels=(0.0, 2.0))
    assert env.action_space(P0) == spaces.MultiDiscrete([2, 2])
    env.reset(seed=0)
    # player_0 cooperates and gives R_a = 2 to player_1, who defects and gives nothing: env (-3, 0)
    _, rew, _, _, infos = env.step({P0: np.array([C, 1]), P1: np.array([D, 0])})
    assert (infos[P0]["extrinsic_reward"], infos[P1]["extrinsic_reward"]) == (-3.0, 0.0)
    assert rew == {P0: -3.0 - 2.0, P1: 0.0 + 2.0}
    assert infos[P0]["incentives_given"] == {P1: 2.0} and infos[P1]["incentives_received"] == {P0: 2.0}
    assert infos[P0]["totals"] == {"incentives_given": 2.0, "incentives_received": 0.0}
    # random play, three agents: every amount is a level; r = r_env + received - cost * given
    env = IncentiveActionsWrapper(make("escape_room", n_agents=3, min_at_lever=2), levels=(0.0, 1.1, 2.0),
                                  cost_coeff=0.5)
    rng = np.random.default_rng(1)
    for episode in range(5):
        env.reset(seed=episode)
        while env.agents:
            actions = {a: np.array([rng.integers(3), rng.integers(3), rng.integers(3)]) for a in env.agents}
            live = list(env.agents)
            _, rew, _, _, infos = env.step(actions)
            for a in live:
                given = infos[a]["incentives_given"]
                assert set(given) == set(live) - {a}
                assert all(g in (0.0, 1.1, 2.0) for g in given.values())
                for k, b in enumerate(env.recipients[a]):
                    assert given[b] == env.levels[actions[a][1 + k]]
                received = sum(infos[g]["incentives_given"][a] for g in live if g != a)
                assert rew[a] == pytest.approx(infos[a]["extrinsic_reward"] + received - 0.5 * sum(given.values()))


def test_pg_d_flat_layout_is_the_reference_codes_joint_index():
    env = IncentiveActionsWrapper(make("escape_room"), discrete_layout="flat")
    assert env.action_space(P0).n == 3 * 2  # 3 moves x {no-op, give}^(N-1)
    env.reset(seed=0)
    idx = int(np.ravel_multi_index((0, 1), (3, 2)))  # lever, give R_a
    _, rew, _, _, infos = env.step({P0: idx, P1: int(np.ravel_multi_index((2, 0), (3, 2)))})
    assert infos[P0]["move"] == 0 and infos[P1]["move"] == 2
    assert rew == {P0: -1.0 - 2.0, P1: 10.0 + 2.0}  # the lever opens the door; player_1 exits


def test_pg_c_gives_r_max_sigmoid_or_the_clipped_amount():
    env = IncentiveActionsWrapper(make("prisoners_dilemma", horizon=5), incentive_type="continuous", r_max=2.0)
    env.reset(seed=0)
    for u, amount in [(0.0, 1.0), (np.log(3.0), 1.5), (1e6, 2.0), (-1e6, 0.0)]:  # 2 * sigmoid(u)
        _, rew, _, _, infos = env.step({P0: (C, np.array([u], np.float32)), P1: (C, np.array([-1e6], np.float32))})
        assert infos[P0]["incentives_given"][P1] == pytest.approx(amount, abs=1e-6)
        assert rew[P0] == pytest.approx(-1.0 - amount, abs=1e-6) and rew[P1] == pytest.approx(-1.0 + amount, abs=1e-6)
    env = IncentiveActionsWrapper(make("prisoners_dilemma", horizon=5), incentive_type="continuous",
                                  continuous_output="clip", r_max=2.0)
    assert env.action_space(P0)[1].low.tolist() == [0.0] and env.action_space(P0)[1].high.tolist() == [2.0]
    env.reset(seed=0)
    for raw, amount in [(-5.0, 0.0), (0.7, 0.7), (7.0, 2.0)]:
        _, rew, _, _, infos = env.step({P0: (D, np.array([raw], np.float32)), P1: (C, np.array([0.0], np.float32))})
        assert infos[P0]["incentives_given"][P1] == pytest.approx(amount, abs=1e-6)
        assert 0.0 <= infos[P0]["incentives_given"][P1] <= 2.0
        assert rew[P1] == pytest.approx(-3.0 + amount, abs=1e-6)


def test_escape_room_observes_the_cumulative_incentives_given():
    """Escape Room's LIO observation ends with the incentives given so far (LIO thesis App. B.4.1)."""
    env = IncentiveActionsWrapper(make("escape_room", n_agents=2, min_at_lever=1))
    obs, _ = env.reset(seed=0)
    assert obs[P0][-1] == 0.0
    obs, *_ = env.step({P0: np.array([1, 1]), P1: np.array([1, 0])})  # both stay at start
    obs, *_ = env.step({P0: np.array([1, 1]), P1: np.array([1, 1])})
    assert (obs[P0][-1], obs[P1][-1]) == (4.0, 2.0)


WRAPPED = [
    ("ia_ipd", lambda: InequityAversionWrapper(make("prisoners_dilemma", horizon=5))),
    ("ia_cleanup", lambda: InequityAversionWrapper(make("cleanup", map_size="7x7"))),
    ("ia_coin_game_image", lambda: InequityAversionWrapper(make("coin_game"))),
    ("ia_dict_obs", lambda: InequityAversionWrapper(ObsKindsEnv(obs="dict"))),
    ("ia_discrete_obs", lambda: InequityAversionWrapper(ObsKindsEnv(obs="discrete"))),
    ("pg_d_er32", lambda: IncentiveActionsWrapper(make("escape_room", n_agents=3, min_at_lever=2))),
    ("pg_d_flat_cleanup", lambda: IncentiveActionsWrapper(make("cleanup", map_size="7x7"), discrete_layout="flat")),
    ("pg_c_er21", lambda: IncentiveActionsWrapper(make("escape_room"), incentive_type="continuous")),
    ("ac_c_clip_cleanup", lambda: IncentiveActionsWrapper(make("cleanup", map_size="7x7"),
                                                          incentive_type="continuous", continuous_output="clip")),
    ("ia_over_pg_d", lambda: InequityAversionWrapper(IncentiveActionsWrapper(make("escape_room")))),
]


@pytest.mark.parametrize("make_env", [m for _, m in WRAPPED], ids=[n for n, _ in WRAPPED])
def test_parallel_api_on_the_wrapped_envs(make_env):
    parallel_api_test(make_env(), num_cycles=60)


# ----------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("cls,env_config,match", [
    (InequityAversionRLlibEnv, {"base_env": "escape_room", "alpha": -0.1}, "alpha"),
    (InequityAversionRLlibEnv, {"base_env": "escape_room", "beta": -1}, "beta"),
    (InequityAversionRLlibEnv, {"base_env": "escape_room", "lam": 1.5}, r"lam must be a number in \[0.0, 1.0\]"),
    (InequityAversionRLlibEnv, {"base_env": "escap_room"}, "unknown environment 'escap_room'.*escape_room"),
    (InequityAversionRLlibEnv, {"alpha": 0.0}, "base_env"),
    (IncentiveActionsRLlibEnv, {"base_env": "no_such_env"}, "unknown environment 'no_such_env'.*Known environments"),
    (IncentiveActionsRLlibEnv, {"base_env": "escape_room", "incentive_type": "discret"},
     r"incentive_type must be one of \['discrete', 'continuous'\]"),
    (IncentiveActionsRLlibEnv, {"base_env": "escape_room", "levels": [2.0]}, "at least 2"),
    (IncentiveActionsRLlibEnv, {"base_env": "escape_room", "levels": [0.0, -2.0]}, r"levels\[1\]"),
    (IncentiveActionsRLlibEnv, {"base_env": "escape_room", "r_max": 0.0}, "r_max"),
    (IncentiveActionsRLlibEnv, {"base_env": "escape_room", "cost_coeff": -1.0}, "cost_coeff"),
    (IncentiveActionsRLlibEnv, {"base_env": "escape_room", "discrete_layout": "tuple"}, "discrete_layout"),
])
def test_bad_options_fail_with_clear_errors(cls, env_config, match):
    with pytest.raises(ValueError, match=match):
        cls(env_config)


def test_incentive_actions_need_discrete_base_actions():
    base = make("prisoners_dilemma")
    base.action_space = lambda agent: spaces.Box(0.0, 1.0, (1,))
    with pytest.raises(ValueError, match="need discrete actions; agent 'player_0' has Box"):
        IncentiveActionsWrapper(base)


# ------------------------------------------------------------------------------- YAML / class path
BASELINE_YAMLS = sorted(glob.glob(os.path.join(ROOT, "tuned_configs", "lio_baselines", "*.yaml")))


def test_the_baseline_yamls_name_the_wrappers_by_class_path():
    """What ``rllib train tuned_configs/lio_baselines/X.yaml`` checks before training: the class path
    resolves, env_config reaches wrapper and base env, the algorithm config validates."""
    from rllib_coopai.algorithms.common import probe_env
    from rllib_coopai.cli.experiment import load_experiments

    names = {os.path.basename(p) for p in BASELINE_YAMLS}
    assert {"escape_room_2_1_pg_d.yaml", "escape_room_2_1_pg_c.yaml", "cleanup_7x7_ia.yaml",
            "cleanup_7x7_ac_d.yaml", "cleanup_7x7_ac_c.yaml", "ipd_pg_d.yaml"} <= names
    expect = {
        "escape_room_2_1_pg_d.yaml": (GIVE_PATH, spaces.MultiDiscrete([3, 2])),
        "escape_room_2_1_pg_c.yaml": (GIVE_PATH, spaces.Tuple((spaces.Discrete(3), spaces.Box(-np.inf, np.inf, (1,))))),
        "cleanup_7x7_ia.yaml": (IA_PATH, spaces.Discrete(6)),
        "cleanup_7x7_ac_d.yaml": (GIVE_PATH, spaces.MultiDiscrete([6, 2])),
        "ipd_pg_d.yaml": (GIVE_PATH, spaces.MultiDiscrete([2, 2])),
    }
    for path in BASELINE_YAMLS:
        (exp,) = load_experiments(path)
        assert exp.run == "IPPO" and exp.env in (IA_PATH, GIVE_PATH), path
        if os.path.basename(path) in expect:
            env_path, act = expect[os.path.basename(path)]
            assert exp.env == env_path
            env = probe_env(exp.concrete_config())
            assert env.action_spaces[env.possible_agents[0]] == act, path
            env.close()


def test_a_bad_wrapper_option_in_yaml_points_at_it(tmp_path):
    from rllib_coopai.cli.errors import CLIError
    from rllib_coopai.cli.experiment import load_experiments

    bad = tmp_path / "bad.yaml"
    bad.write_text(f"ia:\n  run: IPPO\n  env: {IA_PATH}\n  stop: {{training_iteration: 1}}\n"
                   "  config:\n    env_config: {base_env: prisoners_dilemma, alpha: -1.0}\n")
    with pytest.raises(CLIError, match="alpha"):
        load_experiments(str(bad))


# --------------------------------------------------------------------------------------- learning
PGD_SEEDS = (0, 1)
PGD_ITERS = 12
PG_ITERS = 8


def _ippo_on_escape_room(env, env_config, seed):
    """IPPO on ER(2,1), 0 env runners with 8 vectorised envs, 400 steps per iteration."""
    import torch

    from rllib_coopai.algorithms.ippo import IPPOConfig

    torch.set_num_threads(1)
    return (IPPOConfig().environment(env, env_config=env_config)
            .env_runners(num_env_runners=0, num_envs_per_env_runner=8)
            .training(train_batch_size_per_learner=400, minibatch_size=400, num_epochs=2, lr=3e-3,
                      entropy_coeff=0.01)
            .debugging(seed=seed)).build_algo()


def _train(algo, iters):
    rows = []
    try:
        for _ in range(iters):
            er = algo.train()["env_runners"]
            rows.append((float(er["social_welfare"]), float(er.get("give_rate", np.nan))))
    finally:
        algo.stop()
    return rows


@pytest.mark.slow
def test_pg_d_learns_to_stop_giving_and_fails_escape_room_like_plain_ippo(ray_session):
    """LIO thesis §5.4: PG never cooperates in ER (it stays at the start or runs to the closed door:
    negative collective return); the give-reward action of PG-d has no effect within the episode
    except its cost R_a (the recipient's response takes many updates, §5.1), so RL learns to stop
    giving, and PG-d "sometimes" succeeds only with luck. With seeds 0 and 1, PG-d's give rate
    falls below 0.05 within 12 iterations of 400 steps and its collective (extrinsic) return ends
    at most 1, as plain IPPO's does within 8 (measured: give rate 0.54 / 0.52 -> 0.01 / 0.00,
    PG-d's return 3.2 -> -1.6 / -1.2, plain IPPO's -0.6 / -1.4 at iteration 6); LIO reaches 9 on
    ER(2,1) (test_lio_learning.py)."""
    er21 = {"n_agents": 2, "min_at_lever": 1}
    for seed in PGD_SEEDS:
        pgd = _train(_ippo_on_escape_room(GIVE_PATH, dict(er21, base_env="escape_room"), seed), PGD_ITERS)
        pg = _train(_ippo_on_escape_room("escape_room", er21, seed), PG_ITERS)
        print(f"seed {seed}: PG-d (welfare, give rate) {pgd}\n  PG welfare {[w for w, _ in pg]}")
        assert pgd[0][1] >= 0.4, pgd  # starts giving about half the time (uniform policy)
        assert pgd[-1][1] <= 0.05, pgd
        pgd_end = np.mean([w for w, _ in pgd[-2:]])
        pg_end = np.mean([w for w, _ in pg[-2:]])
        assert pgd_end <= 1.0 and pg_end <= 1.0, (pgd_end, pg_end)
