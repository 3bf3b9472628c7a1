"""``LOLAPG``: LOLA with policy-gradient estimates, for the coin games (and any simultaneous-move env).

Foerster et al. 2018 (LOLA-PG, §3.3) as the normative-disagreement paper runs it on the Coin Game
and the asymmetric bargaining Coin Game (its §4.1, App. C; Table 4: CG lr 0.05, ABCG lr 0.1,
episode length 40, gamma 0.90). Each iteration samples ``episodes_per_iteration`` whole
episodes with both players' current policies and takes one simultaneous LOLA-PG step per
player on them (``pg_learner.LOLAPGLearner``: the player's REINFORCE gradient plus ``eta``
times the sampled second-order term, all from the same episodes; ``correction="none"`` is the
naive policy-gradient baseline NL-PG).

Policies: the paper's network is 2 conv layers (3x3, 20 filters), an LSTM with 64 cells and a
linear output. Here each player's policy is a feed-forward ``CategoricalPolicyModule`` on the
full observation: the same 2 conv layers (the package's shared conv encoder, ``conv_filters``)
and one hidden layer of 64 units in place of the LSTM. The coin games' observation shows the
whole grid (both players and the coin), so a reactive policy can act well; what it cannot do is
condition on the history (e.g. remember that the other player took its coin), which the LSTM
allows. Stateful RLModules would also need sequence-aware sampling and a stateful functional
call in the second-order estimate; this substitute keeps the estimator exact and simple.

With ``num_learners > 1`` each Learner holds whole episodes; the second-order term multiplies
two estimates from the same batch, so the first-order factor is summed over the Learners before
the product (``pg_learner``): the update equals the one-Learner update on all episodes.

Example::

    from rllib_coopai.algorithms.lola import LOLAPGConfig
    algo = (LOLAPGConfig().environment("coin_game", env_config={"horizon": 40})
            .training(lr=0.05, gamma=0.9).build_algo())
    print(algo.train()["env_runners"]["episode_return_mean"])
"""
from __future__ import annotations

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from rllib_coopai.algorithms.common import CoopConfigMixin, require_discrete_actions
from rllib_coopai.algorithms.lola.connectors import lola_pg_learner_connector
from rllib_coopai.algorithms.lola.lola import LOLAExact
from rllib_coopai.algorithms.lola.pg_learner import ESTIMATORS, PG_CORRECTIONS
from rllib_coopai.core.validation import (
    check_choice,
    check_config_numbers,
    check_episodes_per_learner,
    check_int,
    check_layer_sizes,
    num,
)
from rllib_coopai.modules.designer_module import CategoricalPolicyModule

#: the paper's conv layers (normative-disagreement paper App. C: 2 conv layers, 3x3 kernel, 20 features)
PAPER_CONV_FILTERS = [[20, [3, 3], 1], [20, [3, 3], 1]]
LOLA_PG_RANGES = {"lr_correction": num(0.0, None)}


class LOLAPGConfig(CoopConfigMixin, AlgorithmConfig):
    """Config of ``LOLAPG``. ``training()`` keys (defaults: the normative-disagreement paper's
    Table 4 for the Coin Game):

    Args:
        lr: the players' SGD step size (0.05; ABCG: 0.1).
        lr_correction: eta, the other player's assumed step size in the correction (1.0, as
            LOLA-Exact's; Table 4 does not give it). 0 makes LOLA-PG equal to naive PG.
        gamma: discount (0.90).
        correction: ``"lola"`` (default) or ``"none"`` (naive policy-gradient learners, NL-PG).
        estimator: ``"causal"`` (default; LOLA §3.3's per-step estimator: a reward at step t
            weights the log-probabilities up to t) or ``"trajectory"`` (whole-episode score
            function; also unbiased, more variance).
        episodes_per_iteration: episodes sampled per LOLA-PG step (32).
        policy_hiddens: hidden layers after the conv encoder (``[64]``; stands in for the
            paper's 64-cell LSTM, see the module docstring). ``[]`` on one-hot observations is
            a tabular policy.
        conv_filters: the conv encoder of image observations (``PAPER_CONV_FILTERS``).
    """

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or LOLAPG)
        self._init_coop()
        self.lr = 0.05
        self.lr_correction = 1.0
        self.gamma = 0.90
        self.correction = "lola"
        self.estimator = "causal"
        self.episodes_per_iteration = 32
        # one LOLA-PG step per sampled batch (read by LOLAExact.training_step: Learner epochs)
        self.updates_per_iteration = 1
        self.policy_hiddens = [64]
        self.conv_filters = [list(f) for f in PAPER_CONV_FILTERS]
        self.env_runners(num_env_runners=0)
        self._learner_connector = lola_pg_learner_connector
        self.add_default_connectors_to_learner_pipeline = False

    def training(self, *, lr_correction=NotProvided, correction=NotProvided, estimator=NotProvided,
                 episodes_per_iteration=NotProvided, policy_hiddens=NotProvided,
                 conv_filters=NotProvided, share_policy=NotProvided, **kwargs) -> "LOLAPGConfig":
        super().training(**kwargs)
        self.coop_training_kwargs(share_policy)
        self.set_provided(lr_correction=lr_correction, correction=correction, estimator=estimator,
                          episodes_per_iteration=episodes_per_iteration, policy_hiddens=policy_hiddens,
                          conv_filters=conv_filters)
        return self

    def validate(self) -> None:
        check_config_numbers(self, "LOLAPG", LOLA_PG_RANGES)
        check_choice("correction", self.correction, PG_CORRECTIONS)
        check_choice("estimator", self.estimator, ESTIMATORS)
        check_int("episodes_per_iteration", self.episodes_per_iteration, 1, None)
        check_layer_sizes("policy_hiddens", self.policy_hiddens)
        check_episodes_per_learner(self)
        if self.share_policy:
            raise ValueError("LOLAPG learns one policy per player: share_policy must be False")
        agents = self.setup_agents()
        if len(agents) < 2:
            raise ValueError(f"LOLAPG needs at least two players; the env has {agents}")
        self._lola_agents = list(agents)
        self.batch_mode = "complete_episodes"
        spec = self._rl_module_spec
        if spec is None or getattr(spec, "_coop_auto", False):
            require_discrete_actions(self, agents, "LOLAPG")
            mc = {"hidden": list(self.policy_hiddens), "conv_filters": [list(f) for f in self.conv_filters]}
            spec = MultiRLModuleSpec(rl_module_specs={
                a: RLModuleSpec(module_class=CategoricalPolicyModule, model_config=dict(mc)) for a in agents})
            spec._coop_auto = True
            self.rl_module(rl_module_spec=spec)
        super().validate()

    def get_default_learner_class(self):
        from rllib_coopai.algorithms.lola.pg_learner import LOLAPGLearner

        return LOLAPGLearner

    def get_default_rl_module_spec(self):
        return RLModuleSpec(module_class=CategoricalPolicyModule)


class LOLAPG(LOLAExact):
    """LOLA-PG (see the module docstring and ``LOLAPGConfig``). ``LOLAExact``'s iteration:
    sample ``episodes_per_iteration`` episodes, one Learner update on them (``LOLAPGLearner``:
    one LOLA-PG step), sync the new weights to the env runners."""

    @classmethod
    def get_default_config(cls) -> LOLAPGConfig:
        return LOLAPGConfig()


__all__ = ["LOLAPG", "LOLAPGConfig"]
