"""Keys and checks both incentive designers share (MetaGrad and dual-RL), ID thesis ch. 6.

Mixed into ``MetaGradConfig`` and ``DualRLDesignerConfig`` (before ``DesignerSeatConfigMixin``);
each config class sets ``designer`` (``"metagrad"`` / ``"rl"``) and builds its seat's keywords
with ``_seat_kwargs(action, menu)``.
"""
from __future__ import annotations

from ray.rllib.algorithms.algorithm_config import NotProvided

from rllib_coopai.core.validation import check_bool, check_choice, check_float
from rllib_coopai.metrics.designer import DesignerMetricsCallback
from rllib_coopai.wrappers.designer import OBJECTIVE_FORMS, OBJECTIVES, OUTPUTS

SHARED_KEYS = ("incentive_output", "incentive_low", "max_incentive", "social_objective",
               "objective_scale", "objective_form", "subtract_payments", "revenue_neutral")


class DesignerKeysMixin:
    """The designer-seat keys of both designers.

    Args:
        incentive_output: ``"per_action"`` (one incentive per action type, ER), ``"per_agent"`` or
            ``"tax_brackets"`` (an economy's 7 marginal tax rates, GTB).
        incentive_low, max_incentive: incentive bounds (ER: ``(0, 2)``; ignored for tax brackets,
            whose rates are in ``[0, 1]``).
        social_objective: ``"sum"`` (sum of extrinsic rewards) or ``"productivity_x_equality"``
            (the env's reported productivity x equality where it reports them, GTB).
        objective_scale: factor on the designer's objective (None: 1e-2 for MetaGrad with tax
            brackets, the thesis' r_scalar; else 1).
        objective_form: ``"level"`` or ``"difference"`` (None: ``"difference"`` for dual-RL with
            ``productivity_x_equality``, the AI Economist planner's marginal reward; else level).
        subtract_payments: designer reward net of payments (None: False for MetaGrad, whose cost
            enters via ``psi``; True for dual-RL, dual-RL (c)).
        revenue_neutral: payments minus their mean.
        share_policy: one module for all agents.
    """

    designer = "metagrad"

    def _init_designer_keys(self) -> None:
        self._init_coop()
        self.callbacks_class = DesignerMetricsCallback
        self.incentive_output = "per_action"
        self.incentive_low = 0.0
        self.max_incentive = 2.0
        self.social_objective = "sum"
        self.objective_scale = None
        self.objective_form = None
        self.subtract_payments = None
        self.revenue_neutral = False
        self.gamma = 0.99
        # The designer acts with bounded incentives; the seat clips, RLlib must not rescale.
        self.normalize_actions = False
        self.clip_actions = False

    def _shared_training(self, values: dict, share_policy) -> None:
        self.coop_training_kwargs(share_policy=share_policy)
        self.set_provided(**{k: values[k] for k in SHARED_KEYS if k in values})

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

    def _seat_kwargs(self, action: str, menu=()) -> dict:
        """The designer seat's keywords (see ``DesignerSeatWrapper``) for the designer's
        ``action`` kind and incentive ``menu``; each config's ``_designer_seat_kwargs`` calls it."""
        low, high = self._bounds()
        menu = {"menu": menu} if menu else {}  # continuous actions have no menu
        return dict(
            output=self.incentive_output, action=action, low=low, high=high, **menu,
            revenue_neutral=bool(self.revenue_neutral), objective=self.social_objective,
            subtract_payments=self._subtract(), objective_form=self._objective_form(),
            objective_scale=self.resolved_objective_scale(),
            cap_start=None if getattr(self, "tax_cap_start", None) is None else float(self.tax_cap_start),
            cap_anneal_episodes=int(getattr(self, "tax_cap_anneal_episodes", 8000)),
        )

    def _validate_shared_keys(self) -> None:
        check_choice("incentive_output", self.incentive_output, OUTPUTS)
        check_choice("social_objective", self.social_objective, OBJECTIVES)
        lo = check_float("incentive_low", self.incentive_low)
        hi = check_float("max_incentive", self.max_incentive)
        if hi <= lo:
            raise ValueError(f"max_incentive must be > incentive_low ({lo}), got {hi}")
        check_bool("revenue_neutral", self.revenue_neutral)
        if self.subtract_payments is not None:
            check_bool("subtract_payments", self.subtract_payments)
        if self.objective_scale is not None:
            check_float("objective_scale", self.objective_scale, 0.0, None, low_open=True)
        if self.objective_form is not None:
            check_choice("objective_form", self.objective_form, OBJECTIVE_FORMS)

    def _user_set_modules(self) -> bool:
        spec = self._rl_module_spec
        return spec is not None and spec is not NotProvided and not getattr(spec, "_coop_auto", False)
