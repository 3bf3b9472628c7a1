"""``MetaGrad``: the centralized incentive designer trained by meta-gradients (ID thesis ch. 6).

The env gets a designer seat (``rllib_coopai.wrappers.designer.DesignerSeatWrapper``): the designer
observes the state and the joint action and pays incentives that enter the agents' rewards. The
agents are PG learners (``CategoricalPolicyModule``, plain SGD, lr ``agent_lr``); the designer
(``IncentiveModule``, sigmoid outputs in ``(incentive_low, max_incentive)``) is trained by
differentiating through the agents' one-step update (eqs 6.3-6.4, Algorithm 3 with pipelining;
see ``learner.MetaGradLearner``), with an incentive cost ``psi`` minimised by its own Adam
(``cost_lr``; ER setting of ID thesis §6.3.2) or weighted by ``cost_coeff`` when ``cost_lr=None``.
The designer is deterministic while sampling.

Economy (``incentive_output="tax_brackets"``, ID thesis §6.3, env ``gather_trade_build``): the
designer sets the 7 marginal tax rates in [0, 1] at the first step of every tax period: 7 sigmoid
outputs, the meta-gradient flows through a torch replay of the tax chain (``tax.py``), designer
reward ``objective_scale`` (default 1e-2 = r_scalar) times ``productivity * equality`` per step.

Build from just the env: ``MetaGradConfig().environment("escape_room", env_config={"n_agents": 5,
"min_at_lever": 2, "obs_mode": "designer"}).build_algo()``.
"""
from __future__ import annotations

from typing import Sequence

from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from rllib_coopai.algorithms.common import CoopConfigMixin
from rllib_coopai.algorithms.incentive_designer.base import SHARED_KEYS, DesignerKeysMixin
from rllib_coopai.core.designer_seat import (
    DesignerSeatConfigMixin,
    designer_training_step,
    seat_module_spec,
)
from rllib_coopai.core.nonfinite import NonFiniteIterationMixin
from rllib_coopai.core.rng_state import RNGStateMixin
from rllib_coopai.core.validation import (
    check_config_numbers,
    check_episodes_per_learner,
    check_float,
    check_int,
    check_layer_sizes,
    lr_range,
)
from rllib_coopai.modules.designer_module import CategoricalPolicyModule

# Learning rates (besides the checks in ``_validate_keys``), see core.validation.
METAGRAD_RANGES = {
    "agent_lr": lr_range(allow_zero=True), "designer_lr": lr_range(),
    "cost_lr": lr_range(optional=True),
}
# RLlib / PPO keys MetaGrad does not read, and what to set instead.
METAGRAD_IGNORED = {
    "lr": "'agent_lr' (agents) and 'designer_lr' (designer)",
    "entropy_coeff": "'agent_entropy_coeff'",
}
METAGRAD_KEYS = ("agent_lr", "agent_entropy_coeff", "designer_lr", "cost_lr", "cost_coeff",
                 "cost_warmup_updates", "preactivation_bound", "agent_hidden", "designer_hidden",
                 "episodes_per_iteration")


