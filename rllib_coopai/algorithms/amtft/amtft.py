"""``AmTFT``: approximate Markov tit-for-tat for a welfare function (amTFT(w)) or a set of them
(the norm-adaptive amTFT(W)), normative-disagreement paper §3.4, §4.1, App. C.1 (after Lerer &
Peysakhovich 2017), on 2-player iterated matrix games (``iterated_prisoners_dilemma``,
``iterated_asymmetric_bos``, any 2-player ``MatrixGameEnv``) and on the coin games of the paper's
Table 1 (``coin_game``, ``asymmetric_coin_game``; ``obs_mode`` ``"relative"`` or ``"global"``).
The play rule needs a model of the game (``game_model``: rewards, transitions, observations):
the payoff table for a matrix game, the envs' own rules (``rllib_coopai.envs.coin_game``) for the
coin games; any other env is refused at ``build_algo()`` with the list of supported games.

Training, per welfare function w in W, in two phases of ``train()`` iterations:

1. ``cooperative_iterations``: a cooperative policy per agent, trained in self-play on the
   welfare reward ``w(r^t)`` that every agent receives (modules ``coop_<w>_<agent>``).
2. ``punishment_iterations``: a punishment policy per agent (``punish_<w>_<agent>``) trained on
   minus the opponent's reward against the opponent's now fixed cooperative policy of w (the
   paper's change (1): it minimises the opponent's reward instead of being selfish).

Then ``train()`` only plays: both agents are served by their ``AmTFTModule`` (``amtft_<agent>``,
the policies' copies plus the amTFT rule of ``module.AmTFTPlayer``) and the env-runner metrics
report amTFT in self-play. ``amtft_<agent>`` is the module a checkpoint serves to ``rllib
evaluate`` and the cross-play league (the config's policy mapping sends every agent to it when no
training episode is given).

RL learner: RLlib's PPO (the package's guarded PPO learner, one module per agent and w), not the
paper's Double Dueling DQN with an LSTM. RLlib 2.60's DQN on the new API stack ships no
multi-agent example and replays transitions from a buffer: transitions of the cooperative phase
would be replayed with the wrong reward and mapping once the phases switch, while PPO's
on-policy batches switch cleanly. An MLP (one hidden layer of 64, the paper's shared FC width)
replaces the LSTM: the matrix games' observation (the previous joint action) is the full Markov
state of the iterated game, and so is the coin games' grid (both players' cells, the coins and
their colours). On the coin games the policies encode the grid with RLlib's CNN encoder
(``COIN_CONV_FILTERS`` unless ``model_config`` sets ``conv_filters``) in place of the paper's
2 conv layers + LSTM; tuned configs: ``tuned_configs/amtft/coin_game.yaml`` and ``abcg.yaml``
(the authors' coin-game settings: debit threshold 3.0, punishment multiplier 6.0, rollouts of 20,
gamma 0.96, 100-step episodes).

Example::

    from rllib_coopai.algorithms.amtft import AmTFTConfig
    algo = AmTFTConfig().environment("iterated_prisoners_dilemma").training(
        welfare=["utilitarian"]).build_algo()
    for _ in range(algo.config.cooperative_iterations + algo.config.punishment_iterations + 1):
        result = algo.train()
"""
from __future__ import annotations

from typing import List

import numpy as np

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.algorithms.ppo import PPO, PPOConfig
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.policy.policy import PolicySpec
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, ENV_RUNNER_SAMPLING_TIMER, TIMERS

from rllib_coopai.algorithms.amtft.connectors import (
    AmTFTMapping,
    AmTFTTrainingRewards,
    coop_module_id,
    phase_tasks,
    play_module_id,
    punish_module_id,
)
from rllib_coopai.algorithms.amtft.game_model import game_spec
from rllib_coopai.algorithms.amtft.module import DEBIT_MEASURES, AmTFTModule, policy_key
from rllib_coopai.algorithms.common import (
    CoopConfigMixin,
    FixedModuleOrderLearnerMixin,
    probe_env,
    require_discrete_actions,
)
from rllib_coopai.core.learner import foreach_learner
from rllib_coopai.core.nonfinite import GuardedPPOTorchLearner, NonFiniteIterationMixin
from rllib_coopai.core.rng_state import RNGStateMixin
from rllib_coopai.core.sampling import sample_episodes
from rllib_coopai.core.validation import check_choice, check_config_numbers, check_int, num
from rllib_coopai.wrappers.welfare_reward import canonical_welfare, welfare_rewards

