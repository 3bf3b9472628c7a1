"""Bad numbers: NaN / inf / out-of-range config values fail at validation with the key and range;
keys an algorithm does not read are refused; a NaN / inf produced by a learner update raises with
module, term and iteration, or is skipped and counted with ``skip_nonfinite_updates``."""
import math

import numpy as np
import pytest
import torch

from rllib_coopai.algorithms.amd import AMDConfig
from rllib_coopai.algorithms.dcl import DCLConfig
from rllib_coopai.algorithms.dcl.learner import DCLTorchLearner
from rllib_coopai.algorithms.incentive_designer import IncentiveDesignerConfig
from rllib_coopai.algorithms.ippo import IPPOConfig
from rllib_coopai.algorithms.lio import LIOConfig
from rllib_coopai.core.nonfinite import NonFiniteUpdateError

ER21 = {"n_agents": 2, "min_at_lever": 1, "horizon": 5}
ER_DESIGNER = {"n_agents": 2, "min_at_lever": 1, "horizon": 5, "obs_mode": "designer"}


def _configs():
    return {
        "DCL": lambda: DCLConfig().environment("prisoners_dilemma"),
        "IPPO": lambda: IPPOConfig().environment("prisoners_dilemma"),
        "LIO": lambda: LIOConfig().environment("escape_room", env_config=ER21),
        "IncentiveDesigner": lambda: IncentiveDesignerConfig().environment(
            "escape_room", env_config=ER_DESIGNER),
        "AMD": lambda: AMDConfig().environment("prisoners_dilemma"),
    }


@pytest.mark.parametrize("algo,key,value,match", [
    ("DCL", "lr", float("nan"), r"DCL: config key 'lr' must be a finite number in \(0\.0, 1\.0\], got nan"),
    ("DCL", "lr", float("inf"), r"'lr' must be a finite number"),
    ("DCL", "lr", 1e6, r"DCL: config key 'lr' must be a number in \(0\.0, 1\.0\], got 1000000\.0"),
    ("DCL", "critic_lr", float("nan"), r"'critic_lr' must be a finite number"),
    ("DCL", "entropy_coeff", float("-inf"), r"'entropy_coeff'"),
    ("DCL", "gamma", float("nan"), r"'gamma' must be a finite number in \[0\.0, 1\.0\]"),
    ("IPPO", "entropy_coeff", float("nan"), r"IPPO: config key 'entropy_coeff' must be a finite number in \[0\.0, inf\]"),
    ("IPPO", "lr", float("nan"), r"IPPO: config key 'lr'"),
    ("IPPO", "lambda_", 1.5, r"'lambda_' must be a number in \[0\.0, 1\.0\]"),
    ("LIO", "policy_lr", float("nan"), r"LIO: config key 'policy_lr' must be a finite number"),
    ("LIO", "r_max", float("inf"), r"'r_max'"),
    ("IncentiveDesigner", "designer_lr", float("nan"), r"'designer_lr' must be a finite number"),
    ("IncentiveDesigner", "agent_lr", 5.0, r"'agent_lr' must be a number in \[0\.0, 1\.0\]"),
    ("AMD", "planner_lr", float("nan"), r"'planner_lr' must be a finite number"),
    ("AMD", "om_lr", float("inf"), r"'om_lr'"),
])
def test_nonfinite_and_out_of_range_values_fail_validation(algo, key, value, match):
    cfg = _configs()[algo]()
    setattr(cfg, key, value)
    with pytest.raises(ValueError, match=match):
        cfg.validate()


def test_lr_schedule_values_are_checked():
    cfg = IPPOConfig().environment("prisoners_dilemma").training(lr=[[0, 1e-3], [100, float("nan")]])
    with pytest.raises(ValueError, match=r"'lr\[1\]' must be a finite number"):
        cfg.validate()


def test_any_float_key_must_be_finite():
    cfg = DCLConfig().environment("prisoners_dilemma")
    cfg.min_time_s_per_iteration = float("nan")
    with pytest.raises(ValueError, match="'min_time_s_per_iteration' must be a finite number"):
        cfg.validate()


@pytest.mark.parametrize("algo,key,hint", [
    ("LIO", "lr", "'policy_lr'"),
    ("AMD", "lr", "'learner_lr'"),
    ("IncentiveDesigner", "lr", "'agent_lr'"),
    ("IncentiveDesigner", "entropy_coeff", "'agent_entropy_coeff'"),
])
def test_keys_an_algorithm_ignores_are_refused(algo, key, hint):
    cfg = _configs()[algo]()
    setattr(cfg, key, 0.05)
    with pytest.raises(ValueError, match=rf"{algo} does not read config key '{key}' .*set {hint}"):
        cfg.validate()


