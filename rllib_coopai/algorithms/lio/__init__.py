"""LIO: Learning to Incentivize Others (LIO thesis ch. 5, App. B)."""
from rllib_coopai.algorithms.lio.config import LIOConfig, independent_pg_config
from rllib_coopai.algorithms.lio.lio import LIO
from rllib_coopai.algorithms.lio.learner import LIOTorchLearner

__all__ = ["LIO", "LIOConfig", "LIOTorchLearner", "independent_pg_config"]
