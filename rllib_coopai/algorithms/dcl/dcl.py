"""``DCLConfig`` / ``DCL``: Differentiable Commitment Learning on RLlib's new API stack.

``DCLConfig().environment("prisoners_dilemma").build_algo().train()`` trains DCL (centralized,
lambda = 0) with the Table-5 hyperparameters (DCL paper App. 10). ``.training(ic_lambda=1.0)`` is
DCL-IC, ``.training(mode="decentralized")`` Algorithm 3, ``.training(mega_steps=2)`` mega-step
commitments (DCL paper §4.1.3; the env is wrapped in ``MegaStepWrapper`` automatically).

How sampling works: the env runner steps the *base* env; ``DCLMultiRLModule`` runs the MCG
protocol (propose, commit on the joint proposal, act; execute the proposals iff all commit) for all
agents in one forward pass and stores proposals, commitments and independent actions in the
episode. One RLlib env step = one base-env step (one mega-step with K > 1). The staged PettingZoo
wrapper ``rllib_coopai.wrappers.commitment.CommitmentGameWrapper`` is the same protocol as an env,
for other algorithms (e.g. IPPO in an MCG) and for evaluation against scripted partners.

Multi-learner: DCL's ``training_step`` shards the sampled episodes by *whole episodes* across
learners (RLlib's default sharder may cut episodes, which would break Monte-Carlo returns), and
every module gets rows from every shard (each row carries the joint time step), so all modules
take part in every update (no multi-learner deadlock: every shard joins every module's all-reduce).
"""
from __future__ import annotations

import logging
import math
from typing import List, Optional

import ray
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TIMERS,
)

from rllib_coopai.algorithms.common import CoopConfigMixin
from rllib_coopai.algorithms.dcl.callbacks import DCLMetricsCallback
from rllib_coopai.algorithms.dcl.learner import ITERATION_KEY
from rllib_coopai.algorithms.dcl.losses import (
    ACTION_BASELINES,
    ACTION_WEIGHTS,
    ENTROPY_REDUCTIONS,
    IC_MODES,
    PATHWISE_MODES,
)
from rllib_coopai.core.nonfinite import NonFiniteIterationMixin
from rllib_coopai.core.rng_state import RNGStateMixin
from rllib_coopai.core.sampling import sample_until
from rllib_coopai.core.validation import check_config_numbers, lr_range, num

logger = logging.getLogger(__name__)

MODES = ("centralized", "decentralized")
ENTROPY_SCHEDULES = ("iteration", "agent_update")
AGENT_UPDATES = ("joint", "sequential")

# Numeric training keys (with RLlib's lr / gamma / grad_clip, see core.validation.RLLIB_RANGES).
DCL_RANGES = {
    "critic_lr": lr_range(allow_zero=True),
    "ic_lambda": num(0.0), "temperature_decay": num(0.0), "entropy_coeff": num(0.0),
    "entropy_decay": num(0.0), "min_entropy_coeff": num(0.0),
    "temperature": num(1e-6), "min_temperature": num(1e-6),
    "hidden_dim": num(1, integer=True), "mega_steps": num(1, integer=True),
    "torch_threads": num(1, integer=True, optional=True),
}


