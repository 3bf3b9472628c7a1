"""amTFT(w) and the norm-adaptive amTFT(W) (normative-disagreement paper §3.4, §4.1)."""
from rllib_coopai.algorithms.amtft.amtft import AmTFT, AmTFTConfig
from rllib_coopai.algorithms.amtft.module import AmTFTModule, AmTFTPlayer, NetworkAmTFTPlayer

__all__ = ["AmTFT", "AmTFTConfig", "AmTFTModule", "AmTFTPlayer", "NetworkAmTFTPlayer"]
