"""Centralized incentive designers (ID thesis ch. 6): MetaGrad and dual-RL."""
from rllib_coopai.algorithms.incentive_designer.dual_rl import DualRLDesigner, DualRLDesignerConfig
from rllib_coopai.algorithms.incentive_designer.incentive_designer import (
    IncentiveDesigner,
    IncentiveDesignerConfig,
)
from rllib_coopai.algorithms.incentive_designer.metagrad import MetaGrad, MetaGradConfig

__all__ = ["MetaGrad", "MetaGradConfig", "DualRLDesigner", "DualRLDesignerConfig",
           "IncentiveDesigner", "IncentiveDesignerConfig"]
