"""``DualRLDesigner``: the dual-RL baseline of the incentive designer (ID thesis ch. 6).

The AI-Economist planner pattern: agents and designer are ordinary PPO learners over the
designer-seat env; the designer's action is a menu assignment (dual-RL (d):
``len(incentive_menu) ** K`` discrete actions) and its reward is the social objective minus its
payments (``subtract_payments``, dual-RL (c)). On an economy (``incentive_output="tax_brackets"``,
``gather_trade_build``): a factored ``MultiDiscrete([21] * 7)`` over ``{0, 0.05, ..., 1}``
(``tax_rate_levels``), the marginal (difference) objective as its reward, optional max-rate cap
annealing ``tax_cap_start`` -> 1 over ``tax_cap_anneal_episodes``.
All of PPO's keys apply (``DualRLDesignerConfig`` is a ``PPOConfig``).
"""
from __future__ import annotations

import numpy as np

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.algorithms.ppo import PPO, PPOConfig

from rllib_coopai.algorithms.common import CoopConfigMixin, FixedModuleOrderLearnerMixin
from rllib_coopai.algorithms.incentive_designer.base import SHARED_KEYS, DesignerKeysMixin
from rllib_coopai.core.designer_seat import DesignerSeatConfigMixin
from rllib_coopai.core.nonfinite import GuardedPPOTorchLearner, NonFiniteIterationMixin
from rllib_coopai.core.rng_state import RNGStateMixin
from rllib_coopai.core.validation import check_config_numbers, check_float, check_int

DUAL_RL_KEYS = ("incentive_menu", "tax_rate_levels", "tax_cap_start", "tax_cap_anneal_episodes")


class DualRLDesignerConfig(FixedModuleOrderLearnerMixin, DesignerKeysMixin, DesignerSeatConfigMixin,
                           CoopConfigMixin, PPOConfig):
    """Config of ``DualRLDesigner`` (a ``PPOConfig``: PPO's keys train agents and designer).

    Args:
        incentive_menu: dual-RL (d) incentive set (``(0, 1.1, 2.0)``).
        tax_rate_levels: tax rates per bracket, ``linspace(0, 1, levels)`` (21).
        tax_cap_start, tax_cap_anneal_episodes: max-rate annealing (None = off; thesis 0.1 -> 1
            over 8000 episodes, counted per env copy).

    and the designer-seat keys of ``DesignerKeysMixin`` (incentive_output, bounds, objective).
    """

    designer = "rl"

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or DualRLDesigner)
        self._init_designer_keys()
        self.incentive_menu = (0.0, 1.1, 2.0)
        self.tax_rate_levels = 21
        self.tax_cap_start = None
        self.tax_cap_anneal_episodes = 8000

    def training(self, *, incentive_output=NotProvided, incentive_low=NotProvided,
                 max_incentive=NotProvided, social_objective=NotProvided,
                 objective_scale=NotProvided, objective_form=NotProvided,
                 subtract_payments=NotProvided, revenue_neutral=NotProvided,
                 incentive_menu=NotProvided, tax_rate_levels=NotProvided,
                 tax_cap_start=NotProvided, tax_cap_anneal_episodes=NotProvided,
                 share_policy=NotProvided, **kwargs) -> "DualRLDesignerConfig":
        """See the class docstring; other keys go to ``PPOConfig.training``."""
        given = dict(locals())
        super().training(**kwargs)
        values = {k: v for k, v in given.items() if k in SHARED_KEYS + DUAL_RL_KEYS}
        self._shared_training(values, share_policy)
        self.set_provided(**{k: values[k] for k in DUAL_RL_KEYS})
        return self

    def _designer_seat_kwargs(self) -> dict:
        if self._tax():
            return self._seat_kwargs("factored", tuple(float(x) for x in np.linspace(0, 1, self.tax_rate_levels)))
        return self._seat_kwargs("menu", tuple(float(m) for m in self.incentive_menu))

    def _validate_keys(self) -> None:
        check_config_numbers(self, "DualRLDesigner")
        self._validate_shared_keys()
        if len(self.incentive_menu) < 1:
            raise ValueError("incentive_menu must hold at least one value")
        check_int("tax_rate_levels", self.tax_rate_levels, 2, None)
        check_int("tax_cap_anneal_episodes", self.tax_cap_anneal_episodes, 1, None)
        if self.tax_cap_start is not None:
            check_float("tax_cap_start", self.tax_cap_start, 0.0, 1.0)
            if not self._tax():
                raise ValueError("tax_cap_start (max-rate annealing) needs "
                                 "incentive_output='tax_brackets'")

    def validate(self) -> None:
        self._validate_keys()
        self.setup_designer_seat()
        self.setup_agents()
        super().validate()

    def get_default_learner_class(self):
        return GuardedPPOTorchLearner


class DualRLDesigner(NonFiniteIterationMixin, RNGStateMixin, PPO):
    """Dual-RL designer: PPO's ``training_step`` over the designer-seat env."""

    @classmethod
    def get_default_config(cls) -> DualRLDesignerConfig:
        return DualRLDesignerConfig()


__all__ = ["DualRLDesigner", "DualRLDesignerConfig"]
