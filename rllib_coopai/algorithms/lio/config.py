"""``LIOConfig``: Learning to Incentivize Others (LIO thesis ch. 5, App. B).

``LIOConfig().environment("escape_room", env_config={"n_agents": 2, "min_at_lever": 1})`` builds
as is: one LIO module per agent (no parameter sharing, LIO thesis §5.3.2), read from the env.

Training keys (``.training(...)``), thesis symbols in brackets (LIO thesis App. B.4.2):

* ``incentives`` (True): False gives the **independent policy-gradient baseline** (no incentive
  heads, no outer step; also available as :func:`independent_pg_config`).
* ``lio_agents`` (None = all agents): the agents that own an incentive head; the others are plain
  PG/AC learners (LIO-asym, LIO thesis App. B.5.1: ``lio_agents=["player_0"]`` in the asymmetric Escape Room).
* ``schedule`` ("two_rollouts"): the thesis's Algorithm 2, two env rollouts per iteration
  (``tau`` with ``theta``; ``tau_hat`` with ``theta_hat``). "one_rollout": ``tau_hat`` of iteration k
  is reused as ``tau`` of iteration k+1 (the pipelining of the incentive designer, ID thesis §6.3.2): one
  rollout per iteration, the incentive step lags one batch behind.
* ``policy_learner`` ("pg"): "pg" = REINFORCE recipients (eq. 5.4, IPD / Escape Room);
  "ac" = actor-critic recipients with TD(0) critic and target critic (eqs B.9-B.10, Cleanup).
* ``policy_lr`` [alpha_theta, plain SGD], ``incentive_lr`` [alpha_eta, Adam], ``cost_coeff``
  [alpha], ``separate_cost_optimizer`` + ``cost_lr`` [alpha_cost: a second Adam on the cost term
  alone, the thesis's Escape Room setting; the cost gradient is still scaled by ``cost_coeff``,
  which is 1.0 there], ``cost_on_scaled_incentives`` (False: the l1 cost of eq. 5.6 is taken on the
  sigmoid outputs before ``R_max``, as the reference code does; True: on the payments),
  ``preactivation_bound`` (None: off; not in the thesis: adds ``relu(|x| - bound)^2`` of the
  incentive head's pre-sigmoid outputs to the cost of eq. 5.6, so that a node the cost optimizer
  has pushed deep into the sigmoid's flat tail -- where neither the meta-gradient nor the cost
  reaches it any more -- is pulled back; see ``core.losses.saturation_penalty``),
  ``critic_lr`` [alpha_phi], ``target_update_tau`` (0.01), ``r_max`` [R_max], ``entropy_coeff``
  [beta, policy entropy], ``epsilon_start`` / ``epsilon_end`` / ``epsilon_div`` (exploration floor,
  linear decay over ``epsilon_div`` *policy updates*; the thesis counts episodes with one episode
  per update), ``episodes_per_iteration`` (episodes per rollout; the thesis uses 1),
  ``policy_hiddens`` / ``incentive_hiddens`` / ``critic_hiddens``.
* ``incentive_observed_actions`` ("auto"): what an incentive head sees of the other agents'
  actions (LIO thesis §5.3.2; Cleanup: github.com/011235813/lio). "all": each other agent's
  one-hot action. A list of action
  indices: per other agent a one-hot over "none of the listed actions" + the listed actions.
  "auto": the env's ``INCENTIVE_OBSERVED_ACTIONS`` if it declares one (Cleanup: only whether each
  other agent fired the cleaning beam, as the reference code's ``obs_cleaned_1hot=True`` and the
  thesis's "multi-hot vector of which agents used the cleaning beam"), else "all" (IPD, ER).
* ``weight_init`` ("torch"): "reference" initialises every layer as the TF1 reference code does
  (Glorot-uniform kernels, zero dense biases, Glorot-uniform conv bias); "torch" keeps PyTorch's
  defaults (smaller weights: the recipients' policy gradients, and with them the meta-gradient of
  eq. 5.10, are smaller). The Cleanup tuned configs use "reference"; the Escape Room / IPD results
  and tests were tuned with "torch".
* ``meta_gradient_scope`` ("own"): which incentive heads giver ``i``'s eq. 5.10 step moves.
  "own" = only its own ``eta^i``, the thesis's rule ("each agent updates its own incentive
  function", LIO thesis Algorithm 2). "all_givers" = the reference code as it runs: its TF
  ``minimize`` has no ``var_list``, so giver ``i``'s Adam also steps every other giver's ``eta^k``
  along ``d Loss_i / d eta^k`` -- ``eta^k`` pays a recipient ``j`` (``j != i, k``) whose updated
  policy enters ``Loss_i`` -- with its own Adam moments per (giver, head), as TF keeps them. It
  makes a difference only with N >= 3 (for N = 2 no other giver reaches ``i``'s recipient), i.e. in
  every ER(3,2) / ER(5,3) run the thesis reports. Unlike TF's sequential ``sess.run`` per giver,
  all givers' gradients are taken at the same parameters (the thesis's simultaneous update). The
  cost (eq. 5.6) always moves only the giver's own head.
* ``giver_critic`` ("total"; actor-critic only): the critic in the giver's one-step TD error that
  replaces the return of eq. 5.10 in actor-critic LIO. "total" is the reference code
  (the authors' code, lio_ac.py ``train_reward``): the agent's one critic, fit (eq. B.10) to its extrinsic reward
  *plus the incentives it receives*, inside a TD error of the extrinsic reward alone,
  ``r^{i,env} + gamma V(s') - V(s)``. That error is then off by about the incentives the giver
  receives per step (about -R_max/2 per step at initialisation, where every head pays ~R_max/2), a
  baseline error that under the epsilon-mixed sampling of ``tau_hat`` (the log-probabilities of
  eq. 5.10 are of the un-mixed policy, LIO thesis §5.3.2) does not even average out. "extrinsic" (not in the
  thesis or the code) gives every giver a second critic with its own target network and Adam
  (``critic_lr``), fit to the extrinsic reward alone, and uses that one: an unbiased baseline for
  eq. 5.5's extrinsic objective. Recipients' updates (eq. B.9) always use the total-reward critic.
  On Cleanup 7x7 with 8-episode batches both choices held the division of labour in 4 of the same
  6 seeds (docs/REPRODUCTION.md, lio_cleanup7): the flag changes which seeds fail, not how many.
* ``observe_given_incentives`` (True): where the env's observation ends with "cumulative
  incentives given" slots (Escape Room ``obs_mode="lio"``, LIO thesis App. B.4.1) an EnvRunner connector fills them
  with what the agent has paid each other agent so far in the episode.
* ``recipient_model`` ("exact"): "exact" = givers read the recipients' parameters (the thesis's
  default LIO); "estimated" = LIO-dec (LIO thesis §5.3.2, "fully decentralized"): the recipients'
  policies are replaced, in every giver's rebuild of their step (eq. 5.3 as a function of eta), by
  maximum-likelihood estimates fitted to the recipients' observed (observation, action) pairs of
  each rollout ``tau`` (``core.opponent_model.FittedPolicy``: warm-started,
  ``opponent_model_steps`` Adam steps of lr ``opponent_model_lr``, 1e-3 as the reference code's
  ``lr_opp``; the number of steps is not given, default 20). One model per recipient serves every
  giver (they observe the same trajectories and fit the same way). ``theta_hat_mismatch`` then
  measures how far the estimated step is from the recipients' true one. The models restart from
  scratch when a checkpoint is restored.
* ``gamma`` is RLlib's own key (thesis: 0.99).

Losses are sums over an episode's steps averaged over the rollout's episodes, so with
``episodes_per_iteration=1`` they are the thesis's per-episode sums.
"""
from __future__ import annotations

