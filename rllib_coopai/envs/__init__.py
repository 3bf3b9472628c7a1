"""The papers' environments as PettingZoo ``ParallelEnv``s (no Ray imports here)."""
from rllib_coopai.envs.base import CoopParallelEnv
from rllib_coopai.envs.matrix_games import MatrixGameEnv
from rllib_coopai.envs.registry import describe, get_factory, make, names, register

__all__ = ["CoopParallelEnv", "MatrixGameEnv", "make", "names", "register", "describe", "get_factory"]