def test_dual_rl_designer_reads_lr():
    cfg = _configs()["IncentiveDesigner"]().training(designer="rl", lr=3e-4)
    cfg.validate()  # PPO learners read lr: accepted


def test_skip_flag_must_be_bool():
    cfg = DCLConfig().environment("prisoners_dilemma").training(skip_nonfinite_updates="yes")
    with pytest.raises(ValueError, match="'skip_nonfinite_updates' must be true or false"):
        cfg.validate()


def test_cli_refuses_nan_lr_before_ray_starts():
    from rllib_coopai.cli.errors import CLIError
    from rllib_coopai.cli.experiment import build_config

    with pytest.raises(CLIError, match=r"'lr' must be a finite number in \(0\.0, 1\.0\], got nan"):
        build_config("DCL", "prisoners_dilemma", {"lr": float("nan")})


@pytest.mark.parametrize("run, env, cfg, match", [
    ("PPO", "CartPole-v1", {"lr": float("nan")},
     r"config key 'lr' must be a finite number in \(0\.0, 1\.0\], got nan"),
    ("PPO", "CartPole-v1", {"lr": 2.0}, r"'lr': 2\.0 \(must be in \(0\.0, 1\.0\]\)"),
    ("PPO", "CartPole-v1", {"entropy_coeff": [[0, 0.01], [100, float("inf")]]},
     r"'entropy_coeff\[1\]' must be a finite number"),
    ("PPO", "CartPole-v1", {"min_time_s_per_iteration": float("nan")},
     r"'min_time_s_per_iteration' must be a finite number"),
    ("IPPO", "prisoners_dilemma", {"num_epochs": 0}, r"'num_epochs': 0 \(must be an integer >= 1\)"),
    ("IPPO", "prisoners_dilemma", {"num_envs_per_env_runner": 1.5},
     r"'num_envs_per_env_runner': 1\.5 \(must be an integer >= 1\)"),
    ("DCL", "prisoners_dilemma", {"num_gpus_per_learner": -0.5},
     r"'num_gpus_per_learner': -0\.5 \(must be >= 0\.0\)"),
])
def test_cli_checks_with_the_one_validator(run, env, cfg, match):
    """The CLI's range checks are core.validation's (RLlib's built-in algorithms included)."""
    from rllib_coopai.cli.errors import CLIError
    from rllib_coopai.cli.experiment import build_config

    with pytest.raises(CLIError, match=match):
        build_config(run, env, cfg)


def test_validate_refuses_the_cli_ranges_too():
    """build_algo()'s validate() refuses what the CLI refuses, from the same table."""
    cfg = DCLConfig().environment("prisoners_dilemma").training(num_epochs=0)
    with pytest.raises(ValueError, match=r"DCL: config key 'num_epochs' must be an integer >= 1, got 0"):
        cfg.validate()
    cfg = IPPOConfig().environment("prisoners_dilemma")
    cfg.num_envs_per_env_runner = 2.5  # set directly, as update_from_dict does
    with pytest.raises(ValueError, match=r"IPPO: config key 'num_envs_per_env_runner' must be an "
                                         r"integer >= 1, got 2\.5"):
        cfg.validate()


# ------------------------------------------------------------------ learner updates
class _NaNAtUpdate(DCLTorchLearner):
    """DCL learner whose critic loss of player_0 is NaN at its 2nd update (a numerical blow-up)."""

    def compute_losses(self, *, fwd_out, batch):
        losses = super().compute_losses(fwd_out=fwd_out, batch=batch)
        if getattr(self, "_nonfinite_updates", 0) == 2:
            self.metrics.log_value(("player_0", "critic_loss"), float("nan"), window=1)
            losses["player_0"] = losses["player_0"] * float("nan")
        return losses


def _dcl(**training):
    return (DCLConfig().environment("prisoners_dilemma").env_runners(num_env_runners=0)
            .training(train_batch_size_per_learner=32, learner_class=_NaNAtUpdate, **training)
            .debugging(seed=0))


def test_nan_loss_mid_training_raises_with_module_term_iteration(ray_session):
    algo = _dcl().build_algo()
    try:
        res = algo.train()
        assert res["learners"]["__all_modules__"]["nonfinite_updates_skipped"] == 0
        before = {k: v.copy() for k, v in algo.get_module("player_0").get_state().items()}
        with pytest.raises(NonFiniteUpdateError,
                           match=r"DCL training iteration 2: .*module 'player_0', loss term "
                                 r"'critic_loss' = nan") as err:
            algo.train()
        assert err.value.module_id == "player_0"
        assert algo.iteration == 1  # the failed iteration is not counted (nor checkpointed)
        assert all(np.all(np.isfinite(v)) for v in before.values())
    finally:
        algo.stop()


