"""Independent PPO: RLlib's PPO with one RLModule per agent, set up from the env.

The baseline of every paper here (DCL paper §4, LIO thesis §5.3.2): each agent treats the others as part of
the environment. ``IPPOConfig().environment("cleanup").build_algo().train()`` works as is;
``.training(share_policy=True)`` trains one module shared by all agents instead.
"""
from __future__ import annotations

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.algorithms.ppo import PPO, PPOConfig

from rllib_coopai.algorithms.common import CoopConfigMixin, FixedModuleOrderLearnerMixin
from rllib_coopai.core.nonfinite import GuardedPPOTorchLearner, NonFiniteIterationMixin
from rllib_coopai.core.rng_state import RNGStateMixin
from rllib_coopai.core.validation import check_config_numbers


class IPPOConfig(FixedModuleOrderLearnerMixin, CoopConfigMixin, PPOConfig):
    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or IPPO)
        self._init_coop()

    def training(self, *, share_policy=NotProvided, **kwargs):
        """``share_policy``: one module for all agents instead of one per agent."""
        super().training(**kwargs)
        self.coop_training_kwargs(share_policy=share_policy)
        return self

    def get_default_learner_class(self):
        return GuardedPPOTorchLearner

    def validate(self) -> None:
        check_config_numbers(self, "IPPO")
        self.setup_agents()
        super().validate()


class IPPO(NonFiniteIterationMixin, RNGStateMixin, PPO):
    @classmethod
    def get_default_config(cls) -> IPPOConfig:
        return IPPOConfig()
