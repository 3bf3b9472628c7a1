"""Adaptive mechanism design (amd_norms.md Part A)."""
from rllib_coopai.algorithms.amd.amd import AMD, AMDConfig

__all__ = ["AMD", "AMDConfig"]