import functools
from typing import List, Optional

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from rllib_coopai.algorithms.common import CoopConfigMixin, probe_env
from rllib_coopai.envs.escape_room import given_incentive_slots
from rllib_coopai.core.validation import check_config_numbers, check_layer_sizes, lr_range, num

SCHEDULES = ("two_rollouts", "one_rollout")
META_GRADIENT_SCOPES = ("own", "all_givers")
POLICY_LEARNERS = ("pg", "ac")
GIVER_CRITICS = ("total", "extrinsic")
RECIPIENT_MODELS = ("exact", "estimated")
WEIGHT_INITS = ("torch", "reference")

# Numeric training keys (with RLlib's gamma, see core.validation.RLLIB_RANGES).
LIO_RANGES = {
    "policy_lr": lr_range(allow_zero=True), "incentive_lr": lr_range(), "cost_lr": lr_range(),
    "critic_lr": lr_range(), "cost_coeff": num(0.0), "entropy_coeff": num(0.0),
    "opponent_model_lr": lr_range(), "opponent_model_steps": num(1, integer=True),
    "r_max": num(0.0, low_open=True), "target_update_tau": num(0.0, 1.0, low_open=True),
    "preactivation_bound": num(0.0, low_open=True, optional=True),
    "epsilon_start": num(0.0, 1.0), "epsilon_end": num(0.0, 1.0),
}
# RLlib keys LIO does not read, and what to set instead.
LIO_IGNORED = {
    "lr": "'policy_lr' (policies), 'incentive_lr' (incentive heads), 'critic_lr' and 'cost_lr'",
}


