"""A user's own environment (tests/user_envs/, outside the package) with every entry point.

Class paths in YAML run by the ``rllib`` command (Tune grid searches, two env runners per trial),
names registered from Python reaching env runners in other processes, PettingZoo's own envs by
module path, RLlib's adapters, AEC envs, the designer on agents with different action counts,
``rllib evaluate`` picking the best trial, and the exit-2 errors for bad class paths.
"""
import csv
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER = os.path.join(ROOT, "tests", "user_envs")
TRUST = "tests.user_envs.trust_game"
RLLIB = [sys.executable, "-m", "rllib_coopai"]


def _env():
    env = dict(os.environ, RAY_AUTH_MODE="disabled", PYTHONWARNINGS="ignore")
    env.pop("RAY_ADDRESS", None)
    return env


# ------------------------------------------------------------------------------ env resolution
@pytest.mark.parametrize("spec", [
    f"{TRUST}.TrustGame", f"{TRUST}:TrustGameAEC", f"{TRUST}.TrustGameRLlib",
    f"{TRUST}.parallel_pettingzoo_env",
])
def test_every_kind_of_user_env_resolves_with_per_agent_spaces(spec):
    from gymnasium import spaces
    from ray.rllib.env.multi_agent_env import MultiAgentEnv

    from rllib_coopai.algorithms.common import env_creator_for

    env = env_creator_for(spec)({"horizon": 2})
    assert isinstance(env, MultiAgentEnv)
    assert list(env.possible_agents) == ["investor", "trustee"]
    assert env.action_spaces == {"investor": spaces.Discrete(3), "trustee": spaces.Discrete(2)}
    obs, _ = env.reset(seed=0)
    obs, rew, term, trunc, _ = env.step({"investor": 2, "trustee": 1})
    assert rew == {"investor": 3.0, "trustee": 3.0}  # invest 2 -> pot 6, half returned
    obs, rew, term, trunc, _ = env.step({"investor": 1, "trustee": 0})
    assert rew == {"investor": 1.0, "trustee": 3.0} and trunc["__all__"]


def test_parallel_pettingzoo_env_object_and_pettingzoo_module_are_accepted():
    from gymnasium import spaces
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    from rllib_coopai.wrappers.rllib_env import RLlibParallelEnv, resolve_env, to_multi_agent_env
    from tests.user_envs.trust_game import TrustGame

    env = to_multi_agent_env(ParallelPettingZooEnv(TrustGame()))
    assert isinstance(env, RLlibParallelEnv) and env.observation_spaces["trustee"].shape == (6,)
    _, creator = resolve_env("pettingzoo.classic.rps_v2")
    rps = creator({"num_actions": 3})
    assert rps.action_spaces["player_0"] == spaces.Discrete(3)


def test_env_class_in_config_trains_and_is_registered_by_name(ray_session):
    from rllib_coopai import IPPOConfig
    from tests.user_envs.trust_game import TrustGame

    config = (IPPOConfig().environment(TrustGame, env_config={"horizon": 2})
              .env_runners(num_env_runners=0).training(train_batch_size_per_learner=16,
                                                       minibatch_size=16, num_epochs=1))
    algo = config.build_algo()
    try:
        assert algo.config.env == f"{TRUST}.TrustGame"  # a name every process finds
        assert "social_welfare" in algo.train()["env_runners"]
    finally:
        algo.stop()


def test_registered_name_trains_with_two_env_runners(ray_session):
    """``envs.register`` after ``ray.init``: the remote env runners make the env by name."""
    import rllib_coopai
    from rllib_coopai import IPPOConfig
    from tests.user_envs.trust_game import TrustGame

    rllib_coopai.envs.register("byo_trust_game_py", TrustGame, "trust game")
    assert "byo_trust_game_py" in rllib_coopai.envs.names()
    config = (IPPOConfig().environment("byo_trust_game_py", env_config={"horizon": 2})
              .env_runners(num_env_runners=2)
              .training(train_batch_size_per_learner=16, minibatch_size=16, num_epochs=1))
    algo = config.build_algo()
    try:
        result = algo.train()
        assert result["env_runners"]["num_episodes"] >= 2
        assert "social_welfare" in result["env_runners"]
        # the remote runners built the env from Ray's registry, not from this process' dict
        kinds = algo.env_runner_group.foreach_env_runner(
            lambda r: type(r.env.envs[0].unwrapped.par_env).__name__,
            local_env_runner=False)
        assert kinds == ["TrustGame", "TrustGame"]
    finally:
        algo.stop()


# ------------------------------------------------------------------------ designer, per action
def test_designer_per_action_with_different_action_counts():
    from rllib_coopai.wrappers.designer import DesignerSeatWrapper, payments
    from tests.user_envs.trust_game import TrustGame

    seat = DesignerSeatWrapper(TrustGame(horizon=2), output="per_action", low=0.0, high=5.0)
    assert seat.n_outputs == 5 and seat.designer_action_space.shape == (5,)
    u = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    # investor's block is u[0:3], trustee's u[3:5]
    assert payments(u, np.array([2, 1]), "per_action", action_sizes=[3, 2]).tolist() == [2.0, 4.0]
    import torch

    pay_t = payments(torch.tensor(u)[None], torch.tensor([[1, 0]]), "per_action",
                     action_sizes=[3, 2])
    assert pay_t.tolist() == [[1.0, 3.0]]
    seat.reset(seed=0)
    seat.step({"investor": 2, "trustee": 1})
    _, rew, _, _, infos = seat.step({"designer": u})
    assert rew["investor"] == 3.0 + 2.0 and rew["trustee"] == 3.0 + 4.0
    assert infos["investor"]["totals"]["designer_payment/investor.2"] == 2.0
    assert infos["trustee"]["totals"]["designer_payment/trustee.1"] == 4.0
    # equal action counts keep one shared incentive per action type
    assert payments(u[:3], np.array([2, 1]), "per_action", action_sizes=[3, 3]).tolist() == [2.0, 1.0]