class DCLConfig(CoopConfigMixin, AlgorithmConfig):
    """Config of DCL / DCL-IC (DCL paper §3). Defaults: Table 5 (one-shot PD).

    Training keys (``.training(...)``):
        mode: "centralized" (Alg. 2) | "decentralized" (Alg. 3).
        ic_lambda: weight of the incentive-compatibility term, >= 0 (0 = DCL, 1 = DCL-IC).
        ic_mode: "pathwise" (paper's per-sample linear hinge, default) | "reference" (authors'
            code: squared hinge as score-function penalty), DCL paper eq. (7) and Algorithm 1.
        lr: policy LR (4e-4); critic_lr: critic LR (8e-4, paper; the code uses 7e-4).
        temperature, temperature_decay, min_temperature: Gumbel-Softmax schedule (10, 0.05, 1).
        entropy_coeff, entropy_decay, min_entropy_coeff: entropy bonus schedule (1.0, 0.0005, 0).
        hidden_dim: width of the two hidden layers of every net (8).
        num_epochs: "Num of Update Per Iteration" (1 for PD, 30 for Grid/RPC); full-batch updates.
        train_batch_size_per_learner: transitions per iteration (128 PD, 512 Grid/RPC).
        mega_steps: K (1); K > 1 wraps the env in ``MegaStepWrapper`` (DCL paper §4.1.3).
        reward_aggregation: "discounted" (sum_k gamma^k r, default) | "reference" (code).
        gamma: discount (0.99).
        grad_clip: element-wise gradient clamp (1.0, as in the authors' code; by "value").
        torch_threads: torch intra-op threads in DCL's learner and module processes (1: the
            nets are tiny and thread hand-offs cost more than the math; None = torch default).
        critic_first: fit the critics first and compute the policy terms with the updated
            critics (True, DCL paper Algorithms 1-2 and the authors' code) or take one joint step
            with the critics of before the update (False; one forward pass less).

    Not in the paper nor in the authors' code:
        action_baseline: "none" (eq. 3 as written, default) | "counterfactual" (subtract from
            Q^i(s, a) the expectation of Q^i(s, (b, a^-i)) over agent i's own action b ~ pi^i:
            same expected gradient, lower variance). Without it, on the grid game an exploited
            agent's returns are all near -80 and eq. (3)'s sampled weight is mostly that offset:
            its action policy can saturate on the dominated "stay" move and stay there (the
            fast grid preset's failing seeds; docs/REPRODUCTION.md, dcl_grid).

    Where the paper leaves a detail open and the authors' code (github.com/shuhui-zhu/DCL,
    which produced Tables 5-7) chose differently, the second value reproduces the code:
        entropy_reduction: "sum" over actions (default) | "mean" over actions (code; half the
            bonus with 2 actions at the same coefficient).
        entropy_schedule: "iteration" (default: decay once per iteration) | "agent_update"
            (code: once per agent update, i.e. N times per iteration). The code's floor is 0.1
            (``min_entropy_coeff=0.1``; Table 5 says 0).
        action_weight: "no_deal" (eq. 3, default) | "deal" (code weighs pi^i's term by 1(c=1)).
        pathwise: "paper" (eqs. 4-5 as written, default) | "reference" (code: indicator
            1(c=1)**4, proposal term without prod_{k != j} 1(c^k=1)).
        ic_mode: see above ("reference" is the code's).
        agent_updates: "joint" (default: every agent's update reads the other agents' networks
            as they were before this iteration's update; one backward pass) | "sequential" (code:
            ``BaseDCLTrainer._update_agents``, trainer/base_trainer.py lines 136-150, updates
            agent 0's critic and policies, then agent 1's, so agent 1's proposal term reads agent
            0's *updated* proposal, commitment and action policies and critic, and agent 0's IC
            term reads agent 1's critic *before* its step; utility/agents/base_agent.py lines
            151-211). Centralized mode with one Learner only. Within one agent the code also steps
            pi, psi and then phi one after the other (phi reads the new psi); the package takes
            the three policy steps together on one batch (separate Adam states per parameter, so
            only the psi that phi's term reads differs).
    """

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or DCL)
        self._init_coop()
        self.callbacks_class = DCLMetricsCallback
        self.mode = "centralized"
        self.ic_lambda = 0.0
        self.ic_mode = "pathwise"
        self.lr = 4e-4
        self.critic_lr = 8e-4
        self.gamma = 0.99
        self.temperature = 10.0
        self.temperature_decay = 0.05
        self.min_temperature = 1.0
        self.entropy_coeff = 1.0
        self.entropy_decay = 0.0005
        self.min_entropy_coeff = 0.0
        self.hidden_dim = 8
        self.mega_steps = 1
        self.reward_aggregation = "discounted"
        self.num_epochs = 1
        self.minibatch_size = None
        self.train_batch_size_per_learner = 128
        self.batch_mode = "complete_episodes"
        self.grad_clip = 1.0
        self.grad_clip_by = "value"
        self.torch_threads = 1
        self.critic_first = True
        self.entropy_reduction = "sum"
        self.entropy_schedule = "iteration"
        self.action_weight = "no_deal"
        self.pathwise = "paper"
        self.agent_updates = "joint"
        self.action_baseline = "none"
        self._dcl_env_info = None
        # DCL's learner batch is built by DCLJointColumns alone (build_learner_connector).
        self.add_default_connectors_to_learner_pipeline = False

    def training(self, *, mode=NotProvided, ic_lambda=NotProvided, ic_mode=NotProvided,
                 critic_lr=NotProvided, temperature=NotProvided, temperature_decay=NotProvided,
                 min_temperature=NotProvided, entropy_coeff=NotProvided, entropy_decay=NotProvided,
                 min_entropy_coeff=NotProvided, hidden_dim=NotProvided, mega_steps=NotProvided,
                 reward_aggregation=NotProvided, torch_threads=NotProvided,
                 critic_first=NotProvided, entropy_reduction=NotProvided,
                 entropy_schedule=NotProvided, action_weight=NotProvided, pathwise=NotProvided,
                 agent_updates=NotProvided, action_baseline=NotProvided, **kwargs) -> "DCLConfig":
        super().training(**kwargs)
        self.set_provided(mode=mode, ic_lambda=ic_lambda, ic_mode=ic_mode, critic_lr=critic_lr,
                          temperature=temperature, temperature_decay=temperature_decay,
                          min_temperature=min_temperature, entropy_coeff=entropy_coeff,
                          entropy_decay=entropy_decay, min_entropy_coeff=min_entropy_coeff,
                          hidden_dim=hidden_dim, mega_steps=mega_steps,
                          reward_aggregation=reward_aggregation, torch_threads=torch_threads,
                          critic_first=critic_first, entropy_reduction=entropy_reduction,
                          entropy_schedule=entropy_schedule, action_weight=action_weight,
                          pathwise=pathwise, agent_updates=agent_updates,
                          action_baseline=action_baseline)
        return self

    # ------------------------------------------------------------------ validation
    def _check(self):
        check_config_numbers(self, "DCL", DCL_RANGES)
        if self.mode not in MODES:
            raise ValueError(f"DCL: mode must be one of {list(MODES)}, got {self.mode!r}")
        if self.ic_mode not in IC_MODES:
            raise ValueError(f"DCL: ic_mode must be one of {list(IC_MODES)}, got {self.ic_mode!r}")
        for key, known in (("entropy_reduction", ENTROPY_REDUCTIONS),
                           ("entropy_schedule", ENTROPY_SCHEDULES),
                           ("action_weight", ACTION_WEIGHTS), ("pathwise", PATHWISE_MODES),
                           ("agent_updates", AGENT_UPDATES), ("action_baseline", ACTION_BASELINES)):
            if getattr(self, key) not in known:
                raise ValueError(f"DCL: {key} must be one of {list(known)}, "
                                 f"got {getattr(self, key)!r}")
        if self.agent_updates == "sequential" and self.mode != "centralized":
            raise ValueError("DCL: agent_updates='sequential' needs mode='centralized' (a "
                             "decentralized agent differentiates through its own estimates only, "
                             f"so the order of the updates has no effect); got mode={self.mode!r}")
        if self.agent_updates == "sequential" and (self.num_learners or 0) > 1:
            raise ValueError("DCL: agent_updates='sequential' runs on one Learner "
                             f"(num_learners 0 or 1), got num_learners={self.num_learners}")
        if not isinstance(self.critic_first, bool):
            raise ValueError(f"DCL: critic_first must be True or False, got {self.critic_first!r}")
        if self.reward_aggregation not in ("discounted", "reference"):
            raise ValueError("DCL: reward_aggregation must be one of ['discounted', 'reference'], "
                             f"got {self.reward_aggregation!r}")
        if self.add_default_connectors_to_learner_pipeline:
            # Configs saved before DCL built its whole learner batch itself carry True (RLlib's
            # default); they restore, and the default pieces are still left out.
            logger.warning(
                "DCL ignores add_default_connectors_to_learner_pipeline=True: its learner batch "
                "is built by its own connector (DCLJointColumns), which reads none of the columns "
                "of RLlib's default learner pieces; add pieces of your own with "
                ".learners(learner_connector=...), they run before DCLJointColumns")
            self.add_default_connectors_to_learner_pipeline = False

    def _wrap_mega_steps(self):
        if self.mega_steps > 1 and isinstance(self.env, str):
            from rllib_coopai.wrappers.commitment import MegaStepRLlibEnv

            self.env_config = dict(self.env_config or {}, base_env=self.env,
                                   mega_steps=self.mega_steps,
                                   reward_aggregation=self.reward_aggregation, gamma=self.gamma)
            self.env = MegaStepRLlibEnv

    def validate(self) -> None:
        self._check()
        self._wrap_mega_steps()
        agents = self.setup_agents()
        from gymnasium import spaces

        # Observations of any supported kind: the modules' spaces after the shared preprocessing
        # (rllib_coopai.modules.encoders); agents may differ in observation and action spaces.
        obs_dims, obs_shapes, sizes = [], [], []
        for a in agents:
            obs, act = self._coop_spaces[a]
            if not isinstance(act, spaces.Discrete):
                raise ValueError(
                    f"DCL needs a Discrete action space for every agent (proposals and commitments "
                    f"are over single discrete actions); agent {a!r} has {act}")
            obs_dims.append(int(spaces.flatdim(obs)))
            obs_shapes.append([int(d) for d in obs.shape])
            sizes.append(int(act.n))
        if set(self.policies) != set(agents):
            raise ValueError("DCL trains one module per agent (module id = agent id); "
                             f"got policies {sorted(self.policies)} for agents {agents}")
        from rllib_coopai.modules.encoders import conv_filters_of

        self._dcl_env_info = {"agent_ids": list(agents), "obs_dims": obs_dims,
                              "obs_shapes": obs_shapes, "action_sizes": sizes,
                              "conv_filters": conv_filters_of(self._model_config)}
        self._set_module_specs()
        super().validate()

    # ------------------------------------------------------------------ RLlib hooks
    def get_default_rl_module_spec(self):
        from rllib_coopai.modules.dcl_module import DCLTorchRLModule

        return RLModuleSpec(module_class=DCLTorchRLModule)

    def _set_module_specs(self):
        """One ``DCLTorchRLModule`` per agent inside a ``DCLMultiRLModule``; a user-given module
        spec for some agent (e.g. a scripted partner) is kept."""
        from rllib_coopai.modules.dcl_module import DCLMultiRLModule, DCLTorchRLModule

        info = self._dcl_env_info
        user = {}
        if isinstance(self._rl_module_spec, MultiRLModuleSpec):
            user = {k: v for k, v in (self._rl_module_spec.rl_module_specs or {}).items()
                    if v.module_class is not DCLTorchRLModule}
        specs = {}
        for i, aid in enumerate(info["agent_ids"]):
            cfg = {**info, "agent_index": i, "hidden_dim": self.hidden_dim,
                   "torch_threads": self.torch_threads,
                   "decentralized": self.mode == "decentralized"}
            if aid in user:
                spec = user[aid]
                spec.model_config = {**cfg, **(spec.model_config or {})}
                specs[aid] = spec
            else:
                specs[aid] = RLModuleSpec(module_class=DCLTorchRLModule, model_config=cfg)
        self._rl_module_spec = MultiRLModuleSpec(multi_rl_module_class=DCLMultiRLModule,
                                                 rl_module_specs=specs)

    def build_learner_connector(self, input_observation_space, input_action_space, device=None):
        """The learner pipeline: the pieces given to ``.learners(learner_connector=...)`` (if any),
        then ``DCLJointColumns``, which builds the whole batch (tensors on ``device``) for all
        episodes at once. RLlib's default pieces are left out (``validate`` keeps
        ``add_default_connectors_to_learner_pipeline`` False): the DCL learner reads none of their
        columns, and their per-episode work was a fifth of a Table-5 iteration."""
        from rllib_coopai.algorithms.dcl.connectors import DCLJointColumns

        pipeline = super().build_learner_connector(input_observation_space, input_action_space,
                                                   device=device)
        pipeline.append(DCLJointColumns(gamma=self.gamma, device=device))
        return pipeline

    def get_default_learner_class(self):
        from rllib_coopai.algorithms.dcl.learner import DCLTorchLearner

        return DCLTorchLearner


