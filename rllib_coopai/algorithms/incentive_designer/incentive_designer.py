"""Centralized incentive designer: MetaGrad (meta-gradient) and the dual-RL baseline.

ID thesis ch. 6, App. C. The env gets a designer seat
(``rllib_coopai.wrappers.designer.DesignerSeatWrapper``): the designer observes the state and the
joint action and pays incentives that enter the agents' rewards.

* ``designer="metagrad"``: agents are PG learners (``CategoricalPolicyModule``, plain SGD, lr
  ``agent_lr``); the designer (``IncentiveModule``, sigmoid outputs in ``(incentive_low,
  max_incentive)``) is trained by differentiating through the agents' one-step update (eqs
  6.3-6.4, Algorithm 3 with pipelining; see ``learner.MetaGradLearner``), with an incentive cost
  ``psi`` minimised by its own Adam (``cost_lr``; ER setting of ID thesis §6.3.2) or weighted by
  ``cost_coeff`` when ``cost_lr=None``. The designer is deterministic while sampling.
* ``designer="rl"``: the dual-RL baseline / AI-Economist planner pattern: agents and designer
  are ordinary PPO learners over the designer-seat env; the designer's action is a menu
  assignment (dual-RL (d): ``len(incentive_menu) ** K`` discrete actions) and its reward is the
  social objective minus its payments (``subtract_payments``).

Economy (``incentive_output="tax_brackets"``, ID thesis §6.3, env ``gather_trade_build``):
the designer sets the 7 marginal tax rates in [0, 1] at the first step of every tax period.
MetaGrad: 7 sigmoid outputs (continuous), the meta-gradient flows through a torch replay of the
tax chain (``tax.py``), designer reward ``objective_scale`` (default 1e-2 = r_scalar) times
``productivity * equality`` per step. Dual-RL: a factored ``MultiDiscrete([21] * 7)`` over
``{0, 0.05, ..., 1}`` (``tax_rate_levels``), the marginal (difference) objective as its reward,
optional max-rate cap annealing ``tax_cap_start`` -> 1 over ``tax_cap_anneal_episodes``.

Build from just the env: ``IncentiveDesignerConfig().environment("escape_room",
env_config={"n_agents": 5, "min_at_lever": 2, "obs_mode": "designer"}).build_algo()``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.algorithms.ppo import PPO, PPOConfig
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from rllib_coopai.algorithms.common import CoopConfigMixin, require_discrete_actions
from rllib_coopai.core.designer_seat import (
    DesignerSeatConfigMixin,
    designer_training_step,
    register_seat_envs,
)
from rllib_coopai.metrics.designer import DesignerMetricsCallback
from rllib_coopai.core.nonfinite import GuardedPPOTorchLearner, NonFiniteIterationMixin
from rllib_coopai.core.rng_state import RNGStateMixin
from rllib_coopai.core.validation import (
    check_bool,
    check_choice,
    check_config_numbers,
    check_float,
    check_int,
    lr_range,
)
from rllib_coopai.modules.designer_module import CategoricalPolicyModule, IncentiveModule
from rllib_coopai.wrappers.designer import DESIGNER_ID, OBJECTIVE_FORMS, OBJECTIVES, OUTPUTS

DESIGNERS = ("metagrad", "rl")

# Learning rates (besides the checks in ``_validate_keys``), see core.validation.
DESIGNER_RANGES = {
    "agent_lr": lr_range(allow_zero=True), "designer_lr": lr_range(),
    "cost_lr": lr_range(optional=True),
}
# RLlib keys MetaGrad does not read (dual-RL's PPO learners do), and what to set instead.
METAGRAD_IGNORED = {
    "lr": "'agent_lr' (agents) and 'designer_lr' (designer)",
    "entropy_coeff": "'agent_entropy_coeff'",
}
class IncentiveDesignerConfig(DesignerSeatConfigMixin, CoopConfigMixin, PPOConfig):
    """Config of ``IncentiveDesigner``. ``training()`` keys (defaults: ID thesis Table C.1, ER(5,2)):

    designer: ``"metagrad"`` (default) or ``"rl"`` (dual-RL baseline, PPO designer).
    incentive_output: ``"per_action"`` (one incentive per action type, ER), ``"per_agent"`` or
        ``"tax_brackets"`` (an economy's 7 marginal tax rates, GTB).
    incentive_low, max_incentive: incentive bounds (ER: ``(0, 2)``; ignored for tax brackets,
        whose rates are in ``[0, 1]``).
    incentive_menu: dual-RL (d) incentive set (default ``(0, 1.1, 2.0)``).
    social_objective: ``"sum"`` (sum of extrinsic rewards) or ``"productivity_x_equality"`` (the
        env's reported productivity x equality where it reports them, GTB).
    objective_scale: factor on the designer's objective (None: 1e-2 for MetaGrad with tax
        brackets, the thesis' r_scalar; else 1).
    objective_form: ``"level"`` or ``"difference"`` (None: ``"difference"`` for dual-RL with
        ``productivity_x_equality``, the AI Economist planner's marginal reward; else level).
    tax_rate_levels: dual-RL tax rates per bracket, ``linspace(0, 1, levels)`` (21).
    tax_cap_start, tax_cap_anneal_episodes: dual-RL max-rate annealing (None = off; thesis 0.1
        -> 1 over 8000 episodes, counted per env copy).
    subtract_payments: designer reward net of payments (default: False for metagrad, whose cost
        enters via ``psi``; True for rl, dual-RL (c)).
    revenue_neutral: payments minus their mean.
    agent_lr (alpha_theta, 9.56e-5), agent_entropy_coeff (0.0166), designer_lr (alpha_ID, 7.93e-4),
    cost_lr (alpha_cost, 6.03e-5; None -> ``cost_coeff`` in the designer's optimizer),
    cost_coeff (1.0), cost_warmup_updates (0: off; a budget option, not in the thesis: the cost
        weight, or the cost optimizer's lr, ramps linearly from 0 over this many designer
        updates so that the cost cannot switch the incentives off before the agents have found
        the equilibrium they pay for), preactivation_bound (None: off; a budget option, not in
        the thesis: adds ``relu(|x| - bound)^2`` of the designer's pre-sigmoid outputs to the cost
        ``psi`` so that a payment cannot saturate at its maximum, where the sigmoid passes no
        gradient back and the cost could never shrink it towards 1 + eps), agent_hidden ([64, 64]), designer_hidden ([64, 32]),
    episodes_per_iteration (1: one episode per update as in the thesis; setting
    ``train_batch_size_per_learner`` instead samples that many env steps of whole episodes).
    """

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or IncentiveDesigner)
        self._init_coop()
        self.callbacks_class = DesignerMetricsCallback
        self.designer = "metagrad"
        self.incentive_output = "per_action"
        self.incentive_low = 0.0
        self.max_incentive = 2.0
        self.incentive_menu = (0.0, 1.1, 2.0)
        self.social_objective = "sum"
        self.objective_scale = None
        self.objective_form = None
        self.tax_rate_levels = 21
        self.tax_cap_start = None
        self.tax_cap_anneal_episodes = 8000
        self.subtract_payments = None
        self.revenue_neutral = False
        self.agent_lr = 9.56e-5
        self.agent_entropy_coeff = 0.0166
        self.designer_lr = 7.93e-4
        self.cost_lr = 6.03e-5
        self.cost_coeff = 1.0
        self.cost_warmup_updates = 0
        self.preactivation_bound = None
        self.agent_hidden = [64, 64]
        self.designer_hidden = [64, 32]
        self.episodes_per_iteration = 1
        self.gamma = 0.99
        # The designer acts with bounded incentives; the seat clips, RLlib must not rescale.
        self.normalize_actions = False
        self.clip_actions = False

    def training(
        self,
        *,
        designer=NotProvided,
        incentive_output=NotProvided,
        incentive_low=NotProvided,
        max_incentive=NotProvided,
        incentive_menu=NotProvided,
        social_objective=NotProvided,
        objective_scale=NotProvided,
        objective_form=NotProvided,
        tax_rate_levels=NotProvided,
        tax_cap_start=NotProvided,
        tax_cap_anneal_episodes=NotProvided,
        subtract_payments=NotProvided,
        revenue_neutral=NotProvided,
        agent_lr=NotProvided,
        agent_entropy_coeff=NotProvided,
        designer_lr=NotProvided,
        cost_lr=NotProvided,
        cost_coeff=NotProvided,
        cost_warmup_updates=NotProvided,
        preactivation_bound=NotProvided,
        agent_hidden=NotProvided,
        designer_hidden=NotProvided,
        episodes_per_iteration=NotProvided,
        share_policy=NotProvided,
        **kwargs,
    ):
        """See the class docstring for the keys; other keys go to ``PPOConfig.training``."""
        super().training(**kwargs)
        self.batch_size_replaces_episodes(episodes_per_iteration, kwargs)
        self.coop_training_kwargs(share_policy=share_policy)
        self.set_provided(
            designer=designer, incentive_output=incentive_output, incentive_low=incentive_low,
            max_incentive=max_incentive, incentive_menu=incentive_menu,
            social_objective=social_objective, subtract_payments=subtract_payments,
            objective_scale=objective_scale, objective_form=objective_form,
            tax_rate_levels=tax_rate_levels, tax_cap_start=tax_cap_start,
            tax_cap_anneal_episodes=tax_cap_anneal_episodes,
            revenue_neutral=revenue_neutral, agent_lr=agent_lr,
            agent_entropy_coeff=agent_entropy_coeff, designer_lr=designer_lr, cost_lr=cost_lr,
            cost_coeff=cost_coeff, cost_warmup_updates=cost_warmup_updates,
            preactivation_bound=preactivation_bound,
            agent_hidden=agent_hidden, designer_hidden=designer_hidden,
            episodes_per_iteration=episodes_per_iteration,
        )
        return self

    # ------------------------------------------------------------------------------------
    def _subtract(self) -> bool:
        if self.subtract_payments is None:
            return self.designer == "rl"
        return bool(self.subtract_payments)

    def _tax(self) -> bool:
        return self.incentive_output == "tax_brackets"

    def _bounds(self):
        return (0.0, 1.0) if self._tax() else (float(self.incentive_low), float(self.max_incentive))

    def resolved_objective_scale(self) -> float:
        if self.objective_scale is not None:
            return float(self.objective_scale)
        return 1e-2 if self._tax() and self.designer == "metagrad" else 1.0

    def _objective_form(self) -> str:
        if self.objective_form is not None:
            return self.objective_form
        marginal = self.designer == "rl" and self.social_objective == "productivity_x_equality"
        return "difference" if marginal else "level"

    def _designer_seat_kwargs(self) -> dict:
        low, high = self._bounds()
        if self._tax() and self.designer == "rl":
            action, menu = "factored", tuple(float(x) for x in np.linspace(0, 1, self.tax_rate_levels))
        else:
            action = "menu" if self.designer == "rl" else "continuous"
            menu = tuple(float(m) for m in self.incentive_menu)
        return dict(
            output=self.incentive_output, action=action, low=low, high=high, menu=menu,
            revenue_neutral=bool(self.revenue_neutral), objective=self.social_objective,
            subtract_payments=self._subtract(), objective_form=self._objective_form(),
            objective_scale=self.resolved_objective_scale(),
            cap_start=None if self.tax_cap_start is None else float(self.tax_cap_start),
            cap_anneal_episodes=int(self.tax_cap_anneal_episodes),
        )

    def _validate_keys(self) -> None:
        check_choice("designer", self.designer, DESIGNERS)
        check_config_numbers(self, "IncentiveDesigner", DESIGNER_RANGES,
                             ignored=METAGRAD_IGNORED if self.designer == "metagrad" else None)
        check_choice("incentive_output", self.incentive_output, OUTPUTS)
        check_choice("social_objective", self.social_objective, OBJECTIVES)
        lo = check_float("incentive_low", self.incentive_low)
        hi = check_float("max_incentive", self.max_incentive)
        if hi <= lo:
            raise ValueError(f"max_incentive must be > incentive_low ({lo}), got {hi}")
        check_bool("revenue_neutral", self.revenue_neutral)
        if self.subtract_payments is not None:
            check_bool("subtract_payments", self.subtract_payments)
        check_float("agent_lr", self.agent_lr, 0.0, None)
        check_float("agent_entropy_coeff", self.agent_entropy_coeff, 0.0, None)
        check_float("designer_lr", self.designer_lr, 0.0, None, low_open=True)
        if self.cost_lr is not None:
            check_float("cost_lr", self.cost_lr, 0.0, None, low_open=True)
        check_float("cost_coeff", self.cost_coeff, 0.0, None)
        check_int("cost_warmup_updates", self.cost_warmup_updates, 0, None)
        if self.preactivation_bound is not None:
            check_float("preactivation_bound", self.preactivation_bound, 0.0, None, low_open=True)
        if self.episodes_per_iteration is not None:
            check_int("episodes_per_iteration", self.episodes_per_iteration, 1, None)
        if (self.episodes_per_iteration or 10 ** 9) < max(1, self.num_learners):
            raise ValueError(
                f"episodes_per_iteration ({self.episodes_per_iteration}) must be >= num_learners "
                f"({self.num_learners}): whole episodes are sharded across Learners"
            )
        for key in ("agent_hidden", "designer_hidden"):
            val = getattr(self, key)
            if not isinstance(val, (list, tuple)) or not all(
                    isinstance(h, int) and h > 0 for h in val):
                raise ValueError(f"{key} must be a list of positive layer sizes, got {val!r}")
        if len(self.incentive_menu) < 1:
            raise ValueError("incentive_menu must hold at least one value")
        if self.objective_scale is not None:
            check_float("objective_scale", self.objective_scale, 0.0, None, low_open=True)
        if self.objective_form is not None:
            check_choice("objective_form", self.objective_form, OBJECTIVE_FORMS)
        check_int("tax_rate_levels", self.tax_rate_levels, 2, None)
        check_int("tax_cap_anneal_episodes", self.tax_cap_anneal_episodes, 1, None)
        if self.tax_cap_start is not None:
            check_float("tax_cap_start", self.tax_cap_start, 0.0, 1.0)
            if not (self._tax() and self.designer == "rl"):
                raise ValueError("tax_cap_start (max-rate annealing) needs designer='rl' and "
                                 "incentive_output='tax_brackets'")

    def validate(self) -> None:
        self._validate_keys()
        self.setup_designer_seat()
        agents = self.setup_agents()
        if self.designer == "metagrad":
            self.batch_mode = "complete_episodes"
            if not self._user_set_modules():
                self.rl_module(rl_module_spec=self._metagrad_module_spec(agents))
        super().validate()

    def _user_set_modules(self) -> bool:
        spec = self._rl_module_spec
        return spec is not None and spec is not NotProvided and not getattr(spec, "_coop_auto", False)

    def _metagrad_module_spec(self, agents: Sequence[str]) -> MultiRLModuleSpec:
        from rllib_coopai.modules.encoders import conv_filters_of

        require_discrete_actions(
            self, [a for a in agents if a != DESIGNER_ID], "IncentiveDesigner (designer='metagrad')",
            "designer='rl' trains the agents with PPO, which also takes Box actions")
        conv = conv_filters_of(self._model_config)
        specs = {
            a: RLModuleSpec(module_class=CategoricalPolicyModule,
                            model_config={"hidden": list(self.agent_hidden), "conv_filters": conv})
            for a in agents if a != DESIGNER_ID
        }
        specs[DESIGNER_ID] = RLModuleSpec(
            module_class=IncentiveModule,
            model_config={"hidden": list(self.designer_hidden), "low": self._bounds()[0],
                          "high": self._bounds()[1], "conv_filters": conv},
        )
        spec = MultiRLModuleSpec(rl_module_specs=specs)
        spec._coop_auto = True
        return spec

    def get_default_learner_class(self):
        if self.designer == "metagrad":
            from rllib_coopai.algorithms.incentive_designer.learner import MetaGradLearner

            return MetaGradLearner
        return GuardedPPOTorchLearner


class IncentiveDesigner(NonFiniteIterationMixin, RNGStateMixin, PPO):
    """MetaGrad (custom ``training_step``) or dual-RL (PPO's ``training_step``)."""

    @classmethod
    def get_default_config(cls) -> IncentiveDesignerConfig:
        return IncentiveDesignerConfig()

    def training_step(self) -> None:
        if self.config.designer == "rl":
            return super().training_step()
        from rllib_coopai.algorithms.incentive_designer.learner import DESIGNER_PHASE

        return designer_training_step(self, self.config.episodes_per_iteration,
                                      phases=[{DESIGNER_PHASE: "outer"}, {DESIGNER_PHASE: "inner"}])


register_seat_envs()

__all__ = ["IncentiveDesigner", "IncentiveDesignerConfig"]
