"""``LOLAExact``: LOLA with exact values on iterated matrix games.

Foerster et al. 2018 ("Learning with Opponent-Learning Awareness"), as the normative-disagreement
paper runs it (its App. C.1 update and ``[code:NDIS]`` settings: lr 1.0, correction lr 1.0,
gamma 0.96). Each player's policy is memory-one: one logit per previous joint action and own
action, plus the start state (``N`` parameters per previous profile, so any action count
works), i.e. ``CategoricalPolicyModule`` with ``hidden=[]``, ``bias=False`` on the one-hot
observation of ``MatrixGameEnv``. The learner (``learner.LOLAExactLearner``) differentiates the
exact discounted values (``exact.iterated_game_values``) through the other players' learning step
with the package's inner/outer core (``rllib_coopai.core.differentiable``).

Each iteration: ``updates_per_iteration`` exact LOLA steps (no samples are needed for them), then
``episodes_per_iteration`` episodes are sampled with the new policies for the env-runner metrics
(returns, cooperation) and cross-play checkpoints. Works for any player count (the correction
sums over the other players); the papers use two.

Example::

    from rllib_coopai.algorithms.lola import LOLAExactConfig
    algo = LOLAExactConfig().environment("iterated_prisoners_dilemma").build_algo()
    print(algo.train()["learners"]["exact"])
"""
from __future__ import annotations

import numpy as np

from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TIMERS,
)

from rllib_coopai.algorithms.common import CoopConfigMixin, require_discrete_actions
from rllib_coopai.core.learner import update_on_whole_episodes
from rllib_coopai.core.nonfinite import NonFiniteIterationMixin
from rllib_coopai.core.rng_state import RNGStateMixin
from rllib_coopai.core.sampling import sample_episodes
from rllib_coopai.core.validation import (
    check_choice,
    check_config_numbers,
    check_episodes_per_learner,
    check_int,
    num,
)
from rllib_coopai.modules.designer_module import CategoricalPolicyModule

CORRECTIONS = ("taylor", "lookahead", "none")
LOLA_RANGES = {"lr_correction": num(0.0, None, low_open=True), "init_std": num(0.0, None)}


class LOLAExactConfig(CoopConfigMixin, AlgorithmConfig):
    """Config of ``LOLAExact``. ``training()`` keys (defaults: the normative-disagreement paper's
    code for LOLA-Exact):

    Args:
        lr: delta, the players' step size (1.0).
        lr_correction: eta, the other player's assumed step size in the correction (1.0).
        gamma: discount of the exact values (0.96, the paper's Table 4).
        correction: ``"taylor"`` (the paper's App. C.1 update, default), ``"lookahead"``
            (differentiate through the other player's step; not in the paper), ``"none"`` (naive
            learners, the baseline).
        init_std: the policy logits start N(0, init_std) (0.5; the paper does not give it).
        updates_per_iteration: exact LOLA steps per ``train()`` (10).
        episodes_per_iteration: episodes sampled per iteration for metrics (4).
    """

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or LOLAExact)
        self._init_coop()
        self.lr = 1.0
        self.lr_correction = 1.0
        self.gamma = 0.96
        self.correction = "taylor"
        self.init_std = 0.5
        self.updates_per_iteration = 10
        self.episodes_per_iteration = 4
        self.env_runners(num_env_runners=0)

    def training(self, *, lr_correction=NotProvided, correction=NotProvided, init_std=NotProvided,
                 updates_per_iteration=NotProvided, episodes_per_iteration=NotProvided,
                 share_policy=NotProvided, **kwargs) -> "LOLAExactConfig":
        super().training(**kwargs)
        self.coop_training_kwargs(share_policy)
        self.set_provided(lr_correction=lr_correction, correction=correction, init_std=init_std,
                          updates_per_iteration=updates_per_iteration,
                          episodes_per_iteration=episodes_per_iteration)
        return self

    def _probe_game(self, agents) -> None:
        from rllib_coopai.algorithms.common import probe_env
        from rllib_coopai.envs.matrix_games import MatrixGameEnv

        env = probe_env(self)
        try:
            game = getattr(env, "par_env", env)
            while not isinstance(game, MatrixGameEnv) and hasattr(game, "env"):
                game = game.env
            if not isinstance(game, MatrixGameEnv):
                raise ValueError(
                    "LOLAExact needs an iterated matrix game (a MatrixGameEnv, e.g. "
                    "'iterated_prisoners_dilemma', 'iterated_asymmetric_bos' or "
                    f"rllib_coopai.envs.matrix_games.matrix_game(...)); got {type(game).__name__}. "
                    "Its exact values need the payoff table.")
            self._lola_payoffs = np.asarray(game.payoffs, np.float64).tolist()
            self._lola_agents = list(agents)
            coop = getattr(game, "cooperative_actions", None)
            self._lola_coop = list(coop) if coop is not None else None
        finally:
            env.close()

    def validate(self) -> None:
        check_config_numbers(self, "LOLAExact", LOLA_RANGES)
        check_choice("correction", self.correction, CORRECTIONS)
        check_int("updates_per_iteration", self.updates_per_iteration, 1, None)
        if self.share_policy:
            raise ValueError("LOLAExact learns one policy per player: share_policy must be False")
        agents = self.setup_agents()
        self._probe_game(agents)
        check_episodes_per_learner(self)
        self.batch_mode = "complete_episodes"
        spec = self._rl_module_spec
        if spec is None or getattr(spec, "_coop_auto", False):
            require_discrete_actions(self, agents, "LOLAExact")
            specs = {a: RLModuleSpec(module_class=CategoricalPolicyModule, model_config={
                "hidden": [], "bias": False, "init_std": float(self.init_std)}) for a in agents}
            spec = MultiRLModuleSpec(rl_module_specs=specs)
            spec._coop_auto = True
            self.rl_module(rl_module_spec=spec)
        super().validate()

    def get_default_learner_class(self):
        from rllib_coopai.algorithms.lola.learner import LOLAExactLearner

        return LOLAExactLearner

    def get_default_rl_module_spec(self):
        return RLModuleSpec(module_class=CategoricalPolicyModule)


class LOLAExact(NonFiniteIterationMixin, RNGStateMixin, Algorithm):
    """LOLA-Exact (see the module docstring and ``LOLAExactConfig``)."""

    @classmethod
    def get_default_config(cls) -> LOLAExactConfig:
        return LOLAExactConfig()

    def training_step(self) -> None:
        cfg = self.config
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            episodes, metrics = sample_episodes(self, cfg.episodes_per_iteration)
        self.metrics.aggregate(metrics, key=ENV_RUNNER_RESULTS)
        # whole episodes per Learner (LOLA-PG's estimates need them; LOLA-Exact ignores the batch)
        update_on_whole_episodes(self, episodes, num_epochs=cfg.updates_per_iteration)
        with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
            self.env_runner_group.sync_weights(from_worker_or_learner_group=self.learner_group,
                                               inference_only=True)


__all__ = ["LOLAExact", "LOLAExactConfig"]
