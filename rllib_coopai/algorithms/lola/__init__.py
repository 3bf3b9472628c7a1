"""LOLA (Learning with Opponent-Learning Awareness), on the package's inner/outer core."""
from rllib_coopai.algorithms.lola.lola import LOLAExact, LOLAExactConfig
from rllib_coopai.algorithms.lola.pg import LOLAPG, LOLAPGConfig

__all__ = ["LOLAExact", "LOLAExactConfig", "LOLAPG", "LOLAPGConfig"]
