"""The metrics callback's bookkeeping (fake episode / logger) and the welfare functions."""
import numpy as np
import pytest

from rllib_coopai.metrics import CoopMetricsCallback, egalitarian_welfare, equality, nash_welfare
from rllib_coopai.metrics import social_welfare


class FakeEpisode:
    def __init__(self, steps):
        self.custom_data = {}
        self._steps = steps
        self.t = -1

    def advance(self):
        self.t += 1

    def get_infos(self, idx):
        return self._steps[self.t][1]

    def get_rewards(self, idx):
        return self._steps[self.t][0]


class FakeLogger:
    def __init__(self):
        self.logged = {}

    def log_value(self, key, value, reduce="mean", **kw):
        self.logged[key] = value


def run_episode(steps):
    cb, ep, log = CoopMetricsCallback(), FakeEpisode(steps), FakeLogger()
    cb.on_episode_start(episode=ep)
    for _ in steps:
        ep.advance()
        cb.on_episode_step(episode=ep)
    cb.on_episode_end(episode=ep, metrics_logger=log)
    cb.on_sample_end(metrics_logger=log, samples=[])  # values are logged once per sample()
    return log.logged


def test_extrinsic_rewards_rates_and_totals():
    steps = [
        # (rewards seen by RLlib, infos)
        ({"a": 5.0, "b": 1.0}, {"a": {"extrinsic_reward": 3.0, "cooperated": True,
                                      "rates": {"agreement_rate": 1.0}, "totals": {"paid": 2.0}},
                                "b": {"extrinsic_reward": 1.0, "cooperated": False,
                                      "rates": {"agreement_rate": 1.0}}}),
        ({"a": -1.0, "b": 2.0}, {"a": {"cooperated": True, "rates": {"agreement_rate": 0.0},
                                       "totals": {"paid": 0.5}},
                                 "b": {}}),
    ]
    out = run_episode(steps)
    # a: extrinsic 3 then env reward -1 -> 2; b: 1 then 2 (no info) -> 3.
    assert out[("agent_returns", "a")] == 2.0
    assert out[("agent_returns", "b")] == 3.0
    assert out["social_welfare"] == 5.0
    assert out["cooperation_rate"] == pytest.approx(2 / 3)
    assert out["agreement_rate"] == pytest.approx(2 / 3)
    assert out[("paid", "a")] == 2.5 and out[("paid", "all")] == 2.5


def test_welfare_functions():
    r = np.array([[4.0, 1.0], [2.0, 2.0], [3.0, 1.5]])
    assert social_welfare(r).tolist() == [5.0, 4.0, 4.5]
    assert egalitarian_welfare(r).tolist() == [1.0, 2.0, 1.5]
    assert nash_welfare(r).tolist() == [4.0, 4.0, 4.5]  # hand-derived: the fair coin wins
    assert equality(np.array([1.0, 1.0, 1.0])) == pytest.approx(1.0)
    assert equality(np.array([0.0, 0.0, 3.0])) == pytest.approx(0.0)
    assert 0.0 < equality(np.array([1.0, 2.0, 3.0])) < 1.0