def lio_given_incentives_connector(env=None, spaces=None, device=None, *, agents=(), n_slots=0):
    """EnvRunner pipeline piece filling Escape Room's "incentives given" slots (connectors.py)."""
    from rllib_coopai.algorithms.lio.connectors import LIOGivenIncentivesObservation

    return LIOGivenIncentivesObservation(agents=agents, n_slots=n_slots)


def lio_learner_connector(input_observation_space=None, input_action_space=None, action_types=()):
    """LIO's learner pipeline: only the aligned-batch builder (see connectors.py)."""
    from rllib_coopai.algorithms.lio.connectors import LIOEpisodesToBatch

    return LIOEpisodesToBatch(input_observation_space, input_action_space, action_types=action_types)


class LIOConfig(CoopConfigMixin, AlgorithmConfig):
    """Config of :class:`LIO` (see the module docstring for every training key)."""

    def __init__(self, algo_class=None):
        from rllib_coopai.algorithms.lio.lio import LIO

        super().__init__(algo_class=algo_class or LIO)
        self._init_coop()
        # Thesis Escape Room N=2 defaults (Table B.4 + text).
        self.incentives: bool = True
        self.lio_agents: Optional[List[str]] = None
        self.schedule: str = "two_rollouts"
        self.meta_gradient_scope: str = "own"
        self.policy_learner: str = "pg"
        self.policy_lr: float = 1e-4
        self.incentive_lr: float = 1e-3
        self.cost_coeff: float = 1.0
        self.separate_cost_optimizer: bool = True
        self.cost_lr: float = 1e-4
        self.cost_on_scaled_incentives: bool = False
        self.preactivation_bound: Optional[float] = None
        self.critic_lr: float = 1e-3
        self.target_update_tau: float = 0.01
        self.r_max: float = 2.0
        self.entropy_coeff: float = 0.01
        self.epsilon_start: float = 0.5
        self.epsilon_end: float = 0.1
        self.epsilon_div: int = 1000
        self.episodes_per_iteration: int = 1
        self.policy_hiddens: List[int] = [64, 32]
        self.incentive_hiddens: List[int] = [64, 16]
        self.critic_hiddens: List[int] = [64, 64]
        self.observe_given_incentives: bool = True
        self.incentive_observed_actions = "auto"
        self.weight_init = "torch"
        self.giver_critic = "total"
        self.recipient_model = "exact"
        self.opponent_model_lr = 1e-3
        self.opponent_model_steps = 20
        self.gamma = 0.99
        self.batch_mode = "complete_episodes"
        self._learner_connector = lio_learner_connector
        self.add_default_connectors_to_learner_pipeline = False

    def training(
        self,
        *,
        incentives=NotProvided,
        lio_agents=NotProvided,
        schedule=NotProvided,
        meta_gradient_scope=NotProvided,
        policy_learner=NotProvided,
        policy_lr=NotProvided,
        incentive_lr=NotProvided,
        cost_coeff=NotProvided,
        separate_cost_optimizer=NotProvided,
        cost_lr=NotProvided,
        cost_on_scaled_incentives=NotProvided,
        preactivation_bound=NotProvided,
        critic_lr=NotProvided,
        target_update_tau=NotProvided,
        r_max=NotProvided,
        entropy_coeff=NotProvided,
        epsilon_start=NotProvided,
        epsilon_end=NotProvided,
        epsilon_div=NotProvided,
        episodes_per_iteration=NotProvided,
        policy_hiddens=NotProvided,
        incentive_hiddens=NotProvided,
        critic_hiddens=NotProvided,
        observe_given_incentives=NotProvided,
        incentive_observed_actions=NotProvided,
        weight_init=NotProvided,
        giver_critic=NotProvided,
        recipient_model=NotProvided,
        opponent_model_lr=NotProvided,
        opponent_model_steps=NotProvided,
        **kwargs,
    ) -> "LIOConfig":
        """Set LIO's training keys (module docstring) and any of RLlib's (e.g. ``gamma``)."""
        super().training(**kwargs)
        self.set_provided(
            incentives=incentives, lio_agents=lio_agents, schedule=schedule,
            meta_gradient_scope=meta_gradient_scope,
            policy_learner=policy_learner, policy_lr=policy_lr, incentive_lr=incentive_lr,
            cost_coeff=cost_coeff, separate_cost_optimizer=separate_cost_optimizer, cost_lr=cost_lr,
            cost_on_scaled_incentives=cost_on_scaled_incentives,
            preactivation_bound=preactivation_bound, critic_lr=critic_lr,
            target_update_tau=target_update_tau, r_max=r_max, entropy_coeff=entropy_coeff,
            epsilon_start=epsilon_start, epsilon_end=epsilon_end, epsilon_div=epsilon_div,
            episodes_per_iteration=episodes_per_iteration, policy_hiddens=policy_hiddens,
            incentive_hiddens=incentive_hiddens, critic_hiddens=critic_hiddens,
            observe_given_incentives=observe_given_incentives,
            incentive_observed_actions=incentive_observed_actions, weight_init=weight_init,
            giver_critic=giver_critic, recipient_model=recipient_model,
            opponent_model_lr=opponent_model_lr, opponent_model_steps=opponent_model_steps,
        )
        return self

    # ------------------------------------------------------------------ defaults
    def get_default_rl_module_spec(self) -> RLModuleSpec:
        from rllib_coopai.modules.lio_module import LIOTorchRLModule

        return RLModuleSpec(module_class=LIOTorchRLModule)

    def get_default_learner_class(self):
        from rllib_coopai.algorithms.lio.learner import LIOTorchLearner

        return LIOTorchLearner

    # ------------------------------------------------------------------ validation
    def _check(self):
        check_config_numbers(self, "LIO", LIO_RANGES, ignored=LIO_IGNORED)
        if self.epsilon_end > self.epsilon_start:
            raise ValueError(
                f"LIOConfig.epsilon_end ({self.epsilon_end}) must be <= epsilon_start ({self.epsilon_start})"
            )
        for name in ("epsilon_div", "episodes_per_iteration"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"LIOConfig.{name} must be an integer >= 1, got {v!r}")
        if self.weight_init not in WEIGHT_INITS:
            raise ValueError(f"LIOConfig.weight_init must be one of {list(WEIGHT_INITS)}, got {self.weight_init!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"LIOConfig.schedule must be one of {list(SCHEDULES)}, got {self.schedule!r}")
        if self.meta_gradient_scope not in META_GRADIENT_SCOPES:
            raise ValueError(
                f"LIOConfig.meta_gradient_scope must be one of {list(META_GRADIENT_SCOPES)}, "
                f"got {self.meta_gradient_scope!r}"
            )
        if self.policy_learner not in POLICY_LEARNERS:
            raise ValueError(
                f"LIOConfig.policy_learner must be one of {list(POLICY_LEARNERS)}, got {self.policy_learner!r}"
            )
        if self.giver_critic not in GIVER_CRITICS:
            raise ValueError(f"LIOConfig.giver_critic must be one of {list(GIVER_CRITICS)}, got {self.giver_critic!r}")
        if self.recipient_model not in RECIPIENT_MODELS:
            raise ValueError(f"LIOConfig.recipient_model must be one of {list(RECIPIENT_MODELS)}, "
                             f"got {self.recipient_model!r}")
        if self.giver_critic == "extrinsic" and self.policy_learner != "ac":
            raise ValueError(
                "LIOConfig.giver_critic='extrinsic' needs policy_learner='ac' (policy-gradient givers use the "
                "extrinsic return of eq. 5.10 and have no critic)"
            )
        for name in ("incentives", "separate_cost_optimizer", "cost_on_scaled_incentives", "observe_given_incentives"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"LIOConfig.{name} must be true or false, got {getattr(self, name)!r}")
        for name in ("policy_hiddens", "incentive_hiddens", "critic_hiddens"):
            check_layer_sizes(name, getattr(self, name), allow_empty=False)
        if self.share_policy:
            raise ValueError("LIOConfig: share_policy=True is not supported; LIO agents never share parameters")
        n_learners = max(int(self.num_learners or 0), 1)
        if self.episodes_per_iteration < n_learners:
            raise ValueError(
                f"LIOConfig.episodes_per_iteration ({self.episodes_per_iteration}) must be >= num_learners "
                f"({n_learners}): every learner needs whole episodes"
            )

    def validate(self) -> None:
        self._check()
        agents = self.setup_agents()
        if set(self.policies) != set(agents):
            raise ValueError(
                f"LIO needs one module per agent with module id = agent id; got policies "
                f"{sorted(self.policies)} for agents {agents}"
            )
        env = probe_env(self)
        try:
            act_spaces = {a: env.action_spaces[a] for a in agents}
            n_slots = given_incentive_slots(env)
            action_types = tuple(getattr(getattr(env, "par_env", env), "ACTION_TYPES", ()))
            env_observed = getattr(getattr(env, "par_env", env), "INCENTIVE_OBSERVED_ACTIONS", None)
        finally:
            env.close()
        for a, sp in act_spaces.items():
            if not hasattr(sp, "n"):
                raise ValueError(f"LIO needs discrete actions; agent {a!r} has action space {sp}")
        givers = list(agents) if self.lio_agents is None else list(self.lio_agents)
        unknown = [g for g in givers if g not in agents]
        if unknown:
            raise ValueError(f"LIOConfig.lio_agents has unknown agents {unknown}; known agents: {agents}")
        if not self.incentives:
            givers = []
        observed = self._observed_actions(env_observed, agents, act_spaces)
        specs = {}
        from rllib_coopai.modules.lio_module import LIOTorchRLModule

        for idx, a in enumerate(agents):
            specs[a] = RLModuleSpec(
                module_class=LIOTorchRLModule,
                observation_space=self._coop_spaces[a][0],  # after the shared preprocessing
                action_space=act_spaces[a],
                model_config={
                    "agent_index": idx,
                    "n_agents": len(agents),
                    "other_action_dims": [int(act_spaces[b].n) for b in agents if b != a],
                    "observed_actions": observed,
                    "gives_incentives": a in givers,
                    "r_max": float(self.r_max),
                    "policy_hiddens": list(self.policy_hiddens),
                    "incentive_hiddens": list(self.incentive_hiddens),
                    "use_critic": self.policy_learner == "ac",
                    "critic_hiddens": list(self.critic_hiddens),
                    "epsilon_start": float(self.epsilon_start),
                    "weight_init": self.weight_init,
                    "extrinsic_critic": a in givers and self.policy_learner == "ac" and self.giver_critic == "extrinsic",
                },
            )
        self._rl_module_spec = MultiRLModuleSpec(rl_module_specs=specs)
        own_learner = self._learner_connector is lio_learner_connector or (
            isinstance(self._learner_connector, functools.partial)
            and self._learner_connector.func is lio_learner_connector
        )
        if own_learner:
            self._learner_connector = functools.partial(lio_learner_connector, action_types=action_types)
        own = isinstance(self._env_to_module_connector, functools.partial) and (
            self._env_to_module_connector.func is lio_given_incentives_connector
        )
        if own or self._env_to_module_connector is None:
            self._env_to_module_connector = (
                functools.partial(lio_given_incentives_connector, agents=tuple(agents), n_slots=n_slots)
                if (n_slots and givers and self.observe_given_incentives) else None
            )
        super().validate()

    def _observed_actions(self, env_observed, agents, act_spaces) -> Optional[List[int]]:
        """``incentive_observed_actions`` resolved to None (one-hot) or a checked list of indices."""
        v = self.incentive_observed_actions
        if isinstance(v, str):
            if v not in ("auto", "all"):
                raise ValueError(
                    f"LIOConfig.incentive_observed_actions must be 'auto', 'all' or a list of action indices, got {v!r}"
                )
            if v == "all" or env_observed is None:
                return None
            v = list(env_observed)
        n_min = min(int(act_spaces[a].n) for a in agents)
        if (
            not isinstance(v, (list, tuple)) or not v
            or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < n_min for x in v)
            or len(set(v)) != len(v)
        ):
            raise ValueError(
                f"LIOConfig.incentive_observed_actions must be 'auto', 'all' or a non-empty list of distinct "
                f"action indices in [0, {n_min - 1}], got {v!r}"
            )
        return [int(x) for x in v]

    @property
    def gives_incentives(self) -> bool:
        """Whether any agent owns an incentive head (else the run is independent PG/AC)."""
        return bool(self.incentives) and (self.lio_agents is None or len(self.lio_agents) > 0)


def independent_pg_config() -> LIOConfig:
    """The independent policy-gradient baseline: LIO's recipients with no incentives at all."""
    return LIOConfig().training(incentives=False)
