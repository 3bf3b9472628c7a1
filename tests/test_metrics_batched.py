"""The metrics callbacks log once per ``sample()`` call, not once per episode: the values that reach
the result equal the per-episode logging they replace (one ``log_value(..., reduce="mean")`` per
episode and key). A small copy of that per-episode computation lives here as the reference."""
from collections import defaultdict

import numpy as np
import pytest
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.utils.metrics.metrics_logger import MetricsLogger

from rllib_coopai.algorithms.dcl import DCLConfig
from rllib_coopai.algorithms.dcl.callbacks import MAX_DIST_ACTIONS, DCLMetricsCallback
from rllib_coopai.metrics.designer import DesignerMetricsCallback
from rllib_coopai.metrics.callbacks import _KEY, CoopMetricsCallback
from rllib_coopai.modules.dcl_module import DCL_A, DCL_C, DCL_M
from rllib_coopai.wrappers.designer import DESIGNER_ID


# ---- reference: the per-episode logging the callbacks replaced ---------------------------------

def ref_coop(acc, log):
    returns = {a: r for a, r in acc["returns"].items() if a != DESIGNER_ID}
    log("social_welfare", sum(returns.values()))
    for aid, ret in returns.items():
        log(("agent_returns", str(aid)), ret)
    for name, (total, count) in acc["rates"].items():
        if count:
            log(name, total / count)
    sums = defaultdict(float)
    for (name, aid), value in acc["totals"].items():
        log((name, str(aid)), value)
        sums[name] += value
    for name, value in sums.items():
        log((name, "all"), value)


def ref_designer(acc, log):
    log("social_objective", acc["designer"][0])
    paid = sum(v for (name, _), v in acc["totals"].items() if name == "designer_payment")
    log("social_objective_net", acc["designer"][0] - paid)
    log("designer_return", acc["designer"][1])
    for a, (s, n) in acc["coop"].items():
        if n:
            log(("p_cooperate", str(a)), s / n)
    if acc["allcoop"][1]:
        log("p_all_cooperate", acc["allcoop"][0] / acc["allcoop"][1])


def ref_dcl(episode, log):
    eps = episode.agent_episodes
    try:
        c = np.stack([np.asarray(e.get_extra_model_outputs(DCL_C)).reshape(-1)
                      for e in eps.values()], -1)
    except (KeyError, ValueError):
        return
    if c.size == 0:
        return
    log("agreement_rate", float(np.all(c == 1, -1).mean()))
    for aid, e in eps.items():
        log(("commit_rate", str(aid)), float(np.mean(e.get_extra_model_outputs(DCL_C))))
        m = np.asarray(e.get_extra_model_outputs(DCL_M)).reshape(-1)
        a = np.asarray(e.get_extra_model_outputs(DCL_A)).reshape(-1)
        k = int(e.action_space.n)
        if k <= MAX_DIST_ACTIONS:
            for j in range(k):
                log(("propose", str(aid), str(j)), float(np.mean(m == j)))
                log(("act", str(aid), str(j)), float(np.mean(a == j)))


def _flat(d, prefix=()):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, prefix + (k,)))
        else:
            out[prefix + (k,)] = float(v)
    return out


# ---- hand-built episodes -----------------------------------------------------------------------

class _Space:
    def __init__(self, n):
        self.n = n


class _AgentEpisode:
    def __init__(self, n, c, m, a):
        self.action_space = _Space(n)
        self._out = {DCL_C: np.asarray(c), DCL_M: np.asarray(m), DCL_A: np.asarray(a)}

    def get_extra_model_outputs(self, key):
        return self._out[key]


class _Episode:
    """``steps``: [(rewards, infos)] per env step; ``agents``: agent id -> _AgentEpisode."""

    def __init__(self, steps, agents=None):
        self.custom_data, self._steps, self.t = {}, steps, -1
        self.agent_episodes = agents or {}

    def get_infos(self, idx):
        return self._steps[self.t][1]

    def get_rewards(self, idx):
        return self._steps[self.t][0]


