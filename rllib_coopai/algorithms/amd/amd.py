"""Adaptive Mechanism Design (AMD): a planner that pays/fines learners to raise welfare.

AMD thesis ch. 4 (§4.1-4.2). The env gets a designer seat (the planner, id ``"designer"``): it
observes the state and the joint action and pays ``r^p_i in (-max_reward, max_reward)`` to each
player (``IncentiveModule`` with ``low=-c, high=c``, i.e. ``2c(sigmoid - 0.5)``, AMD thesis §4.2). Players are
``CategoricalPolicyModule``s (tabular: ``learner_hidden=[]``; 2-action games use the scalar logit
``P(C) = sigmoid(theta)`` with initial ``P(C) = init_prob = 0.25``, AMD thesis §4.2).

What is sampled and what is exact:

* Every iteration the EnvRunners play ``episodes_per_iteration`` episodes of the designer-seat env
  with the current players and planner: the sampled play gives the env-runner metrics
  (``p_cooperate/<agent>``, ``p_all_cooperate``, payments per agent/type, ``social_welfare``).
* ``gradient="exact"`` (one-shot matrix games only, AMD thesis Table 4.3 "exact V"):
  the learners' and the planner's gradients are exact expectations over the joint action
  distribution (closed forms via autograd), not estimates from the samples. One iteration runs
  ``updates_per_iteration`` (default 100) synchronous update steps (planner and learners from the
  same pre-step state, Adam lr 0.01 each); so the AMD thesis's 4000-step schedule is 40 iterations.
  Exact metrics (``learners/exact/...``: P(C) per player, P(all C), expected welfare, AAR).
* ``gradient="pg"`` (any env): the learners' REINFORCE step and the planner's eq 4.5 estimate use
  the sampled batch; ``updates_per_iteration`` defaults to 1.
* ``learner_rule="actor_critic"`` (one-shot matrix games; the players of the AMD thesis's Tables
  4.2/4.3, Algorithm 1, as in the authors' code): every synchronous step plays one round, the
  joint action drawn from the players' current policies (the Learner's seeded torch Generator);
  each player takes one actor-critic step on ``r_i + r^p_i`` with its own critic, and the planner
  takes its eq. 4.3 step with the exact values (``gradient="exact"``, "exact V") or its eq. 4.5
  step from that one round (``gradient="pg"``, "estimated V", constant baseline). 100 steps per
  iteration by default, so the thesis's 4000 rounds are 40 iterations.

``turn_off_after``: after that many training iterations the planner stops paying (its output is
scaled by 0, in the Learner and on the EnvRunners) and stops learning; the players keep learning
on the bare game (AMD thesis §4.3). ``None`` keeps it on.

``opponent_model=True`` (AMD thesis §4.1.4, eq. 4.6; proposed there but not run): the planner does not read the
learners' parameters; it plugs the maximum-likelihood estimate ``theta_hat_i`` fitted from the
actions it observes into eq. 4.3 (``opponent_model.py``). Exact mode: every synchronous step is
one played round whose joint action is drawn from the learners' current policies; the planner
keeps exponentially decayed action counts (``om_decay``, smoothing ``om_prior``) and uses their
closed-form MLE (tabular learners only). PG mode: a copy of the learners' policy class fitted by
``om_fit_steps`` Adam steps (``om_lr``) per batch on the last ``om_window`` batches' actions.
"""
from __future__ import annotations

import numpy as np
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from rllib_coopai.algorithms.common import CoopConfigMixin
from rllib_coopai.core.designer_seat import (
    DesignerSeatConfigMixin,
    designer_training_step,
    seat_module_spec,
)
from rllib_coopai.metrics.designer import DesignerMetricsCallback
from rllib_coopai.core.learner import foreach_learner
from rllib_coopai.core.nonfinite import NonFiniteIterationMixin
from rllib_coopai.core.rng_state import RNGStateMixin
from rllib_coopai.core.validation import (
    check_bool,
    check_choice,
    check_config_numbers,
    check_episodes_per_learner,
    check_layer_sizes,
    check_float,
    check_int,
    lr_range,
)
from rllib_coopai.modules.designer_module import CategoricalPolicyModule

GRADIENTS = ("exact", "pg")
LEARNER_RULES = ("gradient_ascent", "actor_critic")
AC_CRITICS = ("centralized", "scalar")
EXACT_V_FORMS = ("expectation", "linearized")
CONSTRAINTS = ("none", "revenue_neutral")
COST_FORMS = ("squared_expected", "l2_realized")
OPTIMIZERS = ("adam", "sgd")
INITS = ("normal", "zeros", "default")

