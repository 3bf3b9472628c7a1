"""The designer seat: the layer the incentive designers (MetaGrad, dual-RL) and AMD share.

* ``DesignerSeatConfigMixin``: ``.environment(name)`` becomes ``<name>__designer_seat``, the env
  wrapped by ``rllib_coopai.wrappers.designer.DesignerSeatWrapper`` (an extra agent, the designer,
  observes the state and joint action and pays incentives), registered with Ray for every process.
* ``designer_training_step``: sample whole episodes (``core.sampling.sample_until``: lost env
  runners are replaced), shard them by episode across Learners (``episodes_to_shards``), update,
  sync weights.
* ``episodes_to_shards``: sampled ``MultiAgentEpisode``s -> one ``MultiAgentBatch`` per Learner,
  every module padded to the same ``[E, T]`` rows (one per env step): the outer losses are
  cross-agent, so a shard must hold all agents' rows of the same env steps.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Sequence

import numpy as np

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TIMERS,
)

from rllib_coopai.core.episodes import agent_steps, pad_to
from rllib_coopai.core.sampling import sample_episodes, sample_until
from rllib_coopai.wrappers.designer import DESIGNER_ID

SEAT_SUFFIX = "__designer_seat"


def seat_env_name(base: str, designer_kwargs: dict) -> str:
    """Register (idempotently) ``<base>__designer_seat`` wrapping ``base`` with the designer seat."""
    from ray.tune.registry import register_env

    from rllib_coopai.algorithms.common import env_creator_for
    from rllib_coopai.wrappers.rllib_env import RLlibParallelEnv

    name = base + SEAT_SUFFIX
    base_creator = env_creator_for(base)

    def create(env_config=None):
        from rllib_coopai.wrappers.designer import DesignerSeatWrapper

        cfg = dict(env_config or {})
        kw = cfg.pop("designer_seat", {})
        inner = base_creator(cfg)
        par = getattr(inner, "par_env", inner)
        return RLlibParallelEnv(DesignerSeatWrapper(par, **kw))

    register_env(name, create)
    return name


class DesignerSeatConfigMixin:
    """Turns ``.environment(name)`` into the designer-seat version of ``name`` at validation."""

    def _designer_seat_kwargs(self) -> dict:  # each config class gives its seat's keywords
        return {}

    def batch_size_replaces_episodes(self, episodes_per_iteration, training_kwargs) -> None:
        """A batch size in env steps asked for in ``.training()`` (and no explicit episode count)
        means: sample that many env steps of whole episodes per iteration."""
        if episodes_per_iteration is NotProvided and (
                "train_batch_size_per_learner" in training_kwargs
                or "train_batch_size" in training_kwargs):
            self.episodes_per_iteration = None

    def setup_designer_seat(self) -> None:
        base = self.env
        if not isinstance(base, str):
            raise ValueError(
                "environment must be a registered env name (rllib_coopai.envs.names()) so the "
                f"designer seat can wrap it, got {base!r}"
            )
        if base.endswith(SEAT_SUFFIX):
            base = base[: -len(SEAT_SUFFIX)]
        from rllib_coopai.algorithms.common import env_creator_for

        env_creator_for(base)  # unknown names -> ValueError listing the known ones
        self.env_config = dict(self.env_config or {})
        self.env_config["designer_seat"] = self._designer_seat_kwargs()
        self.env = seat_env_name(base, self.env_config["designer_seat"])


def designer_training_step(algo, num_episodes, num_epochs: int = 1, phases=None) -> None:
    """Sample whole episodes, shard them by episode, update all modules, sync weights.

    ``num_episodes=None``: sample ``train_batch_size_per_learner * max(1, num_learners)`` env
    steps of complete episodes instead. ``phases``: a list of dicts, one Learner update per
    entry on the same shards, each entry merged into that update's ``timesteps`` (e.g.
    MetaGrad's designer step, then the agents' step); default one update.
    """
    cfg = algo.config
    with algo.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
        if num_episodes is None:
            target = cfg.train_batch_size_per_learner * max(1, cfg.num_learners)

            def make(missing, n_runners, so_far):
                per_steps = max(1, -(-missing // n_runners))
                return lambda r: (r.sample(num_timesteps=per_steps), r.get_metrics())

            episodes, runner_metrics = sample_until(
                algo, make, target=target, count=lambda eps: sum(len(e) for e in eps))
        else:
            episodes, runner_metrics = sample_episodes(algo, num_episodes)
    algo.metrics.aggregate(runner_metrics, key=ENV_RUNNER_RESULTS)
    agents = [a for a in algo.config.policies if a != DESIGNER_ID]
    n_learners = max(1, cfg.num_learners)
    shards = episodes_to_shards(episodes, agents, n_learners)
    timesteps = {NUM_ENV_STEPS_SAMPLED_LIFETIME: algo.metrics.peek(
        (ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)}
    results = []
    with algo.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
        for extra in phases or [{}]:
            ts = {**timesteps, **extra}
            if cfg.num_learners == 0:
                results.append(algo.learner_group.update(batch=shards[0], timesteps=ts,
                                                         num_epochs=num_epochs))
            else:
                results.append(algo.learner_group.update(batches=shards, timesteps=ts,
                                                         num_epochs=num_epochs))
    for r in results:
        algo.metrics.aggregate(r, key=LEARNER_RESULTS)
    with algo.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
        algo.env_runner_group.sync_weights(
            from_worker_or_learner_group=algo.learner_group, inference_only=True
        )


def _register_seat_envs() -> None:
    """Register ``<name>__designer_seat`` for every package env, so that a checkpoint restored in
    a fresh process (whose config names the seat env) finds its env creator."""
    from ray.tune.registry import ENV_CREATOR, _global_registry

    from rllib_coopai import envs

    for name in envs.names():
        if _global_registry.contains(ENV_CREATOR, name):
            seat_env_name(name, {})


_register_seat_envs()

def _column(episode_values, t_max: int, dtype=np.float32) -> np.ndarray:
    return pad_to(episode_values, t_max, dtype)


def episodes_to_shards(
    episodes: Sequence, agent_ids: Sequence[str], num_shards: int, designer_id: str = DESIGNER_ID
) -> List[MultiAgentBatch]:
    """One ``MultiAgentBatch`` per shard; whole episodes per shard, rows padded to ``[E, T]``.

    Columns, every module: ``obs``, ``actions``, ``mask`` (1 = real step), ``t`` (step index).
    Agents: ``env_rewards`` (the env's own reward), ``rewards`` (incl. payments).
    Designer: ``joint_actions`` ``(N,)``, ``objective`` (the step's social objective),
    ``rewards``; and, where the agents' infos carry the economy's ``tax`` record (GTB), the
    columns MetaGrad needs to replay the taxes in torch (``tax.py``): ``tax_start`` (the seat set
    the rates at this step), ``tax_end`` (period end), and ``(N,)`` columns ``tax_income``,
    ``tax_cap``, ``tax_transfer``, ``tax_coin``, ``tax_coin_before``.
    """
    num_shards = max(1, int(num_shards))
    # Only finished episodes whose designer acted (a step-budgeted sample may end mid-episode).
    episodes = [ep for ep in episodes if ep.is_done and designer_id in ep.agent_episodes
                and len(ep.agent_episodes[designer_id]) > 0]
    if len(episodes) < num_shards:
        raise ValueError(f"need at least {num_shards} episodes for {num_shards} learners")
    groups = [list(episodes[i::num_shards]) for i in range(num_shards)]
    out = []
    for group in groups:
        t_max = max(len(ep.agent_episodes[designer_id]) for ep in group)
        cols: Dict[str, Dict[str, list]] = {m: defaultdict(list) for m in list(agent_ids) + [designer_id]}
        for ep in group:
            d = ep.agent_episodes[designer_id]
            T = len(d)
            mask = _column(np.ones(T), t_max)
            tt = np.arange(t_max, dtype=np.float32)
            joint = []
            tax_infos = []
            for aid in agent_ids:
                sa = ep.agent_episodes[aid]
                n = len(sa)
                steps = agent_steps(sa, n)
                acts, infos, rews = steps["actions"].reshape(n), steps["infos"], steps["rewards"]
                env_r = np.array([float(i.get("extrinsic_reward", r)) for i, r in zip(infos, rews)])
                c = cols[aid]
                c["obs"].append(_column(steps["obs"], t_max))
                c["actions"].append(_column(acts, t_max, np.int64))
                c["env_rewards"].append(_column(env_r, t_max))
                c["rewards"].append(_column(rews, t_max))
                c["mask"].append(_column(np.ones(n), t_max))
                c["t"].append(tt)
                joint.append(_column(acts, t_max, np.int64))
                tax_infos.append(infos)
            c = cols[designer_id]
            seat = agent_steps(d, T)
            c["obs"].append(_column(seat["obs"], t_max))
            c["actions"].append(_column(seat["actions"].reshape(T, -1).astype(np.float32), t_max))
            objective = [float(i.get("social_objective", 0.0)) for i in tax_infos[0]]
            c["objective"].append(_column(objective, t_max))
            c["rewards"].append(_column(seat["rewards"], t_max))
            c["joint_actions"].append(np.stack(joint, -1))
            if tax_infos and tax_infos[0] and "tax" in (tax_infos[0][0] or {}):
                _tax_columns(c, tax_infos, t_max)
            c["mask"].append(mask)
            c["t"].append(tt)
        policy_batches = {
            m: SampleBatch({k: np.concatenate(v, 0) for k, v in c.items()}) for m, c in cols.items()
        }
        out.append(MultiAgentBatch(policy_batches, env_steps=len(group) * t_max))
    return out


_TAX_KEYS = ("income", "cap", "transfer", "coin", "coin_before")


def _tax_columns(c, tax_infos, t_max: int) -> None:
    """Append one episode's tax replay columns (see ``episodes_to_shards``) to designer columns."""
    per_agent = {k: np.stack([_column([float(i["tax"][k]) for i in infos], t_max)
                              for infos in tax_infos], -1) for k in _TAX_KEYS}
    for k, v in per_agent.items():
        c[f"tax_{k}"].append(v)
    first = tax_infos[0]
    c["tax_end"].append(_column([float(i["tax"]["period_end"]) for i in first], t_max))
    c["tax_start"].append(_column([float(i.get("tax_rates_set", False)) for i in first], t_max))




def register_seat_envs() -> None:
    """Register ``<name>__designer_seat`` for every package env, so that a checkpoint restored in
    a fresh process (whose config names the seat env) finds its env creator."""
    from ray.tune.registry import ENV_CREATOR, _global_registry

    from rllib_coopai import envs

    for name in envs.names():
        if _global_registry.contains(ENV_CREATOR, name):
            seat_env_name(name, {})


def seat_module_spec(config, agents: Sequence[str], agent_model_config: dict,
                     designer_model_config: dict, method: str, alternative: str = ""):
    """The ``MultiRLModuleSpec`` of a designer-seat algorithm: a ``CategoricalPolicyModule`` per
    agent (Discrete actions required: ``method`` / ``alternative`` word the error) and the
    designer's ``IncentiveModule``; both get the shared conv encoder for image observations.
    Marked as set up automatically, so a user's own ``.rl_module(...)`` spec is left alone."""
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from rllib_coopai.algorithms.common import require_discrete_actions
    from rllib_coopai.modules.designer_module import CategoricalPolicyModule, IncentiveModule
    from rllib_coopai.modules.encoders import conv_filters_of

    players = [a for a in agents if a != DESIGNER_ID]
    require_discrete_actions(config, players, method, alternative)
    conv = conv_filters_of(config._model_config)
    specs = {a: RLModuleSpec(module_class=CategoricalPolicyModule,
                             model_config={**agent_model_config, "conv_filters": conv})
             for a in players}
    specs[DESIGNER_ID] = RLModuleSpec(module_class=IncentiveModule,
                                      model_config={**designer_model_config, "conv_filters": conv})
    spec = MultiRLModuleSpec(rl_module_specs=specs)
    spec._coop_auto = True
    return spec
