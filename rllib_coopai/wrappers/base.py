"""Pieces every PettingZoo-level wrapper of the package shares.

* ``ParallelWrapperBase``: a ``ParallelEnv`` over ``self.env`` whose spaces are the dicts
  ``observation_spaces`` / ``action_spaces`` it builds, and whose ``render`` / ``close`` go to the
  wrapped env.
* ``discrete_actions``: a wrapped agent's action count (Discrete spaces only).
* ``base_env_from_config`` / ``rllib_env_class``: the RLlib adapters' way to build the wrapped env
  from ``env_config["base_env"]`` (a package name, a registered name or a class path), so every
  wrapper is usable as ``env: rllib_coopai.wrappers.<module>.<Name>RLlibEnv`` with any algorithm.
"""
from __future__ import annotations

from gymnasium import spaces
from pettingzoo import ParallelEnv


class ParallelWrapperBase(ParallelEnv):
    """Delegation shared by the package's wrappers (see the module docstring)."""

    env: ParallelEnv

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    def render(self):
        return self.env.render()

    def close(self):
        self.env.close()


def discrete_actions(env, agent, what: str = "the package's wrappers") -> int:
    """The number of actions of ``agent`` in ``env``; a clear error unless its space is Discrete."""
    space = env.action_space(agent)
    if not isinstance(space, spaces.Discrete):
        raise ValueError(f"{what} need discrete actions; agent {agent!r} has {space}")
    return int(space.n)


def base_env_from_config(env_config: dict, options=(), wrapper: str = "this wrapper"):
    """The base PettingZoo env named by ``env_config["base_env"]``: a package name, a name given to
    ``rllib_coopai.envs.register`` or Ray's registry, or a class path (``pkg.mod.MyEnv``).

    Returns ``(env, opts)``: the keys of ``env_config`` named in ``options`` are the wrapper's
    (``opts``), every other key goes to the base env. ``wrapper`` names the wrapper in errors."""
    from rllib_coopai.envs import make, names

    cfg = dict(env_config or {})
    name = cfg.pop("base_env", None)
    if name is None:
        raise ValueError("env_config needs 'base_env': an environment name or class path")
    opts = {k: cfg.pop(k) for k in options if k in cfg}
    if isinstance(name, str) and name in names():
        return make(name, **cfg), opts
    from ray.rllib.env.env_context import EnvContext

    from rllib_coopai.wrappers.rllib_env import resolve_env

    _, creator = resolve_env(name)
    env = creator(EnvContext(cfg, worker_index=0)) if creator is not None else None
    if not isinstance(getattr(env, "par_env", None), ParallelEnv):
        raise ValueError(f"base_env {name!r}: {wrapper} needs a PettingZoo "
                         "ParallelEnv (or a class path / registered name that builds one)")
    return env.par_env, opts


def rllib_env_class():
    from rllib_coopai.wrappers.rllib_env import RLlibParallelEnv
    return RLlibParallelEnv