class MetaGradConfig(DesignerKeysMixin, DesignerSeatConfigMixin, CoopConfigMixin, AlgorithmConfig):
    """Config of ``MetaGrad``. Defaults: ID thesis Table C.1, ER(5,2).

    Args:
        agent_lr: alpha_theta, the agents' SGD step (9.56e-5).
        agent_entropy_coeff: the agents' entropy bonus (0.0166).
        designer_lr: alpha_ID, the designer's Adam (7.93e-4).
        cost_lr: alpha_cost, a separate Adam on the incentive cost (6.03e-5); None: the cost
            enters the designer's Adam with weight ``cost_coeff``.
        cost_coeff: weight of the cost when ``cost_lr`` is None (1.0).
        agent_hidden ([64, 64]), designer_hidden ([64, 32]): MLP layer sizes.
        episodes_per_iteration: whole episodes per update (1, as in the thesis); setting
            ``train_batch_size_per_learner`` instead samples that many env steps of whole episodes.
        cost_warmup_updates: not in the thesis (a budget option; 0 = off): the cost weight, or the
            cost optimizer's lr, ramps linearly from 0 over this many designer updates, so that the
            cost cannot switch the incentives off before the agents have found the equilibrium.
        preactivation_bound: not in the thesis (None = off): adds ``relu(|x| - bound)^2`` of the
            designer's pre-sigmoid outputs to the cost ``psi``, so that a payment cannot saturate
            at its maximum where the sigmoid passes no gradient back.

    and the designer-seat keys of ``DesignerKeysMixin`` (incentive_output, bounds, objective).
    """

    designer = "metagrad"

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or MetaGrad)
        self._init_designer_keys()
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

    def training(self, *, incentive_output=NotProvided, incentive_low=NotProvided,
                 max_incentive=NotProvided, social_objective=NotProvided,
                 objective_scale=NotProvided, objective_form=NotProvided,
                 subtract_payments=NotProvided, revenue_neutral=NotProvided,
                 agent_lr=NotProvided, agent_entropy_coeff=NotProvided, designer_lr=NotProvided,
                 cost_lr=NotProvided, cost_coeff=NotProvided, cost_warmup_updates=NotProvided,
                 preactivation_bound=NotProvided, agent_hidden=NotProvided,
                 designer_hidden=NotProvided, episodes_per_iteration=NotProvided,
                 share_policy=NotProvided, **kwargs) -> "MetaGradConfig":
        """See the class docstring; other keys go to ``AlgorithmConfig.training``."""
        from rllib_coopai.algorithms.incentive_designer.dual_rl import DUAL_RL_KEYS

        wrong = sorted(k for k in kwargs if k in DUAL_RL_KEYS)
        if wrong:
            raise ValueError(f"{wrong} are keys of DualRLDesigner (the PPO designer); MetaGrad's "
                             "designer has continuous outputs and does not read them")
        given = dict(locals())
        super().training(**kwargs)
        values = {k: v for k, v in given.items() if k in SHARED_KEYS + METAGRAD_KEYS}
        self.batch_size_replaces_episodes(episodes_per_iteration, kwargs)
        self._shared_training(values, share_policy)
        self.set_provided(**{k: values[k] for k in METAGRAD_KEYS})
        return self

    def _designer_seat_kwargs(self) -> dict:
        return self._seat_kwargs("continuous")

    def _validate_keys(self) -> None:
        name = type(self).__name__.replace("Config", "")  # MetaGrad, or its alias
        check_config_numbers(self, name, METAGRAD_RANGES, ignored=METAGRAD_IGNORED)
        self._validate_shared_keys()
        check_float("agent_lr", self.agent_lr, 0.0, None)
        check_float("agent_entropy_coeff", self.agent_entropy_coeff, 0.0, None)
        check_float("designer_lr", self.designer_lr, 0.0, None, low_open=True)
        if self.cost_lr is not None:
            check_float("cost_lr", self.cost_lr, 0.0, None, low_open=True)
        check_float("cost_coeff", self.cost_coeff, 0.0, None)
        check_int("cost_warmup_updates", self.cost_warmup_updates, 0, None)
        if self.preactivation_bound is not None:
            check_float("preactivation_bound", self.preactivation_bound, 0.0, None, low_open=True)
        check_episodes_per_learner(self)
        for key in ("agent_hidden", "designer_hidden"):
            check_layer_sizes(key, getattr(self, key))

    def validate(self) -> None:
        self._validate_keys()
        self.setup_designer_seat()
        agents = self.setup_agents()
        self.batch_mode = "complete_episodes"
        if not self._user_set_modules():
            self.rl_module(rl_module_spec=self._metagrad_module_spec(agents))
        super().validate()

    def _metagrad_module_spec(self, agents: Sequence[str]):
        low, high = self._bounds()
        return seat_module_spec(
            self, agents, {"hidden": list(self.agent_hidden)},
            {"hidden": list(self.designer_hidden), "low": low, "high": high}, "MetaGrad",
            "DualRLDesigner trains the agents with PPO, which also takes Box actions")

    def get_default_learner_class(self):
        from rllib_coopai.algorithms.incentive_designer.learner import MetaGradLearner

        return MetaGradLearner

    def get_default_rl_module_spec(self):
        return RLModuleSpec(module_class=CategoricalPolicyModule)


class MetaGrad(NonFiniteIterationMixin, RNGStateMixin, Algorithm):
    """MetaGrad (see the module docstring): per iteration, whole episodes; the designer's
    meta-gradient step on the kept previous batch, then the agents' step with the new incentives."""

    @classmethod
    def get_default_config(cls) -> MetaGradConfig:
        return MetaGradConfig()

    def training_step(self) -> None:
        from rllib_coopai.algorithms.incentive_designer.learner import DESIGNER_PHASE

        designer_training_step(self, self.config.episodes_per_iteration,
                               phases=[{DESIGNER_PHASE: "outer"}, {DESIGNER_PHASE: "inner"}])


__all__ = ["MetaGrad", "MetaGradConfig"]
