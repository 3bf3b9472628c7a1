"""Pieces every algorithm config of the package shares.

* ``probe_env(config)`` builds one env instance in the driver: unknown env names and bad
  ``env_config`` values fail here, at ``build_algo()`` / Tune trial start, with a clear message,
  never inside a remote EnvRunner.
* ``CoopConfigMixin`` sets up one RLModule per agent (or one shared module) from the env's
  ``possible_agents`` so ``XConfig().environment("cleanup").build_algo()`` just works, and attaches
  the package's metrics callback.
"""
from __future__ import annotations

import dataclasses
from typing import List

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.env.multi_agent_env import MultiAgentEnv

from rllib_coopai.metrics.callbacks import CoopMetricsCallback

SHARED_MODULE_ID = "shared"


def agent_to_own_module(agent_id, episode=None, **kwargs):
    """Policy mapping: every agent trains its own RLModule (module id = agent id)."""
    return agent_id


def agent_to_shared_module(agent_id, episode=None, **kwargs):
    """Policy mapping: all agents share one RLModule (parameter sharing)."""
    return SHARED_MODULE_ID


def env_creator_for(env_spec):
    """Return ``creator(env_config) -> MultiAgentEnv`` for any env spec the package accepts.

    A registered name, a class path (``"my_pkg.my_mod.MyEnv"``, a PettingZoo module such as
    ``"pettingzoo.classic.rps_v2"``), or an env class / creator function; see
    ``rllib_coopai.wrappers.rllib_env.resolve_env``. Errors are ``ValueError`` naming the spec.
    """
    from rllib_coopai.wrappers.rllib_env import resolve_env

    env_id, creator = resolve_env(env_spec)
    if creator is None:  # a gymnasium id: single-agent, made by RLlib itself
        def creator(env_config=None, _id=env_id):
            import gymnasium as gym

            return gym.make(_id, **dict(env_config or {}))
    return creator


def probe_env(config) -> MultiAgentEnv:
    """Instantiate the config's env once in the driver (validates env name and env_config).

    A class or creator function in ``config.env`` that RLlib's env runners could not call
    themselves (a PettingZoo class, a function returning one) is registered with Ray under its
    dotted name, and ``config.env`` becomes that name.
    """
    if config.env is None:
        raise ValueError(
            "no environment set: call .environment(NAME, env_config={...}) with one of "
            "rllib_coopai.envs.names(), a class path 'my_pkg.my_mod.MyEnv' or an env class"
        )
    import inspect

    from ray.rllib.env.env_context import EnvContext

    from rllib_coopai.wrappers.rllib_env import registered_name_for

    creator = env_creator_for(config.env)
    if not isinstance(config.env, str) and not (
            inspect.isclass(config.env) and issubclass(config.env, MultiAgentEnv)):
        config.env = registered_name_for(config.env)
    env = creator(EnvContext(dict(config.env_config or {}), worker_index=0))
    if not isinstance(env, MultiAgentEnv):
        raise ValueError(
            f"environment {config.env!r} is not multi-agent; the package's algorithms need a "
            "PettingZoo ParallelEnv or AECEnv, or an RLlib MultiAgentEnv"
        )
    return env


def env_agents(config) -> List[str]:
    env = probe_env(config)
    try:
        return list(env.possible_agents)
    finally:
        env.close()


def require_discrete_actions(config, agents, method: str, alternative: str = "") -> None:
    """Raise at ``build_algo()`` if an agent of ``agents`` (from ``config.setup_agents()``) has no
    Discrete action space: ``method``'s policies are categorical. ``alternative`` names what to
    change instead."""
    from gymnasium.spaces import Discrete

    spaces_ = getattr(config, "_coop_spaces", {})
    for a in agents:
        if a in spaces_ and not isinstance(spaces_[a][1], Discrete):
            extra = f"; {alternative}" if alternative else ""
            raise ValueError(f"{method} needs a Discrete action space for every agent (categorical "
                             f"policies); agent {a!r} has {spaces_[a][1]}{extra}")


