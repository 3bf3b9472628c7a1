"""Centralized incentive designer: MetaGrad and dual-RL (lio_id.md §2)."""
from rllib_coopai.algorithms.incentive_designer.incentive_designer import (
    IncentiveDesigner,
    IncentiveDesignerConfig,
)

__all__ = ["IncentiveDesigner", "IncentiveDesignerConfig"]