def _sample_episodes(env_runner, num_episodes: int):
    """``num_episodes`` complete episodes from one env runner, in chunks of 4 x num_envs
    episodes (RLlib's sampler re-validates every finished episode of a call on each vector
    step, so very long calls cost quadratic time), then the runner's metrics once."""
    chunk = 4 * max(1, env_runner.num_envs)
    episodes = []
    while len(episodes) < num_episodes:
        episodes.extend(env_runner.sample(num_episodes=min(chunk, num_episodes - len(episodes))))
    return episodes, env_runner.get_metrics()


class DCL(NonFiniteIterationMixin, RNGStateMixin, Algorithm):
    _RESTORED_ATTRS = ("_dcl_episode_len",)  # sets how many episodes each sampling call asks for

    @classmethod
    def get_default_config(cls) -> DCLConfig:
        return DCLConfig()

    def training_step(self) -> None:
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            episodes, env_runner_results = self._sample_complete_episodes()
        self.metrics.aggregate(env_runner_results, key=ENV_RUNNER_RESULTS)
        if not episodes:
            return
        timesteps = {
            NUM_ENV_STEPS_SAMPLED_LIFETIME: self.metrics.peek(
                (ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0),
            ITERATION_KEY: self.iteration,
        }
        with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
            n_learners = len(self.learner_group) if not self.learner_group.is_local else 1
            if n_learners > 1:
                shards = self.shard_whole_episodes(episodes, n_learners)
                learner_results = self.learner_group.update(
                    episodes_refs=[ray.put(s) for s in shards], timesteps=timesteps,
                    num_epochs=self.config.num_epochs, minibatch_size=self.config.minibatch_size)
            else:
                learner_results = self.learner_group.update(
                    episodes=episodes, timesteps=timesteps, num_epochs=self.config.num_epochs,
                    minibatch_size=self.config.minibatch_size)
        self.metrics.aggregate(learner_results, key=LEARNER_RESULTS)
        with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
            self.env_runner_group.sync_weights(
                from_worker_or_learner_group=self.learner_group, inference_only=True)

    def _sample_complete_episodes(self):
        """At least ``total_train_batch_size`` env steps of complete episodes (Monte-Carlo
        returns need whole episodes), asking each env runner for as many episodes as the
        running mean episode length says are needed (one ``sample()`` call per runner in
        steady state instead of one per ``num_envs`` episodes)."""
        def make(missing, n_runners, so_far):
            if so_far:
                self._dcl_episode_len = sum(len(e) for e in so_far) / len(so_far)
            mean_len = getattr(self, "_dcl_episode_len", None)
            if mean_len is None:
                k = max(1, self.config.num_envs_per_env_runner)
            else:
                k = max(1, math.ceil(missing / mean_len / n_runners))
            return lambda er, k=k: _sample_episodes(er, k)

        episodes, metrics = sample_until(self, make, target=self.config.total_train_batch_size,
                                         count=lambda eps: sum(len(e) for e in eps))
        self._dcl_episode_len = sum(len(e) for e in episodes) / len(episodes)
        return episodes, metrics

    @staticmethod
    def shard_whole_episodes(episodes: List, num_shards: int) -> List[List]:
        """Split into ``num_shards`` lists of whole episodes with near-equal step counts."""
        shards = [[] for _ in range(num_shards)]
        sizes = [0] * num_shards
        for ep in sorted(episodes, key=len, reverse=True):
            k = sizes.index(min(sizes))
            shards[k].append(ep)
            sizes[k] += len(ep)
        if any(not s for s in shards):
            raise ValueError(f"DCL: {len(episodes)} episodes cannot feed {num_shards} learners; "
                             "raise train_batch_size_per_learner")
        return shards


def default_experiment_config(seed: Optional[int] = 0) -> DCLConfig:
    """The DCL config ``make train`` runs: ``tuned_configs/dcl/prisoners_dilemma_fast.yaml``, the
    one-shot PD verified to reach mutual cooperation fast (see docs/REPRODUCTION.md): Table 5's
    architecture, larger learning rates and faster schedules than Table 5, so that it converges in
    tens of iterations instead of ~1000."""
    from rllib_coopai.presets import preset_config

    return preset_config("dcl/prisoners_dilemma_fast", seed=seed)


