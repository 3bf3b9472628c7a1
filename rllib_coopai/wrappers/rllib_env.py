"""Thin adapter from a PettingZoo ``ParallelEnv`` to RLlib's ``MultiAgentEnv``.

RLlib's own ``ParallelPettingZooEnv`` only exposes Dict spaces and derives ``__all__`` from the
agents present in a step; this adapter exposes per-agent ``observation_spaces`` /
``action_spaces`` (what the new API stack reads) and ends the episode when the PettingZoo env has
no live agents left.

Seeding: RLlib 2.60's ``MultiAgentEnvRunner.sample(num_episodes=...)`` resets with the runner's
seed on *every* call (it sets ``_needs_initial_reset`` again after each such call), which
would restart a random env's stream (Cleanup's spawns, the coin games, GTB) from the same state
at every iteration of the algorithms that sample whole episodes (LIO, the designer, DCL). The
adapter therefore honours a seed only when it differs from the last one it was given; a repeated
identical seed continues the env's stream. Runs stay reproducible (the sequence of seeds is).
"""
from __future__ import annotations

from typing import Optional

from ray.rllib.env.multi_agent_env import MultiAgentEnv


class RLlibParallelEnv(MultiAgentEnv):
    """Wrap ``par_env`` (a PettingZoo ParallelEnv) for RLlib's EnvRunners."""

    def __init__(self, par_env):
        self.par_env = par_env
        self.possible_agents = list(par_env.possible_agents)
        self.agents = list(self.possible_agents)
        self.observation_spaces = {a: par_env.observation_space(a) for a in self.possible_agents}
        self.action_spaces = {a: par_env.action_space(a) for a in self.possible_agents}
        self.render_mode = getattr(par_env, "render_mode", None)
        self._last_seed: Optional[int] = None
        super().__init__()

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        if seed is not None:  # see the module docstring: a repeated seed continues the stream
            seed, self._last_seed = (None if seed == self._last_seed else seed), seed
        obs, infos = self.par_env.reset(seed=seed, options=options)
        self.agents = list(self.par_env.agents)
        return obs, infos or {}

    def step(self, action_dict):
        obs, rew, term, trunc, infos = self.par_env.step(action_dict)
        done = not self.par_env.agents
        # On the last step keep the agents that just acted (RLlib checks the returned ids
        # against ``agents``); otherwise mirror the PettingZoo env.
        self.agents = list(obs) if done else list(self.par_env.agents)
        term = dict(term)
        trunc = dict(trunc)
        term["__all__"] = done and all(term.values()) if term else done
        trunc["__all__"] = done and not term["__all__"]
        return obs, rew, term, trunc, infos

    def render(self):
        return self.par_env.render()

    def close(self):
        self.par_env.close()


# =============================================================================================
# Environment resolution: one function turns whatever a user names into an RLlib env creator.
# =============================================================================================
class EnvSpecError(ValueError):
    """An environment spec (name, class path, class) that cannot be turned into an env."""


_ACCEPTED = ("a PettingZoo ParallelEnv or AECEnv class, a module with parallel_env()/env() "
             "(PettingZoo's packaging, e.g. pettingzoo.classic.rps_v2), an RLlib MultiAgentEnv "
             "class, or a callable returning one of these")


def to_multi_agent_env(env, source="environment") -> MultiAgentEnv:
    """Adapt ``env`` for the package's algorithms.

    PettingZoo ``ParallelEnv`` -> :class:`RLlibParallelEnv`; PettingZoo ``AECEnv`` -> PettingZoo's
    ``aec_to_parallel`` then :class:`RLlibParallelEnv`; RLlib's ``ParallelPettingZooEnv`` /
    ``PettingZooEnv`` adapters are unwrapped to the PettingZoo env inside; any other RLlib
    ``MultiAgentEnv`` is returned as is (per-agent spaces filled in from its ``Dict`` spaces when it
    sets only those). Anything else raises :class:`EnvSpecError` naming ``source``.
    """
    from pettingzoo import AECEnv, ParallelEnv
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv, PettingZooEnv

    if isinstance(env, RLlibParallelEnv):
        return env
    if isinstance(env, ParallelPettingZooEnv):
        env = env.par_env
    elif isinstance(env, PettingZooEnv):
        env = env.env
    if isinstance(env, AECEnv):
        from pettingzoo.utils.conversions import aec_to_parallel

        try:
            env = aec_to_parallel(env)
        except AssertionError as e:  # PettingZoo refuses turn-based (non-parallelizable) games
            raise EnvSpecError(f"{source}: the AEC env cannot run as a parallel env "
                               f"(pettingzoo.utils.conversions.aec_to_parallel: {e})") from e
    if isinstance(env, ParallelEnv):
        return RLlibParallelEnv(env)
    if isinstance(env, MultiAgentEnv):
        _fill_agent_spaces(env)
        return env
    raise EnvSpecError(f"{source} is not a multi-agent environment: it made a "
                       f"{type(env).__module__}.{type(env).__qualname__}; expected {_ACCEPTED}.")