# Learning rates (besides the checks in ``_validate_keys``), see core.validation.
AMD_RANGES = {
    "planner_lr": lr_range(allow_zero=True), "learner_lr": lr_range(allow_zero=True),
    "om_lr": lr_range(),
    "ac_critic_lr": lr_range(allow_zero=True),
}
# RLlib keys AMD does not read, and what to set instead.
AMD_IGNORED = {"lr": "'learner_lr' (players) and 'planner_lr' (planner)"}


class AMDConfig(DesignerSeatConfigMixin, CoopConfigMixin, AlgorithmConfig):
    """Config of ``AMD``. ``training()`` keys (defaults: AMD thesis §4.2, matrix games):

    gradient: ``"exact"`` (closed forms; one-shot matrix games) or ``"pg"`` (eq 4.5);
        ``None`` (default): ``"exact"`` where the env is a one-shot matrix game, else ``"pg"``.
    max_reward: c, payments in ``(-c, c)`` (3.0). constraint: ``"none"`` / ``"revenue_neutral"``.
    cost_form: ``"squared_expected"`` (AMD thesis eq. 4.7) / ``"l2_realized"`` (the authors' code).
    cost_weight: alpha (0.0002). turn_off_after: iterations with the planner on (None = always).
    planner_lr (0.01), planner_optimizer (``"adam"``, as in the authors' code; the thesis says gradient
    ascent), planner_hidden ([] = one linear layer), planner_init (``"normal"``: N(0, 0.1) as the
    code; ``"zeros"`` as the exact-gradient oracle).
    learner_lr (eta_i, 0.01; also the lookahead step size), learner_optimizer (``"adam"``),
    learner_hidden ([] = tabular), init_prob (initial P(C), 0.25).
    updates_per_iteration (None: 100 exact / 1 pg), episodes_per_iteration (10; setting
    ``train_batch_size_per_learner`` instead samples that many env steps of whole episodes).
    opponent_model (False): eq. 4.6, the planner uses MLE estimates of the learners' parameters
    from their observed actions instead of the parameters (exact mode needs tabular learners,
    ``learner_hidden=[]``). Exact: om_decay (0.99, per-round decay of the action counts, window
    ~1/(1-decay) = 100 rounds), om_prior (1.0 pseudo-count, uniform over actions). PG:
    om_window (5 batches), om_fit_steps (20), om_lr (0.05, Adam).

    Args:
        learner_rule: how the players learn. ``"gradient_ascent"`` (default): AMD thesis eq. 4.1,
            the players ascend ``V_i + V_i^p`` with the same gradients the planner uses (exact
            expectations for ``gradient="exact"``, REINFORCE on the batch, eq. 4.4, for ``"pg"``).
            ``"actor_critic"``: the stochastic actor-critic learners that produced the AMD
            thesis's Tables 4.2/4.3 (§4.2: "a centralized actor-critic"; the authors' code
            ``Simple_Agent``): one round per step, the joint action sampled from the current
            policies; each player's actor ascends ``log pi_i(a_i) * delta_i`` (Adam,
            ``learner_lr``) with the TD error ``delta_i = r_i + r^p_i + ac_gamma * v_i - v_i`` of its
            own critic, which descends ``delta_i^2`` (Adam, ``ac_critic_lr``). The planner uses
            "exact V" with ``gradient="exact"`` (eq. 4.3 on the exact values at the current
            policies) or "estimated V" with ``gradient="pg"`` (eq. 4.5 from the one round played:
            ``grad_i log pi_i(a_i) r^p_i(a)`` and ``grad_i log pi_i(a_i) (sum_j r_j(a) - b)``, constant
            baseline ``b``). Tabular players (``learner_hidden=[]``) train only the scalar logit
            ``theta`` of ``P(C) = sigmoid(theta)`` (AMD thesis §4.2, the code's one parameter), not
            the redundant input weight of the constant one-hot observation. One-shot matrix games
            only.
        ac_critic: the actor-critic players' critic. ``"centralized"`` (default, the authors'
            code): an MLP (``ac_critic_hidden``, ReLU; weights N(0, 0.1), biases 0.1) of the
            player's observation and every player's action probabilities. ``"scalar"``: one
            learned value per player (in a one-shot game the state never changes, so this is the
            smallest critic that works; not what the code does).
        ac_critic_hidden: hidden layers of the centralized critic ([20], the code's).
        ac_critic_lr: Adam step size of the critics (0.01, the code's).
        ac_gamma: discount in the TD error (0.9, the code's). The code never marks the one-shot
            round as terminal, so it bootstraps onto the same state: ``v_i`` tends to
            ``E[r_i + r^p_i] / (1 - ac_gamma)`` and ``delta_i`` to ``r_i + r^p_i - E[.]``. 0 gives
            the textbook terminal TD error ``r - v``.
        ac_entropy_coeff: entropy bonus of the actor-critic players (0.0; the code has none).
        exact_v_form: "exact V" of the actor-critic players' planner (``gradient="exact"``).
            ``"expectation"`` (default): eq. 4.3 with exact expectations over the joint action
            (``grad_i V_i^p`` of the payments the players actually get, revenue-neutral
            subtraction included). ``"linearized"``: the authors' code's form (two-action games):
            ``grad_i V_i^p ~ dP_i(C)/dtheta_i * d r~^p_i / d a_i`` at the round played, actions fed
            to the planner as 0/1 (here: the C-minus-D direction of player i's one-hot input), where
            ``r~^p`` is the planner's output BEFORE the revenue-neutral mean subtraction;
            ``grad_i V`` exact. With ``cost_form="l2_realized"`` the cost is the round's
            ``alpha ||r^p(a)||`` (the code's).
        estimated_baseline: the constant ``b`` of "estimated V" (eq. 4.5). ``None`` (default):
            ``T + S - 0.1`` (the welfare of a (C, D) round minus 0.1, the authors' code) in
            two-player two-action games, else the mean welfare over the joint actions.
    """

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or AMD)
        self._init_coop()
        self.callbacks_class = DesignerMetricsCallback
        self.gradient = None
        self.max_reward = 3.0
        self.constraint = "none"
        self.cost_form = "squared_expected"
        self.cost_weight = 0.0002
        self.turn_off_after = None
        self.planner_lr = 0.01
        self.planner_optimizer = "adam"
        self.planner_hidden = []
        self.planner_init = "normal"
        self.learner_lr = 0.01
        self.learner_optimizer = "adam"
        self.learner_hidden = []
        self.init_prob = 0.25
        self.updates_per_iteration = None
        self.episodes_per_iteration = 10
        self.opponent_model = False
        self.om_decay = 0.99
        self.om_prior = 1.0
        self.om_window = 5
        self.om_fit_steps = 20
        self.om_lr = 0.05
        self.learner_rule = "gradient_ascent"
        self.ac_critic = "centralized"
        self.ac_critic_hidden = [20]
        self.ac_critic_lr = 0.01
        self.ac_gamma = 0.9
        self.ac_entropy_coeff = 0.0
        self.estimated_baseline = None
        self.exact_v_form = "expectation"
        self._amd_baseline = None
        self.gamma = 0.99
        self.normalize_actions = False
        self.clip_actions = False
        self._amd_agents = []
        self._amd_payoffs = None
        self._amd_obs0 = None
        self._amd_state0 = None
        self._amd_coop = None

    def training(
        self,
        *,
        gradient=NotProvided,
        max_reward=NotProvided,
        constraint=NotProvided,
        cost_form=NotProvided,
        cost_weight=NotProvided,
        turn_off_after=NotProvided,
        planner_lr=NotProvided,
        planner_optimizer=NotProvided,
        planner_hidden=NotProvided,
        planner_init=NotProvided,
        learner_lr=NotProvided,
        learner_optimizer=NotProvided,
        learner_hidden=NotProvided,
        init_prob=NotProvided,
        updates_per_iteration=NotProvided,
        episodes_per_iteration=NotProvided,
        opponent_model=NotProvided,
        om_decay=NotProvided,
        om_prior=NotProvided,
        om_window=NotProvided,
        om_fit_steps=NotProvided,
        om_lr=NotProvided,
        learner_rule=NotProvided,
        ac_critic=NotProvided,
        ac_critic_hidden=NotProvided,
        ac_critic_lr=NotProvided,
        ac_gamma=NotProvided,
        ac_entropy_coeff=NotProvided,
        estimated_baseline=NotProvided,
        exact_v_form=NotProvided,
        **kwargs,
    ):
        """See the class docstring; other keys go to ``AlgorithmConfig.training``."""
        super().training(**kwargs)
        self.batch_size_replaces_episodes(episodes_per_iteration, kwargs)
        self.set_provided(
            gradient=gradient, max_reward=max_reward, constraint=constraint, cost_form=cost_form,
            cost_weight=cost_weight, turn_off_after=turn_off_after, planner_lr=planner_lr,
            planner_optimizer=planner_optimizer, planner_hidden=planner_hidden,
            planner_init=planner_init, learner_lr=learner_lr,
            learner_optimizer=learner_optimizer, learner_hidden=learner_hidden,
            init_prob=init_prob, updates_per_iteration=updates_per_iteration,
            episodes_per_iteration=episodes_per_iteration, opponent_model=opponent_model,
            om_decay=om_decay, om_prior=om_prior, om_window=om_window, om_fit_steps=om_fit_steps,
            om_lr=om_lr, learner_rule=learner_rule, ac_critic=ac_critic,
            ac_critic_hidden=ac_critic_hidden, ac_critic_lr=ac_critic_lr, ac_gamma=ac_gamma,
            ac_entropy_coeff=ac_entropy_coeff, estimated_baseline=estimated_baseline,
            exact_v_form=exact_v_form,
        )
        return self

    @property
    def actor_critic(self) -> bool:
        return self.learner_rule == "actor_critic"

    @property
    def num_updates(self) -> int:
        if self.updates_per_iteration is None:
            return 100 if self.gradient == "exact" or self.actor_critic else 1
        return int(self.updates_per_iteration)

    def _designer_seat_kwargs(self) -> dict:
        return dict(output="per_agent", action="continuous", low=-float(self.max_reward),
                    high=float(self.max_reward),
                    revenue_neutral=self.constraint == "revenue_neutral",
                    objective="sum", subtract_payments=False)

    def _validate_keys(self) -> None:
        check_config_numbers(self, "AMD", AMD_RANGES, ignored=AMD_IGNORED)
        if self.gradient is not None:
            check_choice("gradient", self.gradient, GRADIENTS)
        check_float("max_reward", self.max_reward, 0.0, None, low_open=True)
        check_choice("constraint", self.constraint, CONSTRAINTS)
        check_choice("cost_form", self.cost_form, COST_FORMS)
        check_float("cost_weight", self.cost_weight, 0.0, None)
        if self.turn_off_after is not None:
            check_int("turn_off_after", self.turn_off_after, 0, None)
        check_float("planner_lr", self.planner_lr, 0.0, None)
        check_choice("planner_optimizer", self.planner_optimizer, OPTIMIZERS)
        check_choice("planner_init", self.planner_init, INITS)
        check_float("learner_lr", self.learner_lr, 0.0, None)
        check_choice("learner_optimizer", self.learner_optimizer, OPTIMIZERS)
        check_float("init_prob", self.init_prob, 0.0, 1.0, low_open=True, high_open=True)
        if self.updates_per_iteration is not None:
            check_int("updates_per_iteration", self.updates_per_iteration, 1, None)
        check_episodes_per_learner(self)
        check_bool("opponent_model", self.opponent_model)
        check_float("om_decay", self.om_decay, 0.0, 1.0, low_open=True)
        check_float("om_prior", self.om_prior, 0.0, None, low_open=True)
        check_int("om_window", self.om_window, 1, None)
        check_int("om_fit_steps", self.om_fit_steps, 1, None)
        check_float("om_lr", self.om_lr, 0.0, None, low_open=True)
        check_choice("learner_rule", self.learner_rule, LEARNER_RULES)
        check_choice("ac_critic", self.ac_critic, AC_CRITICS)
        check_layer_sizes("ac_critic_hidden", self.ac_critic_hidden)
        check_float("ac_critic_lr", self.ac_critic_lr, 0.0, None)
        check_float("ac_gamma", self.ac_gamma, 0.0, 1.0, high_open=True)
        check_float("ac_entropy_coeff", self.ac_entropy_coeff, 0.0, None)
        check_choice("exact_v_form", self.exact_v_form, EXACT_V_FORMS)
        if self.estimated_baseline is not None:
            check_float("estimated_baseline", self.estimated_baseline, None, None)
        if self.actor_critic and self.opponent_model:
            raise ValueError("learner_rule='actor_critic' does not support opponent_model=True "
                             "(eq. 4.6); use learner_rule='gradient_ascent'")
        for key in ("planner_hidden", "learner_hidden"):
            check_layer_sizes(key, getattr(self, key))

    def _probe_game(self) -> None:
        """Facts the learner needs: agents, and for ``exact`` the payoff table and start state."""
        from rllib_coopai.core.designer_seat import SEAT_SUFFIX as _SUFFIX
        from rllib_coopai.envs.matrix_games import MatrixGameEnv
        from rllib_coopai.algorithms.common import probe_env

        env = probe_env(self)
        try:
            seat = env.par_env
            inner = seat.env
            self._amd_agents = list(seat.env_agents)
            coop = getattr(inner, "cooperative_actions", None)
            self._amd_coop = list(coop) if coop is not None else None
            one_shot = isinstance(inner, MatrixGameEnv) and inner.horizon == 1
            if self.gradient is None:
                self.gradient = "exact" if one_shot else "pg"
            if self.actor_critic and not one_shot:
                base = self.env[: -len(_SUFFIX)] if self.env.endswith(_SUFFIX) else self.env
                raise ValueError(
                    "learner_rule='actor_critic' needs a one-shot matrix game (a MatrixGameEnv "
                    f"with horizon=1, e.g. 'greed_fear', 'stag_hunt'); {base!r} is not one. "
                    "Use learner_rule='gradient_ascent' for any other env."
                )
            if self.gradient == "exact" or self.actor_critic:
                if not one_shot:
                    base = self.env[: -len(_SUFFIX)] if self.env.endswith(_SUFFIX) else self.env
                    raise ValueError(
                        "gradient='exact' needs a one-shot matrix game (a MatrixGameEnv with "
                        f"horizon=1, e.g. 'greed_fear', 'stag_hunt'); {base!r} is not one. "
                        "Use gradient='pg' for any other env."
                    )
                obs0, _ = seat.reset(seed=0)
                self._amd_payoffs = np.asarray(inner.payoffs, np.float64).tolist()
                self._amd_obs0 = {a: np.asarray(obs0[a]).tolist() for a in self._amd_agents}
                self._amd_state0 = np.asarray(seat.state(), np.float32).tolist()
                self._amd_baseline = self._default_baseline(np.asarray(inner.payoffs, np.float64))
                if self.exact_v_form == "linearized" and (
                        not self.actor_critic or not self._amd_coop
                        or any(int(n) != 2 for n in np.asarray(inner.payoffs).shape[:-1])):
                    raise ValueError(
                        "exact_v_form='linearized' (the authors' code's planner gradient) needs "
                        "learner_rule='actor_critic' and a game where every player has two "
                        "actions, one of them cooperative; use exact_v_form='expectation'")
                if self.opponent_model and list(self.learner_hidden):
                    raise ValueError(
                        "opponent_model=True with gradient='exact' fits tabular learners (closed-"
                        f"form MLE): learner_hidden must be [], got {self.learner_hidden!r}; use "
                        "gradient='pg' for function-approximation learners"
                    )
        finally:
            env.close()

    def _default_baseline(self, payoffs: np.ndarray) -> float:
        """``b`` of "estimated V" (eq. 4.5): see ``estimated_baseline`` in the class docstring."""
        if self.estimated_baseline is not None:
            return float(self.estimated_baseline)
        welfare = payoffs.sum(-1)
        if welfare.shape == (2, 2) and self._amd_coop:
            c0, c1 = self._amd_coop
            return float(welfare[c0, 1 - c1] - 0.1)     # T + S - 0.1 (the authors' code)
        return float(welfare.mean())

    def validate(self) -> None:
        self._validate_keys()
        self.setup_designer_seat()
        agents = self.setup_agents()
        self._probe_game()
        self.batch_mode = "complete_episodes"
        spec = self._rl_module_spec
        if spec is None or getattr(spec, "_coop_auto", False):
            self.rl_module(rl_module_spec=self._module_spec(agents))
        super().validate()

    def _module_spec(self, agents):
        return seat_module_spec(
            self, agents,
            {"hidden": list(self.learner_hidden), "binary_logit": True, "init_prob": float(self.init_prob)},
            {"hidden": list(self.planner_hidden), "low": -float(self.max_reward),
             "high": float(self.max_reward), "init": self.planner_init, "init_std": 0.1}, "AMD")

    def get_default_learner_class(self):
        from rllib_coopai.algorithms.amd.learner import AMDLearner

        return AMDLearner

    def get_default_rl_module_spec(self):
        return RLModuleSpec(module_class=CategoricalPolicyModule)


class AMD(NonFiniteIterationMixin, RNGStateMixin, Algorithm):
    """Adaptive mechanism design (AMD thesis Algorithm 1)."""

    @classmethod
    def get_default_config(cls) -> AMDConfig:
        return AMDConfig()

    def training_step(self) -> None:
        cfg = self.config
        off = cfg.turn_off_after is not None and self.iteration >= cfg.turn_off_after
        if getattr(self, "_planner_off", None) != off:  # first call, restore, or switch-off
            foreach_learner(self.learner_group, lambda learner: learner.set_planner_enabled(not off))
            self.env_runner_group.sync_weights(
                from_worker_or_learner_group=self.learner_group, inference_only=True)
            self._planner_off = off
        self.metrics.log_value("planner_on", 0.0 if off else 1.0, window=1)
        # Exact mode: num_updates synchronous exact steps, as epochs of one Learner update.
        designer_training_step(self, cfg.episodes_per_iteration, num_epochs=cfg.num_updates)


__all__ = ["AMD", "AMDConfig"]
