"""Adaptive mechanism design (AMD thesis ch. 4)."""
from rllib_coopai.algorithms.amd.amd import AMD, AMDConfig

__all__ = ["AMD", "AMDConfig"]
