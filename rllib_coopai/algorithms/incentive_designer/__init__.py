"""Centralized incentive designer: MetaGrad and dual-RL (ID thesis ch. 6)."""
from rllib_coopai.algorithms.incentive_designer.incentive_designer import (
    IncentiveDesigner,
    IncentiveDesignerConfig,
)

__all__ = ["IncentiveDesigner", "IncentiveDesignerConfig"]