class FixedModuleOrder(ConnectorV2):
    """Env-to-module piece: the per-module batch in sorted module-id order.

    RLlib collects the acting agents from a ``set`` (``get_agents_that_stepped``), so the order in
    which modules run their forward pass, and draw their action samples from torch's global RNG,
    otherwise depends on ``PYTHONHASHSEED``: the same ``seed`` gave different runs in different
    processes. (Rows of agents sharing one module keep RLlib's order.)
    """

    def __call__(self, *, rl_module, batch, episodes, explore=None, shared_data=None, **kwargs):
        if isinstance(batch, dict) and batch and all(k in rl_module for k in batch):
            return {k: batch[k] for k in sorted(batch)}
        return batch


class FixedModuleOrderLearnerMixin:
    """Mix into a PPO-based config: RLlib's learner pipeline plus ``FixedModuleOrder`` at its end.

    RLlib collects module ids in sets, so the modules' batches otherwise come in an order that
    depends on ``PYTHONHASHSEED`` and on which agent acted first in a Learner's shard. That order
    is the order of the modules' forward and backward passes: (1) minibatch shuffling draws from
    NumPy's RNG module by module, so the same ``seed`` trained different weights in different
    processes; (2) with ``num_learners > 1`` RLlib wraps every module in its own DDP, and two
    Learners whose shards list the modules in different orders (turn-based envs such as the
    designer seat, where a shard may start with the designer's step) issue their gradient
    all-reduces in different orders: gloo aborts ("Received data size doesn't match").
    """

    def build_learner_connector(self, input_observation_space, input_action_space, device=None):
        pipeline = super().build_learner_connector(input_observation_space, input_action_space,
                                                   device=device)
        pipeline.append(FixedModuleOrder())
        return pipeline