def _fill_agent_spaces(env: MultiAgentEnv) -> None:
    """Per-agent ``observation_spaces`` / ``action_spaces`` / ``possible_agents`` from the env's
    ``Dict`` spaces where a MultiAgentEnv sets only those (old-style RLlib envs)."""
    from gymnasium import spaces

    for many, one in (("observation_spaces", "observation_space"),
                      ("action_spaces", "action_space")):
        sp = getattr(env, one, None)
        if getattr(env, many, None) is None and isinstance(sp, spaces.Dict):
            setattr(env, many, dict(sp.spaces))
    if not getattr(env, "possible_agents", None):
        agents = list(getattr(env, "agents", None) or (env.observation_spaces or {}))
        if agents:
            env.possible_agents = agents


def _import_target(path: str):
    """Import ``pkg.mod.Attr`` / ``pkg.mod:Attr`` / ``pkg.mod`` (a module) and return the object."""
    import importlib
    import sys

    def failing(name):  # a module that failed to import is gone from sys.modules, its parents not
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            if ".".join(parts[:i]) not in sys.modules:
                return ".".join(parts[:i])
        return name

    def import_module(name):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and (name == e.name or name.startswith(e.name + ".")):
                return None  # the module itself (or a parent package) does not exist
            raise EnvSpecError(f"environment class path {path!r}: module {failing(name)!r} failed "
                               f"to import ({type(e).__name__}: {e})") from e
        except Exception as e:  # noqa: BLE001 - any error inside a user's module
            raise EnvSpecError(f"environment class path {path!r}: module {failing(name)!r} failed "
                               f"to import ({type(e).__name__}: {e})") from e

    if ":" in path:
        module_name, _, attr = path.partition(":")
        attrs = attr.split(".") if attr else []
    else:
        module = import_module(path)
        if module is not None:
            return module
        module_name, _, attr = path.rpartition(".")
        attrs = [attr]
    if not module_name:
        raise EnvSpecError(f"environment class path {path!r}: give module and class, "
                           f"e.g. 'my_package.my_module.MyEnv'.")
    module = import_module(module_name)
    if module is None:
        raise EnvSpecError(f"environment class path {path!r}: no module named {module_name!r} "
                           f"(is it installed, or on sys.path / in the current directory?).")
    obj = module
    for part in attrs:
        if not hasattr(obj, part):
            public = sorted(n for n in dir(module) if not n.startswith("_"))[:20]
            raise EnvSpecError(f"environment class path {path!r}: module {module_name!r} has no "
                               f"attribute {part!r} (it has: {', '.join(public)}).")
        obj = getattr(obj, part)
    return obj


def _factory_of(obj, source: str):
    """The callable ``factory(**env_config)`` behind an imported object, or EnvSpecError."""
    import inspect
    import types

    from pettingzoo import AECEnv, ParallelEnv

    if isinstance(obj, types.ModuleType):
        for attr in ("parallel_env", "env"):  # PettingZoo's module convention
            if callable(getattr(obj, attr, None)):
                return getattr(obj, attr)
        raise EnvSpecError(f"{source} is a module without parallel_env() or env(); "
                           f"expected {_ACCEPTED}.")
    if inspect.isclass(obj):
        if issubclass(obj, MultiAgentEnv):
            return _ConfigDictFactory(obj)
        if issubclass(obj, (ParallelEnv, AECEnv)):
            return obj
        raise EnvSpecError(f"{source} is the class {obj.__module__}.{obj.__qualname__}, which is "
                           f"not a multi-agent environment; expected {_ACCEPTED}.")
    if callable(obj):
        return obj
    raise EnvSpecError(f"{source} is a {type(obj).__name__}, not an environment; "
                       f"expected {_ACCEPTED}.")


class CallableCreator:
    """Picklable RLlib env creator for an env class or creator function given directly.

    PettingZoo classes take ``**env_config``; RLlib ``MultiAgentEnv`` classes and creator
    functions take the config dict (RLlib's ``register_env`` convention). The result is adapted
    with :func:`to_multi_agent_env`.
    """

    def __init__(self, target):
        import inspect

        from pettingzoo import AECEnv, ParallelEnv

        self.target = target
        self.source = f"environment {getattr(target, '__qualname__', repr(target))!r}"
        if inspect.isclass(target) and not issubclass(target, (ParallelEnv, AECEnv, MultiAgentEnv)):
            _factory_of(target, self.source)  # raises: not an environment class
        self.kwargs_style = inspect.isclass(target) and issubclass(target, (ParallelEnv, AECEnv))

    def __call__(self, env_config=None):
        if self.kwargs_style:
            env = _call_factory(self.target, env_config, self.source)
        else:
            env = self.target(env_config if env_config is not None else {})
        return to_multi_agent_env(env, self.source)