# ------------------------------------------------------------------------------ CLI: errors
@pytest.mark.parametrize("env, reason", [
    (f"{TRUST}.NoSuchEnv", "has no attribute 'NoSuchEnv'"),
    ("tests.user_envs.broken_module.Env", "module 'tests.user_envs.broken_module' failed to import"),
    ("no_such_package.envs.Env", "no module named 'no_such_package.envs'"),
    (f"{TRUST}.NotAnEnv", "not a multi-agent environment"),
])
def test_bad_class_paths_exit_2_before_ray(tmp_path, monkeypatch, capsys, env, reason):
    import ray

    from rllib_coopai.cli.main import main

    def no_ray(*a, **k):
        raise AssertionError("Ray was started")

    monkeypatch.setattr(ray, "init", no_ray)
    f = tmp_path / "bad.yaml"
    f.write_text(f"bad:\n  run: IPPO\n  env: {env}\n  stop: {{training_iteration: 1}}\n")
    assert main(["train", "file", str(f)]) == 2
    err = capsys.readouterr().err
    assert env in err and reason in err, err
    assert main(["train", "file", str(f), "--import", "tests.user_envs.broken_module"]) == 2
    assert "--import tests.user_envs.broken_module" in capsys.readouterr().err


# ---------------------------------------------------------------- PettingZoo's own environments
def test_pettingzoo_rps_and_mpe_train_with_ippo_lio_dcl_from_yaml(ray_session, tmp_path):
    pytest.importorskip("mpe2")
    from rllib_coopai.cli.experiment import load_experiments

    exps = load_experiments(os.path.join(USER, "pettingzoo_envs.yaml"),
                            storage_path=str(tmp_path))
    assert [e.run for e in exps] == ["IPPO", "LIO", "DCL"] * 2
    for exp in exps:  # built in this process (no Tune trial actors: faster on 2 cores)
        algo = exp.concrete_config().build_algo()
        try:
            for _ in range(exp.stop["training_iteration"]):
                result = algo.train()
        finally:
            algo.stop()
        assert result["training_iteration"] == 2, exp.name
        assert "social_welfare" in result["env_runners"], exp.name


# ------------------------------------------------- CLI: one YAML, every algorithm, then evaluate
def _last_row(trial_dir):
    with open(os.path.join(trial_dir, "progress.csv"), newline="") as f:
        return list(csv.DictReader(f))[-1]


@pytest.mark.timeout(1800)  # 10 Tune trials x 3 processes: ~3-5 min on 2 idle cores
def test_rllib_train_class_path_yaml_every_algorithm_then_evaluate_best(tmp_path):
    out = tmp_path / "runs"
    proc = subprocess.run(
        RLLIB + ["train", "file", os.path.join(USER, "trust_all_algorithms.yaml"),
                 "--import", "tests.user_envs.register_trust", "--storage-path", str(out),
                 "--num-cpus", "2"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ("byo-ippo", "byo-dcl", "byo-lio", "byo-designer", "byo-amd"):
        trials = sorted(glob.glob(str(out / name / "*" / "progress.csv")))
        assert len(trials) == (2 if name == "byo-ippo" else 1), (name, trials)  # IPPO's 2-point grid
        for p in trials:
            row = _last_row(os.path.dirname(p))
            assert row.get("env_runners/social_welfare", "") != "", (name, p)
            assert row["training_iteration"] == "1"
    # rllib evaluate on the experiment dir takes the best trial by social welfare
    from rllib_coopai.cli.evaluate import find_checkpoint

    exp_dir = out / "byo-ippo"
    trials = sorted(os.path.dirname(p) for p in glob.glob(str(exp_dir / "*" / "progress.csv")))
    welfare = {t: float(_last_row(t)["env_runners/social_welfare"]) for t in trials}
    best = max(trials, key=welfare.get)
    assert find_checkpoint(str(exp_dir), verbose=False).startswith(best + os.sep)
    other = min(trials, key=welfare.get)
    if other != best:
        with open(os.path.join(other, "result.json")) as f:
            trial_id = json.loads(f.readline())["trial_id"]
        assert find_checkpoint(str(exp_dir), trial=trial_id, verbose=False).startswith(other)
    proc = subprocess.run(
        RLLIB + ["evaluate", str(exp_dir), "--episodes", "1", "--render", "--address", "local"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert os.path.basename(best) in proc.stdout
    assert "t=1/3: invest" in proc.stdout  # the user env's ansi frames
    assert "social_welfare" in proc.stdout


def test_dcl_mega_steps_on_a_user_env_by_class_path(ray_session):
    """K=2 mega-step commitments wrap a user env named by class path (MegaStepRLlibEnv's base)."""
    from rllib_coopai.algorithms.dcl import DCLConfig

    algo = (DCLConfig().environment(f"{TRUST}.TrustGame").training(mega_steps=2)
            .debugging(seed=0).build_algo())
    from rllib_coopai.wrappers.commitment import MegaStepRLlibEnv

    try:
        assert algo.config.env is MegaStepRLlibEnv
        assert algo.config.env_config["base_env"] == f"{TRUST}.TrustGame"
        result = algo.train()
        assert np.isfinite(result["env_runners"]["social_welfare"])
        assert 0.0 <= result["env_runners"]["agreement_rate"] <= 1.0
    finally:
        algo.stop()