class CoopConfigMixin:
    """Mix into an ``AlgorithmConfig`` subclass (before it in the MRO).

    ``share_policy=False`` (default): one module per agent, module id = agent id.
    ``share_policy=True``: one module ``"shared"`` for all agents.
    The automatic set-up applies only while the user has not called ``.multi_agent(policies=...)``.
    """

    def _init_coop(self):
        self.share_policy = False
        self.callbacks_class = CoopMetricsCallback
        # RLlib's MultiAgentEnvRunner with its per-step sample counters logged once per sample()
        # and the episodes outside the metric windows skipped (rllib_coopai.core.env_runner);
        # env_runners(env_runner_cls=...) replaces it.
        from rllib_coopai.core.env_runner import CoopEnvRunner

        self.env_runner_cls = CoopEnvRunner
        # NaN / inf after a learner update: raise (False) or skip the update and count it (True);
        # see rllib_coopai.core.nonfinite.
        self.skip_nonfinite_updates = False
        # Lost env runners: restarted by Ray, waited for at most env_runner_restore_timeout_s
        # (rllib_coopai.core.sampling).
        from rllib_coopai.core.sampling import FAULT_TOLERANCE

        self.fault_tolerance(**FAULT_TOLERANCE)

    def training(self, *, skip_nonfinite_updates=NotProvided, **kwargs):
        """``skip_nonfinite_updates``: skip (and count in the learner results) an update that
        produces a NaN / inf instead of raising ``NonFiniteUpdateError``."""
        super().training(**kwargs)
        if skip_nonfinite_updates is not NotProvided:
            self.skip_nonfinite_updates = skip_nonfinite_updates
        return self

    def build_env_to_module_connector(self, env=None, spaces=None, device=None):
        """RLlib's pipeline with the package's shared observation preprocessing
        (``rllib_coopai.modules.encoders.EncodeObservations``) first, where some agent's
        observation space needs it, and ``FixedModuleOrder`` at its end (seeded sampling
        reproducible)."""
        from gymnasium.spaces import Dict as DictSpace

        from rllib_coopai.modules.encoders import EncodeObservations, needs_encoding

        pipeline = super().build_env_to_module_connector(env=env, spaces=spaces, device=device)
        obs_space = pipeline.input_observation_space
        if isinstance(obs_space, DictSpace) and needs_encoding(obs_space.spaces):
            pipeline.prepend(EncodeObservations())
        pipeline.append(FixedModuleOrder())
        return pipeline

    def set_provided(self, **values) -> None:
        """Builder-method helper: set each attribute whose value is not ``NotProvided``."""
        for key, value in values.items():
            if value is not NotProvided:
                setattr(self, key, value)

    def coop_training_kwargs(self, share_policy=NotProvided):
        if share_policy is not NotProvided:
            self.share_policy = bool(share_policy)

    def setup_agents(self) -> List[str]:
        """Fill in ``policies`` / ``policy_mapping_fn`` from the env; return the agent ids.

        Image observations (H x W x C, e.g. Cleanup's egocentric view, the coin games' grids)
        get a small conv encoder by default: one 3x3 conv with 6 filters and stride 1 (the
        Cleanup architecture of LIO thesis App. B.4.2, Table B.5), since RLlib has no default for small images.
        Set ``.rl_module(model_config={"conv_filters": ...})`` to override.

        Every agent's observation space goes through the shared preprocessing of
        ``rllib_coopai.modules.encoders`` (one-hot / flatten, chosen from the space);
        ``self._coop_spaces`` maps each agent to (module observation space, action space).
        """
        from rllib_coopai.modules.encoders import check_observation_space, module_observation_space

        env = probe_env(self)
        try:
            agents = list(env.possible_agents)
            raw_obs = {a: env.observation_spaces[a] for a in agents}
            act_spaces = {a: env.action_spaces[a] for a in agents}
        finally:
            env.close()
        for a, space in raw_obs.items():
            check_observation_space(space, a)
        obs_spaces = {a: module_observation_space(s) for a, s in raw_obs.items()}
        #: per agent: the observation space its RLModule is built for (after the shared
        #: preprocessing of rllib_coopai.modules.encoders) and its action space
        self._coop_spaces = {a: (obs_spaces[a], act_spaces[a]) for a in agents}
        if self.share_policy and not self.is_multi_agent:
            first = agents[0]
            for a in agents[1:]:
                if obs_spaces[a] != obs_spaces[first] or act_spaces[a] != act_spaces[first]:
                    raise ValueError(
                        "share_policy=True trains one module for all agents, which needs the same "
                        f"observation and action space for every agent; agent {first!r} has "
                        f"{raw_obs[first]} / {act_spaces[first]}, agent {a!r} has {raw_obs[a]} / "
                        f"{act_spaces[a]}. Set .training(share_policy=False) (one module per agent)."
                    )
        shapes = [s.shape for s in obs_spaces.values()]
        if any(s is not None and len(s) == 3 for s in shapes):
            mc = self._model_config
            if isinstance(mc, dict) and not mc.get("conv_filters"):
                self._model_config = dict(mc, conv_filters=[[6, [3, 3], 1]])
            elif not isinstance(mc, dict) and not getattr(mc, "conv_filters", None):
                self._model_config = dataclasses.replace(mc, conv_filters=[[6, [3, 3], 1]])
        if not self.is_multi_agent:  # the user has not set policies: one per agent / shared
            if self.share_policy:
                self.policies = {SHARED_MODULE_ID}
                self.policy_mapping_fn = agent_to_shared_module
            else:
                # An ordered dict, not a set: module build order (and so which agent gets which
                # initial weights under a seed) must not depend on PYTHONHASHSEED.
                from ray.rllib.policy.policy import PolicySpec

                self.policies = {a: PolicySpec() for a in agents}
                self.policy_mapping_fn = agent_to_own_module
        return agents