def registered_name_for(spec) -> str:
    """Register a non-string env spec (class / creator function) with Ray under its dotted name
    and return that name, so that every process finds it; strings are returned unchanged."""
    if isinstance(spec, str):
        return spec
    from ray.tune.registry import register_env

    name = f"{getattr(spec, '__module__', 'env')}.{getattr(spec, '__qualname__', type(spec).__name__)}"
    register_env(name, CallableCreator(spec))
    return name


class _ConfigDictFactory:
    """RLlib envs take their config as one dict: ``cls(env_config)``."""

    def __init__(self, cls):
        self.cls = cls

    def __call__(self, **env_config):
        return self.cls(env_config)


class ClassPathCreator:
    """Picklable RLlib env creator for a class path (imported again in each process)."""

    def __init__(self, path: str):
        self.path = path

    def __call__(self, env_config=None):
        factory = _factory_of(_import_target(self.path), f"environment {self.path!r}")
        return to_multi_agent_env(_call_factory(factory, env_config, self.path),
                                  f"environment {self.path!r}")


class FactoryCreator:
    """Picklable RLlib env creator for a factory registered with ``rllib_coopai.envs.register``.

    It carries the factory itself, so the name works in processes that never ran the user's
    ``register`` call (env runners, Tune trials); there it is added to the local listing too.
    """

    def __init__(self, name: str, factory, description: str = ""):
        self.name, self.factory, self.description = name, factory, description

    def __call__(self, env_config=None):
        from rllib_coopai.envs import registry

        if self.name not in registry._REGISTRY:
            registry._REGISTRY[self.name] = (self.factory, self.description)
        env = registry.make(self.name, **_plain_config(env_config))
        return to_multi_agent_env(env, f"environment {self.name!r}")


def _plain_config(env_config) -> dict:
    return dict(env_config or {})


def _call_factory(factory, env_config, source):
    kwargs = _plain_config(env_config)
    try:
        return factory(**kwargs)
    except TypeError as e:
        if "unexpected keyword argument" in str(e) or "positional argument" in str(e):
            raise ValueError(f"environment {source!r}: {e}") from None
        raise


def is_class_path(spec) -> bool:
    """``spec`` looks like ``pkg.mod.Class`` / ``pkg.mod:Class`` (not a plain name or gym id)."""
    return isinstance(spec, str) and ("." in spec or ":" in spec) and " " not in spec \
        and "/" not in spec.split(":")[0]


def resolve_env(spec):
    """``(env_id, creator)`` for any environment spec; the one resolver every entry point uses.

    ``spec`` may be: a name registered with ``rllib_coopai.envs.register`` or Ray's
    ``register_env``; a gymnasium id (``creator`` is None: RLlib makes it); a class path
    ``pkg.mod.Class`` / ``pkg.mod:Class`` / ``pkg.mod`` (see :func:`to_multi_agent_env` for what it
    may name), which is registered with Ray under the path itself so that every process (env
    runners, Tune trials) finds it; or a class / callable. ``creator(env_config)`` returns an
    RLlib ``MultiAgentEnv``. Unknown names and bad paths raise :class:`EnvSpecError`.
    """
    import difflib

    from ray.tune.registry import ENV_CREATOR, _global_registry, register_env

    from rllib_coopai.envs import registry

    if isinstance(spec, str):
        if _global_registry.contains(ENV_CREATOR, spec):
            return spec, _global_registry.get(ENV_CREATOR, spec)
        if spec in registry.names():  # registered in this process before Ray was importable
            creator = FactoryCreator(spec, registry.get_factory(spec), registry.describe(spec))
            register_env(spec, creator)
            return spec, creator
        if is_class_path(spec):
            obj = _import_target(spec)
            _factory_of(obj, f"environment {spec!r}")  # not an env class -> error now
            creator = ClassPathCreator(spec)
            register_env(spec, creator)
            return spec, creator
        gym_ids: list = []
        try:
            import gymnasium as gym

            if spec in gym.envs.registry:
                return spec, None
            gym_ids = list(gym.envs.registry)
        except ImportError:  # pragma: no cover - gymnasium ships with RLlib
            pass
        known = registry.names()
        hint = difflib.get_close_matches(spec, known + gym_ids, n=1)
        extra = f" Did you mean {hint[0]!r}?" if hint else ""
        raise EnvSpecError(
            f"unknown environment {spec!r}. Known environments: {', '.join(known)} (or a name "
            f"given to rllib_coopai.envs.register, a class path such as "
            f"'my_package.my_module.MyEnv', or a gymnasium id).{extra}"
        )
    if callable(spec):
        return spec, CallableCreator(spec)
    raise EnvSpecError(f"environment must be a registered name, a class path or an env class, "
                       f"got {spec!r}.")
