"""DCL as an RLlib algorithm: builds from just an env name, runs with 0/2 env runners, 2 CPU
learners, decentralized mode, mega-steps, N agents; checkpoints; clear config errors; IPPO trains
in the staged Markov Commitment Game."""
import pytest

from rllib_coopai.algorithms import get_config_class
from rllib_coopai.algorithms.dcl import DCL, DCLConfig, default_experiment_config
from rllib_coopai.algorithms.ippo import IPPOConfig
from rllib_coopai.wrappers.commitment import CommitmentGameRLlibEnv


def _small(cfg, batch=64):
    return cfg.training(train_batch_size_per_learner=batch).debugging(seed=0)


def test_builds_from_env_name_and_reports_metrics(ray_session):
    cfg = get_config_class("DCL")().environment("prisoners_dilemma").env_runners(num_env_runners=0)
    assert isinstance(cfg, DCLConfig) and cfg.ic_lambda == 0.0 and cfg.temperature == 10.0
    algo = _small(cfg).build_algo()
    try:
        res = algo.train()
        er, lr = res["env_runners"], res["learners"]
        for key in ("social_welfare", "agreement_rate", "cooperation_rate", "commit_rate",
                    "propose", "act", "agent_returns"):
            assert key in er, key
        assert set(er["propose"]["player_0"]) == {"0", "1"}
        assert er["num_env_steps_sampled"] >= 64
        assert "critic_loss" in lr["player_0"] and lr["temperature"] == pytest.approx(10.0)
        res = algo.train()
        assert res["learners"]["temperature"] == pytest.approx(9.95)  # linear decay 0.05 / iter
    finally:
        algo.stop()


def test_checkpoint_restore(ray_session, tmp_path):
    algo = _small(DCLConfig().environment("prisoners_dilemma")
                  .env_runners(num_env_runners=0).training(ic_lambda=1.0)).build_algo()
    try:
        algo.train()
        w = algo.get_module("player_1").get_state()
        path = algo.save_to_path(str(tmp_path / "ckpt"))
    finally:
        algo.stop()
    restored = DCL.from_checkpoint(path)
    try:
        w2 = restored.get_module("player_1").get_state()
        assert restored.config.ic_lambda == 1.0
        for k in w:
            assert (w[k] == w2[k]).all(), k
        restored.train()
    finally:
        restored.stop()


def test_two_env_runners_decentralized(ray_session):
    algo = _small(DCLConfig().environment("prisoners_dilemma").env_runners(num_env_runners=2)
                  .training(mode="decentralized")).build_algo()
    try:
        mod = algo.get_module("player_0")
        assert sorted(mod.nets.keys()) == ["0", "1"]  # own nets + estimates of the other agent
        res = algo.train()
        assert res["env_runners"]["num_env_steps_sampled"] >= 64
        assert "J_phi_score" in res["learners"]["player_1"]
    finally:
        algo.stop()


@pytest.mark.timeout(240)
def test_two_cpu_learners(ray_session):
    algo = _small(DCLConfig().environment("prisoners_dilemma").env_runners(num_env_runners=0)
                  .learners(num_learners=2), batch=64).build_algo()
    try:
        for _ in range(2):
            res = algo.train()
        assert "player_0" in res["learners"] and "player_1" in res["learners"]
        # both learners hold identical weights after the all-reduce (DDP)
        states = algo.learner_group.foreach_learner(
            lambda lr: lr.module["player_0"].unwrapped().get_state())
        s0, s1 = [r.get() for r in states]
        for k in s0:
            assert (s0[k] == s1[k]).all(), k
    finally:
        algo.stop()


def test_mega_steps_and_n_agents(ray_session):
    algo = _small(DCLConfig().environment("purely_conflicting")
                  .env_runners(num_env_runners=0).training(mega_steps=2, num_epochs=2)).build_algo()
    try:
        mod = algo.get_module("player_0")
        assert mod.action_sizes == [4, 4]  # |A|^K sequences
        er = algo.train()["env_runners"]
        assert er["episode_len_mean"] == 8  # 16 steps in 8 mega-steps
        assert set(er["propose"]["player_0"]) == {"0", "1", "2", "3"}
    finally:
        algo.stop()
    algo = _small(DCLConfig().environment("public_goods", env_config={"n_agents": 3})
                  .env_runners(num_env_runners=0)).build_algo()
    try:
        er = algo.train()["env_runners"]
        assert len(er["agent_returns"]) == 3 and 0.0 <= er["agreement_rate"] <= 1.0
    finally:
        algo.stop()


def test_ippo_in_commitment_game(ray_session):
    algo = (IPPOConfig().environment(CommitmentGameRLlibEnv,
                                     env_config={"base_env": "prisoners_dilemma"})
            .env_runners(num_env_runners=0)
            .training(train_batch_size_per_learner=60, minibatch_size=30, num_epochs=1)
            .debugging(seed=0)).build_algo()
    try:
        er = algo.train()["env_runners"]
        assert er["episode_len_mean"] == 3  # propose, commit, act
        assert 0.0 <= er["agreement_rate"] <= 1.0 and -4.0 <= er["social_welfare"] <= -2.0
    finally:
        algo.stop()


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "central"}, "mode must be one of"),
    ({"ic_lambda": -1.0}, "ic_lambda"),
    ({"ic_mode": "x"}, "ic_mode"),
    ({"temperature": 0.0}, "temperature"),
    ({"mega_steps": 0}, "mega_steps"),
])
def test_bad_config_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DCLConfig().environment("prisoners_dilemma").training(**kwargs).validate()


def test_unknown_env_and_default_experiment():
    with pytest.raises(ValueError, match="Known environments"):
        DCLConfig().environment("prisoners_dilema").validate()
    cfg = default_experiment_config()
    assert cfg.env == "prisoners_dilemma" and cfg.lr == 0.01
