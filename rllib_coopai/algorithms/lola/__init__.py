"""LOLA (Learning with Opponent-Learning Awareness), on the package's inner/outer core."""
from rllib_coopai.algorithms.lola.lola import LOLAExact, LOLAExactConfig

__all__ = ["LOLAExact", "LOLAExactConfig"]
