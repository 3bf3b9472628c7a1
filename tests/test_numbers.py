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
