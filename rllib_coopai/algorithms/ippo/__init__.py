from rllib_coopai.algorithms.ippo.ippo import IPPO, IPPOConfig

__all__ = ["IPPO", "IPPOConfig"]
