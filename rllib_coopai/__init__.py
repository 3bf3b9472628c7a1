"""rllib_coopai: multi-agent incentive and commitment learning on Ray RLlib.

Importing the package registers every environment (``rllib_coopai.envs.names()``) with
``ray.tune.registry.register_env`` and every algorithm (``"IPPO"``, ``"DCL"``, ``"LIO"``,
``"IncentiveDesigner"``, ``"AMD"``) with ``ray.tune.register_trainable``; names added later with
``rllib_coopai.envs.register`` reach Ray as well. Installed packages can register environments and
algorithms through the ``rllib_coopai.plugins`` entry-point group (loaded at import).
"""
from __future__ import annotations

__version__ = "0.1.0"

from rllib_coopai import envs  # noqa: E402  (no Ray import)


def _env_creator(name):
    def create(env_config=None):
        from rllib_coopai.wrappers.rllib_env import RLlibParallelEnv

        return RLlibParallelEnv(envs.make(name, **dict(env_config or {})))

    create.__name__ = f"make_{name}"
    return create


def _register_user_env(name, factory, description="") -> None:
    """``rllib_coopai.envs.register`` hook: the name reaches Ray's registry (every process)."""
    from ray.tune.registry import register_env

    from rllib_coopai.wrappers.rllib_env import FactoryCreator

    register_env(name, FactoryCreator(name, factory, description))


def register_all() -> None:
    """(Re-)register every environment (the package's and those added with
    ``rllib_coopai.envs.register``) and the algorithms with Ray Tune."""
    from ray.tune import register_trainable
    from ray.tune.registry import register_env

    from rllib_coopai import algorithms
    from rllib_coopai.envs import registry

    for name in envs.names():
        if registry.is_builtin(name):
            register_env(name, _env_creator(name))
        else:
            _register_user_env(name, registry.get_factory(name), registry.describe(name))
    for name in algorithms.available():
        register_trainable(name, algorithms.get_algorithm_class(name))


PLUGIN_GROUP = "rllib_coopai.plugins"
_loaded_plugins: dict = {}


def load_plugins(strict: bool = False) -> dict:
    """Load the ``rllib_coopai.plugins`` entry points of installed packages (once each).

    Each entry point names a callable (called with no arguments) or a module (imported) that
    registers environments (``rllib_coopai.envs.register``) or algorithms
    (``ray.tune.register_trainable``). Returns ``{entry point name: error or None}``. A plugin
    that fails warns (``strict=True``: raises ``RuntimeError`` naming it).
    """
    import types
    import warnings
    from importlib.metadata import entry_points

    for ep in entry_points(group=PLUGIN_GROUP):
        if ep.name in _loaded_plugins:
            continue
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, types.ModuleType):
                obj()
            _loaded_plugins[ep.name] = None
        except Exception as e:  # noqa: BLE001 - a broken plugin must not break the package
            _loaded_plugins[ep.name] = f"{type(e).__name__}: {e}"
            msg = (f"rllib_coopai plugin {ep.name!r} ({ep.value}, group {PLUGIN_GROUP!r}) failed: "
                   f"{type(e).__name__}: {e}")
            if strict:
                raise RuntimeError(msg) from e
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
    return dict(_loaded_plugins)


register_all()
envs.registry._REGISTER_HOOKS.append(_register_user_env)

from rllib_coopai.algorithms.ippo import IPPO, IPPOConfig  # noqa: E402
from rllib_coopai.metrics import CoopMetricsCallback  # noqa: E402

load_plugins()

__all__ = ["envs", "register_all", "load_plugins", "IPPO", "IPPOConfig", "CoopMetricsCallback", "__version__"]