PHASES = ("cooperative", "punishment", "play")
#: The coin games' policy encoder when ``model_config`` sets no ``conv_filters``: one 3x3 conv
#: with 32 filters and "valid" padding, i.e. over the whole 3x3 grid, then the MLP. (The paper's
#: 2 conv layers of 64 "same"-padded filters: RLlib pads them with ZeroPad2d, and torch's CPU
#: convolution on that padded, non-contiguous input is ~300x slower than unpadded on 3x3 grids.)
COIN_CONV_FILTERS = ([32, [3, 3], 1, "valid"],)
AMTFT_RANGES = {"debit_threshold": num(0.0, None), "punishment_multiplier": num(0.0, None, low_open=True)}


class AmTFTConfig(FixedModuleOrderLearnerMixin, CoopConfigMixin, PPOConfig):
    """Config of ``AmTFT``. ``training()`` keys (defaults: the authors' matrix-game code where it
    has one, ``[code]``):

    Args:
        welfare: W, welfare function names in preference order (``["utilitarian"]``; one name is
            amTFT(w)); see ``rllib_coopai.wrappers.welfare_reward`` (``utilitarian``,
            ``egalitarian``, ``nash``, ``inequity_averse``, ...).
        welfare_kwargs: per welfare name, keyword arguments of its reward (e.g.
            ``{"inequity_averse": {"beta": 1.0, "lam": 0.96}}``, the ``[code]`` values).
        cooperative_iterations / punishment_iterations: ``train()`` iterations of each phase.
        debit_threshold: 10.0 ``[code]`` (matrix games; the coin games' ``[code]`` value is
            3.0, set it, as the tuned configs do). punishment_multiplier: 3.0 ``[code]`` (coin
            games: 6.0).
        rollout_length: steps of the punishment-length rollouts (20, the paper).
        norm_adaptive: amTFT(W)'s welfare-switch detector (True); False treats every deviation
            as defection. detection_steps: consecutive matching steps it needs (2).
        debit_measure: ``"opponent_gain"`` (default) or ``"own_loss"`` (``module`` docstring).
        play_episodes_per_iteration: episodes sampled per iteration once training is over (8).
        PPO's keys (``lr``, ``train_batch_size_per_learner``, ``num_epochs``, ...) set the RL
        learner; gamma 0.96 (the paper's Table 4).
    """

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or AmTFT)
        self._init_coop()
        self.welfare = ["utilitarian"]
        self.welfare_kwargs = {}
        self.cooperative_iterations = 15
        self.punishment_iterations = 8
        self.debit_threshold = 10.0
        self.punishment_multiplier = 3.0
        self.rollout_length = 20
        self.norm_adaptive = True
        self.detection_steps = 2
        self.debit_measure = "opponent_gain"
        self.play_episodes_per_iteration = 8
        # PPO on 20-step matrix-game episodes
        self.gamma = 0.96
        self.lr = 3e-3
        self.train_batch_size_per_learner = 400
        self.minibatch_size = 200
        self.num_epochs = 8
        self.entropy_coeff = 0.01
        # the learned policies become near-deterministic; RLlib's KL estimate is then non-finite
        self.kl_coeff = 0.0
        self.batch_mode = "complete_episodes"
        self.rl_module(model_config={"fcnet_hiddens": [64], "fcnet_activation": "relu",
                                     "vf_share_layers": False})

    def training(self, *, welfare=NotProvided, welfare_kwargs=NotProvided,
                 cooperative_iterations=NotProvided, punishment_iterations=NotProvided,
                 debit_threshold=NotProvided, punishment_multiplier=NotProvided,
                 rollout_length=NotProvided, norm_adaptive=NotProvided, detection_steps=NotProvided,
                 debit_measure=NotProvided, play_episodes_per_iteration=NotProvided,
                 share_policy=NotProvided, **kwargs) -> "AmTFTConfig":
        super().training(**kwargs)
        self.coop_training_kwargs(share_policy)
        if isinstance(welfare, str):
            welfare = [welfare]
        self.set_provided(welfare=welfare, welfare_kwargs=welfare_kwargs,
                          cooperative_iterations=cooperative_iterations,
                          punishment_iterations=punishment_iterations, debit_threshold=debit_threshold,
                          punishment_multiplier=punishment_multiplier, rollout_length=rollout_length,
                          norm_adaptive=norm_adaptive, detection_steps=detection_steps,
                          debit_measure=debit_measure,
                          play_episodes_per_iteration=play_episodes_per_iteration)
        return self

    # ------------------------------------------------------------------ set-up
    def _probe_game(self) -> dict:
        """The env's game as a ``game_model.game_spec`` dict (the model amTFT's play rule needs);
        a ``ValueError`` listing the supported games for any other env."""
        env = probe_env(self)
        try:
            return game_spec(env)
        finally:
            env.close()

    def _policy_model_config(self) -> dict:
        # PPO's auto-includes (vf_share_layers=False) + the user's model_config: the trained
        # modules and their copies inside AmTFTModule must be built alike
        return dict(self.model_config)

    def validate(self) -> None:
        check_config_numbers(self, "AmTFT", AMTFT_RANGES)
        if not isinstance(self.welfare, (list, tuple)) or not self.welfare:
            raise ValueError(f"welfare must be a non-empty list of welfare names, got {self.welfare!r}")
        welfare = [canonical_welfare(w) for w in self.welfare]
        if len(set(welfare)) != len(welfare):
            raise ValueError(f"welfare lists a welfare function twice: {list(self.welfare)}")
        if not isinstance(self.welfare_kwargs, dict):
            raise ValueError(f"welfare_kwargs must be a dict welfare name -> kwargs, got {self.welfare_kwargs!r}")
        self.welfare_kwargs = {canonical_welfare(k): dict(v) for k, v in self.welfare_kwargs.items()}
        for k in self.welfare_kwargs:
            if k not in welfare:
                raise ValueError(f"welfare_kwargs names {k!r}, which is not in welfare {welfare}")
        for w in welfare:  # bad keyword arguments fail here, not inside a Learner
            welfare_rewards(np.zeros((1, 2)), w, **self.welfare_kwargs.get(w, {}))
        self.welfare = welfare
        check_int("cooperative_iterations", self.cooperative_iterations, 1, None)
        check_int("punishment_iterations", self.punishment_iterations, 1, None)
        check_int("rollout_length", self.rollout_length, 1, None)
        check_int("detection_steps", self.detection_steps, 1, None)
        check_int("play_episodes_per_iteration", self.play_episodes_per_iteration, 1, None)
        check_choice("debit_measure", self.debit_measure, DEBIT_MEASURES)
        if not isinstance(self.norm_adaptive, bool):
            raise ValueError(f"norm_adaptive must be true or false, got {self.norm_adaptive!r}")
        if self.share_policy:
            raise ValueError("AmTFT trains one module per agent and welfare function: share_policy must be False")
        if self.batch_mode != "complete_episodes":
            raise ValueError("AmTFT needs batch_mode='complete_episodes' (training rewards such as "
                             "w_IA depend on the whole episode)")
        game = self._probe_game()
        mc = self._model_config
        if game["kind"] != "matrix" and isinstance(mc, dict) and not mc.get("conv_filters"):
            # the coin games' default encoder (COIN_CONV_FILTERS): before setup_agents' default
            self._model_config = dict(mc, conv_filters=[list(f) for f in COIN_CONV_FILTERS])
        agents = self.setup_agents()
        require_discrete_actions(self, agents, "AmTFT")
        self._amtft_agents = list(agents)
        self._set_modules(agents, game)
        super().validate()

    def _set_modules(self, agents, game) -> None:
        from ray.rllib.algorithms.ppo.ppo_catalog import PPOCatalog
        from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule

        policy_mc = self._policy_model_config()
        trained = {}
        for w in self.welfare:
            for a in agents:
                for mid in (coop_module_id(w, a), punish_module_id(w, a)):
                    trained[mid] = RLModuleSpec(module_class=DefaultPPOTorchRLModule,
                                                catalog_class=PPOCatalog, model_config=policy_mc)
        players = {}
        for seat, a in enumerate(agents):
            players[play_module_id(a)] = RLModuleSpec(module_class=AmTFTModule, model_config={
                "seat": seat, "game": game, "welfare": list(self.welfare),
                "policy_spec": {"module_class": DefaultPPOTorchRLModule, "catalog_class": PPOCatalog,
                                "model_config": policy_mc},
                "debit_threshold": float(self.debit_threshold),
                "punishment_multiplier": float(self.punishment_multiplier),
                "rollout_length": int(self.rollout_length), "norm_adaptive": self.norm_adaptive,
                "detection_steps": int(self.detection_steps), "debit_measure": self.debit_measure})
        self.policies = {mid: PolicySpec() for mid in list(trained) + list(players)}
        # outside training (``rllib evaluate``, evaluation runners, a restored checkpoint before
        # its next train()) every agent plays its AmTFTModule; training_step sets each phase's
        self.policy_mapping_fn = AmTFTMapping(agents, phase_tasks("play", self.welfare))
        self.policies_to_train = [coop_module_id(w, a) for w in self.welfare for a in agents]
        self.rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs={**trained, **players}))

    def get_default_learner_class(self):
        return GuardedPPOTorchLearner

    def build_learner_connector(self, input_observation_space, input_action_space, device=None):
        """``FixedModuleOrderLearnerMixin``'s pipeline with ``AmTFTTrainingRewards`` first (the
        training rewards of each module)."""
        pipeline = super().build_learner_connector(input_observation_space, input_action_space,
                                                   device=device)
        pipeline.prepend(AmTFTTrainingRewards(agents=getattr(self, "_amtft_agents", ()),
                                              welfare=self.welfare, welfare_kwargs=self.welfare_kwargs))
        return pipeline