def test_skip_nonfinite_updates_skips_and_counts(ray_session):
    algo = _dcl(skip_nonfinite_updates=True).build_algo()
    try:
        algo.train()
        learner = algo.learner_group._learner
        w1 = {k: v.detach().clone() for k, v in learner.module["player_0"].state_dict().items()}
        res = algo.train()  # the learner's 2nd update is NaN: skipped
        w2 = learner.module["player_0"].state_dict()
        assert all(torch.equal(w1[k], w2[k]) for k in w1)  # weights put back
        lrn = res["learners"]["__all_modules__"]
        assert lrn["nonfinite_updates_skipped"] == 1
        assert lrn["nonfinite_updates_skipped_lifetime"] == 1
        res = algo.train()  # training continues with finite weights
        lrn = res["learners"]["__all_modules__"]
        assert lrn["nonfinite_updates_skipped"] == 0 and lrn["nonfinite_updates_skipped_lifetime"] == 1
        assert all(torch.isfinite(p).all() for p in learner.module["player_0"].parameters())
        assert any(not torch.equal(w1[k], v) for k, v in learner.module["player_0"].state_dict().items())
    finally:
        algo.stop()


def test_nan_parameter_named_when_no_loss_term_is_logged(ray_session):
    """IPPO (RLlib's PPO learner with the guard): a NaN written into a weight is reported."""
    algo = (IPPOConfig().environment("prisoners_dilemma").env_runners(num_env_runners=0)
            .training(train_batch_size_per_learner=32, minibatch_size=32, num_epochs=1)
            .debugging(seed=0)).build_algo()
    try:
        algo.train()
        learner = algo.learner_group._learner
        with torch.no_grad():
            next(learner.module["player_1"].parameters()).fill_(float("nan"))
        with pytest.raises(NonFiniteUpdateError, match=r"IPPO training iteration 2: .*'player_1'"):
            algo.train()
    finally:
        algo.stop()


# ------------------------------------------------------------------ across Ray processes
def _error():
    e = NonFiniteUpdateError("DCL training iteration 2: module 'player_0', loss term "
                             "'critic_loss' = nan", "player_0", "loss term 'critic_loss'", 2)
    e.add_note("checkpoint before it kept")
    return e


def _same_error(got, want):
    assert isinstance(got, NonFiniteUpdateError) and isinstance(got, FloatingPointError)
    assert str(want) in str(got)
    assert (got.module_id, got.term, got.iteration) == (want.module_id, want.term, want.iteration)


@pytest.mark.parametrize("dumps, loads", [
    (__import__("pickle").dumps, __import__("pickle").loads),
    (__import__("ray.cloudpickle", fromlist=["dumps"]).dumps,
     __import__("ray.cloudpickle", fromlist=["loads"]).loads),
])
def test_nonfinite_error_pickles_with_message_and_fields(dumps, loads):
    want = _error()
    got = loads(dumps(want))
    _same_error(got, want)
    assert got.args == want.args and got.__notes__ == ["checkpoint before it kept"]


def test_nonfinite_error_as_rays_dual_exception():
    """Ray raises a remote error as a class deriving from both RayTaskError and the error's own
    class, and pickles it again between processes: it stays a NonFiniteUpdateError with the
    message and fields."""
    import traceback

    import ray.cloudpickle as cloudpickle
    from ray.exceptions import RayTaskError

    want = _error()
    try:
        raise want
    except NonFiniteUpdateError as e:
        dual = RayTaskError("update", traceback.format_exc(), e).as_instanceof_cause()
    assert isinstance(dual, RayTaskError)
    for got in (dual, cloudpickle.loads(cloudpickle.dumps(dual))):
        _same_error(got, want)
        _same_error(got.cause, want)


@pytest.fixture
def by_value():
    """Ship this test module's functions and classes to Ray workers by value (pytest imports it
    as a top-level module that the workers cannot import)."""
    import sys

    import ray.cloudpickle as cloudpickle

    this = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(this)
    yield
    cloudpickle.unregister_pickle_by_value(this)


def test_nonfinite_error_from_a_remote_task_reaches_the_driver(ray_session, by_value):
    import ray

    @ray.remote(num_cpus=0)
    def fail():
        raise _error()

    with pytest.raises(NonFiniteUpdateError) as err:
        ray.get(fail.remote())
    _same_error(err.value, _error())


def test_nan_in_remote_learners_names_module_term_iteration(ray_session, by_value):
    """num_learners=2: the error raised in the remote Learner actors reaches ``train()`` with the
    module, the loss term and the iteration."""
    algo = _dcl().learners(num_learners=2).build_algo()
    try:
        algo.train()
        with pytest.raises(NonFiniteUpdateError,
                           match=r"DCL training iteration 2: .*module 'player_0', loss term "
                                 r"'critic_loss' = nan") as err:
            algo.train()
        assert err.value.module_id == "player_0" and "critic_loss" in err.value.term
    finally:
        algo.stop()