def _random_episode(rng, designer=False, n_actions=(2, 2)):
    T = int(rng.integers(1, 5))
    steps = []
    for _ in range(T):
        rewards, infos = {}, {}
        coop_all = []
        for i, aid in enumerate(("p0", "p1")):
            coop = bool(rng.integers(2))
            coop_all.append(coop)
            rewards[aid] = float(rng.normal())
            info = {"cooperated": coop, "rates": {"agreement_rate": float(rng.integers(2))}}
            if rng.random() < 0.5:
                info["extrinsic_reward"] = float(rng.normal())
            if designer:
                info["totals"] = {"designer_payment": float(rng.random())}
                info["social_objective"] = float(rng.normal())
            infos[aid] = info
        if designer:
            rewards[DESIGNER_ID] = float(rng.normal())
            infos[DESIGNER_ID] = {}
        steps.append((rewards, infos))
    agents = {aid: _AgentEpisode(n, rng.integers(2, size=T), rng.integers(n, size=T),
                                 rng.integers(n, size=T))
              for aid, n in zip(("p0", "p1"), n_actions)}
    return _Episode(steps, agents)


def _play(cb, ep):
    cb.on_episode_start(episode=ep)
    for _ in ep._steps:
        ep.t += 1
        cb.on_episode_step(episode=ep)
    cb.on_episode_end(episode=ep, metrics_logger=None)


def _run(cb_cls, samples, reference, designer=False, n_actions=(2, 2)):
    """``samples``: episodes per ``sample()`` call, per reporting cycle (get_metrics())."""
    rng = np.random.default_rng(0)
    cb, logger = cb_cls(), MetricsLogger()
    for cycle in samples:
        expected = defaultdict(list)
        for n_eps in cycle:
            for _ in range(n_eps):
                ep = _random_episode(rng, designer, n_actions)
                _play(cb, ep)
                for fn in reference:
                    fn(ep, lambda k, v: expected[k if isinstance(k, tuple) else (k,)].append(v))
            cb.on_sample_end(metrics_logger=logger, samples=[])
        got = _flat(MetricsLogger.peek_results(logger.reduce(), compile=True))
        got = {k: v for k, v in got.items() if not np.isnan(v)}
        assert set(got) == set(expected), set(got) ^ set(expected)
        for k, vals in expected.items():
            assert got[k] == pytest.approx(float(np.mean(vals)), rel=1e-12, abs=1e-12), k


COOP = [lambda ep, log: ref_coop(ep.custom_data[_KEY], log)]


def test_coop_batched_equals_per_episode_over_chunked_samples():
    # Cycles with several sample() calls of different sizes before one get_metrics(): the value
    # must be the mean over ALL the cycle's episodes, not a mean of per-sample means.
    _run(CoopMetricsCallback, [[1], [3, 1, 7], [2, 5]], COOP)


def test_dcl_batched_equals_per_episode():
    _run(DCLMetricsCallback, [[4, 4, 1], [5], [2, 3]], COOP + [ref_dcl])
    # A game with 3 actions for one agent and 10 (> MAX_DIST_ACTIONS: no distribution) for the other.
    _run(DCLMetricsCallback, [[3, 2], [4]], COOP + [ref_dcl], n_actions=(3, 10))


def test_designer_batched_equals_per_episode():
    ref = [lambda ep, log: ref_coop(ep.custom_data[_KEY], log),
           lambda ep, log: ref_designer(ep.custom_data[_KEY], log)]
    _run(DesignerMetricsCallback, [[3, 1], [6], [1, 1, 1]], ref, designer=True)


class _RefDCLCallback(RLlibCallback):
    """The per-episode logging, under ``ref/...``, next to the package's callback."""

    def on_episode_end(self, *, episode, metrics_logger, **kwargs):
        def log(k, v):
            metrics_logger.log_value(("ref",) + (k if isinstance(k, tuple) else (k,)), v,
                                     reduce="mean")
        ref_coop(episode.custom_data[_KEY], log)
        ref_dcl(episode, log)