def _reconfigure(config, **multi_agent_kwargs) -> None:
    """``config.multi_agent(**kwargs)`` on a possibly frozen config (as ``Algorithm.add_module``)."""
    frozen = getattr(config, "_is_frozen", False)
    config._is_frozen = False
    config.multi_agent(**multi_agent_kwargs)
    if frozen:
        config.freeze()


class AmTFT(NonFiniteIterationMixin, RNGStateMixin, PPO):
    """amTFT(w) / amTFT(W) (see the module docstring and ``AmTFTConfig``)."""

    @classmethod
    def get_default_config(cls) -> AmTFTConfig:
        return AmTFTConfig()

    @property
    def agents(self) -> List[str]:
        return list(self.config._amtft_agents)

    def phase(self) -> str:
        """The phase of the next ``train()`` iteration."""
        it, cfg = self.iteration, self.config
        if it < cfg.cooperative_iterations:
            return "cooperative"
        if it < cfg.cooperative_iterations + cfg.punishment_iterations:
            return "punishment"
        return "play"

    def _apply_phase(self, phase: str) -> None:
        cfg = self.config
        mapping = AmTFTMapping(self.agents, phase_tasks(phase, cfg.welfare))
        if phase == "cooperative":
            trainable = [coop_module_id(w, a) for w in cfg.welfare for a in self.agents]
        else:  # punishment; "play" updates nothing (RLlib warns on an empty list)
            trainable = [punish_module_id(w, a) for w in cfg.welfare for a in self.agents]
        _reconfigure(cfg, policy_mapping_fn=mapping, policies_to_train=trainable)

        def on_runner(runner, m=mapping, t=trainable):
            _reconfigure(runner.config, policy_mapping_fn=m, policies_to_train=t)

        self.env_runner_group.foreach_env_runner(on_runner, local_env_runner=True)
        foreach_learner(self.learner_group,
                        lambda learner, t=trainable: _reconfigure(learner.config, policies_to_train=t))
        self._amtft_phase = phase

    def sync_players(self) -> None:
        """Copy the trained policies into every agent's ``AmTFTModule`` (on the Learners and the
        env runners)."""
        welfare, agents = list(self.config.welfare), self.agents

        def copy(learner):
            # unwrapped(): with num_learners > 1 RLlib wraps the trained modules in DDP
            def mod(mid):
                return learner.module[mid].unwrapped()

            for seat, a in enumerate(agents):
                player = mod(play_module_id(a))
                for k, w in enumerate(welfare):
                    for s, b in enumerate(agents):
                        player.coop[policy_key("coop", k, s)].load_state_dict(
                            mod(coop_module_id(w, b)).state_dict())
                    player.punish[policy_key("punish", k, seat)].load_state_dict(
                        mod(punish_module_id(w, a)).state_dict())

        foreach_learner(self.learner_group, copy)
        self.env_runner_group.sync_weights(from_worker_or_learner_group=self.learner_group,
                                           policies=[play_module_id(a) for a in agents],
                                           inference_only=True)

    def training_step(self) -> None:
        phase = self.phase()
        if getattr(self, "_amtft_phase", None) != phase:
            if phase == "play":
                self.sync_players()
            self._apply_phase(phase)
        self.metrics.log_value("amtft_phase", PHASES.index(phase), window=1)
        if phase == "play":
            with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
                _, metrics = sample_episodes(self, self.config.play_episodes_per_iteration, explore=False)
            self.metrics.aggregate(metrics, key=ENV_RUNNER_RESULTS)
            return
        super().training_step()
        self.sync_players()


__all__ = ["AmTFT", "AmTFTConfig"]
