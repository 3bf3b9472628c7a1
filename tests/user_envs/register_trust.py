"""A user module for ``rllib train --import``: registers the trust game under a plain name."""
import rllib_coopai

from tests.user_envs.trust_game import TrustGame

rllib_coopai.envs.register("byo_trust_game", TrustGame, "2-player trust game (user module)")