def test_dcl_run_result_equals_per_episode_logging(ray_session):
    """A seeded DCL run (4-episode sample() chunks, several per iteration): every metric of the
    result equals the per-episode logging of the same episodes, with the same keys."""
    cfg = (DCLConfig().environment("prisoners_dilemma", env_config={"horizon": 3})
           .env_runners(num_env_runners=0, num_envs_per_env_runner=1)
           .training(train_batch_size_per_learner=60)
           .callbacks([DCLMetricsCallback, _RefDCLCallback]).debugging(seed=0))
    algo = cfg.build_algo()
    try:
        for _ in range(2):
            er = algo.train()["env_runners"]
            ref = er.pop("ref")
            for key in ("social_welfare", "agreement_rate", "cooperation_rate"):
                assert er[key] == pytest.approx(ref[key], rel=1e-9), key
            for group in ("agent_returns", "commit_rate", "propose", "act"):
                assert _flat(er[group]) == pytest.approx(_flat(ref[group]), rel=1e-9), group
            assert set(er["propose"]["player_0"]) == {"0", "1"}
    finally:
        algo.stop()


def _no_timing(d):
    """A result dict without wall-clock values (timers such as ``sample``, throughputs, durations)."""
    out = {}
    for k, v in d.items():
        if k in ("sample", "timers") or k.startswith("time_") or k.endswith(
                ("_timer", "_throughput", "_sec_mean")):
            continue
        out[k] = _no_timing(v) if isinstance(v, dict) else v
    return out


@pytest.mark.parametrize("env,env_config,smoothing", [
    ("grid_game", {"horizon": 5}, 100),  # multi-step episodes, some cut between sample() calls
    ("prisoners_dilemma", {}, 4),  # 60 one-step episodes per iteration, windows of 4
])
def test_env_runner_metrics_equal_rllibs(ray_session, env, env_config, smoothing):
    """``CoopEnvRunner`` (every config's default) logs RLlib's step counters once per ``sample()``
    and skips episodes that fall out of the metric windows: a seeded IPPO run reports exactly the
    env-runner results of RLlib's own ``MultiAgentEnvRunner`` (every key and value but wall-clock
    timings: step and episode counts, episode return / length mean, min and max, per-agent and
    per-module returns, the package's metrics) with far fewer ``log_value`` calls."""
    from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner

    from rllib_coopai.algorithms.ippo import IPPOConfig
    from rllib_coopai.core.env_runner import CoopEnvRunner

    results, calls = {}, {}
    for cls in (MultiAgentEnvRunner, None):  # None: the package's default
        cfg = (IPPOConfig().environment(env, env_config=env_config)
               .env_runners(num_env_runners=0, num_envs_per_env_runner=4)
               .reporting(metrics_num_episodes_for_smoothing=smoothing)
               .training(train_batch_size_per_learner=60, minibatch_size=30, num_epochs=1)
               .debugging(seed=0))
        if cls is not None:
            cfg.env_runners(env_runner_cls=cls)
        algo = cfg.build_algo()
        try:
            runner = algo.env_runner
            assert type(runner) is (cls or CoopEnvRunner)
            n = [0]
            orig = runner.metrics.log_value

            def counting(*a, **k):
                n[0] += 1
                return orig(*a, **k)

            runner.metrics.log_value = counting
            results[cls] = [_no_timing(algo.train()["env_runners"]) for _ in range(3)]
            calls[cls] = n[0]
        finally:
            algo.stop()
    assert results[None] == results[MultiAgentEnvRunner]
    last = results[None][-1]
    assert last["num_env_steps_sampled_lifetime"] >= 180
    assert set(last["agent_episode_returns_mean"]) == {"player_0", "player_1"}
    assert "social_welfare" in last and "episode_return_min" in last
    assert calls[None] < calls[MultiAgentEnvRunner] / 2, calls
