"""Differentiable Commitment Learning (DCL paper §3): ``DCLConfig``, ``DCL``, the learner, exact
evaluation over tabular policies and scripted partners."""
from rllib_coopai.algorithms.dcl.dcl import DCL, DCLConfig, default_experiment_config
from rllib_coopai.algorithms.dcl.learner import DCLTorchLearner

__all__ = ["DCL", "DCLConfig", "DCLTorchLearner", "default_experiment_config"]
